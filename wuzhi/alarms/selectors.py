"""Reads worth naming, for the duty console and the responder pages.

`alarms_since(user, cursor)` is how a console learns about new and changed alarms within a second
of their commit, whichever server process wrote them: every alarm-changing transaction stamps the
alarm with the next `feed_seq`, taken as its last statement under a row lock held until commit,
so the sequence follows commit order. A page keeps the largest `feed_seq` it has seen and asks for
anything above it: one indexed query, cheap enough to poll every 500 ms."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from wuzhi.core.roles import Action

from .models import OPEN_STATES, Alarm, AlarmKind, FeedCounter, Notification


def current_cursor() -> int:
    """The feed position now: a page that starts from here sees every later change."""
    row = FeedCounter.objects.filter(pk=1).values_list("value", flat=True).first()
    return int(row or 0)


def visible_alarms(user: Any) -> QuerySet[Alarm]:
    """Alarms in the user's area, plus those the user was notified of (responders from elsewhere)."""
    mine = Alarm.objects.visible_to(user, Action.VIEW)
    if getattr(user, "is_superuser", False):
        return mine
    notified = Alarm.objects.filter(pk__in=Notification.objects.filter(user_id=user.pk).values("alarm_id"))
    return (mine | notified).distinct()


def alarms_since(user: Any, cursor: int, *, limit: int = 200) -> tuple[list[Alarm], int]:
    """Alarms created or changed after `cursor` that `user` may see, oldest change first, and the
    cursor to pass next time. A page that gets `limit` rows asks again at once."""
    rows = list(visible_alarms(user).filter(feed_seq__gt=cursor)
                .select_related("device", "resident", "dwelling", "acknowledged_by")
                .order_by("feed_seq")[:limit])
    return rows, (rows[-1].feed_seq if rows else cursor)


def open_alarms(user: Any) -> QuerySet[Alarm]:
    """The console's list: every open alarm the user may see, emergencies first, oldest first."""
    return (visible_alarms(user).filter(state__in=OPEN_STATES)
            .select_related("device", "resident", "dwelling", "acknowledged_by")
            .order_by("severity", "opened_at", "id"))


def my_alarms(user: Any) -> QuerySet[Alarm]:
    """The responder page: open alarms the user was notified of."""
    return (Alarm.objects.filter(state__in=OPEN_STATES,
                                 pk__in=Notification.objects.filter(user_id=user.pk).values("alarm_id"))
            .select_related("device", "resident", "dwelling").order_by("opened_at", "id"))


def timeline(alarm: Alarm) -> QuerySet[Any]:
    return alarm.events.select_related("actor").order_by("at", "id")


def press_alarms(user: Any) -> QuerySet[Alarm]:
    return visible_alarms(user).filter(kind=AlarmKind.PRESS)
