"""Staff pages of the case flow, phone first: the queue, a case with its timeline and only the
actions the flow table allows from its state, 代报, the dispute pages and the 督办 board.

Every read starts from `Case.objects.visible_to(user)`: a case outside the user's area and not
routed to their team is a 404. Writes go through services; their refusals show as messages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from wuzhi.activities.models import Activity, ActivityKind, Team
from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can_on, scope_paths
from wuzhi.core.views import apply_errors, staff_view

from . import flow, selectors, services
from .docx import agreement_docx
from .forms import (
    CaseOpenForm,
    CategoryForm,
    ConcludeForm,
    DisputeForm,
    FollowUpForm,
    MediationForm,
    QueueFilterForm,
    ReviewForm,
    StatsForm,
)
from .models import OPEN_STATES, Case, CaseKind, CaseState, Category, Dispute, Outcome

PAGE_SIZE = 30
S = CaseState


def _case(request: HttpRequest, pk: int) -> Case:
    return get_object_or_404(Case.objects.visible_to(request.user).select_related(
        "category", "area", "assigned_team", "assigned_user", "merged_into"), pk=pk)


def _seen_version(request: HttpRequest) -> int | None:
    """The version of the record as the page showed it (hidden input "version")."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for msg in exc.messages:
        messages.error(request, msg)


@staff_view
def queue(request: HttpRequest) -> HttpResponse:
    states = [(s.value, s.label) for s in (*OPEN_STATES, S.SUSPENDED, S.RESOLVED, S.REVIEWED, S.ARCHIVED)]
    form = QueueFilterForm(request.GET or None, states=states)
    f = form.cleaned_data if form.is_valid() else {}
    qs = selectors.queue(request.user, state=f.get("state", ""), kind=f.get("kind", ""),
                         category=f.get("category", ""), level=f.get("level", ""), mine=f.get("mine", False))
    # Due first: what falls due soonest (and what is overdue) is what to do next.
    page = keyset_page(qs, ["due_at", "id"], request.GET.get("after"), PAGE_SIZE)
    now = timezone.now()
    for case in page.rows:
        case.overdue = case.is_overdue(now)
    return render(request, "cases/queue.html", {
        "form": form, "page": page, "after": request.GET.get("after"),
        "overdue_count": selectors.overdue(Case.objects.visible_to(request.user), now).count(),
    })


def _open_areas(user: Any) -> QuerySet[Area]:
    """Places a user may record a case at: the units, buildings and grids inside their grants."""
    paths = scope_paths(user, Action.VISIT)
    qs = Area.objects.filter(kind__in=(AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT))
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return qs.order_by("path")


@staff_view
def case_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    patrol = None
    initial: dict[str, Any] = {}
    if request.GET.get("patrol", "").isdigit():
        # "巡逻发现" in one tap: the patrol record's findings become the description.
        patrol = get_object_or_404(Activity.objects.visible_to(user), pk=int(request.GET["patrol"]),
                                   kind=ActivityKind.PATROL)
        initial = {"channel": "patrol", "description": patrol.note, "area": patrol.area_id}
    form = CaseOpenForm(request.POST or None, request.FILES or None, areas=_open_areas(user), initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            case = services.case_open(
                actor=user, category=d["category"], channel=d["channel"], area=d["area"], place=d["place"],
                description=d["description"], reporter_name=d["reporter_name"],
                reporter_phone=d["reporter_phone"], external_number=d["external_number"], photo=d["photo"],
                documents=[x.strip() for x in d["documents"].replace(",", "、").split("、") if x.strip()],
                patrol=patrol)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, gettext("已受理,事项编号 %(number)s") % {"number": case.number})
            return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/case_new.html", {"form": form, "patrol": patrol},
                  status=400 if form.errors else 200)


def _assignees(case: Case) -> tuple[list[Team], list[Any]]:
    """Teams and staff above the case's place: who can be given the case."""
    paths = case.area.ancestor_paths()
    teams = list(Team.objects.filter(area_path__in=paths, active=True).order_by("kind", "name"))
    user_ids = Grant.objects.active().filter(area__path__in=paths).exclude(role=Role.RESIDENT).values("user_id")
    users = list(get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("username"))
    return teams, users


