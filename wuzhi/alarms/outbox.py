"""The notification outbox and its dispatcher.

Rows are written by the services in the transaction that decided them (an alarm opened, a step
escalated), so a notification exists if and only if its decision was committed. Workers send them:

1. **claim** (one short transaction): pending rows that are due, and `sending` rows whose lease ran
   out (a worker died holding them), are locked with FOR UPDATE SKIP LOCKED on PostgreSQL (several
   workers never take the same row; SQLite runs one worker), marked `sending` with a lease and
   their attempt counted, and committed;
2. **deliver** (one transaction per row): lock the alarm row, re-read the notification; an ALERT
   row whose alarm moved to a later epoch (acknowledged, on site, resolved) is dropped, not sent;
   otherwise send through the channel with the row's idempotency key, mark it `sent` and commit.

The guarantee, exactly:
- nothing is lost: a row is `sent`, `cancelled` (its alarm was taken before it went out) or
  `failed` after its attempts, and a `sending` row whose worker died is taken again after its lease;
- no ALERT starts after the acknowledgement (or resolution) that made it stale has committed: the
  check and the send happen under the alarm's row lock, which acknowledging takes;
- the console channel delivers exactly once: its delivery is the commit of the `sent` mark;
- an external channel (SMS) is called at least once and, if the worker was killed between the
  provider call and the commit, called again after the lease with the SAME idempotency key
  (`SmsMessage.key`); a provider or gateway that honours the key (the test stub does; Aliyun gets
  it as OutId) sends it once. Without such a provider the window is one message per killed worker."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
from typing import Protocol

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from wuzhi.core import crypto, sms

from . import services
from .models import Alarm, AlarmState, Notification, NotifyChannel, NotifyStatus

log = logging.getLogger("wuzhi.alarms")

# Longer than any channel's timeout; the reliability tests shorten it through the environment.
LEASE = dt.timedelta(seconds=float(os.environ.get("WUZHI_ALARM_LEASE_SECONDS", "30")))
MAX_ATTEMPTS = 8


class ChannelError(Exception):
    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Channel(Protocol):
    def send(self, notification: Notification) -> str:
        """Deliver one notification (its `key` is the idempotency key); return a provider id or
        raise ChannelError."""


class ConsoleChannel:
    """The live console and the responder pages read `sent` console rows: committing the mark is
    the delivery, so there is nothing to call."""

    def send(self, notification: Notification) -> str:
        return "console"


class SmsChannel:
    """Texts through the one SMS interface (wuzhi.core.sms). A deployment without a configured
    sender (the demo) logs what it would send."""

    def __init__(self) -> None:
        path = os.environ.get("WUZHI_SMS_SENDER", "")
        self.sender: sms.SmsSender = import_string(path)() if path else (sms.sender() or sms.LogSender())

    def send(self, notification: Notification) -> str:
        message = sms.SmsMessage(phone=crypto.decrypt(notification.phone_enc), text=notification.text,
                                 key=notification.key, template="SMS_ALARM",
                                 params={"text": notification.text[:60]})
        try:
            return self.sender.send(message)[:64]
        except sms.SmsError as exc:
            raise ChannelError(str(exc), retry=exc.retry) from exc


_channels: dict[str, Channel] = {}


def channel(name: str) -> Channel:
    if name not in _channels:
        _channels[name] = ConsoleChannel() if name == NotifyChannel.CONSOLE else SmsChannel()
    return _channels[name]


def reset_channels() -> None:
    _channels.clear()


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s … capped at 5 minutes, with jitter so retries of a storm spread out."""
    base = min(300.0, 5.0 * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def claim(*, now: dt.datetime | None = None, limit: int = 50, lease: dt.timedelta = LEASE) -> list[int]:
    """Take up to `limit` due rows for this worker (see the module docstring)."""
    now = now or timezone.now()
    skip = connection.features.has_select_for_update_skip_locked
    with services.alarm_txn():
        ids = list(Notification.objects.select_for_update(skip_locked=skip)
                   .filter(Q(status=NotifyStatus.PENDING, due_at__lte=now)
                           | Q(status=NotifyStatus.SENDING, lease_until__lt=now))
                   .order_by("due_at", "id").values_list("pk", flat=True)[:limit])
        if ids:
            Notification.objects.filter(pk__in=ids).update(status=NotifyStatus.SENDING, lease_until=now + lease,
                                                           attempts=F("attempts") + 1)
    return ids


def _stale(n: Notification, alarm: Alarm) -> bool:
    if n.purpose == Notification.Purpose.INFO:
        return False
    return n.epoch != alarm.epoch or alarm.state in (AlarmState.ON_SITE, AlarmState.RESOLVED)


def deliver(pk: int, *, now: dt.datetime | None = None) -> str:
    """Send one claimed row. Returns its status afterwards."""
    explicit_now = now is not None
    with services.alarm_txn():
        alarm_id = Notification.objects.filter(pk=pk).values_list("alarm_id", flat=True).first()
        if alarm_id is None:
            return "gone"
        alarm = Alarm.objects.select_for_update().get(pk=alarm_id)
        n = Notification.objects.select_for_update().get(pk=pk)
        if n.status != NotifyStatus.SENDING:
            return n.status  # cancelled by an acknowledgement, or finished by another worker
        now = now or timezone.now()
        if _stale(n, alarm):
            n.status, n.lease_until, n.last_error = NotifyStatus.CANCELLED, None, "呼叫已被确认或处置,未发送"
            n.save(update_fields=["status", "lease_until", "last_error"])
            return n.status
        try:
            provider_id = channel(n.channel).send(n)
        except ChannelError as exc:
            n.last_error = str(exc)[:200]
            if exc.retry and n.attempts < MAX_ATTEMPTS:
                n.status, n.due_at, n.lease_until = NotifyStatus.PENDING, now + backoff(n.attempts), None
            else:
                n.status, n.lease_until = NotifyStatus.FAILED, None
                services._event(alarm, kind="note", label="通知发送失败", actor_name=services.SYSTEM,
                                note=f"{n.get_channel_display()} → {n.name}:{n.last_error}")
                services._duty_info(alarm, f"给{n.name}的{n.get_channel_display()}发送失败,请电话联系。",
                                    tag=f"fail.{n.pk}")
                services._save(alarm, [])
            n.save(update_fields=["status", "due_at", "lease_until", "last_error"])
            return n.status
        # `now` is given only by the demo (past calls); a live worker stamps the real sending time.
        sent_at = now if explicit_now else timezone.now()
        n.status, n.sent_at, n.provider_id, n.lease_until = NotifyStatus.SENT, sent_at, provider_id, None
        n.save(update_fields=["status", "sent_at", "provider_id", "lease_until"])
        if alarm.first_notified_at is None or alarm.state == AlarmState.NEW:
            alarm.first_notified_at = alarm.first_notified_at or n.sent_at
            if alarm.state == AlarmState.NEW:
                services._transition(alarm, AlarmState.NOTIFYING, actor=None, actor_name=services.SYSTEM,
                                     note=f"已通知{n.name}", now=n.sent_at, fields=["first_notified_at"])
            else:
                services._save(alarm, ["first_notified_at"])
        return n.status


def deliver_console(pks: list[int], *, now: dt.datetime | None = None) -> int:
    """Deliver many claimed console rows in one transaction: the same checks as `deliver`, with the
    alarms locked in id order (as everyone locks them) and a fixed number of statements."""
    with services.alarm_txn():
        alarm_ids = sorted(set(Notification.objects.filter(pk__in=pks).values_list("alarm_id", flat=True)))
        alarms = {a.pk: a for a in Alarm.objects.select_for_update().filter(pk__in=alarm_ids)
                  .defer("chain_snapshot").order_by("pk")}
        rows = list(Notification.objects.select_for_update().filter(pk__in=pks, status=NotifyStatus.SENDING)
                    .order_by("pk"))
        sent_at = now if now is not None else timezone.now()
        stale = [n.pk for n in rows if _stale(n, alarms[n.alarm_id])]
        live = [n for n in rows if n.pk not in set(stale)]
        if stale:
            Notification.objects.filter(pk__in=stale).update(status=NotifyStatus.CANCELLED, lease_until=None,
                                                             last_error="呼叫已被确认或处置,未发送")
        if live:
            Notification.objects.filter(pk__in=[n.pk for n in live]).update(
                status=NotifyStatus.SENT, sent_at=sent_at, provider_id="console", lease_until=None)
        first: dict[int, Notification] = {}
        for n in live:
            first.setdefault(n.alarm_id, n)
        for alarm_id, n in first.items():
            alarm = alarms[alarm_id]
            if alarm.state == AlarmState.NEW:
                alarm.first_notified_at = alarm.first_notified_at or sent_at
                services._transition(alarm, AlarmState.NOTIFYING, actor=None, actor_name=services.SYSTEM,
                                     note=f"已通知{n.name}", now=sent_at, fields=["first_notified_at"])
            elif alarm.first_notified_at is None:
                alarm.first_notified_at = sent_at
                services._save(alarm, ["first_notified_at"])
        return len(rows)


def dispatch_once(*, limit: int = 50, now: dt.datetime | None = None) -> int:
    """Claim a batch and deliver it; returns how many rows were handled. Console rows go out
    together in one transaction; every other channel row is sent on its own."""
    ids = claim(now=now, limit=limit)
    console = set(Notification.objects.filter(pk__in=ids, channel=NotifyChannel.CONSOLE)
                  .values_list("pk", flat=True)) if ids else set()
    if console:
        deliver_console(sorted(console), now=now)
    for pk in ids:
        if pk not in console:
            deliver(pk, now=now)
    return len(ids)


def drain(*, rounds: int = 100) -> int:
    """Deliver everything due now (tests, demo): loops until a claim comes back empty."""
    total = 0
    for _ in range(rounds):
        n = dispatch_once(limit=200)
        total += n
        if not n:
            break
    return total
