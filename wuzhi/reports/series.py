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

from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Sum
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


def month_starts(ms: list[tuple[int, int]]) -> list[dt.datetime]:
    """Local midnight of the first of each month of `ms`, and of the month after the last."""
    from django.utils import timezone

    y, m = ms[-1]
    after = (y + 1, 1) if m == 12 else (y, m + 1)
    return [timezone.make_aware(dt.datetime(y, m, 1)) for y, m in [*ms, after]]


class Bucket(Func):
    """Which of the half-open ranges bounds[i] <= column < bounds[i+1] holds a row's value: i, or
    NULL outside them all (and for NULL). Grouping by it counts per month in one pass of plain
    comparisons: truncating every row to its month (TruncMonth) costs a time-zone conversion per
    row, in Python on SQLite, and a CASE of When(Q(…)) per month costs milliseconds of ORM work
    to build. The bounds are adapted to the database as the column's own values are."""

    output_field = IntegerField()

    def __init__(self, field: str, bounds: list[Any]) -> None:
        super().__init__(F(field))
        self.bounds = bounds

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **kwargs: Any) -> tuple[str, list[Any]]:
        column = self.source_expressions[0]
        column_sql, column_params = compiler.compile(column)
        values = [column.output_field.get_db_prep_value(b, connection) for b in self.bounds]
        sql, params = [f"CASE WHEN {column_sql} < %s THEN NULL"], [*column_params, values[0]]
        for i, value in enumerate(values[1:]):
            sql.append(f"WHEN {column_sql} < %s THEN {i}")
            params += [*column_params, value]
        return " ".join(sql) + " END", params


def month_index(scope: Scope, field: str) -> Bucket:
    """The index into months(scope) of a row's datetime `field`, NULL outside those months."""
    return Bucket(field, month_starts(months(scope)))


# ---- 基础: population --------------------------------------------------------------------------

AGE_BANDS = [(0, 6), (7, 17), (18, 34), (35, 44), (45, 59), (60, 69), (70, 79), (80, None)]


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def band_label(lo: int, hi: int | None) -> str:
    return f"{lo}岁以上" if hi is None else f"{lo}–{hi}岁"


def _present_residents(scope: Scope) -> QuerySet[Any]:
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Resident

    return scope.rows(Resident).filter(status=c.PersonStatus.PRESENT)


def _age_bucket(scope: Scope) -> Bucket:
    """Which age band a resident is in as of the reference day, from the birth date, as a
    Bucket index counted from the oldest band (AGE_BANDS reversed); None without a band (born
    after the reference day). The bands are contiguous, so band i (aged lo to hi) is the birth
    dates after the day lo(i+1) years before and up to the day lo(i) years before; one plain
    comparison per band finds it."""
    day = scope.reference_day
    return Bucket("birth_date", [dt.date.min] + [_years_before(day, lo) + dt.timedelta(days=1)
                                                 for lo, _hi in reversed(AGE_BANDS)])


def _band(bucket: int | None) -> int | None:
    return None if bucket is None else len(AGE_BANDS) - 1 - bucket


def resident_counts(scope: Scope) -> dict[tuple[int | None, str], int]:
    """Present residents by (index in AGE_BANDS, sex), in one query. The pyramid and the
    `residents` figure read it; the drill-down table counts the same rows per child area and,
    doing so, supplies it (child_table)."""
    def run() -> dict[tuple[int | None, str], int]:
        rows = _present_residents(scope).values("sex", bucket=_age_bucket(scope)).annotate(n=Count("id")).order_by()
        return {(_band(r["bucket"]), r["sex"]): r["n"] for r in rows}

    return scope.shared("registry.residents", run)


def _present_households(scope: Scope) -> QuerySet[Any]:
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Household

    return scope.rows(Household).filter(status=c.HouseholdStatus.PRESENT)


