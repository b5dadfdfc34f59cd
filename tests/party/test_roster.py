"""The duty roster is the role grants: a building lacking a 楼长 is a gap until a grant fills it;
a grid without its 专职网格员 is counted by the statistics figure; the page shows both, links to
the grants page to fill a gap, and reads everything in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.core import services as core_services
from wuzhi.core.roles import Role
from wuzhi.party import roster
from wuzhi.reports.statistics import Scope, compute

ROSTER = reverse("party:roster")
FIGURES = ["grids_without_grid_worker", "buildings_missing_a_role", "households_without_helper"]


def scope_of(user, area=None) -> Scope:
    today = timezone.localdate()
    return Scope(user, area, today, today)


def rows_by_building(response) -> dict[int, dict]:
    return {row["building"].pk: row for g in response.context["groups"] for row in g["buildings"]}


def test_building_without_a_head_shows_the_gap_until_granted(client, tree, people, make_user):
    b1, b2 = tree.buildings
    gaps = roster.building_gaps(scope_of(people.secretary))
    assert "楼长" in gaps[b2] and "楼长" not in gaps[b1]

    client.force_login(people.secretary)
    response = client.get(ROSTER)
    assert response.status_code == 200
    rows = rows_by_building(response)
    assert "楼长" in rows[b2.pk]["gaps"] and "楼长" not in rows[b1.pk]["gaps"]
    head_cell = rows[b1.pk]["cells"][0]
    assert head_cell["label"] == "楼长" and [u.username for u in head_cell["users"]] == ["head1"]
    html = response.content.decode()
    assert reverse("core:area_grants", args=[b2.pk]) in html and "角色授权" in html

    core_services.grant_role(actor=people.secretary, user=make_user("lz2", name="楼长乙"), role=Role.BUILDING_HEAD,
                             area=b2)
    assert "楼长" not in roster.building_gaps(scope_of(people.secretary))[b2]
    assert "楼长" not in rows_by_building(client.get(ROSTER))[b2.pk]["gaps"]


def test_a_full_building_has_no_gap(client, tree, people, make_user):
    building = tree.buildings[1]
    for role in roster.BUILDING_ROLES:
        core_services.grant_role(actor=None, user=make_user(f"u-{role}"), role=role, area=building)
    client.force_login(people.secretary)
    response = client.get(ROSTER)
    assert rows_by_building(response)[building.pk]["gaps"] == []
    # Building 1 still lacks four of its five.
    assert response.context["summary"]["buildings_with_gaps"] == 1 and response.context["summary"]["gaps"] == 4


def test_grid_heads_and_workers(client, tree, people):
    client.force_login(people.secretary)
    groups = {g["grid"].pk: g for g in client.get(ROSTER).context["groups"] if g["grid"]}
    grid1 = groups[tree.grids[0].pk]
    # The community secretary is the 网格长 of every grid; each grid has its own worker.
    assert [u.username for u in grid1["heads"]] == ["secretary"]
    assert [u.username for u in grid1["workers"]] == ["worker1"]
    assert not grid1["gap"]


def test_grid_without_worker_is_counted_by_the_figure(client, tree, people, make_household):
    scope = scope_of(people.secretary, tree.community)
    before = compute(scope, FIGURES)
    assert before["grids_without_grid_worker"] == 0 and before["buildings_missing_a_role"] == 2

    grid3 = core_services.area_create(actor=None, parent=tree.community, segment="03", name="3网格")
    building = core_services.area_create(actor=None, parent=grid3, segment="03", name="3栋")
    core_services.area_create(actor=None, parent=building, segment="1", name="1单元")
    after = compute(scope, FIGURES)
    assert after["grids_without_grid_worker"] == 1 and after["buildings_missing_a_role"] == 3

    make_household(tree.dwellings[0])
    assert compute(scope, FIGURES)["households_without_helper"] == 1

    client.force_login(people.secretary)
    response = client.get(ROSTER)
    assert response.context["summary"]["grids_without_worker"] == 1
    group = next(g for g in response.context["groups"] if g["grid"] and g["grid"].pk == grid3.pk)
    assert group["gap"] and group["workers"] == []
    assert reverse("core:area_grants", args=[grid3.pk]) in response.content.decode()

    core_services.grant_role(actor=people.secretary, user=people.worker2, role=Role.GRID_WORKER, area=grid3)
    assert compute(scope, FIGURES)["grids_without_grid_worker"] == 0


def test_county_cadre_reads_the_roster_without_fill_links(client, tree, people):
    client.force_login(people.county)
    response = client.get(ROSTER)
    assert response.status_code == 200
    assert "楼长" in rows_by_building(response)[tree.buildings[1].pk]["gaps"]
    assert reverse("core:area_grants", args=[tree.buildings[1].pk]) not in response.content.decode()


def test_grid_worker_sees_only_their_grid(client, tree, people):
    client.force_login(people.worker1)
    response = client.get(ROSTER)
    assert set(rows_by_building(response)) == {tree.buildings[0].pk}
    assert [g["grid"].pk for g in response.context["groups"]] == [tree.grids[0].pk]


def test_building_head_sees_their_building_without_a_grid(client, tree, people):
    client.force_login(people.head)
    response = client.get(ROSTER)
    assert set(rows_by_building(response)) == {tree.buildings[0].pk}
    assert response.context["groups"][0]["grid"] is None


@pytest.mark.parametrize("n", [1, 8])
def test_roster_page_runs_a_bounded_number_of_queries(client, tree, people, make_user, n,
                                                      django_assert_max_num_queries):
    for i in range(n):
        grid = tree.grids[i % 2]
        building = core_services.area_create(actor=None, parent=grid, segment=f"{10 + i}", name=f"{10 + i}栋")
        for role in roster.BUILDING_ROLES[: 1 + i % 5]:
            core_services.grant_role(actor=None, user=make_user(f"u{i}-{role}"), role=role, area=building)
    client.force_login(people.secretary)
    client.get(ROSTER)
    with django_assert_max_num_queries(8):
        response = client.get(ROSTER)
    assert response.context["summary"]["buildings"] == 2 + n
