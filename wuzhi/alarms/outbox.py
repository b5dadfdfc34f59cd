"""The notification outbox and its dispatcher.

Rows are written by the services in the transaction that decided them (an alarm opened, a step
escalated), so a notification exists if and only if its decision was committed; that commit also
wakes the workers (PostgreSQL NOTIFY, see `Waker`). A worker's round has two steps:

1. **claim** (one short transaction): pending rows that are due, and `sending` rows whose lease ran
   out (a worker died holding them), are locked with FOR UPDATE SKIP LOCKED on PostgreSQL (several
   workers never take the same row; SQLite runs one worker). Console rows are delivered right
   there, since committing their `sent` mark is their delivery; the others (SMS) are marked
   `sending` with a lease, their attempt counted, and committed;
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
import time
from dataclasses import dataclass
from typing import Protocol

from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

from wuzhi.core import crypto, fastsql, sms

from . import flow, services
from .models import Alarm, AlarmEvent, AlarmState, Notification, NotifyChannel, NotifyStatus

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


def _stale(purpose: str, epoch: int, alarm: Alarm) -> bool:
    """An ALERT decided before the alarm was taken (acknowledged, on site, resolved) is not sent;
    an INFO row always is."""
    if purpose == Notification.Purpose.INFO:
        return False
    return epoch != alarm.epoch or alarm.state in (AlarmState.ON_SITE, AlarmState.RESOLVED)


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
        if _stale(n.purpose, n.epoch, alarm):
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


@dataclass
class Claimed:
    delivered: int  # console rows sent (or cancelled as stale) in the claim itself
    ids: list[int]  # rows leased to this worker, to `deliver` one by one

    def __len__(self) -> int:
        return self.delivered + len(self.ids)


def claim(*, now: dt.datetime | None = None, limit: int = 50, lease: dt.timedelta = LEASE) -> Claimed:
    """A worker's round, in ONE transaction with a fixed number of hand-written statements (every
    worker runs it on every wake-up; it is what "first notification dispatched" waits for):

    - due rows (pending and due, or `sending` with an expired lease) are locked with FOR UPDATE
      SKIP LOCKED, then their alarms, also SKIP LOCKED: nothing here waits on a lock, so there is
      no deadlock with the services that lock an alarm and then its rows; a row whose alarm
      somebody holds right now is left for the next round;
    - pending console rows are delivered here, since committing their `sent` mark is the
      delivery: an ALERT whose alarm moved on is cancelled instead, and an alarm reached for the
      first time gets its first-notification time and takes the flow table's NEW → NOTIFYING step;
    - every other row is leased (`sending`, attempt counted) and returned for `deliver`."""
    now = now or timezone.now()
    marks, when = fastsql.marks, fastsql.when
    skip = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    n_table, a_table = fastsql.table(Notification), fastsql.table(Alarm)
    with services.alarm_txn(), connection.cursor() as cur:
        cur.execute(f"SELECT id, alarm_id, channel, status, epoch, purpose, name FROM {n_table} "
                    f"WHERE (status = %s AND due_at <= %s) OR (status = %s AND lease_until < %s) "
                    f"ORDER BY due_at, id LIMIT %s{skip}",
                    [str(NotifyStatus.PENDING), when(now), str(NotifyStatus.SENDING), when(now), limit])
        rows = cur.fetchall()
        if not rows:
            return Claimed(0, [])
        alarm_ids = sorted({r[1] for r in rows})
        fields = fastsql.columns(Alarm, {"id", "state", "first_notified_at", "epoch", "version"})
        cur.execute(f"SELECT {', '.join(fields)} FROM {a_table} WHERE id IN ({marks(alarm_ids)}) ORDER BY id{skip}",
                    alarm_ids)
        alarms = {a.pk: a for a in fastsql.load(Alarm, fields, cur.fetchall())}
        sent: list[tuple[int, int, str]] = []  # (row id, alarm id, receiver's name)
        stale: list[int] = []
        leased: list[int] = []
        for pk, alarm_id, channel_name, status, epoch, purpose, name in rows:
            alarm = alarms.get(alarm_id)
            if alarm is None:
                continue
            if channel_name != NotifyChannel.CONSOLE or status != NotifyStatus.PENDING:
                leased.append(pk)
            elif _stale(purpose, epoch, alarm):
                stale.append(pk)
            else:
                sent.append((pk, alarm_id, name))
        if leased:
            cur.execute(f"UPDATE {n_table} SET status = %s, lease_until = %s, attempts = attempts + 1 "
                        f"WHERE id IN ({marks(leased)})", [str(NotifyStatus.SENDING), when(now + lease), *leased])
        if stale:
            cur.execute(f"UPDATE {n_table} SET status = %s, lease_until = NULL, last_error = %s "
                        f"WHERE id IN ({marks(stale)})", [str(NotifyStatus.CANCELLED), "呼叫已被确认或处置,未发送", *stale])
        if sent:
            cur.execute(f"UPDATE {n_table} SET status = %s, sent_at = %s, provider_id = %s, lease_until = NULL "
                        f"WHERE id IN ({marks(sent)})",
                        [str(NotifyStatus.SENT), when(now), "console", *[x[0] for x in sent]])
        first: dict[int, str] = {}
        for _pk, alarm_id, name in sent:
            first.setdefault(alarm_id, name)
        unstamped = [alarms[a] for a in first if alarms[a].first_notified_at is None]
        if unstamped:
            step = flow.step(AlarmState.NEW, AlarmState.NOTIFYING)
            assert step is not None and not step.stops_escalation
            ids = [a.pk for a in unstamped]
            cur.execute(f"UPDATE {a_table} SET state = CASE WHEN state = %s THEN %s ELSE state END, "
                        f"first_notified_at = %s, version = version + 1 WHERE id IN ({marks(ids)})",
                        [str(AlarmState.NEW), str(AlarmState.NOTIFYING), when(now), *ids])
            fastsql.insert([AlarmEvent(alarm_id=a.pk, kind=AlarmEvent.Kind.TRANSITION, from_state=AlarmState.NEW,
                                       to_state=AlarmState.NOTIFYING, label=step.label, actor_name=services.SYSTEM,
                                       at=now, note=f"已通知{first[a.pk]}")
                            for a in unstamped if a.state == AlarmState.NEW])
            for a in unstamped:
                services._touch(a)
    return Claimed(len(sent) + len(stale), leased)


def dispatch_once(*, limit: int = 50, now: dt.datetime | None = None) -> int:
    """One round: claim (which delivers the console rows itself), then send each leased row.
    Returns how many rows were handled."""
    claimed = claim(now=now, limit=limit)
    for pk in claimed.ids:
        deliver(pk, now=now)
    return len(claimed)


class Waker:
    """How an idle worker waits: on PostgreSQL it LISTENs for the wake-up that every transaction
    writing notification rows sends at its commit, so it sleeps until there is work (or `timeout`,
    for retries and escalation due-times); elsewhere it polls every `poll` seconds."""

    def __init__(self, *, poll: float = 0.05) -> None:
        self.poll = poll
        self._listening: object | None = None

    def wait(self, timeout: float) -> bool:
        """Returns whether a wake-up arrived (False: the timeout passed)."""
        if connection.vendor != "postgresql":
            time.sleep(min(timeout, self.poll))
            return False
        connection.ensure_connection()
        raw = connection.connection
        if raw is not self._listening:  # a new connection (first call, or reconnected after an error)
            with connection.cursor() as cur:
                cur.execute(f"LISTEN {services.WAKE_CHANNEL}")
            self._listening = raw
        woke = False
        # Notifications that arrived while this connection ran other queries were kept by psycopg
        # and come out first: a commit between two rounds is never slept through.
        for _n in raw.notifies(timeout=timeout, stop_after=1):
            woke = True
        return woke


def drain(*, rounds: int = 100) -> int:
    """Deliver everything due now (tests, demo): loops until a claim comes back empty."""
    total = 0
    for _ in range(rounds):
        n = dispatch_once(limit=200)
        total += n
        if not n:
            break
    return total
