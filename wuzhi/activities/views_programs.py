"""Pages of the programs (四点半希望小课堂, 新时代幸福餐厅, 夏令营), the quick event page, a
person's attendance record, resident QR cards with the scan at a roll call, and the canteen's
monthly statement.

As in views.py: every query starts from `visible_to(user, action)` (another area's program is a
404), writes go through activities.services, a service's ValidationError is shown at the form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import Area, Grant
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, can_on, scope_paths
from wuzhi.core.views import apply_errors, client_ip, forbidden, require, staff_view
from wuzhi.party.boards import qr_svg
from wuzhi.registry import choices as rc
from wuzhi.registry.models import Resident, ResidentTag, Tag
from wuzhi.registry.selectors import descendant_tag_ids, resident_search_q

from . import canteen, cards, exporter, selectors, services
from .forms import PLACE_KINDS, EnrolForm, EventForm, MarkForm, ProgramForm
from .models import (
    Activity,
    ActivityKind,
    Attendance,
    Enrolment,
    Funding,
    Program,
    ProgramKind,
    Team,
    TeamKind,
)
from .venues import EVENT_TITLES, LAW_VENUES, PARTNERS, VENUES
from .views import XLSX, _board_response, _entry_for, _mode, _visible_activity, default_hours

PAGE_SIZE = 20
SEARCH_LIMIT = 20
SUGGEST_LIMIT = 30
# Who a program is for, by its kind: the registry's tags (a parent tag includes its sub-tags).
ELIGIBLE_TAGS: dict[str, list[str]] = {
    ProgramKind.AFTERSCHOOL: ["留守儿童", "困境儿童"],
    ProgramKind.CANTEEN: ["留守老人", "留守儿童", "独居老人", "空巢老人", "特困", "残疾人", "孤儿"],
    ProgramKind.CAMP: ["困境儿童"],
    ProgramKind.CLASS: [],
}
# A diner's funding by their tags, first match wins (the secretary can change it at enrolment).
FUNDING_BY_TAG = [("特困", Funding.WELFARE), ("低保", Funding.SUBSIDY), ("留守儿童", Funding.CHARITY),
                  ("孤儿", Funding.WELFARE)]
# What the "start a session" button says, by kind of program.
START_LABELS: dict[str, Any] = {
    ProgramKind.AFTERSCHOOL: gettext_lazy("开始今天的课堂"), ProgramKind.CANTEEN: gettext_lazy("登记今天的就餐"),
    ProgramKind.CAMP: gettext_lazy("开始今天的营日"), ProgramKind.CLASS: gettext_lazy("开始今天的课堂"),
}


def _this_year() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today.replace(month=1, day=1), today + dt.timedelta(days=1)


def _visible_program(request: HttpRequest, pk: int) -> Program:
    return get_object_or_404(Program.objects.visible_to(request.user).select_related("area"), pk=pk)


def _sessions(user: Any, action: str = Action.VIEW) -> QuerySet[Activity]:
    return Activity.objects.visible_to(user, action).filter(program__isnull=False)


# ---- programs --------------------------------------------------------------------------------


@staff_view
def program_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    programs = list(Program.objects.visible_to(user).select_related("area").order_by("kind", "-starts_on", "name"))
    ids = [p.pk for p in programs]
    first, after = _this_year()
    year = selectors.in_days(_sessions(user).filter(program_id__in=ids), first, after)
    figures = {pid: (n, visits or 0) for pid, n, visits in
               year.order_by().values_list("program_id").annotate(
                   n=Count("id"), v=Sum(selectors.visits_expr(), output_field=IntegerField()))
               .values_list("program_id", "n", "v")}
    today = timezone.localdate()
    open_now = Q(to_on__isnull=True) | Q(to_on__gte=today)
    counts: dict[tuple[int, bool], int] = {}
    for pid, role, n in (Enrolment.objects.filter(open_now, program_id__in=ids).order_by()
                         .values_list("program_id", "role").annotate(n=Count("id"))):
        key = (pid, role in Enrolment.TAKING_PART)
        counts[key] = counts.get(key, 0) + n
    for p in programs:
        p.sessions_n, p.visits = figures.get(p.pk, (0, 0))
        p.enrolled = counts.get((p.pk, True), 0)
        p.staff_n = counts.get((p.pk, False), 0)
    return render(request, "activities/program_list.html", {
        "programs": programs, "year": first.year,
        "may_create": scope_paths(user, Action.CHANGE) != [],
    })


@staff_view
def program_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    if scope_paths(user, Action.CHANGE) == []:
        return forbidden(request, _("您没有建立服务项目的权限"))
    areas = Area.objects.visible_to(user, Action.CHANGE).filter(kind__in=PLACE_KINDS).order_by("path")
    form = ProgramForm(request.POST or None, areas=areas,
                       initial={"kind": request.GET.get("kind") or ProgramKind.AFTERSCHOOL})
    if request.method == "POST" and form.is_valid():
        try:
            program = services.program_create(actor=user, **form.service_kwargs())
        except ValidationError as exc:
            if "__all__" in getattr(exc, "error_dict", {}):
                form.add_error("name", _("该区域已有同名的项目"))
            else:
                apply_errors(form, exc)
        else:
            messages.success(request, _("已建立“%(name)s”,请添加名单") % {"name": program.name})
            return redirect("activities:program_detail", pk=program.pk)
    return render(request, "activities/program_form.html", {"form": form, "venues": VENUES},
                  status=400 if form.errors else 200)


def _staff_users(program: Program) -> QuerySet[Any]:
    area_q = Q(area__path__startswith=program.area_path) | Q(area__path__in=program.area.ancestor_paths())
    grants = Grant.objects.active().filter(area_q).exclude(role=Role.RESIDENT)
    return get_user_model().objects.filter(is_active=True, grants__in=grants).distinct().order_by("first_name")


def _candidates(request: HttpRequest, program: Program, q: str) -> list[Resident]:
    if not q.strip():
        return []
    found = list(Resident.objects.visible_to(request.user).filter(resident_search_q(q), status=rc.PersonStatus.PRESENT)
                 .select_related("household").order_by("name_pinyin", "id")[:SEARCH_LIMIT])
    listed = set(program.enrolments.filter(to_on__isnull=True, resident__in=found).values_list("resident_id", flat=True))
    for r in found:
        r.listed = r.pk in listed
    return found


def _eligible(user: Any, program: Program) -> list[Resident]:
    """Present residents carrying one of the program's tags who are not on its list yet."""
    names = ELIGIBLE_TAGS.get(program.kind, [])
    if not names:
        return []
    tag_ids = descendant_tag_ids(list(Tag.objects.filter(name__in=names).values_list("pk", flat=True)))
    qs = (Resident.objects.visible_to(user).filter(status=rc.PersonStatus.PRESENT, area_path__startswith=program.area_path)
          .filter(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag_id__in=tag_ids)))
          .exclude(Exists(Enrolment.objects.filter(program=program, resident=OuterRef("pk"), to_on__isnull=True))))
    if program.kind == ProgramKind.AFTERSCHOOL:
        today = timezone.localdate()
        qs = qs.filter(birth_date__gt=today.replace(year=today.year - 13), birth_date__lte=today.replace(year=today.year - 5))
    return list(qs.select_related("household").prefetch_related("tags").order_by("household__address_key", "id")
                [:SUGGEST_LIMIT])


