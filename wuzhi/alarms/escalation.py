"""Escalation timers: `Alarm.next_step_at` is a due-time in the database that workers poll (no
broker ETA tasks, which duplicate and vanish). Several workers share the work on PostgreSQL: each
claims due alarms with FOR UPDATE SKIP LOCKED, so one alarm's step fires once.

A timer is the triple (alarm, epoch, step_index) read when it was found due. `fire` re-reads the
alarm under its row lock and does nothing when the alarm moved on meanwhile (acknowledged, on
site, resolved: the epoch changed; or another worker fired that step: the step index changed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from . import services
from .models import UNACKED_STATES, Alarm, AlarmEvent, AlarmKind, AlarmState


@dataclass(frozen=True)
class Timer:
    alarm_id: int
    epoch: int
    step_index: int


def due(*, now: dt.datetime | None = None, limit: int = 100) -> list[Timer]:
    now = now or timezone.now()
    return [Timer(*row) for row in Alarm.objects.filter(next_step_at__lte=now).order_by("next_step_at")
            .values_list("pk", "epoch", "step_index")[:limit]]


def fire(timer: Timer, *, now: dt.datetime | None = None) -> bool:
    """Run one escalation step if the timer is still current. Returns whether it did anything."""
    now = now or timezone.now()
    skip = connection.features.has_select_for_update_skip_locked
    with services.alarm_txn():
        alarm = Alarm.objects.select_for_update(skip_locked=skip).filter(pk=timer.alarm_id).first()
        if alarm is None:  # another worker holds it (it will fire it) or it is gone
            return False
        if (alarm.epoch != timer.epoch or alarm.step_index != timer.step_index or alarm.next_step_at is None
                or alarm.next_step_at > now):
            return False  # stale timer: the alarm moved on after this timer was read
        if alarm.kind != AlarmKind.PRESS or alarm.state in (AlarmState.ON_SITE, AlarmState.RESOLVED):
            alarm.next_step_at = None
            alarm.save(update_fields=["next_step_at"])
            return False
        fired = alarm.step_index
        index, targets = services._step_targets(alarm, fired)
        if alarm.state in UNACKED_STATES:
            steps = len(alarm.chain_snapshot.get("steps") or [])
            label = f"升级通知第{index + 1}步" if fired < steps else f"无人确认,重复通知第{index + 1}步"
            wait = services._wait_after(alarm, fired + 1)
        else:  # acknowledged, but nobody reported on site in time: escalate again, duty station included
            if not any(t["kind"] == "duty" for t in targets):
                targets = [dict(services.DUTY_TARGET), *targets]
            label = "确认后无人到场,再次升级"
            wait = int(alarm.chain_snapshot.get("onsite_seconds") or 0) or None
        services._notifications(alarm, targets, step=index, tag=f"e{alarm.epoch}.s{fired}", now=now)
        names = "、".join(dict.fromkeys(t["name"] for t in targets)) or "无"
        services._event(alarm, kind=AlarmEvent.Kind.ESCALATE, label=label, actor_name=services.SYSTEM,
                        note=f"通知:{names}", at=now)
        alarm.step_index = fired + 1
        alarm.next_step_at = now + dt.timedelta(seconds=wait) if wait else None
        services._save(alarm, ["step_index", "next_step_at"])
        return True


def run_due(*, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Fire every due timer once; returns how many fired."""
    return sum(fire(t, now=now) for t in due(now=now, limit=limit))
