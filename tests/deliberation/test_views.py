"""Staff pages (scope, actions, query counts) and the resident side and public board (only
published items, never personal data)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from wuzhi.deliberation import services
from wuzhi.deliberation.models import DisclosureKind, Level, Topic, TopicState

S = TopicState
RESIDENT_NAME = "张秀英"
RESIDENT_PHONE = "13987654321"


@pytest.fixture
def resident(tree, make_household):
    return make_household(tree.dwellings[0], [(RESIDENT_NAME, {"phone": RESIDENT_PHONE})]).members.get()


def login(client, user):
    client.force_login(user)
    return client


# ---- staff side ----------------------------------------------------------------------------

def test_worker_sees_topics_of_their_grid_only_and_secretary_all(client, helpers, people, tree):
    mine = helpers.propose(area=tree.buildings[0], title="一网格的议题")
    other = helpers.propose(area=tree.buildings[1], title="二网格的议题")
    community = helpers.propose(level=Level.COMMUNITY, title="社区的议题")
    login(client, people.worker1)
    html = client.get(reverse("deliberation:list")).content.decode()
    assert "一网格的议题" in html and "二网格的议题" not in html and "社区的议题" not in html
    assert client.get(reverse("deliberation:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("deliberation:detail", args=[mine.pk])).status_code == 200
    login(client, people.secretary)
    html = client.get(reverse("deliberation:list")).content.decode()
    assert all(t.title in html for t in (mine, other, community))
    assert set(Topic.objects.visible_to(people.county)) == {mine, other, community}


def test_body_member_without_grant_sees_the_topics_their_body_met_on(client, helpers, bodies, people, make_user):
    rep = make_user("rep", name="居民代表")
    services.members_add(actor=None, body=bodies.building, people=[{"user": rep, "role": "代表"}],
                         on=dt.date(2000, 1, 1))
    t = helpers.propose()
    helpers.accept(t)
    other = helpers.propose(title="没开会的议题")
    assert not Topic.objects.visible_to(rep).exists()
    helpers.meet(bodies.building, t)
    assert list(Topic.objects.visible_to(rep)) == [t]
    assert other not in Topic.objects.visible_to(rep)


def test_list_query_count_does_not_grow_with_rows(client, helpers, people, django_assert_max_num_queries):
    for i in range(25):
        helpers.propose(title=f"议题{i}")
    login(client, people.secretary)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("deliberation:list"))
    assert response.content.decode().count("list-group-item-action") == 25


def test_detail_offers_only_the_tables_steps_and_decline_needs_a_reason(client, helpers, people):
    t = helpers.propose()
    login(client, people.secretary)
    html = client.get(reverse("deliberation:detail", args=[t.pk])).content.decode()
    assert "审议:同意提交合议" in html and "审议:不予采纳" in html and "实施完成" not in html
    r = client.post(reverse("deliberation:act", args=[t.pk]), {"to": S.DECLINED, "note": "", "version": t.version},
                    follow=True)
    assert "请填写不予采纳的理由" in r.content.decode()
    r = client.post(reverse("deliberation:act", args=[t.pk]), {"to": S.DECIDED, "version": t.version}, follow=True)
    assert "表决" in r.content.decode()
    t.refresh_from_db()
    assert t.state == S.PROPOSED


def test_meeting_and_vote_pages(client, helpers, bodies, people):
    t = helpers.propose()
    helpers.accept(t)
    login(client, people.secretary)
    pick = client.get(reverse("deliberation:meeting_new", args=[t.pk])).content.decode()
    assert "1栋楼栋议事会" in pick
    members = list(bodies.building.members.order_by("id"))
    data = {"body": bodies.building.pk, "held_at": (helpers.now - dt.timedelta(hours=2)).astimezone()
            .strftime("%Y-%m-%dT%H:%M"), "place": "议事厅", "minutes": "讨论", "opinions": ""}
    for i, m in enumerate(members):
        data[f"att_{m.pk}"] = "present" if i < 2 else "absent"
    r = client.post(reverse("deliberation:meeting_new", args=[t.pk]), data)
    assert r.status_code == 302
    meeting = t.meetings.get()
    assert (meeting.present, meeting.members_total) == (2, 5)
    # 2 of 5 is below half: the vote is refused with the numbers.
    r = client.post(reverse("deliberation:vote", args=[meeting.pk]), {"topic": t.pk, "origin": "hands",
                    "votes_for": 2, "votes_against": 0, "votes_abstain": 0, "decision": "同意"}, follow=True)
    assert "到会人数不足" in r.content.decode()
    t.refresh_from_db()
    assert t.state == S.CONSULTING


# ---- public board and resident side --------------------------------------------------------

@pytest.fixture
def published(helpers, people, resident, tree):
    """A decided topic proposed by the resident on the portal, published with an objection that
    carries the resident's phone in its text; a second decided topic not published."""
    s = people.secretary
    t = services.topic_propose(actor=None, actor_name="居民", title="1栋楼道灯改造", description="楼道灯坏了很久",
                               level=Level.BUILDING, area=tree.buildings[0], source="resident",
                               proposer_name=RESIDENT_NAME, proposer_phone=RESIDENT_PHONE,
                               at=helpers.now - dt.timedelta(days=3))
    helpers.decide(t)
    d = services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.DECISION, text="更换为声控感应灯")
    o = services.objection_submit(disclosure=d, text=f"我是{RESIDENT_NAME},电话{RESIDENT_PHONE},希望尽快",
                                  phone=RESIDENT_PHONE)
    hidden = helpers.decide(helpers.propose(title="尚未公开的决议"))
    return type("P", (), {"topic": t, "d": d, "o": o, "hidden": hidden})


