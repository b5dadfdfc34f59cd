"""The cases API: scope, opening a case, the flow table enforced, stale versions refused, 回访."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from wuzhi.cases.models import Case, CaseState


def client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_open_a_case_on_a_residents_behalf(tree, people, categories):
    api = client(people.worker1)
    response = api.post("/api/cases/", {
        "category": categories.light.pk, "channel": "grid", "area": tree.units[0].code,
        "description": "楼道灯不亮", "reporter_phone": "13900002222",
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == CaseState.ASSIGNED and body["team_name"] == "人居环境服务队"
    assert body["reporter_phone_masked"].startswith("139") and "2222" in body["reporter_phone_masked"]
    assert "13900002222" not in response.content.decode()
    assert [e["label"] for e in body["events"]] == ["受理", "分派"]


def test_open_outside_the_area_is_refused_in_chinese(tree, people, categories):
    response = client(people.worker1).post("/api/cases/", {
        "category": categories.light.pk, "area": tree.units[-1].code, "description": "x"}, format="json")
    assert response.status_code in (400, 404)
    assert "不存在" in response.content.decode() or "范围" in response.content.decode()


def test_hotline_needs_its_work_order_number(tree, people, categories):
    response = client(people.worker1).post("/api/cases/", {
        "category": categories.policy.pk, "channel": "hotline", "area": tree.units[0].code,
        "description": "咨询低保政策"}, format="json")
    assert response.status_code == 400
    assert "工单号" in response.json()["external_number"][0]


def test_list_is_scoped_and_filtered(tree, people, open_case, categories):
    mine = open_case()
    other = open_case(area=tree.units[-1])
    ids = {row["id"] for row in client(people.worker1).get("/api/cases/").json()["results"]}
    assert mine.pk in ids and other.pk not in ids
    assert client(people.worker1).get(f"/api/cases/{other.pk}/").status_code == 404
    all_ids = {r["id"] for r in client(people.secretary).get("/api/cases/", {"kind": "report"}).json()["results"]}
    assert {mine.pk, other.pk} <= all_ids
    assert client(people.secretary).get("/api/cases/", {"kind": "dispute"}).json()["results"] == []


def test_list_query_count_does_not_grow(tree, people, open_case, django_assert_max_num_queries):
    for _ in range(12):
        open_case()
    with django_assert_max_num_queries(8):
        response = client(people.secretary).get("/api/cases/")
    assert len(response.json()["results"]) == 12


def test_the_flow_table_is_enforced_and_versions_checked(people, open_case, teams):
    case = open_case()
    api = client(teams.fixer)
    # 已分派 → 已回访 is not in the table.
    response = api.post(f"/api/cases/{case.pk}/transition/", {"to": "reviewed", "version": case.version},
                        format="json")
    assert response.status_code == 400 and "不能转为" in response.content.decode()
    response = api.post(f"/api/cases/{case.pk}/transition/", {"to": "in_progress", "version": case.version},
                        format="json")
    assert response.status_code == 200 and response.json()["state"] == "in_progress"
    # The page the second user saw is stale now.
    stale = api.post(f"/api/cases/{case.pk}/transition/", {"to": "resolved", "note": "已修好",
                                                            "version": case.version}, format="json")
    assert stale.status_code == 409
    version = response.json()["version"]
    missing_note = api.post(f"/api/cases/{case.pk}/transition/", {"to": "resolved", "version": version},
                            format="json")
    assert missing_note.status_code == 400 and "办理结果" in missing_note.json()["note"][0]
    done = api.post(f"/api/cases/{case.pk}/transition/", {"to": "resolved", "note": "已修好", "version": version},
                    format="json")
    assert done.status_code == 200 and done.json()["result"] == "已修好"


@pytest.mark.parametrize("rating,state", [("unsatisfied", "in_progress"), ("satisfied", "reviewed")])
def test_review_reopens_on_unsatisfied(people, open_case, teams, rating, state):
    case = open_case()
    for to, note in (("in_progress", ""), ("resolved", "已修好")):
        case = Case.objects.get(pk=case.pk)
        client(teams.fixer).post(f"/api/cases/{case.pk}/transition/", {"to": to, "note": note,
                                                                       "version": case.version}, format="json")
    case = Case.objects.get(pk=case.pk)
    response = client(people.worker1).post(f"/api/cases/{case.pk}/review/", {
        "satisfaction": rating, "version": case.version, "note": "灯还是不亮" if rating == "unsatisfied" else ""},
        format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == state


def test_a_stranger_cannot_act_on_a_case_they_can_see(tree, people, open_case, make_user):
    case = open_case()
    # A volunteer of the grid may see the case but not handle it.
    volunteer = make_user("vol", "volunteer", tree.grids[0])
    response = client(volunteer).post(f"/api/cases/{case.pk}/transition/", {"to": "in_progress",
                                                                            "version": case.version}, format="json")
    assert response.status_code == 403


def test_categories_are_listed_with_their_routing(people, categories):
    rows = client(people.worker1).get("/api/case-categories/").json()["results"]
    light = next(r for r in rows if r["name"] == "设施损坏")
    assert light["team_name"] == "人居环境服务队" and light["deadline_hours"] == 48
