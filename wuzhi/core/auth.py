"""Signing in and staying signed in: throttled logins, the two-step code (TOTP), idle sessions and
the password length rule.

* Throttling. Failed logins are counted in Django's cache, which every process shares (a file
  cache on one machine, Redis when WUZHI_CACHE_URL is set): per typed username and per client
  address (REMOTE_ADDR). Too many failures within the window lock that username (or address) for a
  while; during a lock no password is even checked, so guessing cannot continue. Only a complete
  sign-in (password and, when enrolled, the code) clears the username's counter: clearing it after
  the password alone would let someone who knows the password guess codes without limit.
* Two-step login. Staff may enrol an authenticator app on /me/; roles named in
  WUZHI_TOTP_REQUIRED_ROLES must. After a correct password an enrolled user is *not* logged in:
  the session only remembers who passed the first step, for a few minutes, until the 6-digit code
  is right. A code's time step is stored when it is accepted, so the same code cannot be used again.
* Sessions. `SessionSecurityMiddleware` logs out a session idle longer than
  WUZHI_SESSION_IDLE_MINUTES and any session older than SESSION_COOKIE_AGE (the once-a-minute
  activity stamp would otherwise make the cookie's age slide forever), keeps users who must enrol
  on the enrolment page, and adds the report-only Content-Security-Policy header.

Failures and lockouts are written to the `wuzhi.auth` logger (WARNING, so they reach the console
handler of a default deployment) with the username and address; never the password or code."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pyotp
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import MinimumLengthValidator
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from . import audit, crypto
from .errors import NotAllowed
from .models import Grant, StaffProfile
from .roles import Role
from .scoping import grants_of

logger = logging.getLogger("wuzhi.auth")

# Session keys.
PENDING = "wuzhi_totp_pending"  # passed the password, waiting for the code
NEW_SECRET = "wuzhi_totp_new"  # secret shown on the enrolment page, not yet confirmed
ENROL_REQUIRED = "wuzhi_totp_enrol"  # logged in, but must enrol before doing anything else
LAST_SEEN = "wuzhi_last_seen"
SIGNED_IN_AT = "wuzhi_signed_in_at"

PENDING_SECONDS = 5 * 60
TOUCH_SECONDS = 60  # write the activity stamp at most once a minute: one session save, not one per request
ISSUER = "五治"
ADMIN_ROLE = "admin"  # WUZHI_TOTP_REQUIRED_ROLES may name it: superusers hold no grants


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def client_ip(request: HttpRequest) -> str | None:
    # The one definition lives with the views; imported here lazily because the views import us.
    from .views import client_ip as ip_of

    return ip_of(request)


# ---- throttling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    until: float  # epoch seconds
    by_ip: bool

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil((self.until - time.time()) / 60))
        at = timezone.localtime(dt.datetime.fromtimestamp(self.until, tz=dt.UTC)).strftime("%H:%M")
        if self.by_ip:
            return _("此网络登录失败次数过多,已暂停登录。请在 %(time)s 之后再试(约 %(minutes)d 分钟)。") % {
                "time": at, "minutes": minutes}
        return _("该账号登录失败次数过多,已暂时锁定。请在 %(time)s 之后再试(约 %(minutes)d 分钟),"
                 "忘记密码请联系社区管理员。") % {"time": at, "minutes": minutes}


def _key(kind: str, value: str) -> str:
    # Hashed: usernames are typed by anyone and may hold characters a cache key must not.
    return f"wuzhi:login:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _norm(username: str) -> str:
    # "Wgy1" and "wgy1" share a counter, so changing the case does not buy more guesses.
    return username.strip().casefold()


def _window() -> int:
    return int(_setting("WUZHI_LOGIN_WINDOW_MINUTES", 15)) * 60


def _lock_seconds() -> int:
    return int(_setting("WUZHI_LOGIN_LOCK_MINUTES", 15)) * 60


def _targets(username: str, ip: str | None) -> list[tuple[str, str, int]]:
    """(kind, value, limit) for the username and the address that a failure counts against."""
    out = []
    if _norm(username):
        out.append(("user", _norm(username), int(_setting("WUZHI_LOGIN_MAX_FAILURES", 5))))
    if ip:
        out.append(("ip", ip, int(_setting("WUZHI_LOGIN_MAX_FAILURES_PER_IP", 20))))
    return out


def current_lock(username: str, ip: str | None) -> Lock | None:
    """The lock that applies to this username or address, the longer one when both do."""
    now = time.time()
    found: Lock | None = None
    for kind, value, _limit in _targets(username, ip):
        until = cache.get(_key(f"lock-{kind}", value))
        if until and float(until) > now and (found is None or float(until) > found.until):
            found = Lock(until=float(until), by_ip=kind == "ip")
    return found


def _count(key: str) -> int:
    # add() starts the window once; incr() is atomic on Redis (and close enough on the file cache).
    cache.add(key, 0, timeout=_window())
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=_window())
        return 1


def record_failure(username: str, ip: str | None, *, stage: str = "password") -> tuple[int, Lock | None]:
    """Count a failed password or code. Returns the attempts left for the username before it is
    locked, and the lock this failure caused (if any)."""
    remaining = int(_setting("WUZHI_LOGIN_MAX_FAILURES", 5))
    lock: Lock | None = None
    for kind, value, limit in _targets(username, ip):
        failures = _count(_key(f"fail-{kind}", value))
        if kind == "user":
            remaining = max(limit - failures, 0)
        if failures >= limit:
            until = time.time() + _lock_seconds()
            cache.set(_key(f"lock-{kind}", value), until, timeout=_lock_seconds())
            cache.delete(_key(f"fail-{kind}", value))  # after the lock, a fresh allowance
            if lock is None or kind == "user":
                lock = Lock(until=until, by_ip=kind == "ip")
            logger.warning("login locked: %s=%r after %d failures (%s), for %d minutes", kind,
                           username if kind == "user" else ip, failures, stage, _lock_seconds() // 60)
    logger.warning("login failed (%s): username=%r ip=%s", stage, username, ip)
    return remaining, lock


def reset_failures(username: str) -> None:
    cache.delete(_key("fail-user", _norm(username)))


def unlock(username: str) -> None:
    """An administrator lifts a username's lock (`wuzhi totp_reset`)."""
    cache.delete_many([_key("fail-user", _norm(username)), _key("lock-user", _norm(username))])


