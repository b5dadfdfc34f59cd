"""Signing in on a phone: the lock after repeated wrong passwords, and the two-step code."""

from __future__ import annotations

import time
import uuid

import pyotp
import pytest

from wuzhi.core import auth

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect


@pytest.fixture(autouse=True)
def _private_cache(settings):
    # The live server runs in this process, so it counts failures in this test's own cache.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"login-{uuid.uuid4()}"}}


def sign_in(page, url, username, password):
    page.goto(f"{url}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_lock_message_and_two_step_code_on_the_phone(live_server, transactional_db, people, phone_page):
    page = phone_page
    for i in range(4):
        sign_in(page, live_server.url, "worker1", f"wrong-{i}")
    expect(page.get_by_role("alert")).to_contain_text("再错 1 次,该账号将被锁定 15 分钟")
    sign_in(page, live_server.url, "worker1", "wrong-5")
    expect(page.get_by_role("alert")).to_contain_text("该账号登录失败次数过多,已暂时锁定")
    sign_in(page, live_server.url, "worker1", "wuzhi-test-pw")
    expect(page.get_by_role("alert")).to_contain_text("已暂时锁定")
    assert page.url.endswith("/login/")

    secret = pyotp.random_base32()
    auth.totp_enable(actor=people.worker2, user=people.worker2, secret=secret, code=pyotp.TOTP(secret).now())
    sign_in(page, live_server.url, "worker2", "wuzhi-test-pw")
    page.wait_for_url("**/login/code/")
    code = page.get_by_label("6位验证码")
    assert code.get_attribute("inputmode") == "numeric"  # the phone shows the digit keypad
    code.fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".wz-tabbar")).to_be_visible()