def _funding_for(resident: Resident) -> str:
    names = {t.name for t in resident.tags.all()}
    return next((f for tag, f in FUNDING_BY_TAG if tag in names), Funding.SELF)


def _render_program(request: HttpRequest, program: Program, *, form: EnrolForm | None = None,
                    status: int = 200) -> HttpResponse:
    user = request.user
    sessions = _sessions(user).filter(program=program)
    first, after = _this_year()
    year = selectors.in_days(sessions, first, after)
    page = keyset_page(selectors.with_visits(sessions), ["-starts_at", "-id"], request.GET.get("after"), PAGE_SIZE)
    today = timezone.localdate()
    enrolments = list(program.enrolments.filter(Q(to_on__isnull=True) | Q(to_on__gte=today))
                      .select_related("resident__household", "user").order_by("role", "from_on", "id"))
    # How often each person on the list came this year (one grouped query).
    came = dict(Attendance.objects.filter(activity__in=year.values("pk"), enrolment__in=enrolments).order_by()
                .values_list("enrolment_id").annotate(n=Count("id")).values_list("enrolment_id", "n"))
    for e in enrolments:
        e.came = came.get(e.pk, 0)
    may_change = can(user, Action.CHANGE, program.area_path)
    q = request.GET.get("q", "")
    if may_change and form is None:
        form = EnrolForm(program=program, residents=Resident.objects.visible_to(user), users=_staff_users(program))
    eligible = [(r, _funding_for(r)) for r in _eligible(user, program)] if may_change else []
    return render(request, "activities/program_detail.html", {
        "program": program,
        "figures": {"sessions": year.count(), "visits": selectors.visits_total(year),
                    "people": selectors.people_total(Attendance.objects.filter(selectors.TAKES_PART,
                                                                                activity__in=year.values("pk")))},
        "learners": [e for e in enrolments if e.takes_part],
        "helpers": [e for e in enrolments if not e.takes_part],
        "page": page, "after": request.GET.get("after"), "year": first.year,
        "may_change": may_change,
        "may_hold": _running(program, today) and (can(user, Action.VISIT, program.area_path)
                                                  or program.pk in _served(user)),
        "start_label": START_LABELS.get(program.kind, START_LABELS[ProgramKind.CLASS]),
        "form": form, "q": q, "candidates": _candidates(request, program, q) if may_change else [],
        "eligible": eligible, "eligible_tags": ELIGIBLE_TAGS.get(program.kind, []),
        "funding_choices": Funding.choices, "is_canteen": program.kind == ProgramKind.CANTEEN,
        "month": f"{today:%Y-%m}",
    }, status=status)


