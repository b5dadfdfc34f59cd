"""The REST API's behaviour inside a user's scope: authentication, keyset pagination, filters,
writes through the services (400/403/409 answers in Chinese), reveal, the token command and the
query count of the list endpoints. Scope boundaries themselves are in test_scope.py."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from conftest import make_id_number
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from wuzhi.core.models import AccessLog, Area, ChangeLog
from wuzhi.core.pagination import _encode, keyset_page
from wuzhi.registry import services as reg
from wuzhi.registry.models import Dwelling, Household, Resident, Tag, Visit

from . import GRID1_PHONE, build_registry, client_for, ids


@pytest.fixture
def data(tree, people, make_household):
    return build_registry(tree, people, make_household)


def walk(api: APIClient, url: str, params: dict[str, Any] | None = None) -> list[int]:
    """Follow `next` links from the first page to the last; return the ids in the order served."""
    seen: list[int] = []
    response = api.get(url, params or {})
    pages = 0
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        pages += 1
        assert pages < 100, "next links loop"
        if not body["next"]:
            return seen
        assert body["next"].startswith("http://testserver/api/")
        response = api.get(body["next"])


# ---- authentication ----------------------------------------------------------------------------

def test_token_authentication(people, data):
    token = Token.objects.create(user=people.worker1)
    api = APIClient()
    assert api.get("/api/households/").status_code == 401
    response = api.get("/api/households/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and ids(response) == {data.h1.pk}


def test_session_authentication_for_the_browser(people, data):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(people.worker1)
    assert ids(api.get("/api/households/")) == {data.h1.pk}
    # A session write without the CSRF token is refused: a page on another site cannot post as the user.
    response = api.post("/api/visits/", {"household": data.h1.pk, "findings": "x"}, format="json")
    assert response.status_code == 403
    assert Visit.objects.count() == 2


def test_api_token_command(people, data):
    out = io.StringIO()
    call_command("api_token", "worker1", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    assert len(key) == 40
    again = io.StringIO()
    call_command("api_token", "worker1", stdout=again, stderr=io.StringIO())
    assert again.getvalue().strip() == key  # printing is idempotent
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert ids(api.get("/api/households/")) == {data.h1.pk}

    rotated = io.StringIO()
    call_command("api_token", "worker1", "--reset", stdout=rotated, stderr=io.StringIO())
    assert rotated.getvalue().strip() != key
    assert api.get("/api/households/").status_code == 401  # the old key is dead

    with pytest.raises(CommandError, match="不存在"):
        call_command("api_token", "nobody", stdout=io.StringIO())
    people.head.is_active = False
    people.head.save()
    with pytest.raises(CommandError, match="停用"):
        call_command("api_token", "head1", stdout=io.StringIO())


# ---- keyset pagination -------------------------------------------------------------------------

def test_households_pages_follow_address_order(tree, people, make_household):
    for dwelling in reversed(tree.dwellings[:7] + tree.dwellings[8:11]):  # created out of order
        make_household(dwelling)
    api = client_for(people.secretary)
    served = walk(api, "/api/households/", {"page_size": 3})
    assert served == list(Household.objects.order_by("address_key", "id").values_list("pk", flat=True))
    assert len(served) == 10 and len(set(served)) == 10
    first = api.get("/api/households/", {"page_size": 3}).json()["results"]
    assert [h["address"] for h in first] == ["1栋1单元101室", "1栋1单元102室", "1栋1单元201室"]


def test_visits_pages_run_newest_first_through_ties(people, data):
    now = timezone.now().replace(microsecond=0)
    same = now - dt.timedelta(hours=5)
    for when in (same, now - dt.timedelta(hours=9), same, now - dt.timedelta(hours=1), same,
                 now - dt.timedelta(days=30)):
        reg.visit_record(actor=people.secretary, household=data.h1, findings="例行", visited_at=when)
    api = client_for(people.secretary)
    expected = list(Visit.objects.order_by("-visited_at", "-id").values_list("pk", flat=True))
    for size in (1, 2, 3, 50):
        assert walk(api, "/api/visits/", {"page_size": size}) == expected, size
    # Three visits share one timestamp; a page boundary inside them must not skip or repeat one.
    tied = list(Visit.objects.filter(visited_at=same).order_by("-id").values_list("pk", flat=True))
    assert len(tied) == 3 and expected[expected.index(tied[0]):expected.index(tied[0]) + 3] == tied


def test_residents_and_dwellings_pages(tree, people, data):
    api = client_for(people.secretary)
    assert walk(api, "/api/residents/", {"page_size": 1}) == list(Resident.objects.order_by("id").values_list("pk", flat=True))
    # Four ordering fields, two of them repeated across units: area_path, floor, number, id.
    assert walk(api, "/api/dwellings/", {"page_size": 3}) == list(
        Dwelling.objects.order_by("area_path", "floor", "number", "id").values_list("pk", flat=True))
    # The secretary's areas are the community and below, not the town above it.
    assert walk(api, "/api/areas/", {"page_size": 4}) == list(
        Area.objects.filter(path__startswith=tree.community.path).order_by("path").values_list("pk", flat=True))


def test_next_link_keeps_the_filters(people, data):
    api = client_for(people.secretary)
    first = api.get("/api/residents/", {"sex": "F", "page_size": 1}).json()
    assert "sex=F" in first["next"] and "page_size=1" in first["next"]
    assert walk(api, "/api/residents/", {"sex": "F", "page_size": 1}) == sorted([data.xia.pk, data.wang.pk])


@pytest.mark.parametrize("cursor", ["not-base64!!", _encode([1, 2]), _encode(["abc"]), _encode([{"a": 1}]),
                                    _encode("x")])  # type: ignore[arg-type]
def test_bad_cursor_is_a_400(people, data, cursor):
    response = client_for(people.secretary).get("/api/residents/", {"after": cursor})
    assert response.status_code == 400
    assert "游标" in response.json()["after"][0]


def test_html_lists_ignore_a_bad_cursor(data):
    # The pages share keyset_page; a tampered link there just shows the first page.
    page = keyset_page(Resident.objects.all(), ["id"], _encode(["abc"]), 2)
    assert [r.pk for r in page.rows] == list(Resident.objects.order_by("id").values_list("pk", flat=True)[:2])
    page = keyset_page(Visit.objects.all(), ["-visited_at", "-id"], "garbage", 1)
    assert page.rows and page.next_token


# ---- what a resident looks like ------------------------------------------------------------------

def test_resident_shows_masks_never_secrets(people, data):
    api = client_for(people.worker1)
    response = api.get(f"/api/residents/{data.zhang.pk}/")
    body = response.json()
    assert body["id_number_masked"] == data.zhang_id[:4] + "*" * 10 + data.zhang_id[-4:]
    assert body["phone_masked"] == GRID1_PHONE[:3] + "****" + GRID1_PHONE[-4:]
    assert body["birth_date"] == "1970-05-12" and body["sex"] == "M" and body["age"] == data.zhang.age
    assert body["tags"] == ["独居老人"] and body["tag_ids"] == [data.tags.elderly.pk]
    assert body["household"] == data.h1.pk and body["address"] == "1栋1单元101室"
    assert body["area_path"] == data.h1.area_path and body["area_name"].endswith("1栋1单元")
    for text in (response.content.decode(), api.get("/api/residents/").content.decode(),
                 api.get("/api/residents/", {"q": data.zhang_id}).content.decode()):
        assert data.zhang_id not in text and GRID1_PHONE not in text
        assert "_enc" not in text and "_hash" not in text and data.zhang.id_number_hash not in text


def test_reveal_returns_the_value_and_logs_it(people, data):
    api = client_for(people.worker1)
    response = api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"field": "id_number", "value": data.zhang_id}
    assert "no-store" in response["Cache-Control"]
    assert api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "phone"},
                    format="json").json()["value"] == GRID1_PHONE
    assert api.post(f"/api/residents/{data.xia.pk}/reveal/", {"field": "landline"}, format="json").json()["value"] == ""
    log = AccessLog.objects.filter(actor=people.worker1, object_id=str(data.zhang.pk))
    assert sorted(log.values_list("field", flat=True)) == ["id_number", "phone"]
    assert log.first().ip == "127.0.0.1" and log.first().kind == AccessLog.Kind.REVEAL

    bad = api.post(f"/api/residents/{data.zhang.pk}/reveal/", {"field": "id_number_enc"}, format="json")
    assert bad.status_code == 400 and "field" in bad.json()
    assert AccessLog.objects.count() == 3


# ---- filters ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, who", [
    ("张黎", "zhang"), ("zhangli", "zhang"), ("ZhangLi", "zhang"), ("zl", "zhang"), ("张", "zhang"),
    ("夏红燕", "xia"), ("xhy", "xia"), ("full_id", "zhang"), ("id_tail", "zhang"), (GRID1_PHONE, "zhang"),
    (GRID1_PHONE[-4:], "zhang"), ("王芳", "wang"), ("wangf", "wang"),
])
def test_resident_search(people, data, query, who):
    query = {"full_id": data.zhang_id, "id_tail": data.zhang_id[-4:]}.get(query, query)
    assert ids(client_for(people.secretary).get("/api/residents/", {"q": query})) == {getattr(data, who).pk}


def test_resident_filters(tree, people, data):
    api = client_for(people.secretary)

    def found(**params: Any) -> set[str]:
        by_id = {r.pk: r.name for r in Resident.objects.all()}
        return {by_id[i] for i in ids(api.get("/api/residents/", params))}

    assert found(area=tree.grids[0].code) == {"张黎", "夏红燕"}
    assert found(area=str(tree.grids[1].pk)) == {"王芳", "李明"}
    assert found(area=tree.units[0].code) == {"张黎", "夏红燕"}
    assert found(tag=data.tags.hardship.pk) == {"王芳"}  # 困境儿童 includes its sub-tag 孤儿
    assert found(tag=[data.tags.elderly.pk, data.tags.orphan.pk]) == {"张黎", "王芳"}
    assert found(age_min=50) == {"张黎", "夏红燕"}
    assert found(age_max=18) == {"王芳"}
    assert found(age_min=30, age_max=45) == {"李明"}
    assert found(sex="F") == {"夏红燕", "王芳"}
    assert found(household=data.h2.pk) == {"王芳", "李明"}
    assert found(q="zl", area=tree.grids[1].code) == set()
    reg.resident_update(actor=None, resident=data.li, version=data.li.version, status="迁出")
    assert found(status="迁出") == {"李明"}
    assert found(status="在住") == {"张黎", "夏红燕", "王芳"}
    assert found() == {"张黎", "夏红燕", "王芳", "李明"}  # the API default is every status

    for params, field in (({"age_min": "abc"}, "age_min"), ({"age_min": 60, "age_max": 10}, "age_max"),
                          ({"status": "失踪"}, "status"), ({"tag": "x"}, "tag"), ({"sex": "X"}, "sex"),
                          ({"area": "000"}, "area")):
        response = api.get("/api/residents/", params)
        assert response.status_code == 400 and field in response.json(), params


def test_household_filters(tree, people, data):
    api = client_for(people.secretary)
    assert ids(api.get("/api/households/", {"q": "1栋"})) == {data.h1.pk}
    assert ids(api.get("/api/households/", {"q": data.h2.number})) == {data.h2.pk}
    assert ids(api.get("/api/households/", {"area": tree.buildings[1].code})) == {data.h2.pk}
    assert ids(api.get("/api/households/", {"tag": data.tags.dibao.pk})) == {data.h2.pk}  # household tag
    assert ids(api.get("/api/households/", {"tag": data.tags.elderly.pk})) == {data.h1.pk}  # member tag
    assert ids(api.get("/api/households/", {"tag": data.tags.hardship.pk})) == {data.h2.pk}  # member sub-tag
    assert ids(api.get("/api/households/", {"status": "迁出"})) == set()
    reg.household_update(actor=None, household=data.h1, version=data.h1.version, status="迁出")
    assert ids(api.get("/api/households/", {"status": "迁出"})) == {data.h1.pk}
    body = api.get(f"/api/households/{data.h2.pk}/").json()
    assert body["tags"] == ["低保户"] and body["head_name"] == "李明" and body["area_code"] == tree.units[2].code


def test_visit_filters(tree, people, data):
    api = client_for(people.secretary)
    assert ids(api.get("/api/visits/", {"household": data.h1.pk})) == {data.v1.pk}
    assert ids(api.get("/api/visits/", {"area": tree.grids[1].code})) == {data.v2.pk}
    body = api.get(f"/api/visits/{data.v1.pk}/").json()
    assert body["visitors"] == [{"id": people.worker1.pk, "name": "王网格"}]
    assert body["household_address"] == "1栋1单元101室" and body["findings"] == "身体健康"


def test_areas_tags_and_dwellings(tree, people, data):
    api = client_for(people.worker1)
    children = api.get("/api/areas/", {"parent": tree.buildings[0].pk}).json()["results"]
    assert [a["name"] for a in children] == ["1单元", "2单元"] and children[0]["kind_display"] == "单元"
    assert ids(api.get("/api/areas/", {"kind": "grid"})) == {tree.grids[0].pk}
    assert {t["name"] for t in api.get("/api/tags/", {"applies_to": "household"}).json()["results"]} == {"低保户"}
    assert len(api.get("/api/tags/").json()["results"]) == 4
    assert ids(api.get("/api/dwellings/", {"unit": tree.units[1].pk})) == {d.pk for d in tree.dwellings[4:8]}
    occupied = api.get("/api/dwellings/", {"occupancy": "自住"}).json()["results"]
    assert [d["id"] for d in occupied] == [tree.dwellings[0].pk]
    assert api.post("/api/tags/", {"name": "新标签"}, format="json").status_code == 405
    assert api.patch(f"/api/dwellings/{tree.dwellings[0].pk}/", {"number": "999"}, format="json").status_code == 405
    assert api.delete(f"/api/households/{data.h1.pk}/").status_code == 405


# ---- writes: households ---------------------------------------------------------------------

def test_household_create(tree, people, data):
    api = client_for(people.worker1)
    response = api.post("/api/households/", {"dwelling": tree.dwellings[1].pk, "origin_county": "大关县",
                                             "relocation_batch": "第二批"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["address"] == "1栋1单元102室" and body["origin_county"] == "大关县" and body["version"] == 1
    assert body["number"].startswith(tree.community.code + "-")
    assert ChangeLog.objects.filter(model="registry.household", object_id=str(body["id"]), op="create",
                                    actor=people.worker1).exists()
    # No dwelling: an area (a grid, a building) instead.
    response = api.post("/api/households/", {"area": tree.buildings[0].pk, "number": "TEMP-1"}, format="json")
    assert response.status_code == 201 and response.json()["number"] == "TEMP-1"

    neither = api.post("/api/households/", {"note": "?"}, format="json")
    assert neither.status_code == 400 and neither.json() == {"dwelling": ["请选择户室"]}
    both = api.post("/api/households/", {"dwelling": tree.dwellings[2].pk, "area": tree.grids[0].pk}, format="json")
    assert both.status_code == 400 and "area" in both.json()
    taken = api.post("/api/households/", {"dwelling": tree.dwellings[2].pk, "number": data.h1.number}, format="json")
    assert taken.status_code == 400 and "number" in taken.json()
    wrong = api.post("/api/households/", {"dwelling": tree.dwellings[2].pk, "status": "不存在"}, format="json")
    assert wrong.status_code == 400 and "status" in wrong.json()


def test_household_update_with_version(people, data):
    api = client_for(people.worker1)
    url = f"/api/households/{data.h1.pk}/"
    version = api.get(url).json()["version"]
    response = api.patch(url, {"version": version, "note": "老人独居,需多关注", "head": data.xia.pk,
                               "tag_ids": [data.tags.dibao.pk]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == version + 1 and body["note"] == "老人独居,需多关注"
    assert body["head_name"] == "夏红燕" and body["tags"] == ["低保户"]

    stale = api.patch(url, {"version": version, "note": "覆盖"}, format="json")
    assert stale.status_code == 409 and "已被其他人修改" in stale.json()["detail"]
    assert Household.objects.get(pk=data.h1.pk).note == "老人独居,需多关注"

    missing = api.patch(url, {"note": "没有版本"}, format="json")
    assert missing.status_code == 400 and "version" in missing.json()
    put = api.put(url, {"version": version + 1, "status": "迁出"}, format="json")  # PUT changes only what is sent
    assert put.status_code == 200 and put.json()["status"] == "迁出" and put.json()["note"] == "老人独居,需多关注"

    not_member = api.patch(url, {"version": version + 2, "head": data.wang.pk}, format="json")
    assert not_member.status_code == 400  # wang is outside worker1's scope: "does not exist"
    secretary = client_for(people.secretary)
    not_member = secretary.patch(url, {"version": version + 2, "head": data.wang.pk}, format="json")
    assert not_member.status_code == 400 and not_member.json() == {"head": ["户主必须是本户成员"]}
    person_tag = api.patch(url, {"version": version + 2, "tag_ids": [data.tags.elderly.pk]}, format="json")
    assert person_tag.status_code == 400 and "tag_ids" in person_tag.json()


def test_household_moves_to_another_dwelling(tree, people, data):
    api = client_for(people.worker1)
    response = api.patch(f"/api/households/{data.h1.pk}/", {"version": data.h1.version,
                                                            "dwelling": tree.dwellings[5].pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["address"] == "1栋2单元102室"
    assert set(Resident.objects.filter(household=data.h1).values_list("area_path", flat=True)) == {tree.units[1].path}


# ---- writes: residents ----------------------------------------------------------------------

def test_resident_create(people, data):
    api = client_for(people.worker1)
    number = make_id_number("20100606", male=False)
    response = api.post("/api/residents/", {
        "household": data.h1.pk, "name": "张小雨", "id_number": number, "phone": "",
        "relation": "女", "education": "小学", "tag_ids": [data.tags.hardship.pk],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "张小雨" and body["sex"] == "F" and body["birth_date"] == "2010-06-06"
    assert body["id_number_masked"].endswith(number[-4:]) and number not in response.content.decode()
    assert body["tags"] == ["困境儿童"] and body["version"] == 1
    assert "id_number" not in body and "phone" not in body
    created = Resident.objects.get(pk=body["id"])
    assert created.name_pinyin == "zhangxiaoyu" and created.area_path == data.h1.area_path


@pytest.mark.parametrize("change, field, message", [
    ({"id_number": "530626197005120000"}, "id_number", "校验位"),
    ({"id_number": "5306261970"}, "id_number", "应为18位"),
    ({"id_number": "duplicate"}, "id_number", "已登记"),
    ({"phone": "0870-1234567"}, "phone", "手机号码应为11位"),
    ({"phone": "12345"}, "phone", "不是有效的电话号码"),
    ({"landline": "13912345678"}, "landline", "座机号码需带区号"),
    ({"name": "  "}, "name", None),
    ({"ethnicity": "火星族"}, "ethnicity", None),
])
def test_resident_create_errors_are_keyed_chinese_sentences(people, data, change, field, message):
    payload = {"household": data.h1.pk, "name": "新成员", "id_number": make_id_number("19990909"), **change}
    if payload["id_number"] == "duplicate":
        payload["id_number"] = data.zhang_id
    before = Resident.objects.count()
    response = client_for(people.worker1).post("/api/residents/", payload, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == [field]
    if message:
        assert message in errors[field][0]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in errors[field])  # Chinese, not English
    assert Resident.objects.count() == before


def test_resident_update(people, data):
    api = client_for(people.worker1)
    url = f"/api/residents/{data.zhang.pk}/"
    response = api.patch(url, {"version": data.zhang.version, "phone": "13700001111", "employment": "退休",
                               "tag_ids": []}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone_masked"] == "137****1111" and body["employment"] == "退休" and body["tags"] == []
    assert body["version"] == data.zhang.version + 1 and body["name"] == "张黎"
    change = ChangeLog.objects.filter(model="registry.resident", object_id=str(data.zhang.pk), op="update").first()
    assert change is not None and "phone_masked" in change.changes and "13700001111" not in json.dumps(change.changes)

    cleared = api.patch(url, {"version": body["version"], "phone": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["phone_masked"] == ""

    stale = api.patch(url, {"version": body["version"], "name": "张丽"}, format="json")
    assert stale.status_code == 409 and "已被其他人修改" in stale.json()["detail"]
    assert Resident.objects.get(pk=data.zhang.pk).name == "张黎"

    dup = api.patch(url, {"version": body["version"] + 1, "id_number": data.wang_id}, format="json")
    assert dup.status_code == 400 and "已登记" in dup.json()["id_number"][0]
    missing = api.patch(url, {"name": "张丽"}, format="json")
    assert missing.status_code == 400 and list(missing.json()) == ["version"]


# ---- writes: visits -------------------------------------------------------------------------

def test_record_visit(people, data):
    api = client_for(people.worker1)
    response = api.post("/api/visits/", {
        "household": data.h1.pk, "findings": "  老人身体尚可  ", "kind": "电话联系", "residents": [data.zhang.pk],
        "follow_up_needed": True, "follow_up_note": "下周复诊提醒",
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["findings"] == "老人身体尚可" and body["kind"] == "电话联系"
    assert body["visitors"] == [{"id": people.worker1.pk, "name": "王网格"}]
    assert body["residents"] == [{"id": data.zhang.pk, "name": "张黎"}]
    assert body["created_by"] == people.worker1.pk
    # "Last visited" moved forward: the overdue lists read it from the household row.
    assert Household.objects.get(pk=data.h1.pk).last_visited_at == Visit.objects.get(pk=body["id"]).visited_at

    together = api.post("/api/visits/", {"household": data.h1.pk, "findings": "与楼长同去",
                                         "visitors": [people.worker1.pk, people.head.pk]}, format="json")
    assert together.status_code == 201
    assert {v["id"] for v in together.json()["visitors"]} == {people.worker1.pk, people.head.pk}


@pytest.mark.parametrize("change, field", [
    ({"follow_up_needed": True}, "follow_up_note"),
    ({"visited_at": "2999-01-01T08:00:00+08:00"}, "visited_at"),
    ({"findings": ""}, "findings"),
    ({"kind": "飞鸽传书"}, "kind"),
    ({"visitors": ["worker2"]}, "visitors"),
    ({"visitors": [999999]}, "visitors"),
    ({"residents": ["other_member"]}, "residents"),
])
def test_record_visit_errors(people, data, change, field):
    payload: dict[str, Any] = {"household": data.h1.pk, "findings": "正常", **change}
    if payload.get("visitors") == ["worker2"]:
        payload["visitors"] = [people.worker2.pk]  # a real worker, but not of this grid
    if payload.get("residents") == ["other_member"]:
        payload["residents"] = [data.li.pk]  # visible to the secretary, but of another household
    before = Visit.objects.count()
    response = client_for(people.secretary).post("/api/visits/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Visit.objects.count() == before


def test_visits_are_not_edited_afterwards(people, data):
    api = client_for(people.secretary)
    assert api.patch(f"/api/visits/{data.v1.pk}/", {"findings": "改"}, format="json").status_code == 405
    assert api.delete(f"/api/visits/{data.v1.pk}/").status_code == 405


# ---- writes: areas ------------------------------------------------------------------------------

def test_area_create_and_rename_need_manage_areas(tree, people):
    secretary = client_for(people.secretary)
    response = secretary.post("/api/areas/", {"parent": tree.buildings[0].pk, "segment": "3", "name": "3单元"},
                              format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "unit" and response.json()["full_name"].endswith("1栋3单元")
    renamed = secretary.patch(f"/api/areas/{tree.buildings[0].pk}/", {"name": "一栋", "version": 1}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "一栋"
    assert Area.objects.get(pk=tree.units[0].pk).full_name.endswith("一栋1单元")
    duplicate = secretary.post("/api/areas/", {"parent": tree.buildings[0].pk, "segment": "3", "name": "又一个"},
                               format="json")
    assert duplicate.status_code == 400

    below_unit = secretary.post("/api/areas/", {"parent": tree.units[0].pk, "segment": "1", "name": "1层"},
                                format="json")
    assert below_unit.status_code == 400 and below_unit.json() == {"parent": ["单元下不能再建立下级区域"]}

    worker = client_for(people.worker1)
    refused = worker.post("/api/areas/", {"parent": tree.buildings[0].pk, "segment": "4", "name": "4单元"},
                          format="json")
    assert refused.status_code == 403 and "权限" in refused.json()["detail"]
    assert worker.patch(f"/api/areas/{tree.grids[0].pk}/", {"name": "x"}, format="json").status_code == 403


# ---- no N+1 ---------------------------------------------------------------------------------

def _queries(api: APIClient, url: str, expected_rows: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, {"page_size": 50})
    assert response.status_code == 200
    assert len(response.json()["results"]) == expected_rows
    return len(ctx)


def test_list_endpoints_do_not_grow_queries_with_rows(tree, people, make_household, django_assert_max_num_queries):
    tag = Tag.objects.create(name="独居老人")
    dibao = Tag.objects.create(name="低保户", applies_to=Tag.AppliesTo.HOUSEHOLD)

    def add(dwelling: Dwelling) -> None:
        household = make_household(dwelling, [("张黎", {"tags": [tag]})])
        household = reg.household_update(actor=None, household=household, version=household.version, tags=[dibao])
        reg.visit_record(actor=people.secretary, household=household, findings="正常",
                         residents=list(household.members.all()), visitors=[people.worker1, people.secretary])

    for dwelling in tree.dwellings[:2]:
        add(dwelling)
    api = client_for(people.secretary)
    small = {url: _queries(api, url, 2) for url in ("/api/residents/", "/api/households/", "/api/visits/")}
    for dwelling in tree.dwellings[2:12]:
        add(dwelling)
    for url, count in small.items():
        assert _queries(api, url, 12) == count, url
        with django_assert_max_num_queries(6):  # token, grants, rows, prefetches
            api.get(url)