def _public_pages(client, tree, d):
    return [client.get(url).content.decode() for url in (
        reverse("delib_portal:board", args=[tree.community.code]),
        reverse("delib_portal:board_print", args=[tree.community.code]),
        reverse("delib_portal:notice", args=[d.pk]),
        reverse("delib_portal:notice_print", args=[d.pk]),
    )]


def test_public_pages_show_only_published_items_and_no_personal_data(client, tree, published, resident):
    pages = _public_pages(client, tree, published.d)
    assert all("更换为声控感应灯" in html for html in pages)
    for html in pages:
        assert "尚未公开的决议" not in html
        assert RESIDENT_PHONE not in html and "139****4321" not in html
    notice = pages[2]
    # The objection is shown, its digits masked; the proposer appears as "居民".
    assert "希望尽快" in notice and "****" in notice and "居民" in notice
    # Not even the name the resident typed into their objection (张秀英 → 张某).
    assert all(RESIDENT_NAME not in html for html in pages) and "张某" in notice
    assert published.topic.proposer_name == RESIDENT_NAME and "提议人" not in notice


def test_unpublished_and_future_notices_are_not_found(client, helpers, people, published):
    future = services.disclosure_publish(actor=people.secretary, topic=published.hidden,
                                         kind=DisclosureKind.DECISION, text="以后才公开",
                                         at=helpers.now + dt.timedelta(days=3))
    assert client.get(reverse("delib_portal:notice", args=[future.pk])).status_code == 404


def test_board_query_count(client, tree, helpers, people, django_assert_max_num_queries):
    for i in range(12):
        t = helpers.decide(helpers.propose(title=f"议题{i}"))
        services.disclosure_publish(actor=people.secretary, topic=t, kind=DisclosureKind.DECISION, text=f"决议{i}")
    with django_assert_max_num_queries(6):
        html = client.get(reverse("delib_portal:board", args=[tree.community.code])).content.decode()
    assert html.count("class=\"dl-item\"") == 12


