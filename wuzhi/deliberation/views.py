"""Staff pages of deliberation: the topic list, a topic with its four-step bar, timeline, 四议两公开
checklist and only the actions the flow table allows; meetings with attendance and votes;
disclosures and answers to objections; bodies and their rules. Desktop first (the secretary
runs the meetings), usable on a phone.

Every read starts from `visible_to(user)`: a topic outside the user's area is a 404. Writes go
through services; their refusals show as messages or at the form field."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.cases.models import Case, CaseState
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, can_on, scope_paths
from wuzhi.core.views import apply_errors, forbidden, require, staff_view

from . import flow, services
from .forms import BodyForm, FromCasesForm, MeetingForm, PublishForm, TopicForm, VoteForm
from .models import (
    DECIDING_BODIES,
    OPEN_STATES,
    STEPS,
    Body,
    BodyMember,
    Disclosure,
    DisclosureKind,
    Level,
    Meeting,
    Objection,
    Topic,
    TopicState,
)

PAGE_SIZE = 30
S = TopicState


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for msg in exc.messages:
        messages.error(request, msg)


def _topic(request: HttpRequest, pk: int) -> Topic:
    return get_object_or_404(Topic.objects.visible_to(request.user).select_related("area", "merged_into"), pk=pk)


def _areas(user: Any, action: str = Action.VISIT) -> QuerySet[Area]:
    """Places a user may raise a topic at: buildings, grids and the community inside their grants."""
    paths = scope_paths(user, action)
    qs = Area.objects.filter(kind__in=(AreaKind.BUILDING, AreaKind.GRID, AreaKind.COMMUNITY))
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return qs.order_by("path")


@staff_view
def topic_list(request: HttpRequest) -> HttpResponse:
    qs = Topic.objects.visible_to(request.user).select_related("area")
    state, level = request.GET.get("state", ""), request.GET.get("level", "")
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state in S.values:
        qs = qs.filter(state=state)
    if level in Level.values:
        qs = qs.filter(level=level)
    if request.GET.get("major"):
        qs = qs.filter(major=True)
    page = keyset_page(qs, ["-proposed_at", "-id"], request.GET.get("after"), PAGE_SIZE)
    counts = dict(Topic.objects.visible_to(request.user).values_list("state").annotate(n=Count("id"))
                  .values_list("state", "n"))
    return render(request, "deliberation/topic_list.html", {
        "page": page, "after": request.GET.get("after"), "states": S.choices, "levels": Level.choices,
        "state": state, "level": level, "counts": counts, "waiting": counts.get(S.PROPOSED, 0),
    })


@staff_view
def topic_new(request: HttpRequest) -> HttpResponse:
    if not _areas(request.user).exists():  # no place to raise a topic at: the form would be a dead end
        return forbidden(request, _("您没有提出议题的权限"))
    form = TopicForm(request.POST or None, areas=_areas(request.user))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            topic = services.topic_propose(actor=request.user, title=d["title"], description=d["description"],
                                           level=d["level"], area=d["area"], source=d["source"], major=d["major"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("议题已提出,编号 %(number)s") % {"number": topic.number})
            return redirect("deliberation:detail", pk=topic.pk)
    return render(request, "deliberation/topic_form.html", {"form": form, "title": _("提出议题")},
                  status=400 if form.errors else 200)


@staff_view
def topic_from_cases(request: HttpRequest) -> HttpResponse:
    """Several reports of one problem → one topic (the cases are linked, not changed)."""
    if not _areas(request.user).exists():
        return forbidden(request, _("您没有提出议题的权限"))
    cases = (Case.objects.visible_to(request.user).exclude(state=CaseState.MERGED).select_related("area")
             .order_by("-opened_at", "-id"))
    if request.GET.get("q"):
        cases = cases.filter(Q(title__contains=request.GET["q"]) | Q(category__name__contains=request.GET["q"]))
    form = FromCasesForm(request.POST or None, areas=_areas(request.user), cases=cases[:60] if request.method
                         != "POST" else cases)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            topic = services.topic_from_cases(actor=request.user, cases=d["cases"], title=d["title"],
                                              description=d["description"], level=d["level"], area=d["area"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已汇总为议题 %(number)s") % {"number": topic.number})
            return redirect("deliberation:detail", pk=topic.pk)
    return render(request, "deliberation/topic_form.html", {"form": form, "title": _("由群众诉求汇总议题"),
                                                            "q": request.GET.get("q", ""), "from_cases": True},
                  status=400 if form.errors else 200)


def _bodies_for(user: Any, topic: Topic) -> list[Body]:
    """Bodies that may meet on the topic: active, the topic inside their area, and (for a major
    topic) the body of its next 四议 stage first."""
    ancestors = topic.area.ancestor_paths()
    bodies = list(Body.objects.visible_to(user).filter(active=True, area_path__in=ancestors)
                  .annotate(n=Count("members", filter=Q(members__left_on__isnull=True))))
    deciders = DECIDING_BODIES[topic.level]
    nxt = next((st.bodies for st, rec in services.major_progress(topic) if rec is None), frozenset()) \
        if topic.major else frozenset()
    # The body whose turn it is first: a major topic's next 四议 stage, else those that may
    # decide at the topic's level, nearest to the topic first.
    return sorted(bodies, key=lambda b: (b.kind not in nxt, b.kind not in deciders, -len(b.area_path), b.kind,
                                         b.name))


@staff_view
def topic_detail(request: HttpRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    may_change = can_on(request.user, Action.CHANGE, topic)
    steps = [s for s in flow.allowed_from(topic.state) if not s.special] if may_change else []
    meetings = list(topic.meetings.select_related("body").order_by("held_at", "id"))
    disclosures = list(topic.disclosures.prefetch_related("objections").order_by("published_at"))
    published = {d.kind for d in disclosures}
    publishable = [(k.value, k.label) for k in DisclosureKind
                   if k not in published and topic.state in services.DISCLOSURE_STATES[k]]
    return render(request, "deliberation/topic_detail.html", {
        "topic": topic, "events": topic.events.select_related("actor"), "steps": steps, "may_change": may_change,
        "meetings": meetings, "votes": list(topic.votes.select_related("meeting__body")),
        "disclosures": disclosures, "bar": [label for label, _s in STEPS], "current": topic.step_index,
        "major": services.major_progress(topic) if topic.major else None,
        "may_meet": may_change and (topic.state == S.CONSULTING or topic.major and topic.state == S.PROPOSED),
        "may_merge": may_change and topic.state == S.PROPOSED,
        "publish_form": PublishForm(initial={"kind": publishable[0][0]}) if may_change and publishable else None,
        "publishable": publishable,
        "benefited": topic.households_benefited.count(), "affected": topic.households_affected.count(),
        "cases": list(topic.cases.select_related("category")),
        "deciders": "、".join(sorted(str(k.label) for k in _kinds(DECIDING_BODIES[topic.level]))),
    })


def _kinds(values: frozenset[str]) -> list[Any]:
    from .models import BodyKind

    return [BodyKind(v) for v in values]


@staff_view
@require_POST
def topic_act(request: HttpRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    p = request.POST
    version = int(p["version"]) if p.get("version", "").isdigit() else None
    try:
        services.topic_transition(actor=request.user, topic=topic, to=p.get("to", ""), note=p.get("note", ""),
                                  version=version)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("已更新为“%(state)s”") % {"state": topic.get_state_display()})
    return redirect("deliberation:detail", pk=topic.pk)


@staff_view
@require_POST
def topic_merge(request: HttpRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    into = Topic.objects.visible_to(request.user).filter(number=request.POST.get("into", "").strip().upper()).first()
    if into is None:
        messages.error(request, _("找不到该编号的议题"))
        return redirect("deliberation:detail", pk=topic.pk)
    try:
        services.topic_merge(actor=request.user, topic=topic, into=into, note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("deliberation:detail", pk=topic.pk)
    messages.success(request, _("已并入%(number)s") % {"number": into.number})
    return redirect("deliberation:detail", pk=into.pk)


@staff_view
def meeting_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick the body, then record the meeting: every member's attendance, minutes, opinions."""
    topic = _topic(request, pk)
    require(request.user, Action.CHANGE, topic.area_path)  # viewers see the topic, not the form
    bodies = _bodies_for(request.user, topic)
    body = next((b for b in bodies if str(b.pk) == (request.POST.get("body") or request.GET.get("body"))), None)
    if body is None:
        return render(request, "deliberation/meeting_pick.html", {"topic": topic, "bodies": bodies})
    members = services.active_members(body)
    form = MeetingForm(request.POST or None, members=members)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            meeting = services.meeting_record(actor=request.user, body=body, topics=[topic], held_at=d["held_at"],
                                              place=d["place"], host=d["host"], minutes=d["minutes"],
                                              opinions=d["opinions"], attendance=form.attendance(),
                                              proxies=form.proxies())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("会议已记录:到会%(attending)s人") % {"attending": meeting.attending})
            return redirect("deliberation:meeting", pk=meeting.pk)
    return render(request, "deliberation/meeting_form.html", {"topic": topic, "body": body, "form": form},
                  status=400 if form.errors else 200)


