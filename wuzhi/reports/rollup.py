"""Rollups: the additive figures of every area from community up to the city, per month, kept in
one table (models.Rollup) so that a town, county or city dashboard reads a few hundred rows
instead of grouping millions.

What rolls up is exactly the grouped queries the live figures already share (Scope.shared):
present households (and those with a helper) and present residents by age band and sex, as
stocks at the rebuild; the cases and the activities (场次, headcount, 人次) of each month. A
dashboard above community level hands the summed rollups to those same figure functions and
charts, so a rolled-up figure is computed by the code that computes it live: only the rows are
different (counted at the rebuild). Ratios (按期办结率, 满意率) are taken from the summed
numerators and denominators. Figures that do not add up over areas or months (distinct people,
medians, per-week averages, roster gaps, employment rate) are not rolled up: the dashboards of
towns, counties and the city leave them out and the community dashboards count them live.

`rebuild()` (the `wuzhi rollup` command) counts from rows: one grouped query per source over
the subtree, grouped by community, summed in Python to every level above, and written in one
transaction, so a reader sees either the previous rollups or the new ones."""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.utils import timezone

from wuzhi.core.models import Area, AreaKind

from .models import Rollup
from .statistics import Scope

# Months counted back from the rebuild: periods that start earlier are counted live.
YEARS_KEPT = 5
CITY = "/"  # the path of the whole platform's rollups
# Areas whose dashboards read rollups; communities and below count live (and a community's
# rollups exist as the drill-down rows of its town).
ROLLED_KINDS = (AreaKind.COUNTY, AreaKind.TOWN)

# The figures a rolled-up dashboard shows: those computed only from the shared groups below.
ROLLED_FIGURES = [
    "households", "residents", "households_without_helper",
    "cases_received", "cases_resolved", "cases_on_time_rate", "cases_satisfaction_rate", "disputes_received",
    "patrols", "care_team_activities", "afterschool_child_visits", "law_events", "law_event_visits",
    "gratitude_events", "gratitude_visits", "training_events", "training_visits",
]


@dataclass(frozen=True)
class Source:
    name: str
    shared: str  # the Scope.shared name the live figures read
    dims: tuple[str, ...]
    sums: tuple[str, ...]
    monthly: bool
    rows: Callable[[Scope, Substr], list[dict[str, Any]]]  # grouped by "_child" (and "month")


def _households(scope: Scope, child: Substr) -> list[dict[str, Any]]:
    from .series import _household_counts, _present_households

    return list(_present_households(scope).annotate(_child=child).values("_child")
                .annotate(**_household_counts()).order_by())


def _residents(scope: Scope, child: Substr) -> list[dict[str, Any]]:
    from .series import _age_bucket, _present_residents

    return list(_present_residents(scope).annotate(_child=child)
                .values("_child", "sex", bucket=_age_bucket(scope)).annotate(n=Count("id")).order_by())


def _cases(scope: Scope, child: Substr) -> list[dict[str, Any]]:
    from wuzhi.cases.figures import case_group_rows

    return case_group_rows(scope, _child=child)


def _activities(scope: Scope, child: Substr) -> list[dict[str, Any]]:
    from wuzhi.activities.figures import activity_group_rows

    return activity_group_rows(scope, _child=child)


SOURCES = [
    Source("households", "registry.households", (), ("households", "covered"), False, _households),
    Source("residents", "registry.residents", ("bucket", "sex"), ("n",), False, _residents),
    Source("cases", "cases.groups", ("kind", "state"), ("received", "resolved", "on_time", "rated", "satisfied"),
           True, _cases),
    # in_weeks (场次 in the period's full weeks) depends on the period, not on the month: left out.
    Source("activities", "activities.groups", ("governance", "kind", "program__kind", "team__kind"),
           ("n", "headcount", "visits"), True, _activities),
]
BY_NAME = {s.name: s for s in SOURCES}


def _dim_key(row: dict[str, Any], dims: tuple[str, ...]) -> str:
    # None and "" both stand for "no value" in these groups (no program, no team).
    return "|".join("" if row[d] is None else str(row[d]) for d in dims)


@functools.lru_cache(maxsize=4096)
def _dim_values(key: str, dims: tuple[str, ...]) -> dict[str, Any]:
    # Cached: a county's page reads thousands of groups with a few hundred distinct keys. The
    # callers copy the dict, never change it.
    parts = key.split("|") if dims else []
    out: dict[str, Any] = {}
    for d, v in zip(dims, parts, strict=True):
        out[d] = None if v == "" else (int(v) if d == "bucket" else v)
    return out


