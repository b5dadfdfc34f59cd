"""Playwright fixtures driving Debian's chromium (no downloaded browser builds).

Playwright's sync API runs an event loop in the test thread, and Django refuses ORM calls from a
thread with a running loop unless told that this is intended; fixtures and assertions here do
use the ORM, so allow it for the browser tests."""

from __future__ import annotations

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"需要 Debian 的 chromium({CHROMIUM} 不存在;apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="需要 playwright(pip install playwright)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def phone_page(browser):
    """A page the size of a common phone (390×844), touch enabled, Chinese locale."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
