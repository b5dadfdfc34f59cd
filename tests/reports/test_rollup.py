"""Rollups (wuzhi.reports.rollup) on a small generated city: at every level from community to the
city they equal a recount from rows, by the live code, for every rolled-up group and figure;
after a write they no longer do, and a rebuild of the written community makes them equal again.
The town, county and city dashboards read them and say when they were rebuilt."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wuzhi.activities.figures import activity_groups
from wuzhi.activities.models import Activity
from wuzhi.cases.figures import case_groups
from wuzhi.cases.models import Case, CaseKind
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Role
from wuzhi.registry.models import Resident
from wuzhi.reports import rollup, series, views
from wuzhi.reports.models import Rollup
from wuzhi.reports.statistics import Scope, compute

pytestmark = pytest.mark.django_db


@pytest.fixture
def city(db):
    call_command("gen-city", residents=3000, seed=11, counties=2, towns=4, communities=8, grids=16,
                 stdout=io.StringIO())
    call_command("rollup", stdout=io.StringIO())


def _periods() -> list[tuple[dt.date, dt.date]]:
    today = timezone.localdate()
    return [(rollup.window(today), dt.date(today.year, 12, 31)),  # everything the rollups keep
            (dt.date(today.year, 1, 1), dt.date(today.year, 12, 31)),
            (dt.date(today.year, today.month, 1), dt.date(today.year, 12, 31))]


def _normal(name: str, value: Any) -> Any:
    """A shared value as a comparable dict: groups keyed by their dimensions and month."""
    if name == "registry.households":
        return {"households": value["households"], "covered": value["covered"]}
    if name == "registry.residents":
        return {k: v for k, v in value.items() if v}
    source = rollup.BY_NAME["cases" if name == "cases.groups" else "activities"]
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * len(source.sums))
    for row in value:
        key = (*(row[d] or None for d in source.dims), row["month"])
        for i, s in enumerate(source.sums):
            out[key][i] += row[s] or 0
    return {k: v for k, v in out.items() if any(v)}


def _live(area: Area, start: dt.date, end: dt.date) -> dict[str, Any]:
    scope = Scope(None, area, start, end)
    with scope.counting():
        return {"registry.households": _normal("registry.households", series.household_counts(scope)),
                "registry.residents": _normal("registry.residents", series.resident_counts(scope)),
                "cases.groups": _normal("cases.groups", case_groups(scope)),
                "activities.groups": _normal("activities.groups", activity_groups(scope))}


def _rolled(scope: Scope) -> dict[str, Any]:
    rows = list(Rollup.objects.filter(path=scope.area.path))
    months = [r for r in rows if r.month is None or scope.start <= r.month <= scope.end]
    return {name: _normal(name, value) for name, value in rollup.groups(scope, months).items()}


def _levels() -> list[Area]:
    """Every area that has rollups: the city, the counties, the towns and the communities."""
    return [views._city(), *Area.objects.filter(kind__in=[*rollup.ROLLED_KINDS, AreaKind.COMMUNITY])
            .order_by("path")]


def _tops() -> list[Area]:
    """The areas whose dashboards read rollups: the city, the counties and the towns."""
    return [a for a in _levels() if a.kind != AreaKind.COMMUNITY]


def _children(area: Area) -> list[Area]:
    return list(Area.objects.filter(parent=None if area.pk is None else area).order_by("path"))


def _mismatches() -> list[str]:
    """Every area from community to city, every rolled-up group, every period: rollup vs recount."""
    bad = []
    for start, end in _periods():
        for area in _levels():
            if _rolled(Scope(None, area, start, end)) != _live(area, start, end):
                bad.append(f"{area.path} {start}")
    return bad


def test_rollups_equal_a_recount_at_every_level(city):
    kinds = set(Area.objects.filter(path__in=Rollup.objects.values("path")).values_list("kind", flat=True))
    assert kinds == {AreaKind.COUNTY, AreaKind.TOWN, AreaKind.COMMUNITY}
    assert Rollup.objects.filter(path=rollup.CITY).exists()
    # The world has something to count in every source.
    whole = _live(views._city(), *_periods()[0])
    assert all(whole.values()), whole
    assert _mismatches() == []


def test_rolled_figures_and_drill_down_equal_the_live_ones(city):
    start, end = _periods()[1]
    for area in _tops():
        children = _children(area)
        scope = Scope(None, area, start, end)
        rolled = rollup.read(scope, children)
        with CaptureQueriesContext(connection) as queries:
            data = views._dashboard_data(scope, children, rolled)
        assert len(queries) == 0  # every number from the rollups read above
        live_scope = Scope(None, area, start, end)
        assert data["values"] == compute(live_scope, rollup.ROLLED_FIGURES)
        live_rows = series.child_table(Scope(None, area, start, end), children)
        assert [r.values for r in data["child_rows"]] == [r.values for r in live_rows]
        assert data["values"]["residents"] > 0


def test_a_write_shows_until_the_area_is_rebuilt(city):
    community = Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("path").last()
    moved = Resident.objects.filter(area_path__startswith=community.path, status="在住").first()
    Resident.objects.filter(pk=moved.pk).update(status="迁出")
    case = Case.objects.filter(area_path__startswith=community.path).exclude(kind=CaseKind.DISPUTE).first()
    Case.objects.filter(pk=case.pk).update(kind=CaseKind.DISPUTE)
    Activity.objects.filter(pk=Activity.objects.filter(area_path__startswith=community.path).first().pk).delete()
    stale = _mismatches()
    # The community, its town, county and the city are off; nothing else is.
    assert {m.split()[0] for m in stale} == {*community.ancestor_paths(), rollup.CITY}

    before = timezone.now()
    call_command("rollup", area=community.code, stdout=io.StringIO())
    assert _mismatches() == []
    # The ancestors were corrected, not recounted: they keep the time of their last full count.
    assert Rollup.objects.get(path=community.path, source="households").rebuilt_at >= before
    assert Rollup.objects.get(path=rollup.CITY, source="households").rebuilt_at < before

    # A full rebuild gives the same rows as the corrected ones.
    kept = {(r.path, r.source, r.month): r.data for r in Rollup.objects.all() if r.data}
    call_command("rollup", stdout=io.StringIO())
    assert {(r.path, r.source, r.month): r.data for r in Rollup.objects.all() if r.data} == kept


def test_dashboards_read_rollups_above_community_only(city, client, make_user):
    year = timezone.localdate().year
    county = Area.objects.filter(kind=AreaKind.COUNTY).order_by("path").first()
    town = Area.objects.filter(kind=AreaKind.TOWN, path__startswith=county.path).order_by("path").first()
    community = Area.objects.filter(kind=AreaKind.COMMUNITY, path__startswith=town.path).order_by("path").first()
    boss = make_user("city_boss", is_superuser=True, is_staff=True)
    client.force_login(boss)
    for code in ("city", county.code, town.code):
        page = client.get(f"/reports/?area={code}&year={year}")
        assert page.status_code == 200
        assert "数据截至" in page.content.decode()
        assert page.context["values"]["households"] > 0
    assert "数据截至" not in client.get(f"/reports/?area={community.code}&year={year}").content.decode()
    # A part-month period is counted live, and so is a user who sees only part of the area.
    assert "数据截至" not in client.get(f"/reports/?area={county.code}&from={year}-03-05&to={year}-04-20"
                                        ).content.decode()
    grid_worker = make_user("grid_only", Role.GRID_WORKER, Area.objects.filter(kind=AreaKind.GRID).first())
    assert rollup.read(Scope(grid_worker, county, dt.date(year, 1, 1), dt.date(year, 12, 31)), []) is None
    # The city page is for those who see everything.
    client.force_login(grid_worker)
    assert client.get(f"/reports/?area=city&year={year}").status_code in (403, 404)


def test_an_area_rebuild_before_any_full_one_counts_everything(city):
    Rollup.objects.all().delete()
    community = Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("path").first()
    call_command("rollup", area=community.code, stdout=io.StringIO())
    # Ancestors made from one community alone would show part of a county as the whole.
    assert _mismatches() == []


def test_rollups_only_for_communities_and_above(city):
    grid = Area.objects.filter(kind=AreaKind.GRID).first()
    with pytest.raises(Exception, match="社区及以上"):
        call_command("rollup", area=grid.code, stdout=io.StringIO())