def test_objection_on_the_notice_page_and_answer_shown(client, published, people):
    d = published.d
    r = client.post(reverse("delib_portal:object", args=[d.pk]), {"kind": "objection", "text": "短",
                                                                  "phone": "13900005555"})
    assert r.status_code == 400 and "至少5个字" in r.content.decode()
    r = client.post(reverse("delib_portal:object", args=[d.pk]), {"kind": "objection", "text": "晚上施工会扰民吗?",
                                                                  "phone": "13900005555"})
    assert r.status_code == 302
    o = d.objections.get(text="晚上施工会扰民吗?")
    login(client, people.secretary)
    client.post(reverse("deliberation:answer", args=[o.pk]), {"answer": "只在白天施工"})
    client.logout()
    html = client.get(reverse("delib_portal:notice", args=[d.pk])).content.decode()
    assert "只在白天施工" in html and "13900005555" not in html and "139****5555" not in html


def test_resident_proposes_from_the_unit_and_follows_it(client, tree, people):
    unit = tree.units[1]
    page = client.get(reverse("delib_portal:propose", args=[unit.code]))
    assert unit.full_name in page.content.decode()
    r = client.post(reverse("delib_portal:propose", args=[unit.code]), {"level": "building", "title": "加装扶手",
                    "description": "单元门口台阶没有扶手", "phone": ""})
    assert r.status_code == 400 and "手机号码" in r.content.decode()
    r = client.post(reverse("delib_portal:propose", args=[unit.code]), {"level": "area", "title": "加装扶手",
                    "description": "单元门口台阶没有扶手", "phone": "13900006666"})
    topic = Topic.objects.get(title="加装扶手")
    assert r.url == reverse("delib_portal:topic", args=[topic.number])
    assert topic.level == Level.AREA and topic.area == tree.grids[0] and topic.source == "resident"
    services.topic_transition(actor=people.secretary, topic=topic, to=S.DECLINED, note="已列入明年维修计划")
    html = client.get(r.url).content.decode()
    assert "已列入明年维修计划" in html and "13900006666" not in html
    # Another browser needs the number and the phone.
    other = client.__class__()
    assert other.get(r.url).status_code == 302
    bad = other.post(reverse("delib_portal:track"), {"number": topic.number, "phone": "13900007777"})
    assert "编号或手机号码不正确" in bad.content.decode()
    ok = other.post(reverse("delib_portal:track"), {"number": topic.number, "phone": "13900006666"})
    assert ok.status_code == 302 and other.get(r.url).status_code == 200


def test_unit_page_links_to_deliberation(client, tree):
    html = client.get(reverse("portal:unit", args=[tree.units[0].code])).content.decode()
    assert reverse("delib_portal:unit", args=[tree.units[0].code]) in html
    home = client.get(reverse("delib_portal:unit", args=[tree.units[0].code])).content.decode()
    assert re.search(r"提出议题", home) and reverse("delib_portal:board", args=[tree.community.code]) in home


def test_households_by_unit(client, helpers, people, tree, make_household):
    h1 = make_household(tree.dwellings[0])
    h2 = make_household(tree.dwellings[4])  # the second unit of building 1
    t = helpers.propose()
    login(client, people.secretary)
    page = client.get(reverse("deliberation:households", args=[t.pk])).content.decode()
    assert "1栋1单元" in page and "2栋" not in page
    r = client.post(reverse("deliberation:households", args=[t.pk]),
                    {"affected": [tree.units[0].pk, tree.units[1].pk], "benefited": [tree.units[0].pk]})
    assert r.status_code == 302
    assert set(t.households_affected.all()) == {h1, h2} and list(t.households_benefited.all()) == [h1]


def test_body_edit_refuses_a_stale_page(client, bodies, people):
    login(client, people.secretary)
    body = bodies.building
    data = {"name": "1栋议事会", "kind": "building", "quorum_num": 2, "quorum_den": 3, "pass_num": 1, "pass_den": 2,
            "pass_base": "present", "pass_strict": "on", "proxy_counts": "on", "version": body.version,
            "new_members": "王新 居民代表"}
    assert client.post(reverse("deliberation:body_edit", args=[body.pk]), data).status_code == 302
    body.refresh_from_db()
    assert body.name == "1栋议事会" and body.quorum_num == 2 and body.members.count() == 6
    r = client.post(reverse("deliberation:body_edit", args=[body.pk]), data | {"name": "旧页面"})
    assert r.status_code == 400 and "已被其他人修改" in r.content.decode()
