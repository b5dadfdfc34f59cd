"""智治 figures from caller and alarm rows: callers installed, calls received and how they ended,
how fast a person was reached (median seconds), and callers offline now."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from wuzhi.reports.statistics import Scope, figure

from .models import Alarm, AlarmKind, Device, DeviceStatus, Resolution

SMART = "智治"


def presses(scope: Scope) -> list[tuple[dt.datetime, dt.datetime | None, dt.datetime | None, str]]:
    """The period's one-key calls as (opened, acknowledged, on site, resolution): tens to hundreds
    of rows, read once; the counts and the exact medians are taken from them here (and by the
    dashboard's alarm chart)."""
    def run() -> list[Any]:
        qs = scope.in_period(scope.rows(Alarm), "opened_at").filter(kind=AlarmKind.PRESS)
        return list(qs.values_list("opened_at", "acknowledged_at", "on_site_at", "resolution"))

    return scope.shared("alarms.presses", run)


def device_counts(scope: Scope) -> dict[str, int]:
    """The active callers: how many, offline (marked, or overdue by now), low on battery,
    tampered with, and the residents they are installed for by the reference day. One query."""
    def run() -> dict[str, int]:
        return scope.rows(Device).filter(active=True).aggregate(
            total=Count("id"),
            offline=Count("id", filter=Q(status=DeviceStatus.OFFLINE) | Q(offline_at__lt=timezone.now())),
            marked_offline=Count("id", filter=Q(status=DeviceStatus.OFFLINE)),
            low_battery=Count("id", filter=Q(low_battery=True)),
            tamper=Count("id", filter=Q(tamper=True)),
            callers=Count("resident", distinct=True,
                          filter=Q(resident__isnull=False, installed_on__lte=scope.reference_day)),
        )

    return scope.shared("alarms.devices", run)


def _count(scope: Scope, *resolutions: str) -> int:
    return sum(1 for *_times, resolution in presses(scope) if not resolutions or resolution in resolutions)


@figure("emergency_callers", "安装孝心呼叫器的独居老人(人)", SMART)
def emergency_callers(scope: Scope) -> int:
    """Active callers assigned to a resident and installed by the period's reference day."""
    return device_counts(scope)["callers"]


@figure("alarms_received", "一键呼叫(次)", SMART)
def alarms_received(scope: Scope) -> int:
    return _count(scope)


@figure("alarms_real", "其中真实求助(次)", SMART)
def alarms_real(scope: Scope) -> int:
    return _count(scope, Resolution.REAL)


@figure("alarms_false_press", "其中误按或测试(次)", SMART)
def alarms_false_press(scope: Scope) -> int:
    return _count(scope, Resolution.FALSE_PRESS, Resolution.TEST)


@figure("alarms_cancelled", "其中老人本人取消(次)", SMART)
def alarms_cancelled(scope: Scope) -> int:
    return _count(scope, Resolution.CANCELLED)


def _median_seconds(spans: list[float]) -> float:
    return round(statistics.median(spans), 1) if spans else 0.0


@figure("alarm_ack_median_seconds", "呼叫到确认接警的中位时间(秒)", SMART, unit="秒")
def alarm_ack_median_seconds(scope: Scope) -> float:
    return _median_seconds([(acked - opened).total_seconds() for opened, acked, _site, _r in presses(scope) if acked])


@figure("alarm_onsite_median_seconds", "呼叫到有人到场的中位时间(秒)", SMART, unit="秒")
def alarm_onsite_median_seconds(scope: Scope) -> float:
    return _median_seconds([(site - opened).total_seconds() for opened, _ack, site, _r in presses(scope) if site])


@figure("callers_offline", "当前离线的呼叫器(台)", SMART)
def callers_offline(scope: Scope) -> int:
    return device_counts(scope)["marked_offline"]
