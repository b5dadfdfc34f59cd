"""A resident on a phone reports a broken stair light from the unit's QR page → the grid worker
sees it in the queue and assigns it → it is resolved → the resident rates it."""

from __future__ import annotations

import re

import pytest

from wuzhi.cases.models import Case, CaseKind, CaseState, Category

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect


def test_stair_light_from_report_to_rating(live_server, transactional_db, tree, people, phone_page):
    # An unrouted category: the case waits at 受理 for the grid worker to assign it.
    Category.objects.create(kind=CaseKind.REPORT, name="设施损坏", deadline_hours=48)
    unit = tree.units[0]
    page = phone_page

    # The resident scans the unit's QR code: no login, the unit is prefilled.
    page.goto(f"{live_server.url}/cases/p/u/{unit.code}/new/")
    expect(page.locator("#unit-name")).to_contain_text("1栋1单元")
    page.get_by_label("反映什么").select_option(label="报事·设施损坏")
    page.get_by_label("具体情况").fill("3楼楼道灯坏了,晚上上下楼看不见")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_role("button", name="提交").click()
    page.wait_for_url(re.compile(r"/cases/p/c/\d+/$"))
    number = page.locator("#case-number").inner_text()
    expect(page.locator("#case-state")).to_have_text("已受理")
    case = Case.objects.get(number=number)
    assert case.area == unit and case.reporter_phone_masked == "139****5678"

    # The grid worker, on another phone, finds it in the queue and assigns it to themself.
    worker = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                              has_touch=True, locale="zh-CN").new_page()
    worker.set_default_timeout(15_000)
    worker.goto(f"{live_server.url}/login/")
    worker.get_by_label("用户名").fill("worker1")
    worker.get_by_label("密码").fill("wuzhi-test-pw")
    worker.get_by_role("button", name="登录").click()
    worker.wait_for_url(f"{live_server.url}/")
    worker.goto(f"{live_server.url}/cases/")
    worker.locator("#queue").get_by_text("3楼楼道灯坏了").click()
    worker.wait_for_url(f"**/cases/{case.pk}/")
    assign = worker.locator("form", has=worker.get_by_role("button", name="分派", exact=True))
    assign.get_by_label("承办人").select_option(label="王网格")
    assign.get_by_role("button", name="分派", exact=True).click()
    expect(worker.locator("#assignee")).to_contain_text("王网格")
    worker.get_by_role("button", name="开始办理").click()
    expect(worker.locator("#case-state")).to_contain_text("处理中")
    worker.get_by_label("办结:办理结果").fill("已更换声控灯")
    worker.get_by_role("button", name="办结", exact=True).click()
    expect(worker.locator("#case-state")).to_contain_text("已办结")
    worker.context.close()

    # Back on the resident's phone: the result and a rating form.
    page.reload()
    expect(page.get_by_text("已更换声控灯").first).to_be_visible()
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator("#case-state")).to_have_text("已回访")
    case.refresh_from_db()
    assert case.state == CaseState.REVIEWED and case.satisfaction == "satisfied"
    labels = list(case.events.values_list("label", flat=True))
    assert labels == ["受理", "分派", "开始办理", "办结", "回访"]
