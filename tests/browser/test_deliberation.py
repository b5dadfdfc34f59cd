"""A resident proposes on a phone from the unit's QR page → the secretary accepts it on the
desktop → a meeting of the building council with attendance and a vote → the decision appears on
the public board → the resident objects during the notice period → the 两委 answer, in public."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from wuzhi.core.roles import Role
from wuzhi.deliberation import services
from wuzhi.deliberation.models import BodyKind, Topic, TopicState

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect

DESKTOP = {"width": 1366, "height": 900}


def test_proposal_to_public_decision_and_answered_objection(live_server, transactional_db, tree, make_user,
                                                            phone_page):
    shuji = make_user("shuji", Role.SECRETARY, tree.community, name="李书记")
    body = services.body_save(actor=shuji, area=tree.buildings[0], name="1栋楼栋议事会", kind=BodyKind.BUILDING_COUNCIL,
                              quorum_num=2, quorum_den=3)
    services.members_add(actor=shuji, body=body, on=dt.date(2000, 1, 1),
                         people=[{"name": n, "role": "成员"} for n in ("王建国", "李秀英", "张志强", "刘桂芳", "陈明")])
    unit = tree.units[0]
    page = phone_page

    # The resident scans the unit's QR code and proposes a topic: no login, the unit is prefilled.
    page.goto(f"{live_server.url}/p/u/{unit.code}/")
    page.locator("#action-propose").click()
    expect(page.locator("#unit-name")).to_contain_text("1栋1单元")
    page.get_by_label("楼栋").check()
    page.get_by_label("议题").fill("楼道灯改为声控感应灯")
    page.get_by_label("情况和建议").fill("楼道灯老化,晚上看不见,老人容易摔倒")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_role("button", name="提交议题").click()
    page.wait_for_url(re.compile(r"/p/d/t/YS\d+/$"))
    expect(page.locator("#topic-state")).to_have_text("提议")
    topic = Topic.objects.get(number=page.locator("#topic-number").inner_text())
    assert topic.area == tree.buildings[0] and topic.proposer_phone_masked == "139****5678"

    # The secretary, at the desk: 审议 → 合议.
    desk = page.context.browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    desk.set_default_timeout(15_000)
    desk.goto(f"{live_server.url}/login/")
    desk.get_by_label("用户名").fill("shuji")
    desk.get_by_label("密码").fill("wuzhi-test-pw")
    desk.get_by_role("button", name="登录").click()
    desk.wait_for_url(f"{live_server.url}/")
    desk.goto(f"{live_server.url}/deliberation/")
    desk.locator("#topics").get_by_text("楼道灯改为声控感应灯").click()
    desk.get_by_role("button", name="审议:同意提交合议").click()
    expect(desk.locator("#topic-state")).to_contain_text("合议")

    # The building council meets: one member by proxy, one absent; the vote passes.
    desk.get_by_role("link", name=re.compile("记录议事会议")).click()
    desk.locator("#bodies").get_by_text("1栋楼栋议事会").click()
    desk.get_by_role("button", name="全部出席").click()
    rows = desk.locator("#attendance tr")
    rows.nth(3).get_by_label("委托").check()
    rows.nth(3).get_by_placeholder("受托人").fill("其子")
    rows.nth(4).get_by_label("缺席").check()
    desk.get_by_label("会议记录").fill("成员一致认为需要更换,费用从楼栋维修资金列支")
    desk.get_by_role("button", name="保存会议记录").click()
    expect(desk.locator("#quorum")).to_contain_text("达到")
    desk.get_by_label("赞成").fill("3")
    desk.get_by_label("反对").fill("1")
    desk.get_by_label("决议内容").fill("更换1栋楼道灯为声控感应灯,两周内完成")
    desk.get_by_role("button", name="记录表决").click()
    expect(desk.locator("#topic-state")).to_contain_text("决议")
    desk.get_by_role("button", name="公示").click()
    expect(desk.locator("#disclosures")).to_contain_text("决议公开")

    # The resident sees the decision on the public board and objects.
    page.reload()
    expect(page.locator("#decision")).to_contain_text("声控感应灯")
    page.goto(f"{live_server.url}/p/d/board/{tree.community.code}/")
    page.locator("#board").get_by_text("楼道灯改为声控感应灯").click()
    expect(page.locator("#notice")).to_contain_text("两周内完成")
    page.get_by_label("您的意见").fill("希望晚上不要施工,家里有老人")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_role("button", name="提交意见").click()
    expect(page.locator("#objections")).to_contain_text("希望晚上不要施工")

    # The 两委 answer it; the answer is public, the resident's phone never is.
    desk.reload()
    desk.get_by_label("答复内容").fill("只在白天施工,每天18点前结束")
    desk.get_by_role("button", name="答复", exact=True).click()
    expect(desk.locator("#disclosures")).to_contain_text("只在白天施工")
    page.reload()
    expect(page.locator("#objections")).to_contain_text("只在白天施工")
    html = page.content()
    assert "13912345678" not in html and "5678" not in html
    desk.context.close()
    topic.refresh_from_db()
    assert topic.state == TopicState.DECIDED
    labels = list(topic.events.values_list("label", flat=True))
    assert labels[:5] == ["提议", "审议:同意提交合议", "楼栋议事会", "表决", "决议"]