@staff_view
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    may_change = can_on(request.user, Action.CHANGE, case)
    steps = [s for s in flow.allowed_from(case.state) if s.target not in flow.SPECIAL_TARGETS] if may_change else []
    if case.state == S.SUSPENDED:
        resume_to = services.state_before_suspension(case)
        steps = [s for s in steps if s.target == resume_to]
    teams, users = _assignees(case) if any(s.target == S.ASSIGNED for s in steps) else ([], [])
    dispute = Dispute.objects.filter(case=case).prefetch_related("parties", "sessions", "follow_ups").first()
    return render(request, "cases/case_detail.html", {
        "case": case, "events": case.events.select_related("actor"), "steps": steps, "may_change": may_change,
        "teams": teams, "users": users, "dispute": dispute, "now": timezone.now(),
        "review_form": ReviewForm() if may_change and case.state == S.RESOLVED else None,
        "may_merge": may_change and case.state in (*OPEN_STATES, S.SUSPENDED),
        "merged": list(case.merged_cases.all()),
        "mediation_form": MediationForm() if dispute and case.state in (S.ASSIGNED, S.IN_PROGRESS) else None,
        "conclude_form": ConcludeForm() if dispute and dispute.sessions.all() and case.state == S.IN_PROGRESS
        and dispute.outcome == Outcome.PENDING else None,
        "followup_form": FollowUpForm() if dispute and dispute.outcome == Outcome.SUCCESS else None,
    })


@staff_view
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    p = request.POST
    teams, users = _assignees(case)
    team = next((t for t in teams if str(t.pk) == p.get("team")), None)
    user = next((u for u in users if str(u.pk) == p.get("user")), None)
    version = int(p["version"]) if p.get("version", "").isdigit() else None
    try:
        services.case_transition(actor=request.user, case=case, to=p.get("to", ""), note=p.get("note", ""),
                                 version=version, team=team, user=user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, gettext("已更新为“%(state)s”") % {"state": case.get_state_display()})
    return redirect("cases:detail", pk=case.pk)


@staff_view
@require_POST
def case_review(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.case_review(actor=request.user, case=case, satisfaction=form.cleaned_data["satisfaction"],
                                 note=form.cleaned_data["note"], version=_seen_version(request))
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, gettext("回访已记录"))
    else:
        messages.error(request, gettext("请选择满意度"))
    return redirect("cases:detail", pk=case.pk)


