"""Login hardening (wuzhi.core.auth): throttling, the two-step code, idle sessions, the password
policy, CSRF coverage, security headers and `check --deploy` under production settings."""

from __future__ import annotations

import base64
import io
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyotp
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from wuzhi.core import auth, crypto
from wuzhi.core import services as core_services
from wuzhi.core.models import StaffProfile
from wuzhi.core.roles import Role

PASSWORD = "wuzhi-test-pw"  # tests/conftest.py make_user
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Counters and locks in a cache of this test alone: the default file cache is shared with every
    other test run on the machine, and a lock on "worker1" there would break their logins."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"auth-{uuid.uuid4()}"}}


def login_post(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def page(response) -> str:
    return response.content.decode()


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# ---- throttling ------------------------------------------------------------------------------


def test_five_failures_lock_the_username_with_a_chinese_message(client, people, caplog):
    caplog.set_level(logging.WARNING, logger="wuzhi.auth")
    first = page(login_post(client, "worker1", "wrong-1"))
    assert "用户名或密码不正确,请重新输入。" in first
    for i in range(2, 5):
        html = page(login_post(client, "worker1", f"wrong-{i}"))
    assert "再错 1 次,该账号将被锁定 15 分钟" in html
    locked = page(login_post(client, "worker1", "wrong-5"))
    assert "该账号登录失败次数过多,已暂时锁定。请在" in locked and "之后再试(约 15 分钟)" in locked

    # While locked not even the right password gets in, whatever the letter case.
    for name in ("worker1", "WORKER1"):
        response = login_post(client, name, PASSWORD)
        assert response.status_code == 200 and "已暂时锁定" in page(response)
    assert not is_logged_in(client)
    # Another account is not affected.
    assert login_post(client, "worker2", PASSWORD).status_code == 302

    logged = [r.getMessage() for r in caplog.records if r.name == "wuzhi.auth"]
    assert sum("login failed" in m and "'worker1'" in m for m in logged) == 5
    assert any("login locked: user='worker1'" in m for m in logged)
    assert any("login refused while locked" in m for m in logged)
    assert not any(PASSWORD in m or "wrong-" in m for m in logged)  # never the password


def test_lock_ends_after_fifteen_minutes(client, people, monkeypatch):
    for i in range(5):
        login_post(client, "worker1", f"wrong-{i}")
    assert "已暂时锁定" in page(login_post(client, "worker1", PASSWORD))
    later = time.time() + 15 * 60 + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the lock's own timestamp and the cache's expiry
    assert login_post(client, "worker1", PASSWORD).status_code == 302


def test_success_resets_the_username_counter(client, people):
    for i in range(4):
        login_post(client, "worker1", f"wrong-{i}")
    assert login_post(client, "worker1", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for i in range(4):
        html = page(login_post(client, "worker1", f"again-{i}"))
    assert "已暂时锁定" not in html  # four more failures: the counter started again from zero
    assert login_post(client, "worker1", PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_lock_that_address(client, people):
    for i in range(20):  # four usernames × five would lock each of them too; use twenty names
        login_post(client, f"nobody{i}", "guess", REMOTE_ADDR="10.9.8.7")
    html = page(login_post(client, "worker2", PASSWORD, REMOTE_ADDR="10.9.8.7"))
    assert "此网络登录失败次数过多,已暂停登录。请在" in html
    assert not is_logged_in(client)
    # The same account from another address is fine: the lock is on the address.
    assert login_post(Client(), "worker2", PASSWORD, REMOTE_ADDR="10.9.8.8").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_throttled(client, people, settings):
    settings.BEHIND_PROXY = True
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for i in range(20):
        login_post(client, f"nobody{i}", "guess", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9", **proxy)
    # The address the proxy saw (the last entry) is locked; the proxy itself is not.
    assert "此网络登录失败次数过多" in page(login_post(client, "worker1", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9",
                                                **proxy))
    assert login_post(Client(), "worker1", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10", **proxy).status_code == 302


def test_demo_password_still_logs_in(client, db):
    # The demo generator stores the hash directly (no validators), like this.
    get_user_model().objects.create(username="wgy1", password=make_password("wuzhi2026"))
    assert login_post(client, "wgy1", "wuzhi2026").status_code == 302 and is_logged_in(client)


def test_admin_login_goes_through_the_throttled_page(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# ---- TOTP ------------------------------------------------------------------------------------


def enrol(client, user) -> str:
    """Enrol `user` through the page; returns the secret."""
    client.force_login(user)
    html = page(client.get(reverse("totp_enrol")))
    secret = client.session[auth.NEW_SECRET]
    assert "<svg" in html and secret[:4] in html
    wrong = client.post(reverse("totp_enrol"), {"code": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    assert wrong.status_code == 400 and "验证码不正确" in page(wrong)
    assert not auth.totp_enabled(user)
    response = client.post(reverse("totp_enrol"), {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302 and response["Location"] == reverse("my_profile")
    client.post(reverse("logout"))
    return secret


def code_at(secret: str, seconds_from_now: float) -> str:
    return pyotp.TOTP(secret).at(time.time() + seconds_from_now)


def test_enrolment_stores_the_secret_encrypted(client, people):
    secret = enrol(client, people.worker1)
    profile = StaffProfile.objects.get(user=people.worker1)
    assert secret not in profile.totp_secret_enc and crypto.decrypt(profile.totp_secret_enc) == secret
    assert profile.totp_enabled_at is not None and profile.totp_last_step is not None
    client.force_login(people.worker1)
    assert "两步验证已启用" in page(client.get(reverse("my_profile")))


def test_enrolled_user_needs_the_code_and_codes_cannot_be_reused(client, people):
    secret = enrol(client, people.worker1)
    response = client.post(reverse("login") + "?next=/registry/", {"username": "worker1", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("login_code")
    assert not is_logged_in(client)  # the password alone does not log in
    assert client.get(reverse("home")).status_code == 302

    step_page = page(client.get(reverse("login_code")))
    assert "两步验证" in step_page and 'autocomplete="one-time-code"' in step_page
    bad = client.post(reverse("login_code"), {"code": "12345"})
    assert bad.status_code == 400 and "请输入验证器上显示的6位数字" in page(bad)
    # The code used at enrolment (its step is remembered) is refused, even inside its window.
    enrolled_step = StaffProfile.objects.get(user=people.worker1).totp_last_step
    used = client.post(reverse("login_code"), {"code": pyotp.TOTP(secret).generate_otp(enrolled_step)})
    assert used.status_code == 400 and "验证码不正确或已使用过" in page(used)
    assert not is_logged_in(client)

    fresh = code_at(secret, 30)  # next step: allowed by the one-step drift, never used before
    response = client.post(reverse("login_code"), {"code": fresh})
    assert response.status_code == 302 and response["Location"] == "/registry/"
    assert is_logged_in(client) and auth.PENDING not in client.session

    # The same code once more, in a new login: refused.
    client.post(reverse("logout"))
    login_post(client, "worker1", PASSWORD)
    again = client.post(reverse("login_code"), {"code": fresh})
    assert again.status_code == 400 and not is_logged_in(client)


def test_verify_code_consumes_its_time_step(people):
    secret = pyotp.random_base32()
    now = 1_800_000_000.0
    totp = pyotp.TOTP(secret)
    StaffProfile.objects.create(user=people.worker1, totp_secret_enc=crypto.encrypt(secret))
    assert auth.verify_code(user=people.worker1, code=totp.at(now), now=now)
    assert not auth.verify_code(user=people.worker1, code=totp.at(now), now=now)  # replay
    assert not auth.verify_code(user=people.worker1, code=totp.at(now - 30), now=now)  # older step
    assert not auth.verify_code(user=people.worker1, code=totp.at(now + 90), now=now)  # too far ahead
    assert auth.verify_code(user=people.worker1, code=totp.at(now + 30), now=now + 30)


def test_totp_secrets_follow_key_rotation(people, settings):
    from wuzhi.core.backup import rotate_keys

    secret = pyotp.random_base32()
    auth.totp_enable(actor=people.worker1, user=people.worker1, secret=secret, code=code_at(secret, 0))
    settings.FIELD_KEYS = "k9:" + base64.urlsafe_b64encode(b"n" * 32).decode() + "," + settings.FIELD_KEYS
    assert rotate_keys()["core.StaffProfile.totp_secret_enc"] == 1
    assert StaffProfile.objects.get(user=people.worker1).totp_secret_enc.startswith("k9:")
    assert auth.verify_code(user=people.worker1, code=code_at(secret, 30))


def test_wrong_codes_count_towards_the_lock(client, people):
    enrol(client, people.worker1)
    login_post(client, "worker1", PASSWORD)
    for _ in range(4):
        assert client.post(reverse("login_code"), {"code": "000001"}).status_code == 400
    response = client.post(reverse("login_code"), {"code": "000001"}, follow=True)
    assert "已暂时锁定" in page(response) and auth.PENDING not in client.session
    # A correct password does not reopen the guessing: the username is locked.
    assert "已暂时锁定" in page(login_post(client, "worker1", PASSWORD))


def test_the_code_step_expires(client, people, monkeypatch):
    enrol(client, people.worker1)
    login_post(client, "worker1", PASSWORD)
    later = time.time() + auth.PENDING_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get(reverse("login_code"), follow=True)
    assert "验证已超时,请重新输入用户名和密码" in page(response)


def test_required_role_must_enrol_before_anything_else(client, people, settings):
    settings.WUZHI_TOTP_REQUIRED_ROLES = ["secretary"]
    response = client.post(reverse("login") + "?next=/registry/", {"username": "secretary", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(reverse("totp_enrol") + "?next=")
    # Every other page sends them back, also htmx fragments.
    assert client.get(reverse("home"))["Location"] == reverse("totp_enrol")
    assert client.get(reverse("home"), HTTP_HX_REQUEST="true")["HX-Redirect"] == reverse("totp_enrol")
    html = page(client.get(reverse("totp_enrol")))
    assert "必须启用两步验证后才能继续使用" in html
    secret = client.session[auth.NEW_SECRET]
    done = client.post(reverse("totp_enrol"), {"code": pyotp.TOTP(secret).now(), "next": "/registry/"})
    assert done["Location"] == "/registry/"
    assert client.get(reverse("home")).status_code == 200
    # The holder cannot switch it off; the profile page says so.
    assert "必须使用两步验证" in page(client.get(reverse("my_profile")))
    client.post(reverse("totp_disable"), {"code": code_at(secret, 30)})
    assert auth.totp_enabled(people.secretary)
    # Other roles are not forced.
    other = Client()
    assert login_post(other, "worker1", PASSWORD)["Location"] == reverse("home")


def test_holder_disables_with_a_code_and_admin_resets(client, people):
    secret = enrol(client, people.worker1)
    client.force_login(people.worker1)
    client.post(reverse("totp_disable"), {"code": "999999" if code_at(secret, 30) != "999999" else "888888"})
    assert auth.totp_enabled(people.worker1)
    client.post(reverse("totp_disable"), {"code": code_at(secret, 30)})
    assert not auth.totp_enabled(people.worker1)

    enrol(client, people.worker2)
    out = io.StringIO()
    call_command("totp_reset", "worker2", stdout=out)
    assert "已重置“worker2”的两步验证" in out.getvalue()
    assert not auth.totp_enabled(people.worker2)
    assert login_post(client, "worker2", PASSWORD)["Location"] == reverse("home")


# ---- sessions --------------------------------------------------------------------------------


def set_session(client, **values):
    session = client.session
    session.update(values)
    session.save()


def test_idle_session_is_logged_out(client, people, settings):
    settings.WUZHI_SESSION_IDLE_MINUTES = 120
    client.force_login(people.worker1)
    assert client.get(reverse("home")).status_code == 200
    stamp = client.session[auth.LAST_SEEN]
    # Written at most once a minute: a second request does not touch the session.
    client.get(reverse("home"))
    assert client.session[auth.LAST_SEEN] == stamp

    set_session(client, **{auth.LAST_SEEN: int(time.time()) - 119 * 60})
    assert client.get(reverse("home")).status_code == 200  # 119 minutes: still in
    assert client.session[auth.LAST_SEEN] >= int(time.time()) - 5  # and the stamp moved on

    set_session(client, **{auth.LAST_SEEN: int(time.time()) - 121 * 60})
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not is_logged_in(client)
    assert "您已超过 120 分钟未操作" in page(client.get(response["Location"]))


def test_idle_htmx_request_reloads_to_the_login_page(client, people):
    client.force_login(people.worker1)
    client.get(reverse("home"))
    set_session(client, **{auth.LAST_SEEN: int(time.time()) - 200 * 60})
    response = client.get(reverse("home"), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/registry/")
    assert response["HX-Redirect"].startswith(reverse("login") + "?next=")


def test_session_has_an_absolute_age(client, people, settings):
    client.force_login(people.worker1)
    client.get(reverse("home"))
    set_session(client, **{auth.SIGNED_IN_AT: int(time.time()) - settings.SESSION_COOKIE_AGE - 1})
    assert client.get(reverse("home")).status_code == 302 and not is_logged_in(client)


def test_session_cookie_settings(settings):
    assert settings.SESSION_COOKIE_SAMESITE == "Lax" and settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_AGE == 10 * 3600


# ---- password policy ---------------------------------------------------------------------------


def test_password_change_applies_the_staff_policy(client, people):
    client.force_login(people.worker1)
    assert "修改密码" in page(client.get(reverse("my_profile")))
    form = page(client.get(reverse("password_change")))
    assert "旧密码" in form and "新密码" in form
    url = reverse("password_change")
    short = client.post(url, {"old_password": PASSWORD, "new_password1": "lh7kq2mz9", "new_password2": "lh7kq2mz9"})
    assert "密码太短,至少需要 10 个字符。" in page(short)
    wrong_old = client.post(url, {"old_password": "nope", "new_password1": "lh7kq2mz9x", "new_password2": "lh7kq2mz9x"})
    assert "你的旧密码不正确" in page(wrong_old)
    common = client.post(url, {"old_password": PASSWORD, "new_password1": "password123",
                               "new_password2": "password123"})
    assert "这个密码太常见了" in page(common)
    done = client.post(url, {"old_password": PASSWORD, "new_password1": "lh7kq2mz9x", "new_password2": "lh7kq2mz9x"})
    assert done.status_code == 302 and done["Location"] == reverse("my_profile")
    assert is_logged_in(client)  # this session stays; others are invalidated by the hash
    people.worker1.refresh_from_db()
    assert people.worker1.check_password("lh7kq2mz9x")


def test_residents_need_eight_characters_staff_ten(people, tree, make_user):
    validator = auth.StaffMinimumLengthValidator(min_length=10, resident_min_length=8)
    resident = make_user("jumin_t", Role.RESIDENT, tree.units[0])
    validator.validate("lh7kq2mz", resident)
    with pytest.raises(ValidationError):
        validator.validate("lh7kq2mz", people.worker1)
    with pytest.raises(ValidationError):
        validator.validate("lh7kq2mz", get_user_model()(username="new"))  # not saved: staff rule
    core_services.grant_role(actor=None, user=resident, role=Role.VOLUNTEER, area=tree.units[0])
    with pytest.raises(ValidationError):
        validator.validate("lh7kq2mz", resident)


# ---- CSRF and headers ----------------------------------------------------------------------------


def _callbacks(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _callbacks(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def test_only_the_signed_alarm_webhook_is_csrf_exempt():
    from rest_framework.authentication import SessionAuthentication
    from rest_framework.views import APIView

    exempt = []
    for route, view in _callbacks(get_resolver()):
        if not getattr(view, "csrf_exempt", False):
            continue
        cls = getattr(view, "cls", None)
        if cls is not None and issubclass(cls, APIView):
            # DRF exempts at Django level and enforces CSRF itself in SessionAuthentication:
            # a subclass that skipped the check would show up here.
            for auth_class in cls().get_authenticators():
                if isinstance(auth_class, SessionAuthentication):
                    assert type(auth_class).enforce_csrf is SessionAuthentication.enforce_csrf, route
            continue
        exempt.append(f"{view.__module__}.{view.__name__}")
    assert exempt == ["wuzhi.alarms.ingest_http.receive"]
    in_source = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "wuzhi").rglob("*.py")
                       if "@csrf_exempt" in p.read_text())
    assert in_source == ["wuzhi/alarms/ingest_http.py"]


def test_posts_without_a_csrf_token_are_refused(people):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(reverse("login"), {"username": "worker1", "password": PASSWORD}).status_code == 403
    browser.force_login(people.worker1)
    assert browser.post(reverse("my_profile"), {"phone": ""}).status_code == 403
    # The API with a session cookie (not a token) needs the token too.
    response = browser.post("/api/visits/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in page(response)


def test_security_headers(client, people):
    response = client.get(reverse("login"))
    assert "script-src 'self'" in response["Content-Security-Policy-Report-Only"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


# ---- production settings -------------------------------------------------------------------------


def _check_deploy(tmp_path, **env_extra) -> subprocess.CompletedProcess[str]:
    # Neither this run's settings nor the browser tests' DJANGO_ALLOW_ASYNC_UNSAFE (set in their
    # conftest, inherited by subprocesses) belong to a production environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WUZHI_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="wuzhi.settings",
        WUZHI_HOME=str(tmp_path),
        WUZHI_SECRET_KEY="k" + uuid.uuid4().hex + uuid.uuid4().hex + "-Production-Secret",
        WUZHI_ALLOWED_HOSTS="wuzhi.example.cn",
        WUZHI_CSRF_TRUSTED_ORIGINS="https://wuzhi.example.cn",
        **env_extra,
    )
    return subprocess.run([sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = _check_deploy(tmp_path, WUZHI_HTTPS="1")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
    # Without HTTPS the same check fails: the test does look at the warnings.
    plain = _check_deploy(tmp_path)
    assert plain.returncode != 0 and "security.W008" in plain.stderr