def _ancestors(path: str) -> list[str]:
    """"/a/b/c/" → ["/a/", "/a/b/", "/a/b/c/"]."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def window(today: dt.date) -> dt.date:
    return dt.date(today.year - YEARS_KEPT + 1, 1, 1)


Totals = dict[tuple[str, str, dt.date | None], dict[str, list[int]]]  # (path, source, month) → dims → sums


def count(area: Area | None, today: dt.date, since: dt.date) -> Totals:
    """The rollups of `area`'s subtree (everything when None) from month `since`, counted from rows."""
    scope = Scope(None, area, since, today)
    from .series import months

    month_firsts = [dt.date(y, m, 1) for y, m in months(scope)]
    areas = Area.objects.filter(kind__in=[AreaKind.COUNTY, AreaKind.TOWN, AreaKind.COMMUNITY])
    if area is not None:
        areas = areas.filter(path__startswith=area.path)
    kinds = dict(areas.values_list("path", "kind"))
    communities = {p for p, k in kinds.items() if k == AreaKind.COMMUNITY}
    lengths = sorted({len(p) for p in communities}) or [len(area.path) if area else 1]
    totals: Totals = defaultdict(dict)
    for source in SOURCES:
        for length in lengths:
            # Grouped by the community prefix: rows in a community (at any depth below it) fall
            # under its path; rows above community level keep their own shorter path, and are
            # taken from the query of the longest prefix only, so each is counted once.
            for row in source.rows(scope, Substr("area_path", 1, length)):
                prefix = row["_child"]
                in_community = prefix in communities and len(prefix) == length
                above = prefix in kinds and length == lengths[-1] and kinds[prefix] != AreaKind.COMMUNITY
                if not (in_community or above):
                    continue
                month: dt.date | None = None
                if source.monthly:
                    if row["month"] is None:  # after the rebuild's month
                        continue
                    month = month_firsts[row["month"]]
                key = _dim_key(row, source.dims)
                sums = [row[s] or 0 for s in source.sums]
                owners = [p for p in _ancestors(prefix) if area is None or p.startswith(area.path)]
                if area is None:
                    owners.append(CITY)
                for owner in owners:
                    into = totals[(owner, source.name, month)].setdefault(key, [0] * len(sums))
                    for i, v in enumerate(sums):
                        into[i] += v
    # Every area of the subtree gets its stock rows, even when empty: a dashboard knows by them
    # that the area was rebuilt.
    for path in [*kinds, *([CITY] if area is None else [])]:
        for source in SOURCES:
            if not source.monthly:
                totals.setdefault((path, source.name, None), {})
    return totals


def _add(a: dict[str, list[int]], b: dict[str, list[int]], sign: int) -> dict[str, list[int]]:
    out = {k: list(v) for k, v in a.items()}
    for k, v in b.items():
        into = out.setdefault(k, [0] * len(v))
        for i, x in enumerate(v):
            into[i] += sign * x
    return {k: v for k, v in out.items() if any(v)}


@transaction.atomic
def rebuild(area: Area | None = None) -> int:
    """Recount the rollups of `area`'s subtree (all when None) from rows and store them; the
    area's ancestors and the city are corrected by the difference. Returns the rows written."""
    if area is not None and area.kind not in (AreaKind.COUNTY, AreaKind.TOWN, AreaKind.COMMUNITY):
        raise ValueError("rollups are kept for communities and above")
    if connection.vendor == "postgresql":
        # One rebuild at a time; readers are not blocked and see the old rows until commit.
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE reports_rollup IN SHARE ROW EXCLUSIVE MODE")
    now = timezone.now()
    today = timezone.localdate(now)
    since = window(today)
    if area is not None:
        # The same months as the rollups the ancestors keep, or the corrections would not add up;
        # before any full rebuild there is nothing to correct, and the whole city is counted.
        kept = Rollup.objects.filter(path=CITY, source="households").values_list("since", flat=True).first()
        if kept is None:
            area = None
        else:
            since = kept
    totals = count(area, today, since)
    subtree = Rollup.objects.all() if area is None else Rollup.objects.filter(path__startswith=area.path)
    if area is not None:
        old = {(r.source, r.month): r.data for r in Rollup.objects.filter(path=area.path)}
        new = {(s, m): data for (p, s, m), data in totals.items() if p == area.path}
        outside = [*_ancestors(area.path)[:-1], CITY]
        for row in Rollup.objects.select_for_update().filter(path__in=outside):
            key = (row.source, row.month)
            row.data = _add(_add(row.data, old.get(key, {}), -1), new.get(key, {}), 1)
            row.save(update_fields=["data"])  # rebuilt_at stays: the rest of it is that old
        present = set(Rollup.objects.filter(path__in=outside).values_list("path", "source", "month"))
        for (source, month), data in new.items():
            for path in outside:
                if (path, source, month) not in present and data:
                    Rollup.objects.create(path=path, source=source, month=month, data=data, since=since,
                                          rebuilt_at=now)
    subtree.delete()
    rows = [Rollup(path=p, source=s, month=m, data=data, since=since, rebuilt_at=now)
            for (p, s, m), data in totals.items()]
    Rollup.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# ---- reading --------------------------------------------------------------------------------------


