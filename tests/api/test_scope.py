"""The foundation's promise: a user sees and touches only the subtree their active grants cover.

Proved twice, through the REST API (404 for details, absent from lists and searches, every write
refused and the database unchanged) and through the chokepoint itself (`Model.objects.visible_to`),
for the fixtures' people: worker1 (网格员, grid 1), worker2 (网格员, grid 2), county (县级干部, read
only), secretary (社区书记, both grids), head (楼长, building 1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from wuzhi.core import services as core_services
from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import AccessLog, Area, ChangeLog, Grant
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, scope_paths
from wuzhi.registry.models import Dwelling, Household, Resident, ResidentTag, Visit

from . import GRID2_PHONE, build_registry, client_for, ids

ACTIONS = [Action.VIEW, Action.CHANGE, Action.VISIT, Action.REVEAL]
SCOPED = [Household, Resident, Visit, Dwelling]


@pytest.fixture
def data(tree, people, make_household):
    return build_registry(tree, people, make_household)


def db_state() -> dict[str, Any]:
    """Everything a refused write could have touched."""
    return {
        "households": list(Household.objects.order_by("pk").values_list(
            "pk", "version", "note", "status", "dwelling_id", "head_id", "last_visited_at")),
        "residents": list(Resident.objects.order_by("pk").values_list(
            "pk", "version", "name", "note", "phone_hash", "id_number_hash", "household_id")),
        "resident_tags": sorted(ResidentTag.objects.values_list("resident_id", "tag_id")),
        "household_tags": sorted(Household.tags.through.objects.values_list("household_id", "tag_id")),
        "visits": Visit.objects.count(),
        "areas": list(Area.objects.order_by("pk").values_list("pk", "name", "sort", "note")),
        "grants": Grant.objects.count(),
        "change_log": ChangeLog.objects.count(),
        "access_log": AccessLog.objects.count(),
    }


# ---- one grid worker vs the other grid ---------------------------------------------------------

def test_lists_leave_out_the_other_grid(tree, people, data):
    api = client_for(people.worker1)
    assert ids(api.get("/api/households/")) == {data.h1.pk}
    assert ids(api.get("/api/residents/")) == {data.zhang.pk, data.xia.pk}
    assert ids(api.get("/api/visits/")) == {data.v1.pk}
    dwellings = api.get("/api/dwellings/", {"page_size": 500}).json()["results"]
    assert len(dwellings) == 8 and all(d["area_path"].startswith(tree.grids[0].path) for d in dwellings)
    areas = api.get("/api/areas/", {"page_size": 500}).json()["results"]
    assert {a["id"] for a in areas} == set(Area.objects.filter(path__startswith=tree.grids[0].path)
                                          .values_list("pk", flat=True))
    # The mirror image, so the assertions above cannot pass because nothing is listed at all.
    api2 = client_for(people.worker2)
    assert ids(api2.get("/api/households/")) == {data.h2.pk}
    assert ids(api2.get("/api/residents/")) == {data.wang.pk, data.li.pk}
    assert ids(api2.get("/api/visits/")) == {data.v2.pk}


@pytest.mark.parametrize("how", ["name", "pinyin", "initials", "id_tail", "full_id", "full_id_lower_x",
                                 "phone", "phone_tail"])
def test_search_never_finds_the_other_grid(people, data, how):
    query = {
        "name": "王芳", "pinyin": "wangfang", "initials": "wf", "id_tail": data.wang_id[-4:],
        "full_id": data.wang_id, "full_id_lower_x": data.wang_id.lower(), "phone": GRID2_PHONE,
        "phone_tail": GRID2_PHONE[-4:],
    }[how]
    assert data.wang.pk in ids(client_for(people.worker2).get("/api/residents/", {"q": query}))
    assert data.wang.pk not in ids(client_for(people.worker1).get("/api/residents/", {"q": query}))
    assert data.wang.pk in ids(client_for(people.secretary).get("/api/residents/", {"q": query}))


def test_filters_cannot_reach_into_the_other_grid(tree, people, data):
    api = client_for(people.worker1)
    assert ids(api.get("/api/households/", {"q": "2栋"})) == set()
    assert ids(api.get("/api/households/", {"q": data.h2.number})) == set()
    assert ids(api.get("/api/residents/", {"household": data.h2.pk})) == set()
    assert ids(api.get("/api/residents/", {"tag": data.tags.orphan.pk})) == set()
    assert ids(api.get("/api/households/", {"tag": data.tags.dibao.pk})) == set()
    assert ids(api.get("/api/visits/", {"household": data.h2.pk})) == set()
    # An area outside the scope is answered word for word like an area that does not exist.
    outside = api.get("/api/residents/", {"area": tree.grids[1].code})
    unknown = api.get("/api/residents/", {"area": "999999"})
    assert outside.status_code == unknown.status_code == 400
    assert outside.json()["area"][0].replace(tree.grids[1].code, "X") == unknown.json()["area"][0].replace("999999", "X")
    # An ancestor of the worker's grid is a valid filter and yields only the worker's own rows.
    assert ids(api.get("/api/residents/", {"area": tree.community.code})) == {data.zhang.pk, data.xia.pk}


def test_detail_of_the_other_grid_is_404(tree, people, data):
    api = client_for(people.worker1)
    for url in (f"/api/households/{data.h2.pk}/", f"/api/residents/{data.wang.pk}/", f"/api/visits/{data.v2.pk}/",
                f"/api/dwellings/{tree.dwellings[8].pk}/", f"/api/areas/{tree.grids[1].pk}/",
                f"/api/areas/{tree.community.pk}/"):
        assert api.get(url).status_code == 404, url
    for url in (f"/api/households/{data.h1.pk}/", f"/api/residents/{data.zhang.pk}/", f"/api/visits/{data.v1.pk}/",
                f"/api/dwellings/{tree.dwellings[0].pk}/", f"/api/areas/{tree.grids[0].pk}/"):
        assert api.get(url).status_code == 200, url


def test_writes_on_the_other_grid_are_refused_and_change_nothing(tree, people, data):
    api = client_for(people.worker1)
    before = db_state()
    not_found = [
        api.patch(f"/api/households/{data.h2.pk}/", {"version": data.h2.version, "note": "改"}, format="json"),
        api.put(f"/api/households/{data.h2.pk}/", {"version": data.h2.version, "note": "改"}, format="json"),
        api.patch(f"/api/residents/{data.wang.pk}/", {"version": data.wang.version, "name": "王芳芳"}, format="json"),
        api.post(f"/api/residents/{data.wang.pk}/reveal/", {"field": "id_number"}, format="json"),
        api.post(f"/api/residents/{data.wang.pk}/reveal/", {"field": "phone"}, format="json"),
        api.patch(f"/api/areas/{tree.grids[1].pk}/", {"name": "改名"}, format="json"),
    ]
    assert [r.status_code for r in not_found] == [404] * len(not_found)
    # Writes that name an out-of-scope record in the body: the reference "does not exist".
    bad_refs = {
        "household": api.post("/api/visits/", {"household": data.h2.pk, "findings": "越界走访"}, format="json"),
        "dwelling": api.post("/api/households/", {"dwelling": tree.dwellings[9].pk}, format="json"),
        "head": api.patch(f"/api/households/{data.h1.pk}/", {"version": data.h1.version, "head": data.wang.pk},
                          format="json"),
        "residents": api.post("/api/visits/", {"household": data.h1.pk, "findings": "x", "residents": [data.wang.pk]},
                              format="json"),
    }
    bad_refs["household "] = api.post("/api/residents/", {
        "household": data.h2.pk, "name": "越界", "id_number": "530626199001011234"}, format="json")
    bad_refs["dwelling "] = api.patch(f"/api/households/{data.h1.pk}/",
                                      {"version": data.h1.version, "dwelling": tree.dwellings[9].pk}, format="json")
    for field, response in bad_refs.items():
        assert response.status_code == 400, (field, response.content)
        assert "不存在或不在您的管辖范围内" in response.json()[field.strip()][0]
    assert db_state() == before


def test_chokepoint_hides_the_other_grid_for_every_action(tree, people, data):
    for user, own, other in ((people.worker1, tree.grids[0], tree.grids[1]),
                             (people.worker2, tree.grids[1], tree.grids[0])):
        for action in ACTIONS:
            for model in SCOPED:
                paths = set(model.objects.visible_to(user, action).values_list("area_path", flat=True))
                assert paths, (model, action)
                assert all(p.startswith(own.path) for p in paths), (model, action)
                assert not model.objects.visible_to(user, action).filter(area_path__startswith=other.path).exists()
            areas = Area.objects.visible_to(user, action)
            assert own in areas and other not in areas and tree.community not in areas
        assert not can(user, Action.CHANGE, other.path) and can(user, Action.CHANGE, own.path)
        assert not can(user, Action.GRANT, own.path)


# ---- the county cadre: reads everything, writes nothing ---------------------------------------

def test_county_cadre_reads_the_whole_county(people, data):
    api = client_for(people.county)
    assert ids(api.get("/api/households/")) == {data.h1.pk, data.h2.pk}
    assert ids(api.get("/api/residents/")) == {data.zhang.pk, data.xia.pk, data.wang.pk, data.li.pk}
    assert ids(api.get("/api/visits/")) == {data.v1.pk, data.v2.pk}
    assert api.get(f"/api/residents/{data.wang.pk}/").status_code == 200
    assert data.wang.pk in ids(api.get("/api/residents/", {"q": "wf"}))
    assert Resident.objects.visible_to(people.county).count() == 4
    for action in (Action.CHANGE, Action.VISIT, Action.REVEAL):
        for model in SCOPED:
            assert not model.objects.visible_to(people.county, action).exists(), (model, action)


def test_county_cadre_every_write_is_refused(tree, people, data):
    api = client_for(people.county)
    before = db_state()
    responses = {
        "household create": api.post("/api/households/", {"dwelling": tree.dwellings[1].pk}, format="json"),
        "household patch": api.patch(f"/api/households/{data.h1.pk}/", {"version": data.h1.version, "note": "改"},
                                     format="json"),
        "household put": api.put(f"/api/households/{data.h2.pk}/", {"version": data.h2.version, "status": "迁出"},
                                 format="json"),
        "resident create": api.post("/api/residents/", {"household": data.h1.pk, "name": "新人",
                                                        "id_number": "530626199001011234"}, format="json"),
        "resident patch": api.patch(f"/api/residents/{data.zhang.pk}/", {"version": data.zhang.version, "name": "张"},
                                    format="json"),
        "visit": api.post("/api/visits/", {"household": data.h1.pk, "findings": "县里来看看"}, format="json"),
        "reveal id": api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number"}, format="json"),
        "reveal phone": api.post(f"/api/residents/{data.wang.pk}/reveal/", {"field": "phone"}, format="json"),
        "area create": api.post("/api/areas/", {"parent": tree.grids[0].pk, "segment": "09", "name": "9栋"},
                                format="json"),
        "area patch": api.patch(f"/api/areas/{tree.grids[0].pk}/", {"name": "改名"}, format="json"),
    }
    for what, response in responses.items():
        assert response.status_code in (403, 404), (what, response.status_code, response.content)
        assert "权限" in response.json()["detail"], what  # a Chinese reason, not DRF's generic text
    for what in ("tags", "dwellings"):  # read-only resources
        assert api.post(f"/api/{what}/", {}, format="json").status_code in (403, 405)
    assert db_state() == before


# ---- the secretary, the building head --------------------------------------------------------

def test_secretary_sees_and_edits_both_grids(people, data):
    api = client_for(people.secretary)
    assert ids(api.get("/api/households/")) == {data.h1.pk, data.h2.pk}
    assert ids(api.get("/api/residents/")) == {data.zhang.pk, data.xia.pk, data.wang.pk, data.li.pk}
    assert ids(api.get("/api/visits/")) == {data.v1.pk, data.v2.pk}
    response = api.patch(f"/api/households/{data.h2.pk}/", {"version": data.h2.version, "note": "书记核实"},
                         format="json")
    assert response.status_code == 200, response.content
    assert api.post(f"/api/residents/{data.wang.pk}/reveal/", {"field": "phone"}, format="json").json()["value"] \
        == GRID2_PHONE


def test_building_head_may_visit_but_not_edit_or_reveal(people, data):
    api = client_for(people.head)
    assert ids(api.get("/api/households/")) == {data.h1.pk}
    assert api.get(f"/api/households/{data.h2.pk}/").status_code == 404
    before = db_state()
    assert api.patch(f"/api/households/{data.h1.pk}/", {"version": data.h1.version, "note": "x"},
                     format="json").status_code == 403
    assert api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number"},
                    format="json").status_code == 403
    assert db_state() == before
    response = api.post("/api/visits/", {"household": data.h1.pk, "findings": "楼长例行走访"}, format="json")
    assert response.status_code == 201, response.content
    assert api.post("/api/visits/", {"household": data.h2.pk, "findings": "越界"}, format="json").status_code == 400


# ---- grants that are not active, no user at all --------------------------------------------------

@pytest.mark.parametrize("valid_from, valid_to", [(-60, -1), (1, None)], ids=["expired", "not_yet_valid"])
def test_inactive_grant_sees_nothing(tree, people, data, make_user, valid_from, valid_to):
    today = timezone.localdate()
    user = make_user("former")
    core_services.grant_role(actor=None, user=user, role=Role.SECRETARY, area=tree.community,
                             valid_from=today + dt.timedelta(days=valid_from),
                             valid_to=today + dt.timedelta(days=valid_to) if valid_to is not None else None)
    api = client_for(user)
    for url in ("/api/households/", "/api/residents/", "/api/visits/", "/api/dwellings/", "/api/areas/",
                "/api/tags/"):
        assert ids(api.get(url)) == set(), url
    assert ids(api.get("/api/residents/", {"q": "张黎"})) == set()
    assert api.get(f"/api/households/{data.h1.pk}/").status_code == 404
    assert api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number"}, format="json").status_code == 404
    for action in ACTIONS:
        assert scope_paths(user, action) == []
        for model in [*SCOPED, Area]:
            assert not model.objects.visible_to(user, action).exists()


def test_anonymous_requests_are_refused(people, data):
    api = APIClient()
    for response in (
        api.get("/api/households/"), api.get("/api/residents/"), api.get(f"/api/residents/{data.zhang.pk}/"),
        api.get("/api/visits/"), api.get("/api/areas/"), api.get("/api/tags/"),
        api.post("/api/visits/", {"household": data.h1.pk, "findings": "x"}, format="json"),
        api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number"}, format="json"),
    ):
        assert response.status_code in (401, 403)
        assert "张黎" not in response.content.decode()
    assert api.get("/api/residents/").status_code == 401  # token auth first: a proper challenge
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert bad.get("/api/residents/").status_code == 401


def test_deactivated_user_token_stops_working(people, data):
    api = client_for(people.worker1)
    assert api.get("/api/households/").status_code == 200
    people.worker1.is_active = False
    people.worker1.save()
    assert api.get("/api/households/").status_code == 401


# ---- the chokepoint's own rules ----------------------------------------------------------------

def test_nested_grant_paths_collapse(tree, make_user):
    user = make_user("many_hats", Role.SECRETARY, tree.community)
    core_services.grant_role(actor=None, user=user, role=Role.GRID_WORKER, area=tree.grids[0])
    core_services.grant_role(actor=None, user=user, role=Role.BUILDING_HEAD, area=tree.buildings[1])
    for action in (Action.VIEW, Action.CHANGE, Action.REVEAL, Action.VISIT):
        assert scope_paths(user, action) == [tree.community.path]
    assert scope_paths(user, Action.GRANT) == [tree.community.path]

    # Side by side, neither inside the other: both stay.
    side = make_user("two_places", Role.GRID_WORKER, tree.grids[0])
    core_services.grant_role(actor=None, user=side, role=Role.BUILDING_HEAD, area=tree.buildings[1])
    assert scope_paths(side, Action.VIEW) == sorted([tree.grids[0].path, tree.buildings[1].path])
    assert scope_paths(side, Action.CHANGE) == [tree.grids[0].path]  # 楼长 cannot change
    assert scope_paths(side, Action.GRANT) == []


def test_prefix_of_a_segment_is_not_a_subtree(tree, make_user):
    # Grid "01" must not see grid "010": paths end with "/" so "/…/01/" is no prefix of "/…/010/".
    grid10 = core_services.area_create(actor=None, parent=tree.community, segment="010", name="10网格")
    user = make_user("grid01", Role.GRID_WORKER, tree.grids[0])
    assert grid10 not in Area.objects.visible_to(user)
    assert not can(user, Action.VIEW, grid10.path)


def test_superuser_sees_everything(tree, people, data, make_user):
    root = make_user("root", is_superuser=True, is_staff=True)
    assert scope_paths(root, Action.VIEW) is None
    for action in ACTIONS:
        for model in SCOPED:
            assert model.objects.visible_to(root, action).count() == model.objects.count()
    assert can(root, Action.GRANT, tree.county.path)
    assert ids(client_for(root).get("/api/households/")) == {data.h1.pk, data.h2.pk}
    # A deactivated superuser is nobody.
    root.is_active = False
    assert scope_paths(root, Action.VIEW) == []


def test_grid_worker_grants_do_not_reach_other_actions(people, tree):
    assert not can(people.worker1, Action.GRANT, tree.grids[0].path)
    assert not can(people.worker1, Action.MANAGE_AREAS, tree.grids[0].path)
    assert can(people.secretary, Action.MANAGE_AREAS, tree.grids[1].path)
    assert not can(people.county, Action.CHANGE, tree.grids[0].path)


# ---- grant_role ---------------------------------------------------------------------------------

def test_secretary_grants_inside_own_community(tree, people, make_user):
    newcomer = make_user("newcomer")
    grant = core_services.grant_role(actor=people.secretary, user=newcomer, role=Role.GRID_WORKER, area=tree.grids[1])
    assert grant.granted_by == people.secretary
    assert scope_paths(newcomer, Action.CHANGE) == [tree.grids[1].path]


@pytest.mark.parametrize("actor_name, role, where", [
    ("secretary", Role.GRID_WORKER, "other_community"),
    ("secretary", Role.GRID_WORKER, "town"),
    ("secretary", Role.COUNTY_CADRE, "community"),
    ("secretary", Role.TOWN_CADRE, "grid"),
    ("worker1", Role.VOLUNTEER, "grid"),
    ("worker1", Role.GRID_WORKER, "grid"),
    ("county", Role.GRID_WORKER, "grid"),
    ("head", Role.VOLUNTEER, "building"),
])
def test_grant_role_refusals(tree, people, make_user, actor_name, role, where):
    other_community = core_services.area_create(actor=None, parent=tree.town, segment="013", name="另一社区")
    area = {"other_community": other_community, "town": tree.town, "community": tree.community,
            "grid": tree.grids[0], "building": tree.buildings[0]}[where]
    target = make_user("target")
    before = Grant.objects.count()
    with pytest.raises(NotAllowed):
        core_services.grant_role(actor=getattr(people, actor_name), user=target, role=role, area=area)
    assert Grant.objects.count() == before


def test_expired_secretary_cannot_grant(tree, make_user):
    today = timezone.localdate()
    former = make_user("former_secretary")
    core_services.grant_role(actor=None, user=former, role=Role.SECRETARY, area=tree.community,
                             valid_from=today - dt.timedelta(days=400), valid_to=today - dt.timedelta(days=1))
    with pytest.raises(NotAllowed):
        core_services.grant_role(actor=former, user=make_user("x"), role=Role.VOLUNTEER, area=tree.grids[0])