# ---- password length ---------------------------------------------------------------------------


def holds_staff_account(user: Any) -> bool:
    """Staff accounts open a grid's personal data, so they get the longer minimum. A user who is
    not saved yet, or holds no grant, is treated as staff (the safe side)."""
    if user is None or getattr(user, "pk", None) is None:
        return True
    if user.is_staff or user.is_superuser:
        return True
    roles = set(Grant.objects.active().filter(user_id=user.pk).values_list("role", flat=True))
    return not roles or bool(roles - {Role.RESIDENT})


class StaffMinimumLengthValidator(MinimumLengthValidator):
    """Django's length rule with two minimums: `min_length` for staff, `resident_min_length` for
    accounts that only hold the resident role. Its message is our own: Django 5.2's Chinese
    catalogue misses the length message."""

    def __init__(self, min_length: int = 10, resident_min_length: int = 8) -> None:
        super().__init__(min_length)
        self.resident_min_length = resident_min_length

    def validate(self, password: str, user: Any = None) -> None:
        needed = self.min_length if holds_staff_account(user) else self.resident_min_length
        if len(password) < needed:
            raise ValidationError(_("密码太短,至少需要 %(min_length)d 个字符。"), code="password_too_short",
                                  params={"min_length": needed})

    def get_help_text(self) -> str:
        return _("工作人员的密码至少 %(min_length)d 个字符(居民账号至少 %(resident)d 个)。") % {
            "min_length": self.min_length, "resident": self.resident_min_length}


# ---- TOTP --------------------------------------------------------------------------------------


def totp_enabled(user: Any) -> bool:
    return StaffProfile.objects.filter(user_id=getattr(user, "pk", None) or 0).exclude(totp_secret_enc="").exists()


