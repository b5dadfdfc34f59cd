"""Staff pages of the honours: rounds, a round's nominations and timeline, nominating, scoring,
the council's vote, answering objections, and the honour history of a household or building.

Every query starts from `visible_to`: a round or a nomination outside the user's area is a 404.
Writes call honours.services only; their ValidationErrors go to the form (or a message)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can
from wuzhi.core.views import apply_errors, staff_view
from wuzhi.registry.models import Household

from . import flow, selectors, services
from .forms import (
    AdvanceForm,
    AnswerForm,
    LinkForm,
    NominateForm,
    RoundForm,
    ScoreForm,
    VoteForm,
    building_choices,
)
from .models import Category, Council, Nomination, Objection, Result, Round, RoundState, Score


def _messages(request: HttpRequest, exc: ValidationError) -> None:
    for msg in exc.messages:
        messages.error(request, msg)


@staff_view
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    rounds = list(selectors.round_counts(Round.objects.visible_to(user)).select_related("area")[:40])
    communities = Area.objects.visible_to(user, Action.CHANGE).filter(kind=AreaKind.COMMUNITY)
    form = None
    if communities.exists():
        today = timezone.localdate()
        form = RoundForm(request.POST or None, communities=communities, initial={
            "year": today.year, "quarter": (today.month - 1) // 3 + 1, "notice_days": 7,
            "community": communities.first()})
        if request.method == "POST" and form.is_valid():
            d = form.cleaned_data
            try:
                rnd = services.round_open(actor=user, area=d["community"], year=d["year"], quarter=d["quarter"],
                                          notice_days=d["notice_days"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("已发起%(title)s,可以开始提名") % {"title": rnd.title})
                return redirect("honours:round", rnd.pk)
    return render(request, "honours/index.html", {
        "rounds": rounds, "form": form, "categories": Category.objects.all(),
        "public_communities": Area.objects.visible_to(user).filter(kind=AreaKind.COMMUNITY)[:10],
    }, status=400 if form is not None and form.errors else 200)


@staff_view
def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = get_object_or_404(Round.objects.visible_to(user).select_related("area"), pk=pk)
    nominations = list(
        rnd.nominations.select_related("category", "vote")
        .prefetch_related(Prefetch("scores", queryset=Score.objects.only("id", "nomination_id", "total")))
        .order_by("category__sort", "category_id", "result", "id"))
    groups: dict[str, list[Nomination]] = {}
    for n in nominations:
        n.n_scores = len(n.scores.all())  # type: ignore[attr-defined]
        groups.setdefault(n.category.name, []).append(n)
    may_change = can(user, Action.CHANGE, rnd.area_path)
    steps = [(s, AdvanceForm(initial={"to": s.target, "version": rnd.version})) for s in flow.allowed_from(rnd.state)]
    objections = list(rnd.objections.select_related("nomination").order_by("at", "id"))
    return render(request, "honours/round.html", {
        "round": rnd, "groups": groups, "events": list(rnd.events.order_by("at", "id")),
        "may_change": may_change, "steps": steps if may_change else [], "objections": objections,
        "answer_form": AnswerForm(), "now": timezone.now(),
        "may_nominate": rnd.state == RoundState.NOMINATING,
        "selected": sum(1 for n in nominations if n.result == Result.SELECTED),
    })


@staff_view
@require_POST
def round_advance(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = get_object_or_404(Round.objects.visible_to(request.user), pk=pk)
    form = AdvanceForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.round_advance(actor=request.user, round=rnd, to=d["to"], note=d["note"], version=d["version"])
        except ValidationError as exc:
            _messages(request, exc)
        else:
            messages.success(request, _("已办理"))
    return redirect("honours:round", rnd.pk)


@staff_view
def nominate(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    rnd = get_object_or_404(Round.objects.visible_to(user), pk=pk)
    households = (Household.objects.visible_to(user, Action.VISIT).filter(area_path__startswith=rnd.area_path)
                  .order_by("address_key", "id"))
    buildings = building_choices(Area.objects.visible_to(user, Action.VISIT).filter(path__startswith=rnd.area_path))
    form = NominateForm(request.POST or None, households=households, buildings=buildings)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        cat = d["category"]
        subject = {"household": d["household"]} if cat.subject == "household" else (
            {"resident": d["resident"]} if cat.subject == "person" else {"building": d["building"]})
        try:
            n = services.nomination_add(actor=user, round=rnd, category=cat, reason=d["reason"], **subject)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已推荐%(who)s参评“%(cat)s”") % {"who": n.public_label, "cat": cat.name})
            return redirect("honours:round", rnd.pk)
    return render(request, "honours/nominate.html", {"round": rnd, "form": form},
                  status=400 if form.errors else 200)


@staff_view
def nomination_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    n = get_object_or_404(Nomination.objects.visible_to(user).select_related("round", "category", "area", "resident"),
                          pk=pk)
    rnd = n.round
    may_change = can(user, Action.CHANGE, rnd.area_path)
    score_form = vote_form = link_form = None
    if rnd.state == RoundState.EVALUATING and n.result == Result.PENDING and may_change:
        score_form = ScoreForm(category=n.category) if n.category.criteria else None
        vote_form = VoteForm() if n.category.needs_vote and not hasattr(n, "vote") else None
    if rnd.state == RoundState.NOMINATING and can(user, Action.VISIT, n.area_path):
        link_form = LinkForm(nomination=n, households=_households(user, rnd.area_path),
                             buildings=_buildings(user, rnd.area_path))
    action = request.POST.get("action") if request.method == "POST" else None
    # The version the page showed: linking or declining from a stale page is refused.
    raw_version = request.POST.get("version", "") if request.method == "POST" else ""
    version = int(raw_version) if raw_version.isdigit() else None
    try:
        if action == "score" and score_form is not None:
            score_form = ScoreForm(request.POST, category=n.category)
            if score_form.is_valid():
                services.score_record(actor=user, nomination=n, points=score_form.points(),
                                      evaluator_name=score_form.cleaned_data["evaluator_name"])
                messages.success(request, _("评分已记录"))
                return redirect("honours:nomination", n.pk)
        elif action == "vote" and vote_form is not None:
            vote_form = VoteForm(request.POST)
            council = Council.objects.filter(area_path__in=rnd.area.ancestor_paths() if rnd.area else []).first()
            if council is None:
                vote_form.add_error(None, _("本社区尚未设立道德评议会"))
            elif vote_form.is_valid():
                services.vote_record(actor=user, nomination=n, council=council, **vote_form.cleaned_data)
                messages.success(request, _("表决结果已记录"))
                return redirect("honours:nomination", n.pk)
        elif action == "link" and link_form is not None:
            link_form = LinkForm(request.POST, nomination=n, households=_households(user, rnd.area_path),
                                 buildings=_buildings(user, rnd.area_path))
            if link_form.is_valid():
                d = link_form.cleaned_data
                kw = {k: d.get(k) for k in ("household", "resident", "building") if d.get(k)}
                if "resident" in kw:
                    kw.pop("household", None)
                services.nomination_link(actor=user, nomination=n, version=version, **kw)
                messages.success(request, _("已核实推荐对象"))
                return redirect("honours:nomination", n.pk)
        elif action == "decline" and may_change:
            services.nomination_decline(actor=user, nomination=n, note=request.POST.get("note", ""),
                                        version=version)
            messages.success(request, _("已作不予受理处理"))
            return redirect("honours:round", rnd.pk)
    except ValidationError as exc:
        form = {"score": score_form, "vote": vote_form, "link": link_form}.get(action or "")
        if form is not None:
            apply_errors(form, exc)
        else:
            _messages(request, exc)
    scores = list(n.scores.order_by("id"))
    return render(request, "honours/nomination.html", {
        "n": n, "round": rnd, "scores": scores, "vote": getattr(n, "vote", None), "may_change": may_change,
        "score_form": score_form, "vote_form": vote_form, "link_form": link_form,
        "criteria": n.category.criteria,
    })


def _households(user: Any, path: str) -> Any:
    return Household.objects.visible_to(user, Action.VISIT).filter(area_path__startswith=path).order_by(
        "address_key", "id")


def _buildings(user: Any, path: str) -> Any:
    return building_choices(Area.objects.visible_to(user, Action.VISIT).filter(path__startswith=path))


@staff_view
@require_POST
def objection_answer(request: HttpRequest, pk: int) -> HttpResponse:
    rounds = Round.objects.visible_to(request.user)
    obj = get_object_or_404(Objection.objects.filter(round__in=rounds), pk=pk)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            services.objection_answer(actor=request.user, objection=obj, answer=form.cleaned_data["answer"],
                                      upheld=form.cleaned_data["upheld"])
        except ValidationError as exc:
            _messages(request, exc)
        else:
            messages.success(request, _("已答复异议"))
    else:
        messages.error(request, _("请填写核查情况和答复"))
    return redirect(reverse("honours:round", args=[obj.round_id]) + "#objections")


@staff_view
def household_history(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(Household.objects.visible_to(request.user).select_related("area", "head"), pk=pk)
    return render(request, "honours/history.html", {
        "title": str(household.address), "honours": list(selectors.history_for_household(household)),
        "nominations": household.honour_nominations.select_related("round", "category").order_by("-created_at"),
    })


@staff_view
def building_history(request: HttpRequest, pk: int) -> HttpResponse:
    building = get_object_or_404(Area.objects.visible_to(request.user).filter(kind=AreaKind.BUILDING), pk=pk)
    return render(request, "honours/history.html", {
        "title": building.full_name, "honours": list(selectors.history_for_building(building)),
        "nominations": building.honour_nominations.select_related("round", "category").order_by("-created_at"),
    })
