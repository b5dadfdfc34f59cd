"""Breakdowns behind the charts and tables: by month, by age and sex, by tag, by child area.

Like the figures, every function reads through `Scope.rows` (the scope chokepoint) and counts
rows with grouped queries: the number of queries does not grow with the months, the tags or the
child areas. A chart is a plain dict (`Chart`) that both the dashboard (ECharts) and the work
report (PNG via wuzhi.reports.charts) draw, so the page and the document cannot disagree."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wuzhi.core.models import Area

from .statistics import Scope


@dataclass
class Chart:
    """kind: bar | line | bar_line (bars plus a line on a second axis) | pyramid | hbar | pie."""

    key: str
    title: str
    kind: str
    categories: list[str]
    series: list[dict[str, Any]]  # {"name": str, "data": [numbers], "unit": str}
    note: str = ""
    links: list[str] = field(default_factory=list)  # per category, a list page (may be "")

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "kind": self.kind, "categories": self.categories,
                "series": self.series, "note": self.note, "links": self.links}

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s["data"])


# ---- periods ---------------------------------------------------------------------------------


def months(scope: Scope) -> list[tuple[int, int]]:
    """(year, month) from the period's start to its reference day (no empty future months)."""
    y, m = scope.start.year, scope.start.month
    last = scope.reference_day
    out = []
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out or [(scope.start.year, scope.start.month)]


def month_labels(ms: list[tuple[int, int]]) -> list[str]:
    years = {y for y, _m in ms}
    return [f"{m}月" if len(years) == 1 else f"{y}年{m}月" for y, m in ms]


def month_filters(ms: list[tuple[int, int]], field: str) -> list[Q]:
    """A range condition per month on a datetime column, in local time. Counting with one
    conditional aggregate per month keeps the query on plain comparisons: truncating every row
    to its month (TruncMonth) costs a time-zone conversion per row, in Python on SQLite."""
    from django.utils import timezone

    def start(y: int, m: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime(y, m, 1))

    out = []
    for y, m in ms:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append(Q(**{f"{field}__gte": start(y, m), f"{field}__lt": start(ny, nm)}))
    return out


# ---- 基础: population --------------------------------------------------------------------------

AGE_BANDS = [(0, 6), (7, 17), (18, 34), (35, 44), (45, 59), (60, 69), (70, 79), (80, None)]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def band_label(lo: int, hi: int | None) -> str:
    return f"{lo}岁以上" if hi is None else f"{lo}–{hi}岁"


def pyramid(scope: Scope) -> Chart:
    """Present residents by age band and sex (ages as of the reference day, from birth dates),
    all bands in one conditional aggregate query."""
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Resident

    day = scope.reference_day
    aggs: dict[str, Any] = {}
    for i, (lo, hi) in enumerate(AGE_BANDS):
        # Age ≥ lo ⇔ born on or before day - lo years; age ≤ hi ⇔ born after day - (hi+1) years.
        cond = Q(birth_date__lte=_years_before(day, lo))
        if hi is not None:
            cond &= Q(birth_date__gt=_years_before(day, hi + 1))
        for sex in (c.Sex.MALE, c.Sex.FEMALE):
            aggs[f"b{i}{sex}"] = Count("id", filter=cond & Q(sex=sex))
    row = scope.rows(Resident).filter(status=c.PersonStatus.PRESENT).aggregate(**aggs)
    labels = [band_label(lo, hi) for lo, hi in AGE_BANDS]
    male = [row[f"b{i}M"] for i in range(len(AGE_BANDS))]
    female = [row[f"b{i}F"] for i in range(len(AGE_BANDS))]
    return Chart("pyramid", _("人口年龄结构"), "pyramid", labels,
                 [{"name": _("男"), "data": male, "unit": _("人")}, {"name": _("女"), "data": female, "unit": _("人")}])


def tag_counts(scope: Scope) -> list[dict[str, Any]]:
    """Present residents per person tag (重点人群); a parent tag (困境儿童) counts anyone carrying it
    or a sub-tag once. Two queries whatever the number of tags."""
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Resident, ResidentTag, Tag
    from wuzhi.registry.selectors import tag_descendants

    tags = list(Tag.objects.filter(applies_to=Tag.AppliesTo.PERSON).order_by("sort", "name"))
    tree = tag_descendants()
    people = ResidentTag.objects.filter(resident__in=scope.rows(Resident).filter(status=c.PersonStatus.PRESENT))
    aggs = {f"t{t.pk}": Count("resident", distinct=True, filter=Q(tag_id__in=sorted(tree.get(t.pk, {t.pk}))))
            for t in tags}
    row = people.aggregate(**aggs) if aggs else {}
    return [{"tag": t, "count": row.get(f"t{t.pk}", 0) or 0, "parent_id": t.parent_id} for t in tags]