def totp_required(user: Any) -> bool:
    """Whether the user's roles oblige them to use the two-step login (WUZHI_TOTP_REQUIRED_ROLES)."""
    required = set(_setting("WUZHI_TOTP_REQUIRED_ROLES", []))
    if not required or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser and ADMIN_ROLE in required:
        return True
    return any(role in required for role, _path in grants_of(user))


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code equals `code`, allowing one step (30 s) of clock drift either way."""
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_code(*, user: Any, code: str, now: float | None = None) -> bool:
    """Check a code against the user's enrolled secret and consume its time step."""
    profile = StaffProfile.objects.filter(user_id=user.pk).exclude(totp_secret_enc="").first()
    if profile is None:
        return False
    step = _matching_step(crypto.decrypt(profile.totp_secret_enc), code, now)
    if step is None:
        return False
    # One conditional UPDATE: of two requests racing with the same code, only one moves the step.
    return StaffProfile.objects.filter(
        Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step), pk=profile.pk
    ).update(totp_last_step=step) == 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: Any, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(), issuer_name=ISSUER)


@transaction.atomic
def totp_enable(*, actor: Any, user: Any, secret: str, code: str, now: float | None = None) -> StaffProfile:
    """Store the secret once the user has shown their app produces its codes."""
    if actor is None or actor.pk != user.pk:
        raise NotAllowed(_("只能由本人启用两步验证"))
    step = _matching_step(secret, code, now)
    if step is None:
        raise ValidationError({"code": _("验证码不正确,请输入验证器上当前显示的6位数字(手机时间需准确)。")})
    profile, _created = StaffProfile.objects.select_for_update().get_or_create(user=user)
    before = audit.snapshot(profile)
    profile.totp_secret_enc = crypto.encrypt(secret)
    profile.totp_last_step = step
    profile.totp_enabled_at = timezone.now()
    profile.full_clean()
    profile.save()
    audit.log_change(actor, profile, before, note="启用两步验证")
    logger.warning("totp enabled: username=%r", user.get_username())
    return profile


@transaction.atomic
def totp_disable(*, actor: Any, user: Any, code: str = "") -> None:
    """Remove the secret. The holder needs a current code (a stolen session alone cannot switch it
    off) and a role that does not require it; an administrator (or the CLI, actor None) resets
    the secret of someone who lost their phone."""
    profile = StaffProfile.objects.select_for_update().filter(user=user).first()
    if profile is None or not profile.totp_secret_enc:
        return
    by_admin = actor is None or (actor.is_superuser and actor.pk != user.pk)
    if not by_admin:
        if actor.pk != user.pk:
            raise NotAllowed(_("只能由本人或管理员关闭两步验证"))
        if totp_required(user):
            raise ValidationError({"code": _("您的角色必须使用两步验证,不能关闭。更换手机请联系管理员重置。")})
        if not verify_code(user=user, code=code):
            raise ValidationError({"code": _("验证码不正确或已使用过,请输入验证器上新出现的6位数字。")})
        profile.refresh_from_db()
    before = audit.snapshot(profile)
    profile.totp_secret_enc = ""
    profile.totp_last_step = None
    profile.totp_enabled_at = None
    profile.save()
    audit.log_change(actor, profile, before, note="管理员重置两步验证" if by_admin else "关闭两步验证")
    logger.warning("totp disabled: username=%r by=%s", user.get_username(),
                   getattr(actor, "username", None) or "cli")