def _household_counts() -> dict[str, Any]:
    """Households, and those with an active 三联系 helper (the complement of
    wuzhi.party.selectors.households_without_helper), as aggregates."""
    from django.db.models import Exists, OuterRef

    from wuzhi.party.selectors import active_pairings

    return {"households": Count("id"),
            "covered": Count("id", filter=Q(Exists(active_pairings().filter(household=OuterRef("pk")))))}


def household_counts(scope: Scope) -> dict[str, int]:
    """Present households and those with a helper, in one query. The `households` and
    `households_without_helper` figures and the dashboard's coverage read it; the drill-down
    table counts the same rows per child area and, doing so, supplies it (child_table)."""
    return scope.shared("registry.households", lambda: _present_households(scope).aggregate(**_household_counts()))


def pyramid(scope: Scope) -> Chart:
    """Present residents by age band and sex."""
    from wuzhi.registry import choices as c

    counts = resident_counts(scope)
    labels = [band_label(lo, hi) for lo, hi in AGE_BANDS]
    male = [counts.get((i, c.Sex.MALE), 0) for i in range(len(AGE_BANDS))]
    female = [counts.get((i, c.Sex.FEMALE), 0) for i in range(len(AGE_BANDS))]
    return Chart("pyramid", _("人口年龄结构"), "pyramid", labels,
                 [{"name": _("男"), "data": male, "unit": _("人")}, {"name": _("女"), "data": female, "unit": _("人")}])


def tag_counts(scope: Scope) -> list[dict[str, Any]]:
    """Present residents per person tag (重点人群); a parent tag (困境儿童) counts anyone carrying it
    or a sub-tag once. Three queries whatever the number of tags."""
    from django.db.models import Exists, OuterRef

    from wuzhi.registry.models import ResidentTag, Tag
    from wuzhi.registry.selectors import tag_descendants

    tags = list(Tag.objects.filter(applies_to=Tag.AppliesTo.PERSON).order_by("sort", "name"))
    tree = tag_descendants()
    # Driven from the tag rows (far fewer than the residents), each looked up by its resident.
    people = ResidentTag.objects.filter(Exists(_present_residents(scope).filter(pk=OuterRef("resident_id"))))
    aggs = {f"t{t.pk}": Count("resident", distinct=True, filter=Q(tag_id__in=sorted(tree.get(t.pk, {t.pk}))))
            for t in tags}
    row = people.aggregate(**aggs) if aggs else {}
    return [{"tag": t, "count": row.get(f"t{t.pk}", 0) or 0, "parent_id": t.parent_id} for t in tags]


def helper_coverage(scope: Scope) -> dict[str, int]:
    """Present households with an active 三联系 helper, of all present households."""
    row = household_counts(scope)
    return {"households": row["households"], "covered": row["covered"],
            "uncovered": row["households"] - row["covered"]}


# ---- 法治: cases ----------------------------------------------------------------------------------


def _cases(scope: Scope) -> QuerySet[Any]:
    from wuzhi.cases.models import Case, CaseState

    # As the figures count them: received in the period, a merged duplicate once (with its main).
    return scope.in_period(scope.rows(Case), "opened_at").exclude(state=CaseState.MERGED)


def cases_by_month(scope: Scope) -> Chart:
    """Received per month by kind (stacked bars) and the month's on-time rate among those
    resolved (line), from the query the case figures count with."""
    from wuzhi.cases.figures import case_groups
    from wuzhi.cases.models import CaseKind

    ms = months(scope)
    per: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    done: dict[tuple[int, int], int] = defaultdict(int)
    on_time: dict[tuple[int, int], int] = defaultdict(int)
    for g in case_groups(scope):
        if g["month"] is None:
            continue
        key = ms[g["month"]]
        per[g["kind"]][key] += g["received"]
        done[key] += g["resolved"]
        on_time[key] += g["on_time"]
    series: list[dict[str, Any]] = [
        {"name": str(label), "data": [per[kind].get(m, 0) for m in ms], "unit": _("件"), "stack": "cases"}
        for kind, label in CaseKind.choices]
    series.append({"name": _("按期办结率"), "data": [round(100 * on_time[m] / done[m], 1) if done[m] else None
                                                for m in ms], "unit": "%", "axis": 1})
    return Chart("cases_by_month", _("诉求与纠纷受理(按月)"), "bar_line", month_labels(ms), series)