def helper_coverage(scope: Scope) -> dict[str, int]:
    """Present households with an active 三联系 helper, of all present households."""
    from django.db.models import Exists, OuterRef

    from wuzhi.party.selectors import active_pairings
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Household

    row = scope.rows(Household).filter(status=c.HouseholdStatus.PRESENT).aggregate(
        total=Count("id"),
        covered=Count("id", filter=Q(Exists(active_pairings().filter(household=OuterRef("pk"))))),
    )
    return {"households": row["total"], "covered": row["covered"], "uncovered": row["total"] - row["covered"]}


# ---- 法治: cases ----------------------------------------------------------------------------------


def _cases(scope: Scope) -> QuerySet[Any]:
    from wuzhi.cases.models import Case, CaseState

    # As the figures count them: received in the period, a merged duplicate once (with its main).
    return scope.in_period_fast(scope.rows(Case), "opened_at").exclude(state=CaseState.MERGED)


def cases_by_month(scope: Scope) -> Chart:
    """Received per month by kind (stacked bars) and the month's on-time rate among those
    resolved (line), in one query grouped by kind."""
    from wuzhi.cases.models import DONE_STATES, CaseKind

    ms = months(scope)
    done_q = Q(state__in=DONE_STATES)
    on_time_q = done_q & Q(resolved_at__lte=F("due_at"))
    aggs: dict[str, Any] = {}
    for i, month in enumerate(month_filters(ms, "opened_at")):
        aggs[f"n{i}"] = Count("id", filter=month)
        aggs[f"d{i}"] = Count("id", filter=month & done_q)
        aggs[f"t{i}"] = Count("id", filter=month & on_time_q)
    per: dict[str, dict[tuple[int, int], int]] = defaultdict(dict)
    done: dict[tuple[int, int], int] = defaultdict(int)
    on_time: dict[tuple[int, int], int] = defaultdict(int)
    for r in _cases(scope).values("kind").annotate(**aggs).order_by():
        for i, key in enumerate(ms):
            per[r["kind"]][key] = r[f"n{i}"]
            done[key] += r[f"d{i}"]
            on_time[key] += r[f"t{i}"]
    series: list[dict[str, Any]] = [
        {"name": str(label), "data": [per[kind].get(m, 0) for m in ms], "unit": _("件"), "stack": "cases"}
        for kind, label in CaseKind.choices]
    series.append({"name": _("按期办结率"), "data": [round(100 * on_time[m] / done[m], 1) if done[m] else None
                                                for m in ms], "unit": "%", "axis": 1})
    return Chart("cases_by_month", _("诉求与纠纷受理(按月)"), "bar_line", month_labels(ms), series)


