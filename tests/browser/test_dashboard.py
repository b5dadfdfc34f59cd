"""The secretary opens the 五治 dashboard of her community, drills down to a grid, and follows a
figure to the rows behind it; on a phone the cards stack and the charts draw."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect

DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def desktop_page(browser):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")


def test_drill_down_from_community_to_grid_and_follow_a_figure(live_server, transactional_db, tree, people,
                                                               make_household, desktop_page):
    make_household(tree.dwellings[0], [("张黎", {"birth": "19700512"}), ("王芳", {"birth": "20150101", "male": False})])
    second = make_household(tree.dwellings[1], [("李明", {"birth": "19400101"})])
    make_household(tree.dwellings[8], [("赵强", {})])
    page = desktop_page
    login(page, live_server, "secretary")

    page.get_by_role("link", name="统计").click()
    page.wait_for_url("**/reports/")
    expect(page.locator("#dashboard-title")).to_have_text("福兴社区 · 五治统计")
    expect(page.locator('#headline [data-figure="households"] .wz-stat')).to_contain_text("3")
    # The charts are drawn by the vendored ECharts.
    expect(page.locator('.wz-chart[data-chart="pyramid"] canvas')).to_have_count(1)

    drill = page.locator("#drilldown")
    expect(drill.get_by_role("row")).to_have_count(3)  # header + two grids
    drill.get_by_role("link", name="1网格").click()
    page.wait_for_url(f"**/reports/?area={tree.grids[0].code}*")
    expect(page.locator("#dashboard-title")).to_have_text("1网格 · 五治统计")
    expect(page.locator('#headline [data-figure="households"] .wz-stat')).to_contain_text("2")
    # The breadcrumb leads back to the community.
    expect(page.get_by_role("navigation", name="区域层级").get_by_role("link", name="福兴社区")).to_be_visible()

    page.locator('#headline [data-figure="households"]').click()
    page.wait_for_url(f"**/registry/households/?area={tree.grids[0].pk}")
    expect(page.get_by_role("cell", name=second.head.name, exact=True)).to_be_visible()
    expect(page.get_by_text("赵强")).to_have_count(0)  # the other grid's household is not among the rows


def test_phone_dashboard_stacks_cards(live_server, transactional_db, tree, people, make_household, phone_page):
    make_household(tree.dwellings[0], [("张黎", {})])
    page = phone_page
    login(page, live_server, "worker1")
    page.goto(f"{live_server.url}/reports/")
    expect(page.locator("#dashboard-title")).to_have_text("1网格 · 五治统计")
    cards = page.locator("#headline > div")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    assert first and second and first["width"] < 200  # two cards a row on a 390 px phone
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
