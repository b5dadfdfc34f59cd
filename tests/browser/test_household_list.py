"""The household list is rendered once: a table on a desktop, each row a card on a phone (CSS
only). Both sizes must show every household with its head, size, tags and last visit."""

from __future__ import annotations

import pytest

from wuzhi.registry import services as reg
from wuzhi.registry.models import Tag

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api", reason="需要 playwright")


def _login(page, base):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill("worker1")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


@pytest.fixture
def households(transactional_db, tree, people, make_household):
    alone = Tag.objects.create(name="独居老人", visit_interval_days=30, color="danger")
    first = make_household(tree.dwellings[0], [("张黎", {"birth": "19480312"}), ("夏红燕", {"male": False})])
    reg.set_resident_tags(actor=None, resident=first.head, tags=[alone])
    second = make_household(tree.dwellings[1], [("王芳", {})])
    return first, second


def test_rows_are_cards_on_a_phone(live_server, households, phone_page):
    first, second = households
    page = phone_page
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/registry/households/")
    rows = page.locator(".wz-households tbody tr")
    assert rows.count() == 2
    card = rows.first
    assert card.evaluate("r => getComputedStyle(r).display") == "grid"
    assert not page.locator(".wz-households thead").is_visible()
    assert not card.locator(".wz-hh-number").is_visible()  # the household number stays on the desktop
    text = card.inner_text()
    assert "张黎" in text and "2人" in text and "独居老人" in text and "从未走访" in text
    head_label = card.locator(".wz-hh-head").evaluate("td => getComputedStyle(td, '::before').content")
    assert "户主" in head_label  # "户主 张黎" on the card; on a desktop the column header says it
    # The address and the last visit share the card's first line.
    address, visit = card.locator(".wz-hh-address").bounding_box(), card.locator(".wz-hh-visit").bounding_box()
    assert abs(address["y"] - visit["y"]) < address["height"] and visit["x"] > address["x"]
    # The whole card opens the household, not only its address.
    box = card.locator(".wz-hh-head").bounding_box()
    page.mouse.click(box["x"] + box["width"] + 40, box["y"] + box["height"] / 2)
    page.wait_for_url(f"**/registry/households/{first.pk}/")


def test_rows_are_a_table_on_a_desktop(live_server, households, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    try:
        _login(page, live_server.url)
        page.goto(f"{live_server.url}/registry/households/")
        assert page.locator(".wz-households thead").is_visible()
        row = page.locator(".wz-households tbody tr").first
        assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
        assert row.locator(".wz-hh-number").inner_text() == households[0].number
        assert row.locator(".wz-hh-head").inner_text() == "张黎"  # the label is the column header here
    finally:
        context.close()
