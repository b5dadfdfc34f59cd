"""Small template helpers shared by the server-rendered pages."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()

# Tag colours are stored as Bootstrap theme names; anything else falls back to grey.
_THEME = {"primary", "secondary", "success", "danger", "warning", "info", "light", "dark"}


@register.filter
def badge_class(color: str | None) -> str:
    color = (color or "secondary").strip()
    return f"text-bg-{color}" if color in _THEME else "text-bg-secondary"


@register.simple_tag
def tag_badge(tag: Any) -> str:
    return format_html('<span class="badge rounded-pill wz-tag {}">{}</span>', badge_class(tag.color), tag.name)


@register.filter
def days_since(value: dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (timezone.localdate() - timezone.localtime(value).date()).days


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


def demo_mode() -> bool:
    return bool(settings.DEBUG) or os.environ.get("WUZHI_DEMO") == "1"


@register.simple_tag
def demo_logins() -> dict[str, Any]:
    """Accounts to show on the sign-in page of a demo or development install, never in production.

    Taken from the demo generator when it has built its community (with the shared password);
    otherwise a few accounts that hold grants, without passwords."""
    if not demo_mode():
        return {}
    try:
        from wuzhi.demo.data import DEMO_PASSWORD
        from wuzhi.demo.generator import demo_logins as generated

        rows = [{"username": x.username, "name": x.name, "role": x.role, "area": _short(x.scope)}
                for x in generated()]
        # One or two matches are ordinary accounts that happen to share a demo username
        # ("county"), not a built demo; then the grant holders below are the better hint.
        if len(rows) >= 3:
            return {"password": DEMO_PASSWORD, "rows": rows}
    except Exception:  # a half-built demo must not break the login page
        pass
    from wuzhi.core.models import Grant

    seen: dict[str, dict[str, str]] = {}
    grants = (Grant.objects.active().filter(user__is_active=True).select_related("user", "area")
              .order_by("area__depth", "role", "user__username")[:40])
    for grant in grants:
        user = grant.user
        seen.setdefault(user.username, {"username": user.username, "name": user.get_full_name(),
                                        "role": grant.get_role_display(), "area": grant.area.short_name})
    return {"password": "", "rows": list(seen.values())[:12]} if seen else {}


def _short(scope: str) -> str:
    """"绥江县中城镇福兴社区3网格" reads "3网格" on a phone; the community itself keeps its name."""
    head, sep, tail = scope.partition("社区")
    if not sep:
        return scope
    if tail:
        return tail
    return head.split("镇")[-1] + sep


@register.filter
def bs(field: Any) -> str:
    """Render a bound field's widget with Bootstrap classes (and is-invalid after an error)."""
    from django import forms

    widget = field.field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
        return field.as_widget()
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select | forms.SelectMultiple):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    extra = widget.attrs.get("class", "")
    return field.as_widget(attrs={"class": f"{css} {extra}".strip()})


@register.filter
def is_checkbox(field: Any) -> bool:
    from django import forms

    return isinstance(field.field.widget, forms.CheckboxInput)


@register.filter
def is_multi_checkbox(field: Any) -> bool:
    from django import forms

    return isinstance(field.field.widget, forms.CheckboxSelectMultiple | forms.RadioSelect)