def _meeting(request: HttpRequest, pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.visible_to(request.user).select_related("body"), pk=pk)


@staff_view
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    topics = list(meeting.topics.all())
    may_change = can(request.user, Action.CHANGE, meeting.area_path)
    votable = [t for t in topics if t.state == S.CONSULTING] if may_change else []
    return render(request, "deliberation/meeting_detail.html", {
        "meeting": meeting, "topics": topics, "votable": votable,
        "attendance": list(meeting.attendance.select_related("member").order_by("member_id")),
        "votes": list(meeting.votes.select_related("topic")),
        "vote_form": VoteForm(initial={"votes_for": meeting.attending}) if votable else None,
    })


@staff_view
@require_POST
def vote_new(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(request, pk)
    topic = get_object_or_404(meeting.topics.all(), pk=request.POST.get("topic") or 0)
    form = VoteForm(request.POST)
    if not form.is_valid():
        for field, errs in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}:{errs[0]}" if label else str(errs[0]))
        return redirect("deliberation:meeting", pk=meeting.pk)
    d = form.cleaned_data
    try:
        vote = services.vote_record(actor=request.user, meeting=meeting, topic=topic, origin=d["origin"],
                                    votes_for=d["votes_for"], votes_against=d["votes_against"],
                                    votes_abstain=d["votes_abstain"], decision=d["decision"])
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("deliberation:meeting", pk=meeting.pk)
    if vote.passed:
        messages.success(request, _("表决通过(%(tally)s),议题进入决议阶段") % {"tally": vote.tally})
        return redirect("deliberation:detail", pk=topic.pk)
    messages.warning(request, _("表决未通过(%(tally)s),议题仍在合议阶段") % {"tally": vote.tally})
    return redirect("deliberation:meeting", pk=meeting.pk)


