"""A grid worker on their phone: log in, find 张黎 by typing `zl`, open the household, record a
visit and see it in the timeline."""

from __future__ import annotations

import re

import pytest

from wuzhi.core.models import AccessLog
from wuzhi.registry.models import Visit

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect


def test_grid_worker_records_a_visit_on_the_phone(live_server, transactional_db, tree, people, make_household,
                                                  phone_page):
    household = make_household(tree.dwellings[0], [("张黎", {"birth": "19480312"}),
                                                   ("夏红燕", {"male": False, "relation": "配偶"})])
    make_household(tree.dwellings[1], [("王芳", {})])
    page = phone_page

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("worker1")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")

    # The bottom tab bar is the phone's navigation.
    page.locator(".wz-tabbar").get_by_text("查找").click()
    page.wait_for_url("**/registry/residents/")
    search = page.get_by_role("searchbox", name="搜索")
    search.press_sequentially("zl", delay=80)  # real key presses: htmx searches as you type
    results = page.locator("#results .wz-residents")
    # Before the search the list shows everyone; after the swap only 张黎 is left.
    expect(results.get_by_text("王芳")).to_have_count(0)
    expect(results.get_by_text("张黎")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=zl"))  # the live search keeps the address shareable

    results.locator("tr", has_text="张黎").click()  # the whole card opens the household
    page.wait_for_url(f"**/registry/households/{household.pk}/")

    # "显示完整号码": an htmx POST (with the CSRF header from base.html) swaps in the full number.
    page.locator(".wz-reveal").first.click()
    expect(page.locator(".wz-revealed").first).to_have_text(re.compile(r"^\d{17}[\dX]$"))
    assert AccessLog.objects.filter(actor=people.worker1, field="id_number").count() == 1
    page.get_by_role("link", name="记录走访").first.click()

    page.get_by_label("走访情况").fill("老人精神很好,家中取暖正常。")
    page.get_by_label("张黎(户主)").check()
    page.get_by_role("button", name="保存走访").click()

    page.wait_for_url(f"**/registry/households/{household.pk}/#visits")
    timeline = page.locator("#visits .wz-timeline")
    timeline.get_by_text("老人精神很好,家中取暖正常。").wait_for()
    assert "王网格" in timeline.inner_text()
    assert page.get_by_text("走访已记录").is_visible()

    visit = Visit.objects.get()
    assert list(visit.residents.values_list("name", flat=True)) == ["张黎"]
    household.refresh_from_db()
    assert household.last_visited_at == visit.visited_at