@dataclass
class Rolled:
    """An area's rollups for a period: what the live figures would have shared, and per child
    area the drill-down columns (series.child_table's, before its _finish)."""

    rebuilt_at: dt.datetime
    shared: dict[str, Any]  # Scope.shared name → value
    children: dict[str, dict[str, int]]  # child path → columns


def _period_ok(scope: Scope, since: dt.date) -> bool:
    """Whole months inside the window (months after the rebuild simply have no rows yet)."""
    return scope.start.day == 1 and (scope.end + dt.timedelta(days=1)).day == 1 and scope.start >= since


def _rows(scope: Scope, paths: list[str]) -> list[Any]:
    """The stock rows and the rows of the period's months of `paths` (as named tuples: a county
    page reads about a thousand, and model instances would cost more than the rest of it)."""
    return list(Rollup.objects.filter(Q(month__isnull=True) | Q(month__gte=scope.start, month__lte=scope.end),
                                      path__in=paths)
                .values_list("path", "source", "month", "data", "rebuilt_at", named=True))


def groups(scope: Scope, rows: list[Any]) -> dict[str, Any]:
    """One area's rollup rows in the shape the live figure code shares them (Scope.shared name
    → value; see series and the apps' figures), months as indexes into series.months(scope)."""
    from .series import months

    index = {dt.date(y, m, 1): i for i, (y, m) in enumerate(months(scope))}
    found: dict[str, list[dict[str, Any]]] = {s.name: [] for s in SOURCES}
    for r in rows:
        source = BY_NAME.get(r.source)
        if source is None:
            continue
        for key, sums in r.data.items():
            row = {**_dim_values(key, source.dims), **dict(zip(source.sums, sums, strict=True))}
            if source.monthly:
                assert r.month is not None
                row["month"] = index.get(r.month)
            found[source.name].append(row)
    return {BY_NAME[name].shared: _as_shared(name, found_rows) for name, found_rows in found.items()}


def _child_columns(rows: list[Any]) -> dict[str, int]:
    """The drill-down columns of one child area from its rollup rows, summed straight from the
    stored lists (a county has dozens of children with a year of groups each)."""
    from wuzhi.cases.models import CaseKind

    out = dict.fromkeys(("households", "covered", "residents", "cases_received", "_done", "_on_time",
                         "disputes_received", "activities", "_headcount", "_named"), 0)
    dispute = f"{CaseKind.DISPUTE}|"
    for r in rows:
        for key, sums in r.data.items():
            if r.source == "households":
                out["households"] += sums[0]
                out["covered"] += sums[1]
            elif r.source == "residents":
                out["residents"] += sums[0]
            elif r.source == "cases":
                out["cases_received"] += sums[0]
                out["_done"] += sums[1]
                out["_on_time"] += sums[2]
                if key.startswith(dispute):
                    out["disputes_received"] += sums[0]
            elif r.source == "activities":
                out["activities"] += sums[0]
                out["_headcount"] += sums[1]
                out["_named"] += sums[2] - sums[1]
    return out


def read(scope: Scope, children: list[Area]) -> Rolled | None:
    """The rollups of the scope's area and of `children`, or None when the dashboard must count
    live: a community or lower, a user who sees only part of the area, a period of part
    months or before the window, or no rebuild yet."""
    area = scope.area
    if area is None or (area.kind not in ROLLED_KINDS and area.path != CITY) \
            or (scope.user is not None and not scope.whole_area_visible):
        return None
    head = Rollup.objects.filter(path=area.path, source="households", month=None).first()
    if head is None or not _period_ok(scope, head.since):
        return None
    by_path: dict[str, list[Any]] = defaultdict(list)
    for r in _rows(scope, [area.path, *(c.path for c in children)]):
        by_path[r.path].append(r)
    oldest = min([head.rebuilt_at, *(r.rebuilt_at for r in by_path[area.path])])
    return Rolled(oldest, groups(scope, by_path[area.path]),
                  {c.path: _child_columns(by_path[c.path]) for c in children})


def _as_shared(name: str, rows: list[dict[str, Any]]) -> Any:
    """Rollup rows in the shape the live figure code shares them (see series and figures)."""
    from .series import _band

    if name == "households":
        return {"households": sum(r["households"] for r in rows), "covered": sum(r["covered"] for r in rows)}
    if name == "residents":
        out: dict[tuple[int | None, str], int] = defaultdict(int)
        for r in rows:
            out[(_band(r["bucket"]), r["sex"])] += r["n"]
        return dict(out)
    if name == "activities":
        return [{**r, "in_weeks": 0} for r in rows]
    return rows