def _units(topic: Topic) -> list[Area]:
    return list(Area.objects.filter(kind=AreaKind.UNIT, path__startswith=topic.area_path).order_by("path"))


@staff_view
def households(request: HttpRequest, pk: int) -> HttpResponse:
    """Households affected and benefited, chosen by unit (a stair light benefits a unit, a parking
    scheme a grid): every household registered in the ticked units."""
    from wuzhi.registry.models import Household

    topic = _topic(request, pk)
    require(request.user, Action.CHANGE, topic.area_path)
    units = _units(topic)
    if request.method == "POST":
        chosen = {k: [u for u in units if str(u.pk) in request.POST.getlist(k)] for k in ("affected", "benefited")}
        rows = {}
        for k, picked in chosen.items():
            q = Q(pk__in=[])
            for u in picked:
                q |= Q(area_path__startswith=u.path)
            rows[k] = list(Household.objects.visible_to(request.user).filter(q)) if picked else []
        try:
            raw = request.POST.get("version", "")
            services.topic_set_households(actor=request.user, topic=topic, affected=rows["affected"],
                                          benefited=rows["benefited"], version=int(raw) if raw.isdigit() else None)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, _("已保存:涉及%(a)s户,受益%(b)s户") % {"a": len(rows["affected"]),
                                                                          "b": len(rows["benefited"])})
            return redirect("deliberation:detail", pk=topic.pk)
    per_unit = dict(Household.objects.filter(area_path__startswith=topic.area_path).values_list("area_id")
                    .annotate(n=Count("id")).values_list("area_id", "n"))
    mine = {k: set(getattr(topic, f"households_{k}").values_list("area_id", flat=True)) for k in ("affected",
                                                                                                  "benefited")}
    return render(request, "deliberation/households.html", {
        "topic": topic, "rows": [(u, per_unit.get(u.pk, 0), u.pk in mine["affected"], u.pk in mine["benefited"])
                                 for u in units]})