def _running(program: Program, day: dt.date) -> bool:
    """Sessions are held while the program runs (a summer camp's days are over by autumn)."""
    return program.active and program.starts_on <= day and (program.ends_on is None or program.ends_on >= day)


def _served(user: Any) -> list[int]:
    from .scope import program_ids

    return program_ids(user)


@staff_view
def program_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_program(request, _visible_program(request, pk))


@staff_view
def program_candidates(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx: residents matching the search box of the add-to-list form."""
    program = _visible_program(request, pk)
    q = request.GET.get("q", "")
    return render(request, "activities/_program_candidates.html",
                  {"candidates": _candidates(request, program, q), "q": q})


@staff_view
@require_POST
def program_enrol(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    program = _visible_program(request, pk)
    require(user, Action.CHANGE, program.area_path)
    form = EnrolForm(request.POST, program=program, residents=Resident.objects.visible_to(user),
                     users=_staff_users(program))
    if form.is_valid():
        try:
            e = services.enrol(actor=user, program=program, **form.service_kwargs())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s 已加入名单(%(role)s)") % {"name": e.name, "role": e.get_role_display()})
            return redirect(reverse("activities:program_detail", args=[program.pk]) + "#enrol")
    return _render_program(request, program, form=form, status=400)


@staff_view
@require_POST
def enrolment_end(request: HttpRequest, pk: int, enrolment_pk: int) -> HttpResponse:
    program = _visible_program(request, pk)
    e = get_object_or_404(program.enrolments.filter(to_on__isnull=True), pk=enrolment_pk)
    raw = request.POST.get("version", "")  # the version the page showed
    try:
        services.enrolment_end(actor=request.user, enrolment=e, version=int(raw) if raw.isdigit() else None)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(name)s 已退出名单") % {"name": e.name})
    return redirect(reverse("activities:program_detail", args=[program.pk]) + "#list")


@staff_view
@require_POST
def session_start(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: today's session of the program (opened now if there is none yet), then its roll call."""
    user = request.user
    program = _visible_program(request, pk)
    first, after = timezone.localdate(), timezone.localdate() + dt.timedelta(days=1)
    existing = selectors.in_days(_sessions(user).filter(program=program), first, after).order_by("starts_at").first()
    if existing is None and not _running(program, first):
        messages.error(request, _("“%(name)s”今天不在开展期间") % {"name": program.name})
        return redirect("activities:program_detail", pk=program.pk)
    if existing is None:
        try:
            existing = services.session_open(actor=user, program=program)
        except NotAllowed:
            return forbidden(request, _("您不能为该项目登记活动"))
    return redirect("activities:attendance", pk=existing.pk)


# ---- a person's record -------------------------------------------------------------------------


@staff_view
def person_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything a resident attended that the user can see: each program's count, then the
    sessions newest first (a 四点半 child's record, a diner's meals, a camper's days)."""
    user = request.user
    resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household"), pk=pk)
    rows = Attendance.objects.filter(resident=resident, activity__in=Activity.objects.visible_to(user).values("pk"))
    per_program = list(rows.filter(activity__program__isnull=False).order_by()
                       .values("activity__program_id", "activity__program__name", "activity__program__kind")
                       .annotate(n=Count("id")).order_by("-n"))
    other = rows.filter(activity__program__isnull=True).count()
    page = keyset_page(rows.select_related("activity__program", "activity__team"), ["-activity__starts_at", "-id"],
                       request.GET.get("after"), PAGE_SIZE)
    enrolments = list(Enrolment.objects.visible_to(user).filter(resident=resident).select_related("program")
                      .order_by("-from_on"))
    return render(request, "activities/person_record.html", {
        "resident": resident, "per_program": per_program, "other": other, "page": page,
        "after": request.GET.get("after"), "enrolments": enrolments, "kinds": dict(ProgramKind.choices),
    })


# ---- resident cards and the scan ---------------------------------------------------------------


def _card(resident: Resident) -> dict[str, Any]:
    return {"resident": resident, "qr": qr_svg(cards.card_token(resident))}


@staff_view
def resident_card(request: HttpRequest, pk: int) -> HttpResponse:
    resident = get_object_or_404(Resident.objects.visible_to(request.user).select_related("household"), pk=pk)
    return render(request, "activities/cards.html", {"cards": [_card(resident)], "title": resident.name})


@staff_view
def program_cards(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole list's cards on A4 pages, to print, cut and laminate."""
    program = _visible_program(request, pk)
    today = timezone.localdate()
    people = [e.resident for e in program.enrolments.filter(Q(to_on__isnull=True) | Q(to_on__gte=today),
                                                            resident__isnull=False)
              .select_related("resident__household").order_by("resident__name_pinyin", "id")]
    return render(request, "activities/cards.html", {"cards": [_card(r) for r in people if r is not None],
                                                     "title": program.name, "program": program})


@staff_view
@require_POST
def attendance_scan(request: HttpRequest, pk: int) -> HttpResponse:
    """A resident card scanned at the roll call (scanner gun, or the camera through BarcodeDetector)."""
    user = request.user
    activity = _visible_activity(request, pk)
    if not can_on(user, Action.VISIT, activity):
        raise NotAllowed(_("您在该区域只有查看权限,不能执行此操作"))
    resident_pk = cards.resident_pk(request.POST.get("token", ""))
    resident = None
    if resident_pk is not None:
        resident = Resident.objects.visible_to(user).select_related("household").filter(pk=resident_pk).first()
    error, name = "", ""
    if resident_pk is None:
        error = _("无法识别,请扫描社区发放的居民卡")
    elif resident is None:
        error = _("该居民不在您的管辖范围内")
    else:
        name = resident.name
        form = MarkForm(request.POST)
        role, hours = form.role_and_hours(_mode(activity), default_hours(activity)) if form.is_valid() \
            else (_mode(activity), Decimal("0"))
        try:
            services.attendance_mark(actor=user, activity=activity, residents=[resident], role=role, hours=hours)
        except ValidationError as exc:
            error = "".join(exc.messages)
    row = None
    if resident is not None:
        # The person's row on the list, swapped in place; otherwise they appear under 其他人员.
        enrolment = Enrolment.objects.filter(program_id=activity.program_id, resident=resident).order_by("-from_on")\
            .first() if activity.program_id else None
        member = activity.team.members.filter(resident=resident).first() if activity.team_id and activity.team else None
        if enrolment is not None or member is not None:
            row = _entry_for(activity, enrolment=enrolment, member=member if enrolment is None else None)
    return _board_response(request, activity, "activities/_scan_response.html",
                           {"error": error, "name": name, "row": row}, with_others=True)


# ---- quick event -------------------------------------------------------------------------------


@staff_view
def event_create(request: HttpRequest) -> HttpResponse:
    """普法, 感恩教育, 宣讲培训, 文艺演出, 节日活动: recorded on a phone in one screen."""
    user = request.user
    if scope_paths(user, Action.VISIT) == []:
        return forbidden(request, _("您没有登记活动的权限"))
    teams = Team.objects.visible_to(user).filter(active=True).order_by("kind", "name")
    areas = Area.objects.visible_to(user, Action.VISIT).filter(kind__in=PLACE_KINDS).order_by("path")
    now = timezone.localtime().replace(second=0, microsecond=0)
    kind = request.GET.get("kind") if request.GET.get("kind") in EVENT_TITLES else "law"
    form = EventForm(request.POST or None, teams=teams, areas=areas,
                     initial={"kind": kind, "starts_at": now, "area": areas.first()})
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_record(actor=user, **form.service_kwargs())
        except NotAllowed:
            form.add_error("area", _("您不能在该区域登记活动,请选择您负责的区域"))
            status = 403
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已登记“%(title)s”,%(n)d 人次") % {"title": activity.title,
                                                                         "n": activity.headcount})
            return redirect("activities:attendance", pk=activity.pk)
    if status == 200 and form.errors:
        status = 400
    return render(request, "activities/event_form.html", {
        "form": form, "titles": EVENT_TITLES, "law_venues": LAW_VENUES, "venues": VENUES, "partners": PARTNERS,
        "art_teams": [t for t in teams if t.kind == TeamKind.ART],
        "kinds": [(k, ActivityKind(k).label) for k in EVENT_TITLES],
    }, status=status)


# ---- canteen statement -------------------------------------------------------------------------


def _statement_month(request: HttpRequest) -> tuple[str, dt.date, dt.date]:
    month = request.GET.get("month") or f"{timezone.localdate():%Y-%m}"
    span = canteen.month_span(month)
    if span is None:
        month = f"{timezone.localdate():%Y-%m}"
        span = canteen.month_span(month)
        assert span is not None
    return month, span[0], span[1]


@staff_view
def canteen_statement(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    program = _visible_program(request, pk)
    month, first, last = _statement_month(request)
    st = canteen.statement(program, _sessions(user), first, last)
    prev_month = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (last + dt.timedelta(days=1)).strftime("%Y-%m")
    return render(request, "activities/canteen_statement.html", {
        "program": program, "st": st, "month": month, "prev_month": prev_month,
        "next_month": next_month if last < timezone.localdate() else "",
        "may_export": can(user, Action.EXPORT, program.area_path),
    })


@staff_view
def canteen_statement_export(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    program = _visible_program(request, pk)
    if not can(user, Action.EXPORT, program.area_path):
        return forbidden(request, _("您没有导出数据的权限"))
    _month, first, last = _statement_month(request)
    data = exporter.export_canteen_statement(actor=user, program=program, sessions=_sessions(user, Action.EXPORT),
                                             first=first, last=last, ip=client_ip(request))
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(
        True, f"{program.name}_{first:%Y年%m月}就餐结算.xlsx") or "attachment"
    return response