# ---- forms -------------------------------------------------------------------------------------


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": gettext_lazy("用户名或密码不正确,请重新输入。"),
        "inactive": gettext_lazy("该账号已停用,请联系社区管理员。"),
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        ip = client_ip(self.request) if self.request else None
        lock = current_lock(username, ip)
        if lock is not None:
            logger.warning("login refused while locked: username=%r ip=%s", username, ip)
            raise ValidationError(lock.message, code="locked")
        try:
            return super().clean()
        except ValidationError as exc:
            if not (username and password) or getattr(exc, "code", None) != "invalid_login":
                raise
            remaining, lock = record_failure(username, ip)
            if lock is not None:
                raise ValidationError(lock.message, code="locked") from None
            if remaining <= 2:
                raise ValidationError(
                    _("用户名或密码不正确。再错 %(n)d 次,该账号将被锁定 %(minutes)d 分钟。") % {
                        "n": remaining, "minutes": _lock_seconds() // 60},
                    code="invalid_login") from None
            raise


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("6位验证码"), max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*",
                                      "autofocus": True, "class": "form-control form-control-lg wz-otp",
                                      "placeholder": "000000"}),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not code.isdigit():
            raise ValidationError(_("请输入验证器上显示的6位数字"))
        return code


# ---- views -------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest, url: str) -> str:
    ok = url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return url if url and ok else ""