@staff_view
@require_POST
def progress_add(request: HttpRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    try:
        services.progress_note(actor=request.user, topic=topic, note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("实施进展已记录"))
    return redirect("deliberation:detail", pk=topic.pk)


@staff_view
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    topic = _topic(request, pk)
    form = PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写公开内容和公示期"))
        return redirect("deliberation:detail", pk=topic.pk)
    d = form.cleaned_data
    try:
        disclosure = services.disclosure_publish(actor=request.user, topic=topic, kind=d["kind"], text=d["text"],
                                                 notice_days=d["notice_days"])
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("deliberation:detail", pk=topic.pk)
    messages.success(request, _("已在公开栏公示,公示期%(notice_days)s天") % {"notice_days": disclosure.notice_days})
    return redirect("deliberation:detail", pk=topic.pk)


@staff_view
@require_POST
def objection_answer(request: HttpRequest, pk: int) -> HttpResponse:
    disclosures = Disclosure.objects.visible_to(request.user)
    objection = get_object_or_404(Objection.objects.filter(disclosure__in=disclosures)
                                  .select_related("disclosure"), pk=pk)
    try:
        services.objection_answer(actor=request.user, objection=objection, answer=request.POST.get("answer", ""))
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("答复已公开"))
    return redirect(reverse("deliberation:detail", args=[objection.disclosure.topic_id]) + "#disclosures")


# ---- bodies --------------------------------------------------------------------------------

@staff_view
def body_list(request: HttpRequest) -> HttpResponse:
    bodies = list(Body.objects.visible_to(request.user).select_related("area")
                  .annotate(n=Count("members", filter=Q(members__left_on__isnull=True)), meetings_n=Count(
                      "meetings", distinct=True)).order_by("area_path", "kind", "name"))
    return render(request, "deliberation/body_list.html", {"bodies": bodies})


@staff_view
def body_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    body = get_object_or_404(Body.objects.visible_to(request.user), pk=pk) if pk is not None else None
    # Members and viewers see the body on the list; only those who may change it get the form.
    if body is not None:
        require(request.user, Action.CHANGE, body.area_path)
    elif not _areas(request.user, Action.CHANGE).exists():
        return forbidden(request, _("您没有维护议事组织的权限"))
    initial: dict[str, Any] = {}
    if body is not None:
        initial = {f: getattr(body, f) for f in services.BODY_FIELDS}
    form = BodyForm(request.POST or None, initial=initial, areas=_areas(request.user, Action.CHANGE),
                    editing=body is not None)
    if request.method == "POST" and form.is_valid():
        try:
            version = request.POST.get("version", "")
            saved = services.body_save(actor=request.user, body=body, area=form.cleaned_data.get("area"),
                                       version=int(version) if version.isdigit() else None, **form.body_fields())
            if form.people():
                services.members_add(actor=request.user, body=saved, people=form.people())
        except ValidationError as exc:  # ConcurrentEdit included: shown above the form
            apply_errors(form, exc)
        else:
            messages.success(request, _("议事组织已保存"))
            return redirect("deliberation:body_edit", pk=saved.pk)
    members = list(BodyMember.objects.filter(body=body, left_on__isnull=True)) if body else []
    return render(request, "deliberation/body_form.html", {"form": form, "body": body, "members": members},
                  status=400 if form.errors else 200)
