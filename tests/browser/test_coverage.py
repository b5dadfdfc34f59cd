"""The community secretary at her desk: open the 三联系 coverage page, pick a party member for a
household that has no helper by typing in the searchable input, assign, and watch the number of
households without a helper drop."""

from __future__ import annotations

import pytest

from wuzhi.party import services
from wuzhi.party.models import Pairing

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


def test_secretary_assigns_a_helper_and_the_uncovered_count_drops(live_server, transactional_db, tree, people,
                                                                  make_household, desktop_page):
    branch = services.branch_create(actor=None, area=tree.community, name="第一网格党支部")
    member = services.member_create(actor=None, branch=branch, name="马建林")
    covered = make_household(tree.dwellings[0], [("张黎", {})])
    services.pairing_create(actor=None, household=covered, member=member)
    target = make_household(tree.dwellings[1], [("王芳", {})])
    make_household(tree.dwellings[8], [("李明", {})])
    page = desktop_page

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("secretary")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="党建").click()
    page.get_by_role("link", name="联系户覆盖").click()
    page.wait_for_url("**/party/coverage/")
    expect(page.locator("#uncovered-count")).to_have_text("2")

    row = page.locator(f"#household-{target.pk}")
    expect(row).to_contain_text(target.address)
    helper = row.get_by_role("combobox")  # a text input tied to the <datalist> of helpers
    helper.press_sequentially("马建", delay=60)
    # The datalist offers exactly the people the page was allowed to show.
    assert page.locator("#wz-helpers option").evaluate_all("os => os.map(o => o.value)") == ["马建林(第一网格党支部)"]
    helper.fill("马建林(第一网格党支部)")
    row.get_by_role("button", name="指派").click()

    page.wait_for_url("**/party/coverage/")
    expect(page.locator("#uncovered-count")).to_have_text("1")
    expect(page.get_by_text(f"已为{target.address}指派联系人马建林")).to_be_visible()
    expect(page.locator(f"#household-{target.pk}")).to_have_count(0)
    assert Pairing.objects.get(household=target, ended_on=None).member == member
