"""Pages of the service teams and their activities: teams and members, the activity list, the
phone roll call (one tap per person), the weekly plan and the volunteer record.

Every query starts from `Model.objects.visible_to(user, action)`: an activity of another grid is
a 404. Attendance rows have no area of their own, so they are always reached through a visible
activity. Writes call activities.services only; their ValidationErrors are shown at the field (or
in the tapped row), NotAllowed becomes the 403 page."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, can_on, scope_paths
from wuzhi.core.views import apply_errors, client_ip, forbidden, require, staff_view
from wuzhi.registry import choices as rc
from wuzhi.registry.models import Resident
from wuzhi.registry.selectors import resident_search_q

from . import exporter, selectors, services
from .forms import (
    MEMBER_ROLES,
    PLACE_KINDS,
    ActivityFilterForm,
    ActivityForm,
    HeadcountForm,
    MarkForm,
    MemberForm,
    NameForm,
    TeamForm,
    VolunteerFilterForm,
)
from .models import Activity, ActivityKind, Attendance, CarePairing, Enrolment, Team, TeamKind, TeamMember

PAGE_SIZE = 30
TEAM_PAGE_SIZE = 15
SEARCH_LIMIT = 20
RANK_LIMIT = 20
VOLUNTEER_LIMIT = 200
# The article: the six party service teams run 28 "共建、共治、共享" activities a week (per community).
WEEKLY_TARGET = 28
# At a service team's activity the members on the list serve (volunteers) and the people served are
# counted; at a class, a rehearsal or a meal the people on the list are the participants.
VOLUNTEER_KINDS = {ActivityKind.TEAM, ActivityKind.PATROL}
DEFAULT_HOURS = Decimal("2")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VENUES = ["党群服务中心", "新时代文明实践站", "社区广场", "文体活动中心", "法治文化园", "党建书屋"]


# ---- helpers -----------------------------------------------------------------------------


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _visible_activity(request: HttpRequest, pk: int) -> Activity:
    return get_object_or_404(Activity.objects.visible_to(request.user).select_related("team", "area", "program"),
                             pk=pk)


def _visible_teams(user: Any) -> QuerySet[Team]:
    return Team.objects.visible_to(user).order_by("kind", "name")


def _may_anywhere(user: Any, action: str) -> bool:
    return scope_paths(user, action) != []


def _today_span() -> tuple[dt.date, dt.date]:
    """This year up to and including today: what "this year's activities" have been held."""
    today = timezone.localdate()
    return today.replace(month=1, day=1), today + dt.timedelta(days=1)


def default_hours(activity: Activity) -> Decimal:
    """A volunteer served as long as the activity lasted (to the half hour), else two hours."""
    if activity.ends_at and activity.ends_at > activity.starts_at:
        hours = Decimal((activity.ends_at - activity.starts_at).total_seconds()) / 3600
        return max((hours * 2).quantize(Decimal("1"), rounding=ROUND_HALF_UP) / 2, Decimal("0.5"))
    return DEFAULT_HOURS


# ---- teams -------------------------------------------------------------------------------


@staff_view
def team_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    active_members = Q(members__left_on__isnull=True)
    teams = list(Team.objects.visible_to(user).select_related("area")
                 .annotate(member_count=Count("members", filter=active_members)).order_by("name"))
    figures = selectors.team_figures(selectors.in_days(Activity.objects.visible_to(user), *_today_span()))
    empty = {"activities": 0, "visits": 0, "hours": Decimal("0")}
    groups = []
    for kind, label in TeamKind.choices:
        rows = [t for t in teams if t.kind == kind]
        for t in rows:
            t.figures = figures.get(t.pk, empty)
        if rows:
            groups.append({
                "kind": kind, "label": label, "teams": rows,
                "members": sum(t.member_count for t in rows),
                "activities": sum(t.figures["activities"] for t in rows),
                "hours": sum((t.figures["hours"] for t in rows), Decimal("0")),
            })
    return render(request, "activities/team_list.html", {
        "groups": groups,
        "total": {"teams": len(teams), "members": sum(t.member_count for t in teams),
                  "activities": sum(f["activities"] for f in figures.values()),
                  "visits": sum(f["visits"] for f in figures.values()),
                  "hours": sum((f["hours"] for f in figures.values()), Decimal("0"))},
        "year": timezone.localdate().year,
        "may_create": _may_anywhere(user, Action.CHANGE),
    })


@staff_view
def team_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _may_anywhere(user, Action.CHANGE):
        return forbidden(request, _("您没有建立服务队的权限"))
    areas = Area.objects.visible_to(user, Action.CHANGE).filter(kind__in=PLACE_KINDS).order_by("path")
    form = TeamForm(request.POST or None, areas=areas, initial={"kind": request.GET.get("kind") or TeamKind.PARTY_SERVICE})
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(actor=user, **form.service_kwargs())
        except ValidationError as exc:
            # The unique (area, name) constraint reports itself on __all__.
            if "__all__" in getattr(exc, "error_dict", {}):
                form.add_error("name", _("该区域已有同名的服务队"))
            else:
                apply_errors(form, exc)
        else:
            messages.success(request, _("已建立“%(name)s”,请添加队员") % {"name": team.name})
            return redirect("activities:team_detail", pk=team.pk)
    return render(request, "activities/team_form.html", {"form": form}, status=400 if form.errors else 200)


def _staff_for(team: Team) -> QuerySet[Any]:
    """Staff who can join a team: holders of a grant in the team's area, above it or below it."""
    area_q = Q(area__path__startswith=team.area_path) | Q(area__path__in=team.area.ancestor_paths())
    grants = Grant.objects.active().filter(area_q).exclude(role=Role.RESIDENT)
    return (get_user_model().objects.filter(is_active=True, grants__in=grants).distinct()
            .order_by("first_name", "username"))


