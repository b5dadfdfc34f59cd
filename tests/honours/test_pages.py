"""Pages: the public 光荣榜 shows only published honours and no personal data; the printable
notices; the public objection form; a resident's nomination from the unit page; staff pages
within scope, and without a query per row."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.honours import services
from wuzhi.honours.models import Nomination, Objection, RoundState

from .test_flow import T0, _to_notice

S = RoundState


@pytest.fixture
def published(honours, new_round, people):
    """Q1 published (h1 and its head honoured); Q2 in its 公示 now with h2 nominated."""
    rnd, n1, n2 = _to_notice(people, honours, new_round(1))
    services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=T0 + dt.timedelta(days=9))
    q2 = new_round(2)
    services.nomination_add(actor=people.worker2, round=q2, category=honours.cats.hygiene, household=honours.h2,
                            reason="家中常年干净整洁,主动做好垃圾分类")
    services.round_advance(actor=people.secretary, round=q2, to=S.EVALUATING)
    services.score_record(actor=people.secretary, nomination=q2.nominations.get(), points={"室内整洁": 45, "门前三包": 45})
    services.round_advance(actor=people.secretary, round=q2, to=S.NOTICE)
    q3 = new_round(3)
    services.nomination_add(actor=people.worker2, round=q3, category=honours.cats.building, building=honours.h2.area.parent,
                            reason="楼道干净整洁无杂物,邻里互帮互助")
    return rnd, q2, q3


def test_public_board_shows_published_and_notice_only_without_personal_data(client, published, honours, tree):
    rnd, q2, q3 = published
    resp = client.get(reverse("honours_public:board", args=[tree.community.code]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "1栋1单元 张*家庭" in html and "1栋1单元 张*" in html  # published Q1
    assert "2栋1单元 欧阳*家庭" in html  # Q2 in its 公示, marked as such
    assert "公示期至" in html and "提出异议" in html
    assert "2栋</li>" not in html  # Q3 still taking nominations: not shown
    for member in list(honours.h1.members.all()) + list(honours.h2.members.all()):
        assert member.name not in html
        assert member.id_number_masked not in html and member.id_tail not in html
    assert "13900" not in html
    assert "张黎明" not in html and "欧阳娜娜" not in html


def test_printable_notice_and_board(client, published, tree):
    rnd, q2, q3 = published
    resp = client.get(reverse("honours_public:print", args=[tree.community.code, q2.pk]))
    assert resp.status_code == 200 and "公　示" in resp.content.decode() and "欧阳*家庭" in resp.content.decode()
    resp = client.get(reverse("honours_public:print", args=[tree.community.code, rnd.pk]))
    assert "光 荣 榜" in resp.content.decode() and "@page { size: A4" in resp.content.decode()
    # A round still taking nominations has no public notice.
    assert client.get(reverse("honours_public:print", args=[tree.community.code, q3.pk])).status_code == 404


def test_public_objection_during_notice(client, published, tree):
    rnd, q2, q3 = published
    url = reverse("honours_public:object", args=[tree.community.code, q2.pk])
    assert client.get(url).status_code == 200
    resp = client.post(url, {"content": "短", "phone": ""})
    assert resp.status_code == 400 and "请写明异议的具体内容" in resp.content.decode()
    resp = client.post(url, {"content": "她家阳台堆满杂物,不符合条件", "phone": "13911113333",
                             "nomination": q2.nominations.get().pk})
    assert resp.status_code == 302
    obj = Objection.objects.get()
    assert obj.round == q2 and obj.phone_masked and obj.phone_enc and "13911113333" not in obj.phone_masked
    # Closed round: the form refuses.
    assert client.get(reverse("honours_public:object", args=[tree.community.code, rnd.pk])).status_code == 302


def test_resident_nominates_from_the_unit_page(client, honours, new_round, tree):
    unit = tree.units[0]
    page = client.get(reverse("honours_public:unit_board", args=[unit.code]))
    assert page.status_code == 200 and reverse("honours_public:nominate", args=[unit.code]) in page.content.decode()
    url = reverse("honours_public:nominate", args=[unit.code])
    assert "暂未开始接受推荐" in client.get(url).content.decode()
    rnd = new_round()
    resp = client.post(url, {"category": honours.cats.good.pk, "nominee_text": "102室的张大哥",
                             "reason": "常年帮楼上老人买菜送药", "nominator_name": "李阿姨", "nominator_phone": "123"})
    assert resp.status_code == 400 and "nominator_phone" in resp.content.decode()
    resp = client.post(url, {"category": honours.cats.good.pk, "nominee_text": "102室的张大哥",
                             "reason": "常年帮楼上老人买菜送药,风雨无阻", "nominator_name": "李阿姨",
                             "nominator_phone": "13911112222"})
    assert resp.status_code == 302
    n = Nomination.objects.get(round=rnd)
    assert n.nominator_kind == "resident" and n.area == unit and n.nominator_phone_masked != "13911112222"


def test_portal_unit_page_links_to_the_board(client, tree):
    unit = tree.units[0]
    resp = client.get(f"/p/u/{unit.code}/")
    if resp.status_code != 200:
        pytest.skip("portal unit page needs a service board in this tree")
    assert reverse("honours_public:unit_board", args=[unit.code]) in resp.content.decode()


def test_staff_pages_in_scope(client, published, people, honours):
    rnd, q2, q3 = published
    client.force_login(people.worker1)
    assert client.get(reverse("honours:index")).status_code == 200
    resp = client.get(reverse("honours:round", args=[rnd.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "1栋1单元 张*家庭" in html
    # Grid 2's nomination is not in grid 1's view of the round, and its page is a 404.
    q2_nom = q2.nominations.get()
    assert client.get(reverse("honours:nomination", args=[q2_nom.pk])).status_code == 404
    assert client.get(reverse("honours:household_history", args=[honours.h2.pk])).status_code == 404
    resp = client.get(reverse("honours:household_history", args=[honours.h1.pk]))
    assert resp.status_code == 200 and "文明卫生示范户" in resp.content.decode()
    # A county cadre sees the round but cannot run it.
    client.force_login(people.county)
    client.post(reverse("honours:advance", args=[rnd.pk]), {"to": S.ARCHIVED, "version": rnd.version + 1})
    rnd.refresh_from_db()
    assert rnd.state == S.PUBLISHED


def test_secretary_runs_a_round_from_the_pages(client, honours, people, tree):
    client.force_login(people.secretary)
    resp = client.post(reverse("honours:index"), {"community": tree.community.pk, "year": 2026, "quarter": 4,
                                                  "notice_days": 7})
    assert resp.status_code == 302
    rnd = tree.community.honour_rounds.get()
    resp = client.post(reverse("honours:nominate", args=[rnd.pk]), {
        "category": honours.cats.good.pk, "household": honours.h1.pk, "person_name": "没有这个人",
        "reason": "常年义务照顾楼上独居老人"})
    assert resp.status_code == 400 and "该户没有叫这个名字的成员" in resp.content.decode()
    resp = client.post(reverse("honours:nominate", args=[rnd.pk]), {
        "category": honours.cats.good.pk, "household": honours.h1.pk, "person_name": "张小军",
        "reason": "常年义务照顾楼上独居老人"})
    assert resp.status_code == 302
    n = rnd.nominations.get()
    client.post(reverse("honours:advance", args=[rnd.pk]), {"to": S.EVALUATING, "version": rnd.version})
    resp = client.post(reverse("honours:nomination", args=[n.pk]), {"action": "score", "c0": "101"})
    assert "事迹" in resp.content.decode() and n.scores.count() == 0
    client.post(reverse("honours:nomination", args=[n.pk]), {"action": "score", "c0": "88"})
    client.post(reverse("honours:nomination", args=[n.pk]), {"action": "vote", "votes_for": 4, "votes_against": 0,
                                                             "abstain": 1})
    rnd.refresh_from_db()
    client.post(reverse("honours:advance", args=[rnd.pk]), {"to": S.NOTICE, "version": rnd.version})
    rnd.refresh_from_db()
    assert rnd.state == S.NOTICE and rnd.nominations.get().result == "selected"
    # Publishing now is refused with the reason on the page.
    resp = client.post(reverse("honours:advance", args=[rnd.pk]), {"to": S.PUBLISHED, "version": rnd.version},
                       follow=True)
    assert "公示期未满不能发布" in resp.content.decode()
    assert timezone.now() < rnd.notice_ends_at


def test_list_pages_do_not_query_per_row(client, published, people, honours, tree, django_assert_max_num_queries):
    rnd, q2, q3 = published
    for q in (4,):
        services.round_open(actor=people.secretary, area=tree.community, year=2025, quarter=q)
    client.force_login(people.secretary)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("honours:index")).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(reverse("honours:round", args=[rnd.pk])).status_code == 200
    client.logout()
    with django_assert_max_num_queries(8):
        assert client.get(reverse("honours_public:board", args=[tree.community.code])).status_code == 200