@staff_view
@require_POST
def case_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this case into the main case given by its number."""
    case = _case(request, pk)
    main = Case.objects.visible_to(request.user).filter(number=request.POST.get("into", "").strip()).first()
    if main is None:
        messages.error(request, gettext("找不到该编号的事项"))
        return redirect("cases:detail", pk=case.pk)
    try:
        services.case_merge(actor=request.user, main=main, duplicates=[case], note=request.POST.get("note", "") or
                            "重复反映")
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("cases:detail", pk=case.pk)
    messages.success(request, gettext("已并入%(number)s,办结时将一并答复反映人") % {"number": main.number})
    return redirect("cases:detail", pk=main.pk)


# ---- disputes ------------------------------------------------------------------------------


@staff_view
def dispute_intake(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    if case.kind != CaseKind.DISPUTE or Dispute.objects.filter(case=case).exists():
        return redirect("cases:detail", pk=case.pk)
    form = DisputeForm(request.POST or None, initial={"situation": case.description})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.dispute_intake(actor=request.user, case=case, dispute_type=d["dispute_type"], risk=d["risk"],
                                    situation=d["situation"], cause=d["cause"], parties=form.parties(),
                                    version=_seen_version(request))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, gettext("纠纷情况已登记"))
            return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/dispute_form.html", {"form": form, "case": case,
                                                       "version": request.POST.get("version") or case.version},
                  status=400 if form.errors else 200)


def _dispute(request: HttpRequest, pk: int) -> Dispute:
    case = _case(request, pk)
    return get_object_or_404(Dispute.objects.select_related("case", "case__area", "case__category"), case=case)


@staff_view
@require_POST
def mediation_add(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    form = MediationForm(request.POST)
    if form.is_valid():
        try:
            services.mediation_record(actor=request.user, dispute=dispute, held_at=form.cleaned_data["held_at"],
                                      committee=form.cleaned_data["committee"], notes=form.cleaned_data["notes"])
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, gettext("调解记录已保存"))
    else:
        messages.error(request, gettext("请填写调解时间和经过"))
    return redirect(reverse("cases:detail", args=[pk]) + "#dispute")


@staff_view
@require_POST
def dispute_conclude(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    form = ConcludeForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.dispute_conclude(actor=request.user, dispute=dispute, outcome=d["outcome"], terms=d["terms"],
                                      performance=d["performance"], referral=d["referral"],
                                      version=_seen_version(request))
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, gettext("调解结果已登记"))
    else:
        messages.error(request, gettext("请选择调解结果"))
    return redirect(reverse("cases:detail", args=[pk]) + "#dispute")


@staff_view
@require_POST
def followup_add(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            services.followup_record(actor=request.user, dispute=dispute, status=form.cleaned_data["status"],
                                     note=form.cleaned_data["note"], version=_seen_version(request))
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, gettext("履行情况已记录"))
    return redirect(reverse("cases:detail", args=[pk]) + "#dispute")


@staff_view
def agreement(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = _dispute(request, pk)
    if dispute.outcome != Outcome.SUCCESS:
        messages.error(request, gettext("调解成功后才能生成人民调解协议书"))
        return redirect("cases:detail", pk=pk)
    # The 协议书 is a Chinese legal document whatever language the mediator's pages use.
    with translation.override(settings.LANGUAGE_CODE):
        document = agreement_docx(dispute)
    response = HttpResponse(document, content_type=(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
    response["Content-Disposition"] = f'attachment; filename="tiaojie-{dispute.case.number}.docx"'
    return response


# ---- 督办 and patrols ------------------------------------------------------------------------


@staff_view
def board(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/board.html", {"board": selectors.supervision_board(request.user),
                                                "now": timezone.now()})


STATS_LEVELS = (AreaKind.COUNTY, AreaKind.TOWN, AreaKind.COMMUNITY, AreaKind.GRID)


@staff_view
def stats(request: HttpRequest) -> HttpResponse:
    """Received, resolved, on time and satisfied, for a period and an area, by kind, category,
    team, the area's children and month: what the community reports upward, counted from rows."""
    areas = list(Area.objects.visible_to(request.user).filter(kind__in=STATS_LEVELS).order_by("path"))
    today = timezone.localdate()
    # Unbound, the form shows the defaults it counts with: this year so far, the user's top area.
    form = StatsForm(request.GET or None, areas=areas, initial={
        "start": today.replace(month=1, day=1), "end": today, "area": areas[0].code if areas else ""})
    f = form.cleaned_data if form.is_valid() else {}
    start, end = f.get("start") or today.replace(month=1, day=1), f.get("end") or today
    area = next((a for a in areas if a.code == f.get("area")), areas[0] if areas else None)
    qs = Case.objects.visible_to(request.user)
    if area is not None:
        qs = qs.filter(area_path__startswith=area.path)
    received = qs.filter(opened_at__date__gte=start, opened_at__date__lte=end)
    children = [a for a in areas if a.parent_id == area.pk] if area is not None else []
    return render(request, "cases/stats.html", {
        "form": form, "start": start, "end": end, "area": area,
        "totals": selectors.period_stats(qs, start, end),
        "by_kind": selectors.breakdown(received, "kind"),
        "by_category": selectors.breakdown(received, "category__name"),
        "by_team": selectors.breakdown(received, "assigned_team__name"),
        "by_area": selectors.by_area(received, children),
        "by_month": sorted(selectors.breakdown(received.annotate(month=TruncMonth("opened_at")), "month"),
                           key=lambda r: r["month"]),
        "kinds": dict(CaseKind.choices),
    })


@staff_view
def patrols(request: HttpRequest) -> HttpResponse:
    qs = Activity.objects.visible_to(request.user).filter(kind=ActivityKind.PATROL).select_related("team")
    page = keyset_page(qs, ["-starts_at", "-id"], request.GET.get("after"), PAGE_SIZE)
    return render(request, "cases/patrols.html", {"page": page, "after": request.GET.get("after")})


# ---- categories ----------------------------------------------------------------------------


@staff_view
def categories(request: HttpRequest) -> HttpResponse:
    rows = list(Category.objects.select_related("team").order_by("kind", "sort", "name"))
    return render(request, "cases/categories.html", {"rows": rows})


@staff_view
def category_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if not services.may_edit_categories(request.user):
        raise NotAllowed(gettext("只有社区书记可以维护事项分类"))
    category = get_object_or_404(Category, pk=pk) if pk is not None else None
    initial = {}
    if category is not None:
        initial = {f: getattr(category, f) for f in services.CATEGORY_FIELDS}
        initial["checklist"] = "\n".join(category.checklist)
        initial["version"] = category.version
    form = CategoryForm(request.POST or None, initial=initial,
                        teams=Team.objects.visible_to(request.user).filter(active=True))
    if request.method == "POST" and form.is_valid():
        try:
            services.category_save(actor=request.user, category=category, **form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, gettext("事项分类已保存"))
            return redirect("cases:categories")
    return render(request, "cases/category_form.html", {"form": form, "category": category},
                  status=400 if form.errors else 200)