def case_states(scope: Scope) -> Chart:
    from wuzhi.cases.models import CaseState

    counts = dict(_cases(scope).values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    states = [(s, lbl) for s, lbl in CaseState.choices if counts.get(s)]
    return Chart("case_states", _("受理事项当前状态"), "pie", [str(lbl) for _s, lbl in states],
                 [{"name": _("件数"), "data": [counts[s] for s, _l in states], "unit": _("件")}])


def case_categories(scope: Scope) -> list[dict[str, Any]]:
    """Per category: received, resolved, on time, satisfied (cases.selectors.breakdown)."""
    from wuzhi.cases.selectors import breakdown

    rows = breakdown(_cases(scope), "category__name")
    for r in rows:
        r["on_time_rate"] = round(100 * r["on_time"] / r["resolved"], 1) if r["resolved"] else None
        r["satisfaction_rate"] = round(100 * r["satisfied"] / r["rated"], 1) if r["rated"] else None
    return rows


# ---- activities and 人次 -------------------------------------------------------------------------


def _activities(scope: Scope) -> QuerySet[Any]:
    from wuzhi.activities.models import Activity

    return scope.in_period_fast(scope.rows(Activity), "starts_at")


def activities_by_month(scope: Scope) -> dict[str, Chart]:
    """场次 and 人次 per month for each governance (人次 = participants marked by name plus the
    counted headcount, as wuzhi.activities.selectors counts them): two grouped queries."""
    from wuzhi.activities.models import Attendance, Governance

    ms = months(scope)
    qs = _activities(scope)
    count: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    visits: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    aggs: dict[str, Any] = {}
    for i, month in enumerate(month_filters(ms, "starts_at")):
        aggs[f"n{i}"] = Count("id", filter=month)
        aggs[f"h{i}"] = Sum("headcount", filter=month)
    for r in qs.values("governance").annotate(**aggs).order_by():
        for i, key in enumerate(ms):
            count[r["governance"]][key] += r[f"n{i}"]
            visits[r["governance"]][key] += r[f"h{i}"] or 0
    named = Attendance.objects.filter(activity__in=qs.values("pk"), role=Attendance.Role.PARTICIPANT)
    for r in named.values("activity__governance").annotate(**{
            f"p{i}": Count("id", filter=month) for i, month in enumerate(month_filters(ms, "activity__starts_at"))
    }).order_by():
        for i, key in enumerate(ms):
            visits[r["activity__governance"]][key] += r[f"p{i}"]
    charts = {}
    for gov, label in Governance.choices:
        if gov not in count:
            continue
        chart_series: list[dict[str, Any]] = [{"name": _("场次"), "data": [count[gov].get(m, 0) for m in ms], "unit": _("场")}]
        if any(visits[gov].values()):  # patrols and the like count no 人次: no flat line at zero
            chart_series.append({"name": _("人次"), "data": [visits[gov].get(m, 0) for m in ms], "unit": _("人次"),
                                 "axis": 1})
        charts[str(label)] = Chart(f"activities_{gov}", _("%(gov)s活动场次与人次(按月)") % {"gov": label}, "bar_line",
                                   month_labels(ms), chart_series)
    return charts


def activities_by_kind(scope: Scope) -> list[dict[str, Any]]:
    """Per activity kind: 场次 and 人次 (two grouped queries)."""
    from wuzhi.activities.models import ActivityKind, Attendance

    qs = _activities(scope)
    rows = {r["kind"]: {"count": r["n"], "visits": r["h"] or 0}
            for r in qs.values("kind").annotate(n=Count("id"), h=Sum("headcount"))}
    for r in (Attendance.objects.filter(activity__in=qs.values("pk"), role=Attendance.Role.PARTICIPANT)
              .values("activity__kind").annotate(n=Count("id"))):
        rows.setdefault(r["activity__kind"], {"count": 0, "visits": 0})["visits"] += r["n"]
    return [{"kind": k, "label": str(lbl), **rows[k]} for k, lbl in ActivityKind.choices if k in rows]


# ---- 智治: emergency callers ---------------------------------------------------------------------


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def alarms_summary(scope: Scope) -> dict[str, Any] | None:
    """Device health (as of now) and the period's calls: per month by kind, with the median time
    to acknowledge (seconds) and to arrive (minutes) of one-key calls. None while the alarms
    app holds neither devices nor alarms in the area."""
    from django.apps import apps

    if not apps.is_installed("wuzhi.alarms"):
        return None
    from django.utils import timezone

    from wuzhi.alarms.models import Alarm, AlarmKind, Device, DeviceStatus

    now = timezone.now()
    health = scope.rows(Device).filter(active=True).aggregate(
        total=Count("id"),
        offline=Count("id", filter=Q(status=DeviceStatus.OFFLINE) | Q(offline_at__lt=now)),
        low_battery=Count("id", filter=Q(low_battery=True)),
        tamper=Count("id", filter=Q(tamper=True)),
    )
    alarms = scope.in_period_fast(scope.rows(Alarm), "opened_at")
    ms = months(scope)
    per: dict[str, list[int]] = {}
    aggs = {f"n{i}": Count("id", filter=month) for i, month in enumerate(month_filters(ms, "opened_at"))}
    for r in alarms.values("kind").annotate(**aggs).order_by():
        per[r["kind"]] = [r[f"n{i}"] for i in range(len(ms))]
    if not health["total"] and not per:
        return None
    # One-key calls of a period are few (tens to hundreds): their times are read and the medians
    # taken here, exactly, rather than averaged in SQL.
    presses = list(alarms.filter(kind=AlarmKind.PRESS).values_list("opened_at", "acknowledged_at", "on_site_at"))
    ack = [(a - o).total_seconds() for o, a, _s in presses if a]
    arrive = [(s - o).total_seconds() / 60 for o, _a, s in presses if s]
    month_of = {key: i for i, key in enumerate(ms)}
    ack_by_month: dict[int, list[float]] = defaultdict(list)
    for opened, acked, _site in presses:
        local = timezone.localtime(opened)
        if acked and (local.year, local.month) in month_of:
            ack_by_month[month_of[(local.year, local.month)]].append((acked - opened).total_seconds())
    chart = None
    if per:
        chart_series: list[dict[str, Any]] = [
            {"name": str(label), "data": per[kind], "unit": _("次"), "stack": "alarms"}
            for kind, label in AlarmKind.choices if kind in per]
        chart_series.append({"name": _("确认用时中位数(秒)"), "unit": _("秒"), "axis": 1,
                             "data": [_median(ack_by_month.get(i, [])) for i in range(len(ms))]})
        chart = Chart("alarms_by_month", _("呼叫与报警(按月)"), "bar_line", month_labels(ms), chart_series)
    median_ack, median_arrive = _median(ack), _median(arrive)
    return {
        "health": health, "chart": chart, "presses": len(presses),
        "ack_median_seconds": round(median_ack) if median_ack is not None else None,
        "arrive_median_minutes": round(median_arrive, 1) if median_arrive is not None else None,
    }


# ---- drill-down: one row per child area -----------------------------------------------------------


def _grouped(qs: QuerySet[Any], children: list[Area], aggs: dict[str, Any], path_field: str = "area_path"
             ) -> dict[int, dict[str, Any]]:
    """Aggregate `qs` per child area, grouping on the child-path prefix of each row's path: one
    query per distinct path length among the children (siblings' codes normally share one)."""
    out: dict[int, dict[str, Any]] = {}
    by_len: dict[int, dict[str, Area]] = defaultdict(dict)
    for child in children:
        by_len[len(child.path)][child.path] = child
    for length, paths in by_len.items():
        # `qs` is already inside the parent's subtree (Scope.rows); group by the prefix.
        rows = qs.annotate(_child=Substr(path_field, 1, length)).values("_child").annotate(**aggs).order_by()
        for r in rows:
            found = paths.get(r["_child"])
            if found is not None:
                out[found.pk] = {k: r[k] for k in aggs}
    return out


@dataclass
class ChildRow:
    area: Area | None  # None: rows attached to the parent itself, in no child
    values: dict[str, Any]


CHILD_COLUMNS = [
    ("households", gettext_lazy("户数")),
    ("residents", gettext_lazy("人口")),
    ("households_without_helper", gettext_lazy("无联系人户")),
    ("cases_received", gettext_lazy("受理诉求")),
    ("cases_on_time_rate", gettext_lazy("按期办结率%")),
    ("disputes_received", gettext_lazy("矛盾纠纷")),
    ("activities", gettext_lazy("活动场次")),
    ("activity_visits", gettext_lazy("活动人次")),
]


def child_table(scope: Scope, children: list[Area]) -> list[ChildRow]:
    """The drill-down table: per child area the key counts (grouped queries, not a loop over
    children), then a row for what belongs to the area itself and no child (a community-wide
    law event, a case at the community office) when there is any."""
    from django.db.models import Exists, OuterRef

    from wuzhi.activities.models import Attendance
    from wuzhi.cases.models import DONE_STATES, CaseKind
    from wuzhi.party.selectors import active_pairings
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Household, Resident

    if not children:
        return []
    households = scope.rows(Household).filter(status=c.HouseholdStatus.PRESENT)
    done = Q(state__in=DONE_STATES)
    parts = [
        _grouped(households, children, {
            "households": Count("id"),
            "households_without_helper": Count("id", filter=~Q(Exists(active_pairings().filter(
                household=OuterRef("pk"))))),
        }),
        _grouped(scope.rows(Resident).filter(status=c.PersonStatus.PRESENT), children, {"residents": Count("id")}),
        _grouped(_cases(scope), children, {
            "cases_received": Count("id"), "_done": Count("id", filter=done),
            "_on_time": Count("id", filter=done & Q(resolved_at__lte=F("due_at"))),
            "disputes_received": Count("id", filter=Q(kind=CaseKind.DISPUTE)),
        }),
        _grouped(_activities(scope), children, {"activities": Count("id"), "_headcount": Sum("headcount")}),
        _grouped(Attendance.objects.filter(activity__in=_activities(scope).values("pk"),
                                           role=Attendance.Role.PARTICIPANT),
                 children, {"_named": Count("id")}, "activity__area_path"),
    ]
    keys = ["households", "residents", "households_without_helper", "cases_received", "_done", "_on_time",
            "disputes_received", "activities", "_headcount", "_named"]
    rows = []
    for child in children:
        merged = {k: 0 for k in keys}
        for part in parts:
            merged.update({k: v or 0 for k, v in part.get(child.pk, {}).items()})
        rows.append(ChildRow(child, _finish(merged)))
    return rows


def _finish(v: dict[str, Any]) -> dict[str, Any]:
    v["cases_on_time_rate"] = round(100 * v["_on_time"] / v["_done"], 1) if v["_done"] else None
    v["activity_visits"] = v["_headcount"] + v["_named"]
    return v


def own_row(totals: dict[str, Any], rows: list[ChildRow]) -> ChildRow | None:
    """Counts of the area itself minus its children's: what was recorded at this level only."""
    if not rows:
        return None
    keys = ("households", "residents", "households_without_helper", "cases_received", "disputes_received",
            "activities", "activity_visits")
    rest: dict[str, Any] = {k: (totals.get(k) or 0) - sum(r.values.get(k) or 0 for r in rows) for k in keys}
    if not any(rest.values()):
        return None
    rest["cases_on_time_rate"] = None  # a rate does not subtract
    return ChildRow(None, rest)


def area_totals(scope: Scope) -> dict[str, Any]:
    """The child-table columns for the whole area, by the same grouped queries."""
    area = scope.area
    if area is None:
        return {}
    rows = child_table(scope, [area])
    return rows[0].values if rows else {}