def _after_sign_in(request: HttpRequest, response: HttpResponseBase, next_url: str) -> HttpResponseBase:
    """Stamp the new session; send users whose role requires the two-step login to enrol first."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    logger.info("login: username=%r ip=%s", request.user.get_username(), client_ip(request))
    if totp_required(request.user) and not totp_enabled(request.user):
        request.session[ENROL_REQUIRED] = True
        messages.warning(request, _("您的岗位要求使用两步验证:请先用手机验证器完成绑定,再开始工作。"))
        target = reverse("totp_enrol")
        return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    return response


class LoginView(auth_views.LoginView):
    """Django's login page with the throttle (in the form) and the two-step code."""

    form_class = LoginForm

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        username = form.cleaned_data["username"]
        if totp_enabled(user):
            # Not logged in yet: only remember who passed the password, for a few minutes.
            self.request.session[PENDING] = {
                "uid": user.pk, "backend": user.backend, "since": int(time.time()),
                "next": self.get_success_url(), "username": username,
            }
            return redirect("login_code")
        reset_failures(username)
        response = super().form_valid(form)
        return _after_sign_in(self.request, response, self.get_redirect_url())  # type: ignore[return-value]


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """Second step: the 6-digit code of an enrolled user who has just given the right password."""
    pending: dict[str, Any] = request.session.get(PENDING) or {}
    user = None
    if pending and time.time() - pending["since"] <= PENDING_SECONDS:
        user = get_user_model().objects.filter(pk=pending["uid"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING, None)
        messages.warning(request, _("验证已超时,请重新输入用户名和密码。"))
        return redirect("login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        lock = current_lock(pending["username"], ip)
        if lock is None:
            if verify_code(user=user, code=form.cleaned_data["code"]):
                del request.session[PENDING]
                reset_failures(pending["username"])
                auth_login(request, user, backend=pending["backend"])
                return _after_sign_in(request, redirect(pending["next"]), pending["next"])  # type: ignore[return-value]
            _remaining, lock = record_failure(pending["username"], ip, stage="totp")
        if lock is not None:
            request.session.pop(PENDING, None)
            messages.error(request, lock.message)
            return redirect("login")
        form.add_error("code", _("验证码不正确或已使用过,请输入验证器上新出现的6位数字。"))
    return render(request, "core/login_code.html", {"form": form, "who": user.get_full_name() or user.username},
                  status=400 if form.errors else 200)


@sensitive_post_parameters("code")
@never_cache
@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """Show a new secret as a QR code (and as text for typing), enable it once a code matches."""
    user: Any = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next") or "")
    if totp_enabled(user):
        request.session.pop(ENROL_REQUIRED, None)
        return redirect(next_url or "my_profile")
    secret = request.session.get(NEW_SECRET)
    if not secret:
        secret = request.session[NEW_SECRET] = new_secret()
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            totp_enable(actor=user, user=user, secret=secret, code=form.cleaned_data["code"])
        except ValidationError as exc:
            for error in exc.message_dict.get("code", exc.messages):
                form.add_error("code", error)
        else:
            request.session.pop(NEW_SECRET, None)
            request.session.pop(ENROL_REQUIRED, None)
            messages.success(request, _("两步验证已启用。以后登录时,输入密码后还需输入验证器上的6位验证码。"))
            return redirect(next_url or "my_profile")
    from wuzhi.party.boards import qr_svg  # the project's one QR-as-SVG renderer

    return render(request, "core/totp_enrol.html", {
        "form": form, "qr": qr_svg(provisioning_uri(user, secret)),
        "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "required": bool(request.session.get(ENROL_REQUIRED)), "next": next_url,
    }, status=400 if form.errors else 200)


@sensitive_post_parameters("code")
@require_POST
@login_required
def totp_disable_view(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({"code": form.errors["code"]})
        totp_disable(actor=request.user, user=request.user, code=form.cleaned_data["code"])
    except ValidationError as exc:
        for error in exc.message_dict.get("code", exc.messages):
            messages.error(request, error)
    else:
        messages.success(request, _("两步验证已关闭"))
    return redirect("my_profile")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change (old password, new twice, the validators) in the project's look.
    Changing the password ends the user's sessions on other devices (Django's session hash)."""

    template_name = "core/password_change.html"
    success_url = reverse_lazy("my_profile")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        logger.warning("password changed: username=%r ip=%s", self.request.user.get_username(),
                       client_ip(self.request))
        messages.success(self.request, _("密码已修改。其他设备上的登录已失效,需要用新密码重新登录。"))
        return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's own login form would bypass the throttle and the code: send it here."""
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


# ---- middleware --------------------------------------------------------------------------------


class SessionSecurityMiddleware:
    """Idle and absolute session expiry, the enrolment fence, the CSP report-only header, and the
    client address behind a proxy. Placed after the authentication, message and htmx middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _setting("BEHIND_PROXY", False):
            # Otherwise every request comes from the proxy, and 20 failures anywhere lock everyone out.
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
            if forwarded:
                request.META["REMOTE_ADDR"] = forwarded
        response = self._guard(request) or self.get_response(request)
        policy = _setting("WUZHI_CSP_REPORT_ONLY", "")
        if policy and "Content-Security-Policy-Report-Only" not in response:
            response["Content-Security-Policy-Report-Only"] = policy
        return response

    def _guard(self, request: HttpRequest) -> HttpResponseBase | None:
        user: Any = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = request.session
        now = int(time.time())
        last = session.get(LAST_SEEN)
        since = session.get(SIGNED_IN_AT)
        idle = int(_setting("WUZHI_SESSION_IDLE_MINUTES", 120)) * 60
        if idle > 0 and last is not None and now - int(last) > idle:
            return self._expire(request, _("您已超过 %(minutes)d 分钟未操作,为保护居民信息已自动退出,请重新登录。")
                                % {"minutes": idle // 60})
        if since is not None and now - int(since) > settings.SESSION_COOKIE_AGE:
            return self._expire(request, _("登录已超过 %(hours)d 小时,请重新登录。")
                                % {"hours": settings.SESSION_COOKIE_AGE // 3600})
        if last is None or now - int(last) >= TOUCH_SECONDS:
            session[LAST_SEEN] = now
            session.setdefault(SIGNED_IN_AT, now)
        if session.get(ENROL_REQUIRED) and not self._enrol_allowed(request.path_info):
            target = reverse("totp_enrol")
            return HttpResponseClientRedirect(target) if getattr(request, "htmx", False) else redirect(target)
        return None

    @staticmethod
    def _expire(request: HttpRequest, message: str) -> HttpResponseBase | None:
        logger.info("session expired: username=%r", request.user.get_username())
        auth_logout(request)
        messages.warning(request, message)
        if getattr(request, "htmx", False):
            # A fragment request would swap the login page into a table cell: reload the page instead.
            current = request.headers.get("HX-Current-URL", "")
            return HttpResponseClientRedirect(redirect_to_login(_safe_next(request, current) or "/").url)
        # The view now sees an anonymous user: staff pages redirect to the login page with `next`.
        return None

    @staticmethod
    def _enrol_allowed(path: str) -> bool:
        allowed = (reverse("totp_enrol"), reverse("logout"), reverse("set_language"))
        return path in allowed or path.startswith((settings.STATIC_URL or "/static/", "/favicon"))