def _candidates(request: HttpRequest, team: Team, q: str) -> list[Resident]:
    if not q.strip():
        return []
    found = list(Resident.objects.visible_to(request.user).filter(resident_search_q(q), status=rc.PersonStatus.PRESENT)
                 .select_related("household").order_by("name_pinyin", "id")[:SEARCH_LIMIT])
    in_team = set(team.members.filter(left_on__isnull=True, resident__in=found).values_list("resident_id", flat=True))
    for r in found:
        r.in_team = r.pk in in_team
    return found


def _render_team(request: HttpRequest, team: Team, *, member_form: MemberForm | None = None,
                 status: int = 200) -> HttpResponse:
    user = request.user
    members = list(team.members.select_related("resident", "user").order_by("left_on", "joined_on", "id"))
    activities = Activity.objects.visible_to(user).filter(team=team)
    page = keyset_page(selectors.with_visits(activities).select_related("area"), ["-starts_at", "-id"],
                       request.GET.get("after"), TEAM_PAGE_SIZE)
    first, after_last = _today_span()
    this_year = selectors.in_days(activities, first, after_last)
    figures = selectors.team_figures(this_year).get(team.pk, {"activities": 0, "visits": 0, "hours": Decimal("0")})
    ranking = selectors.describe_volunteers(
        selectors.volunteer_hours(Attendance.objects.filter(activity__in=this_year.values("pk")))[:RANK_LIMIT])
    may_change = can(user, Action.CHANGE, team.area_path)
    q = request.GET.get("q", "")
    if may_change and member_form is None:
        member_form = MemberForm(residents=Resident.objects.visible_to(user), users=_staff_for(team))
    return render(request, "activities/team_detail.html", {
        "team": team,
        "members": [m for m in members if m.left_on is None],
        "former": [m for m in members if m.left_on is not None],
        "page": page, "after": request.GET.get("after"),
        "figures": figures, "ranking": ranking, "year": first.year,
        "may_change": may_change,
        "may_record": can(user, Action.VISIT, team.area_path),
        "member_form": member_form, "member_roles": MEMBER_ROLES,
        "q": q, "candidates": _candidates(request, team, q) if may_change else [],
        **(_care_context(user, team) if team.kind == TeamKind.WATCH else {}),
    }, status=status)


def _care_context(user: Any, team: Team) -> dict[str, Any]:
    """The 邻里守望 team's pairings, and the people it should look after who have nobody yet."""
    pairings = list(CarePairing.objects.visible_to(user).filter(member__team=team, ended_on__isnull=True)
                    .select_related("member", "resident__household").prefetch_related("resident__tags"))
    return {"care_pairings": pairings,
            "care_unpaired": list(selectors.care_unpaired(Resident.objects.visible_to(user))
                                  .select_related("household").order_by("household__address_key", "id")[:500])}