def case_states(scope: Scope) -> Chart:
    from wuzhi.cases.figures import case_groups
    from wuzhi.cases.models import CaseState

    counts: dict[str, int] = defaultdict(int)
    for g in case_groups(scope):
        counts[g["state"]] += g["received"]
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

    return scope.in_period(scope.rows(Activity), "starts_at")


def activities_by_month(scope: Scope) -> dict[str, Chart]:
    """场次 and 人次 per month for each governance (人次 = participants marked by name plus the
    counted headcount, as wuzhi.activities.selectors counts them), from the query the activity
    figures count with."""
    from wuzhi.activities.figures import activity_groups
    from wuzhi.activities.models import Governance

    ms = months(scope)
    count: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    visits: dict[str, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for g in activity_groups(scope):
        # A governance with activities in the period has its chart, even when they all fall after
        # the reference month (counted by the figures, not charted).
        per_month, visits_per_month = count[g["governance"]], visits[g["governance"]]
        if g["month"] is not None:
            per_month[ms[g["month"]]] += g["n"]
            visits_per_month[ms[g["month"]]] += g["visits"]
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
    """Per activity kind: 场次 and 人次 (from the query the activity figures count with)."""
    from wuzhi.activities.figures import activity_groups
    from wuzhi.activities.models import ActivityKind

    rows: dict[str, dict[str, int]] = {}
    for g in activity_groups(scope):
        row = rows.setdefault(g["kind"], {"count": 0, "visits": 0})
        row["count"] += g["n"]
        row["visits"] += g["visits"]
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

    from wuzhi.alarms.figures import device_counts, presses
    from wuzhi.alarms.models import Alarm, AlarmKind

    devices = device_counts(scope)
    health = {k: devices[k] for k in ("total", "offline", "low_battery", "tamper")}
    alarms = scope.in_period(scope.rows(Alarm), "opened_at")
    ms = months(scope)
    per: dict[str, list[int]] = {}
    for r in alarms.values("kind", month=month_index(scope, "opened_at")).annotate(n=Count("id")).order_by():
        counts = per.setdefault(r["kind"], [0] * len(ms))
        if r["month"] is not None:
            counts[r["month"]] += r["n"]
    if not health["total"] and not per:
        return None
    # One-key calls of a period are few (tens to hundreds): their times are read (once, with the
    # figures) and the medians taken here, exactly, rather than averaged in SQL.
    calls = presses(scope)
    ack = [(a - o).total_seconds() for o, a, _s, _r in calls if a]
    arrive = [(s - o).total_seconds() / 60 for o, _a, s, _r in calls if s]
    month_of = {key: i for i, key in enumerate(ms)}
    ack_by_month: dict[int, list[float]] = defaultdict(list)
    for opened, acked, _site, _resolution in calls:
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
        "health": health, "chart": chart, "presses": len(calls),
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


def _merge(rows: list[dict[str, Any]], fields: tuple[str, ...], sums: tuple[str, ...]) -> list[dict[str, Any]]:
    """`rows` summed over everything but `fields` (the child areas, here)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        into = out.setdefault(tuple(r[f] for f in fields), {**{f: r[f] for f in fields}, **dict.fromkeys(sums, 0)})
        for f in sums:
            into[f] += r[f]
    return list(out.values())


def _counts_by_child(scope: Scope, children: list[Area]) -> list[dict[int, dict[str, Any]]]:
    """Per child area: households (and those with a helper), residents, cases, activities.

    When the children's paths share one length (siblings' codes normally do), the groups on
    that prefix partition every row of the area. Then each query here is the very query a
    figure or chart counts with, grouped by child as well: summed over the children (and any
    rows at the area itself) it gives the area's numbers, which are handed to the figures
    through Scope.shared rather than counted a second time."""
    from wuzhi.activities import figures as activity_figures
    from wuzhi.activities.selectors import named_expr
    from wuzhi.cases import figures as case_figures
    from wuzhi.cases.models import DONE_STATES, CaseKind

    lengths = {len(child.path) for child in children}
    if len(lengths) != 1:
        done = Q(state__in=DONE_STATES)
        return [
            _grouped(_present_households(scope), children, _household_counts()),
            _grouped(_present_residents(scope), children, {"residents": Count("id")}),
            _grouped(_cases(scope), children, {
                "cases_received": Count("id"), "_done": Count("id", filter=done),
                "_on_time": Count("id", filter=done & Q(resolved_at__lte=F("due_at"))),
                "disputes_received": Count("id", filter=Q(kind=CaseKind.DISPUTE)),
            }),
            _grouped(_activities(scope).annotate(_per_activity=named_expr()), children, {
                "activities": Count("id"), "_headcount": Sum("headcount"),
                "_named": Sum("_per_activity", output_field=IntegerField())}),
        ]
    (length,) = lengths
    paths = {child.path: child.pk for child in children}
    per: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def child_prefix() -> Substr:
        return Substr("area_path", 1, length)

    rows = list(_present_households(scope).annotate(_child=child_prefix()).values("_child")
                .annotate(**_household_counts()).order_by())
    for r in rows:
        if r["_child"] in paths:
            per[paths[r["_child"]]]["households"] += r["households"]
            per[paths[r["_child"]]]["covered"] += r["covered"]
    totals = _merge(rows, (), ("households", "covered"))
    scope.shared("registry.households", lambda: totals[0] if totals else {"households": 0, "covered": 0})

    rows = list(_present_residents(scope).annotate(_child=child_prefix())
                .values("_child", "sex", bucket=_age_bucket(scope)).annotate(n=Count("id")).order_by())
    for r in rows:
        if r["_child"] in paths:
            per[paths[r["_child"]]]["residents"] += r["n"]
    by_band = {(_band(r["bucket"]), r["sex"]): r["n"] for r in _merge(rows, ("bucket", "sex"), ("n",))}
    scope.shared("registry.residents", lambda: by_band)

    rows = case_figures.case_group_rows(scope, _child=child_prefix())
    for r in rows:
        if r["_child"] in paths:
            into = per[paths[r["_child"]]]
            into["cases_received"] += r["received"]
            into["_done"] += r["resolved"]
            into["_on_time"] += r["on_time"]
            into["disputes_received"] += r["received"] if r["kind"] == CaseKind.DISPUTE else 0
    cases = _merge(rows, case_figures.GROUP_FIELDS, case_figures.GROUP_SUMS)
    scope.shared("cases.groups", lambda: cases)

    rows = activity_figures.activity_group_rows(scope, _child=child_prefix())
    for r in rows:
        if r["_child"] in paths:
            into = per[paths[r["_child"]]]
            into["activities"] += r["n"]
            into["_headcount"] += r["headcount"]
            into["_named"] += r["visits"] - r["headcount"]
    activities = _merge(rows, activity_figures.GROUP_FIELDS, activity_figures.GROUP_SUMS)
    scope.shared("activities.groups", lambda: activities)
    return [{pk: dict(values) for pk, values in per.items()}]


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
    if not children:
        return []
    parts = _counts_by_child(scope, children)
    keys = ["households", "residents", "covered", "cases_received", "_done", "_on_time",
            "disputes_received", "activities", "_headcount", "_named"]
    rows = []
    for child in children:
        merged = {k: 0 for k in keys}
        for part in parts:
            merged.update({k: v or 0 for k, v in part.get(child.pk, {}).items()})
        rows.append(ChildRow(child, _finish(merged)))
    return rows


def _finish(v: dict[str, Any]) -> dict[str, Any]:
    v["households_without_helper"] = v["households"] - v.pop("covered")
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