@staff_view
@require_POST
def care_pair(request: HttpRequest, pk: int) -> HttpResponse:
    team = _visible_team(request, pk)
    member = get_object_or_404(team.members.filter(left_on__isnull=True), pk=request.POST.get("member") or 0)
    resident = get_object_or_404(Resident.objects.visible_to(request.user), pk=request.POST.get("resident") or 0)
    try:
        services.care_pair(actor=request.user, member=member, resident=resident)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("%(m)s 与 %(r)s 已结对") % {"m": member.name, "r": resident.name})
    return redirect(reverse("activities:team_detail", args=[team.pk]) + "#care")


@staff_view
@require_POST
def care_end(request: HttpRequest, pk: int, pairing_pk: int) -> HttpResponse:
    team = _visible_team(request, pk)
    pairing = get_object_or_404(CarePairing.objects.filter(member__team=team, ended_on__isnull=True), pk=pairing_pk)
    try:
        services.care_end(actor=request.user, pairing=pairing, version=_seen_version(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("activities:team_detail", args=[team.pk]) + "#care")


def _seen_version(request: HttpRequest) -> int | None:
    """The version of the record as the page showed it (hidden input "version")."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _visible_team(request: HttpRequest, pk: int) -> Team:
    return get_object_or_404(Team.objects.visible_to(request.user).select_related("area"), pk=pk)


@staff_view
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_team(request, _visible_team(request, pk))


@staff_view
def team_candidates(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: residents matching the search box of the add-member form."""
    team = _visible_team(request, pk)
    q = request.GET.get("q", "")
    return render(request, "activities/_candidates.html", {"candidates": _candidates(request, team, q), "q": q})


@staff_view
@require_POST
def member_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    team = _visible_team(request, pk)
    require(user, Action.CHANGE, team.area_path)
    form = MemberForm(request.POST, residents=Resident.objects.visible_to(user), users=_staff_for(team))
    if form.is_valid():
        try:
            member = services.member_add(actor=user, team=team, **form.service_kwargs())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s 已加入%(team)s") % {"name": member.name, "team": team.name})
            return redirect(reverse("activities:team_detail", args=[team.pk]) + "#members")
    return _render_team(request, team, member_form=form, status=400)


@staff_view
@require_POST
def member_leave(request: HttpRequest, pk: int, member_pk: int) -> HttpResponse:
    team = _visible_team(request, pk)
    member = get_object_or_404(team.members.filter(left_on__isnull=True), pk=member_pk)
    try:
        services.member_leave(actor=request.user, member=member, version=_seen_version(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(name)s 已退出%(team)s") % {"name": member.name, "team": team.name})
    return redirect(reverse("activities:team_detail", args=[team.pk]) + "#members")


# ---- activities --------------------------------------------------------------------------


@staff_view
def activity_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ActivityFilterForm(request.GET, teams=_visible_teams(user))
    qs = form.filter(Activity.objects.visible_to(user))
    page = keyset_page(selectors.with_visits(qs).select_related("team", "area"), ["-starts_at", "-id"],
                       request.GET.get("after"), PAGE_SIZE)
    summary = None
    if form.is_valid() and form.cleaned_data.get("month"):
        # A month is small enough to total: 场次 and 人次 in two aggregate queries.
        summary = {"activities": qs.count(), "visits": selectors.visits_total(qs)}
    return render(request, "activities/activity_list.html", {
        "form": form, "page": page, "after": request.GET.get("after"), "summary": summary,
        "may_record": _may_anywhere(user, Action.VISIT),
    })


def _initial_start(request: HttpRequest) -> dt.datetime:
    day = parse_date(request.GET.get("date") or "")
    if day is not None:
        return timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    now = timezone.localtime()
    return now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)


@staff_view
def activity_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _may_anywhere(user, Action.VISIT):
        return forbidden(request, _("您没有登记活动的权限"))
    teams = Team.objects.visible_to(user).filter(active=True).order_by("kind", "name")
    areas = Area.objects.visible_to(user, Action.VISIT).filter(kind__in=PLACE_KINDS).order_by("path")
    initial: dict[str, Any] = {"starts_at": _initial_start(request)}
    if str(request.GET.get("team", "")).isdigit():
        team = teams.filter(pk=request.GET["team"]).first()
        if team is not None:
            initial.update(team=team.pk, kind=ActivityKind.TEAM)
    form = ActivityForm(request.POST or None, teams=teams, areas=areas, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_record(actor=user, **form.service_kwargs())
        except NotAllowed:
            # Shown at the form: the worker picked a team whose area is not theirs to record in.
            form.add_error("area", _("您不能在该区域登记活动,请选择您负责的区域"))
            status = 403
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("活动已登记,现在可以点名签到"))
            return redirect("activities:attendance", pk=activity.pk)
    if status == 200 and form.errors:
        status = 400
    return render(request, "activities/activity_form.html", {"form": form, "venues": VENUES}, status=status)


@staff_view
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The roll-call page is the activity's page (its details sit in its header).
    return redirect("activities:attendance", pk=_visible_activity(request, pk).pk)


# ---- roll call ---------------------------------------------------------------------------


@dataclass
class Entry:
    """One tappable person on the roll call: who they are (member, resident or a bare name) and
    their attendance in this activity, if marked."""

    name: str
    sub: str = ""
    member_id: int | None = None
    resident_id: int | None = None
    enrolment_id: int | None = None
    attendance: Attendance | None = None
    error: str = ""
    staff: bool = False  # a teacher or volunteer on a program's list (listed apart from the children)

    @property
    def key(self) -> str:
        if self.enrolment_id:
            return f"e{self.enrolment_id}"
        if self.member_id:
            return f"m{self.member_id}"
        if self.resident_id:
            return f"r{self.resident_id}"
        return f"a{self.attendance.pk}" if self.attendance else "n"


def _member_sub(member: TeamMember) -> str:
    parts = [member.role] if member.role and member.role != "队员" else []
    if member.organisation:
        parts.append(member.organisation)
    elif member.user_id and not member.resident_id:
        parts.append(_("工作人员"))
    return " · ".join(parts)


def _resident_sub(resident: Resident | None) -> str:
    return resident.household.address if resident is not None else ""


def _roster(activity: Activity) -> list[TeamMember]:
    """The team's members on the day of the activity: a member who left later is still listed.
    Joining dates are not checked: a team is often entered after its first sessions were held."""
    if activity.team_id is None:
        return []
    day = timezone.localdate(activity.starts_at)
    return list(TeamMember.objects.filter(team_id=activity.team_id)
                .filter(Q(left_on__isnull=True) | Q(left_on__gt=day))
                .order_by("joined_on", "id"))


def _enrolled(activity: Activity) -> list[Enrolment]:
    """A program session's list: who was enrolled on the session's day, children first."""
    if activity.program_id is None:
        return []
    day = timezone.localdate(activity.starts_at)
    rows = (Enrolment.objects.filter(program_id=activity.program_id, from_on__lte=day)
            .filter(Q(to_on__isnull=True) | Q(to_on__gte=day)).select_related("resident__household"))
    return sorted(rows, key=lambda e: (not e.takes_part, e.resident.name_pinyin if e.resident else e.name, e.pk))


def _enrolment_sub(e: Enrolment) -> str:
    parts = [] if e.takes_part else [e.get_role_display()]
    if e.organisation:
        parts.append(e.organisation)
    elif e.resident is not None:
        parts.append(e.resident.household.address)
    return " · ".join(parts)


def _board(activity: Activity) -> tuple[list[Entry], list[Entry], dict[str, Any]]:
    """The list rows (team members, or a program session's enrolment), the other people marked
    (found by search, scanned or typed in), and the totals, from two queries."""
    rows = list(activity.attendance.select_related("resident__household").order_by("id"))
    by_member = {a.member_id: a for a in rows if a.member_id}
    by_resident = {a.resident_id: a for a in rows if a.resident_id}
    by_enrolment = {a.enrolment_id: a for a in rows if a.enrolment_id}
    used: set[int] = set()
    members = []
    for e in _enrolled(activity):
        att = by_enrolment.get(e.pk) or (by_resident.get(e.resident_id) if e.resident_id else None)
        if att is not None:
            used.add(att.pk)
        members.append(Entry(name=e.name, sub=_enrolment_sub(e), enrolment_id=e.pk, attendance=att,
                             staff=not e.takes_part))
    for m in _roster(activity):
        att = by_member.get(m.pk) or (by_resident.get(m.resident_id) if m.resident_id else None)
        if att is not None:
            used.add(att.pk)
        members.append(Entry(name=m.name, sub=_member_sub(m), member_id=m.pk, attendance=att))
    others = [_other_entry(a) for a in rows if a.pk not in used]
    served = [a for a in rows if a.role == Attendance.Role.PARTICIPANT]
    helpers = [a for a in rows if a.role != Attendance.Role.PARTICIPANT]
    totals = selectors.totals(len(served), activity.headcount, len(helpers),
                              sum((a.hours for a in helpers), Decimal("0")))
    return members, others, totals


def _other_entry(a: Attendance) -> Entry:
    return Entry(name=a.name, sub=_resident_sub(a.resident) if a.resident_id else _("临时登记"),
                 member_id=a.member_id, resident_id=a.resident_id, attendance=a)


def _team_member(activity: Activity, pk: int) -> TeamMember:
    """A member of this activity's team (another team's member is not on this roll call)."""
    if activity.team is None:
        raise Http404
    return get_object_or_404(activity.team.members.select_related("resident"), pk=pk)


def _session_enrolment(activity: Activity, pk: int) -> Enrolment:
    """Someone on this session's program list (another program's list is not on this roll call)."""
    if activity.program_id is None:
        raise Http404
    return get_object_or_404(Enrolment.objects.filter(program_id=activity.program_id)
                             .select_related("resident__household"), pk=pk)


def _mode(activity: Activity) -> str:
    return Attendance.Role.VOLUNTEER if activity.kind in VOLUNTEER_KINDS else Attendance.Role.PARTICIPANT


def _search(request: HttpRequest, activity: Activity, q: str) -> list[Entry]:
    if not q.strip():
        return []
    found = list(Resident.objects.visible_to(request.user).filter(resident_search_q(q), status=rc.PersonStatus.PRESENT)
                 .select_related("household").order_by("name_pinyin", "id")[:SEARCH_LIMIT])
    marked = {a.resident_id: a for a in activity.attendance.filter(resident__in=found)}
    return [Entry(name=r.name, sub=_resident_sub(r), resident_id=r.pk, attendance=marked.get(r.pk)) for r in found]


@staff_view
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    activity = _visible_activity(request, pk)
    # A program's tutor or a team's leader may take the roll through the relation rules.
    may_mark = can_on(user, Action.VISIT, activity)
    members, others, totals = _board(activity)
    q = request.GET.get("q", "")
    previous = selectors.previous_session(activity, Activity.objects.visible_to(user)) if may_mark else None
    return render(request, "activities/attendance.html", {
        "activity": activity, "members": members, "others": others, "totals": totals,
        "may_mark": may_mark, "mode": _mode(activity), "hours": default_hours(activity),
        "q": q, "results": _search(request, activity, q) if may_mark else [],
        "headcount_form": HeadcountForm(initial={"headcount": activity.headcount}),
        "name_form": NameForm(), "previous": previous,
        "learners": [e for e in members if e.enrolment_id and not e.staff],
        "helpers": [e for e in members if e.staff],
    })


def _board_response(request: HttpRequest, activity: Activity, template: str, context: dict[str, Any],
                    *, with_others: bool = False) -> HttpResponse:
    """An htmx answer: the swapped element, plus the totals (and, after someone was added from the
    search or by name, the list of other people) swapped out of band, so the header always shows
    the running 人次."""
    activity.refresh_from_db(fields=["headcount"])
    return render(request, template, {
        **context, "activity": activity, "totals": selectors.attendance_totals(activity), "may_mark": True,
        "others": _board(activity)[1] if with_others else None,
    })


@staff_view
@require_POST
def attendance_mark(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    activity = _visible_activity(request, pk)
    form = MarkForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("签到数据有误"))
    d = form.cleaned_data
    role, hours = form.role_and_hours(_mode(activity), default_hours(activity))
    source = request.POST.get("source") or "row"
    member = resident = enrolment = None
    name = ""
    name_form = NameForm(request.POST) if source == "name" else None
    if name_form is not None:
        # "临时登记": a person not on any list, typed in by name.
        if not name_form.is_valid():
            return _board_response(request, activity, "activities/_name_response.html", {"name_form": name_form})
        name = name_form.cleaned_data["name"].strip()
    elif d.get("enrolment"):
        enrolment = _session_enrolment(activity, d["enrolment"])
    elif d.get("member"):
        member = _team_member(activity, d["member"])
    elif d.get("resident"):
        resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household"), pk=d["resident"])
    else:
        return HttpResponseBadRequest(_("请选择要签到的人"))
    error = ""
    created: list[Attendance] = []
    try:
        if enrolment is not None and not enrolment.takes_part and not hours:
            hours = default_hours(activity)  # a tutor tapped in while the toggle stood on 参与
        created = services.attendance_mark(actor=user, activity=activity, members=[member] if member else (),
                                           residents=[resident] if resident else (), names=[name] if name else (),
                                           enrolments=[enrolment] if enrolment else (), role=role, hours=hours)
    except ValidationError as exc:
        error = "".join(exc.messages)
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect("activities:attendance", pk=activity.pk)
    if name_form is not None:
        if error:
            name_form.add_error("name", error)
        else:
            name_form = NameForm()
        return _board_response(request, activity, "activities/_name_response.html", {"name_form": name_form},
                               with_others=not error)
    entry = _entry_for(activity, member=member, resident=resident, enrolment=enrolment, created=created)
    entry.error = error
    return _board_response(request, activity, "activities/_row_response.html",
                           {"entry": entry, "source": source, "row": _list_row(activity, resident, source)},
                           with_others=source == "search" and not error)


def _list_row(activity: Activity, resident: Resident | None, source: str) -> Entry | None:
    """A resident tapped in the search results who is on the session's program list: their row
    on the list changes too (swapped out of band), so the list never disagrees with the search."""
    if source != "search" or resident is None or activity.program_id is None:
        return None
    day = timezone.localdate(activity.starts_at)
    enrolment = (Enrolment.objects.filter(program_id=activity.program_id, resident=resident, from_on__lte=day)
                 .filter(Q(to_on__isnull=True) | Q(to_on__gte=day)).select_related("resident__household").first())
    return _entry_for(activity, enrolment=enrolment) if enrolment is not None else None


def _entry_for(activity: Activity, *, member: TeamMember | None = None, resident: Resident | None = None,
               enrolment: Enrolment | None = None, created: list[Attendance] | None = None, name: str = "") -> Entry:
    """The row of one person as it stands now (one query for member, enrolment and resident rows)."""
    if enrolment is not None:
        same = Q(enrolment=enrolment)
        if enrolment.resident_id:
            same |= Q(resident_id=enrolment.resident_id)
        att = activity.attendance.filter(same).first()
        return Entry(name=enrolment.name, sub=_enrolment_sub(enrolment), enrolment_id=enrolment.pk, attendance=att,
                     staff=not enrolment.takes_part)
    if member is not None:
        same = Q(member=member)
        if member.resident_id:
            # Marked from the resident search instead of the team list: still this member.
            same |= Q(resident_id=member.resident_id)
        att = activity.attendance.filter(same).first()
        return Entry(name=member.name, sub=_member_sub(member), member_id=member.pk, attendance=att)
    if resident is not None:
        att = activity.attendance.filter(resident=resident).first()
        return Entry(name=resident.name, sub=_resident_sub(resident), resident_id=resident.pk, attendance=att)
    att = created[0] if created else None
    return Entry(name=att.name if att else name, sub=_("临时登记"), attendance=att)


@staff_view
@require_POST
def attendance_unmark(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    activity = _visible_activity(request, pk)
    row = None
    if str(request.POST.get("attendance", "")).isdigit():
        row = activity.attendance.filter(pk=request.POST["attendance"]).first()
    if row is not None:
        services.attendance_unmark(actor=user, attendance=row)
    else:
        # Already gone (a second tap, another phone): nothing to undo, but the same permission applies.
        require(user, Action.VISIT, activity.area_path)
    if not _is_htmx(request):
        return redirect("activities:attendance", pk=activity.pk)
    member = resident = enrolment = None
    if str(request.POST.get("enrolment", "")).isdigit():
        enrolment = _session_enrolment(activity, int(request.POST["enrolment"]))
    elif str(request.POST.get("member", "")).isdigit():
        member = _team_member(activity, int(request.POST["member"]))
    elif str(request.POST.get("resident", "")).isdigit():
        resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household"),
                                     pk=request.POST["resident"])
    entry = _entry_for(activity, member=member, resident=resident, enrolment=enrolment,
                       name=(request.POST.get("name") or (row.name if row else "")).strip())
    source = request.POST.get("source") or "row"
    # Unmarked in the search results: the same person's row under "其他人员" must go too.
    return _board_response(request, activity, "activities/_row_response.html",
                           {"entry": entry, "source": source, "row": _list_row(activity, resident, source)},
                           with_others=source == "search")


@staff_view
def attendance_search(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: residents matching the roll call's search box, each a row to tap."""
    activity = _visible_activity(request, pk)
    q = request.GET.get("q", "")
    may_mark = can_on(request.user, Action.VISIT, activity)
    return render(request, "activities/_search_results.html", {
        "activity": activity, "results": _search(request, activity, q) if may_mark else [], "q": q,
        "may_mark": may_mark,
    })


@staff_view
@require_POST
def attendance_headcount(request: HttpRequest, pk: int) -> HttpResponse:
    activity = _visible_activity(request, pk)
    form = HeadcountForm(request.POST)
    saved = False
    if form.is_valid():
        try:
            services.headcount_set(actor=request.user, activity=activity, headcount=form.cleaned_data["headcount"],
                                   version=_seen_version(request))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            saved = True
    if not _is_htmx(request):
        if saved:
            messages.success(request, _("未记名人数已保存"))
        else:
            messages.error(request, "".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("activities:attendance", pk=activity.pk)
    if saved:
        form = HeadcountForm(initial={"headcount": activity.headcount})
    return _board_response(request, activity, "activities/_headcount_response.html",
                           {"headcount_form": form, "saved": saved})


@staff_view
@require_POST
def attendance_copy(request: HttpRequest, pk: int) -> HttpResponse:
    """从上次活动复制名单: for a recurring session, mark last time's people in one step."""
    user = request.user
    activity = _visible_activity(request, pk)
    require(user, Action.VISIT, activity.area_path)
    source = selectors.previous_session(activity, Activity.objects.visible_to(user))
    if source is None:
        messages.info(request, _("没有可以复制的上次活动名单"))
    else:
        try:
            created = services.attendance_copy(actor=user, activity=activity, source=source)
        except ValidationError as exc:
            messages.error(request, "".join(exc.messages))
        else:
            when = timezone.localtime(source.starts_at)
            messages.success(request, _("已从%(when)s的“%(title)s”复制%(n)d人") % {
                "when": f"{when:%m月%d日}", "title": source.title, "n": len(created)})
    return redirect("activities:attendance", pk=activity.pk)


# ---- weekly plan -------------------------------------------------------------------------


@staff_view
def week(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    day = parse_date(request.GET.get("date") or "") or today
    monday, next_monday = selectors.week_of(day)
    kind = request.GET.get("kind", "")
    if kind not in TeamKind.values:
        kind = ""
    week_rows: list[Any] = list(selectors.in_days(selectors.with_visits(Activity.objects.visible_to(user)), monday, next_monday)
                     .select_related("team", "area").order_by("starts_at", "id"))
    # The party teams' count against the article's 28 is taken before the kind filter narrows the list.
    party = sum(1 for a in week_rows if a.team is not None and a.team.kind == TeamKind.PARTY_SERVICE)
    shown = [a for a in week_rows if not kind or (a.team is not None and a.team.kind == kind)]
    days = []
    for i in range(7):
        date = monday + dt.timedelta(days=i)
        items = [a for a in shown if timezone.localtime(a.starts_at).date() == date]
        days.append({"date": date, "items": items, "is_today": date == today,
                     "visits": sum(a.visits for a in items)})
    per_team = Counter(a.team for a in shown if a.team is not None)
    visits_by_team: Counter[Any] = Counter()
    for a in shown:
        if a.team is not None:
            visits_by_team[a.team] += a.visits
    teams = sorted(per_team.items(), key=lambda kv: (-kv[1], kv[0].name))
    # The target is per community: 28 a week for each community in scope that has party teams.
    communities = (Area.objects.visible_to(user).filter(kind=AreaKind.COMMUNITY)
                   .filter(Exists(Team.objects.filter(kind=TeamKind.PARTY_SERVICE, active=True,
                                                      area_path__startswith=OuterRef("path"))))
                   .count())
    target = WEEKLY_TARGET * communities
    return render(request, "activities/week.html", {
        "monday": monday, "sunday": next_monday - dt.timedelta(days=1), "days": days,
        "prev": monday - dt.timedelta(days=7), "next": next_monday, "this_week": selectors.week_of(today)[0] == monday,
        "teams": [{"team": t, "count": n, "visits": visits_by_team[t]} for t, n in teams],
        "total": len(shown), "visits": sum(a.visits for a in shown),
        "party": party, "target": target, "party_pct": min(100, round(party * 100 / target)) if target else 0,
        "kind": kind, "kinds": TeamKind.choices, "may_record": _may_anywhere(user, Action.VISIT),
    })


# ---- volunteer record --------------------------------------------------------------------


def _volunteer_attendance(user: Any, action: str = Action.VIEW) -> QuerySet[Attendance]:
    return Attendance.objects.filter(activity__in=Activity.objects.visible_to(user, action).values("pk"))


@staff_view
def volunteers(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = VolunteerFilterForm(request.GET, teams=_visible_teams(user))
    rows = selectors.volunteer_hours(form.filter(_volunteer_attendance(user)))
    first, last = form.span()
    params = request.GET.copy()
    return render(request, "activities/volunteers.html", {
        "form": form, "rows": selectors.describe_volunteers(rows[:VOLUNTEER_LIMIT]),
        "truncated": len(rows) > VOLUNTEER_LIMIT, "people": len(rows),
        "hours": sum((r["hours"] or Decimal("0") for r in rows), Decimal("0")),
        "first": first, "last": last,
        "export_href": reverse("activities:volunteers_export") + (f"?{params.urlencode()}" if params else ""),
        "may_export": _may_anywhere(user, Action.EXPORT),
    })


def _person_filter(request: HttpRequest) -> Q | None:
    """A volunteer is a team member, a resident, or (for names typed at a roll call) a bare name."""
    member, resident, name = (request.GET.get(k, "") for k in ("member", "resident", "name"))
    if member.isdigit():
        return Q(member_id=int(member))
    if resident.isdigit():
        return Q(resident_id=int(resident), member__isnull=True)
    if name.strip():
        return Q(name=name.strip(), member__isnull=True, resident__isnull=True)
    return None


@staff_view
def volunteer_detail(request: HttpRequest) -> HttpResponse:
    person = _person_filter(request)
    if person is None:
        return redirect("activities:volunteers")
    rows = _volunteer_attendance(request.user).filter(person)
    summary = rows.aggregate(n=Count("activity", distinct=True),
                             hours=Sum("hours", filter=~Q(role=Attendance.Role.PARTICIPANT)))
    page = keyset_page(rows.select_related("activity__team", "member__team"), ["-activity__starts_at", "-id"],
                       request.GET.get("after"), PAGE_SIZE)
    first = page.rows[0] if page.rows else None
    return render(request, "activities/volunteer_detail.html", {
        "page": page, "after": request.GET.get("after"), "summary": summary,
        "name": first.name if first else request.GET.get("name", ""),
        "member": first.member if first else None,
    })


@staff_view
def volunteers_export(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _may_anywhere(user, Action.EXPORT):
        return forbidden(request, _("您没有导出数据的权限"))
    form = VolunteerFilterForm(request.GET, teams=_visible_teams(user))
    data = exporter.export_volunteers(actor=user, attendance=form.filter(_volunteer_attendance(user, Action.EXPORT)),
                                      description=form.description(), ip=client_ip(request))
    first, last = form.span()
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(
        True, f"志愿服务时长_{first:%Y%m%d}-{last:%Y%m%d}.xlsx") or "attachment"
    return response
