"""智治 figures from caller and alarm rows: callers installed, calls received and how they ended,
how fast a person was reached (median seconds), and callers offline now."""

from __future__ import annotations

import statistics
from typing import Any

from django.db.models import F, QuerySet

from wuzhi.reports.statistics import Scope, figure

from .models import Alarm, AlarmKind, Device, DeviceStatus, Resolution

SMART = "智治"


def _presses(scope: Scope) -> QuerySet[Alarm]:
    return scope.in_period_fast(scope.rows(Alarm), "opened_at").filter(kind=AlarmKind.PRESS)


@figure("emergency_callers", "安装孝心呼叫器的独居老人(人)", SMART)
def emergency_callers(scope: Scope) -> int:
    """Active callers assigned to a resident and installed by the period's reference day."""
    return (scope.rows(Device).filter(active=True, resident__isnull=False, installed_on__lte=scope.reference_day)
            .values("resident_id").distinct().count())


@figure("alarms_received", "一键呼叫(次)", SMART)
def alarms_received(scope: Scope) -> int:
    return _presses(scope).count()


@figure("alarms_real", "其中真实求助(次)", SMART)
def alarms_real(scope: Scope) -> int:
    return _presses(scope).filter(resolution=Resolution.REAL).count()


@figure("alarms_false_press", "其中误按或测试(次)", SMART)
def alarms_false_press(scope: Scope) -> int:
    return _presses(scope).filter(resolution__in=[Resolution.FALSE_PRESS, Resolution.TEST]).count()


@figure("alarms_cancelled", "其中老人本人取消(次)", SMART)
def alarms_cancelled(scope: Scope) -> int:
    return _presses(scope).filter(resolution=Resolution.CANCELLED).count()


def _median_seconds(qs: QuerySet[Any], field: str) -> float:
    spans = [(end - start).total_seconds() for start, end in
             qs.filter(**{f"{field}__isnull": False}).annotate(end=F(field)).values_list("opened_at", "end")]
    return round(statistics.median(spans), 1) if spans else 0.0


@figure("alarm_ack_median_seconds", "呼叫到确认接警的中位时间(秒)", SMART, unit="秒")
def alarm_ack_median_seconds(scope: Scope) -> float:
    return _median_seconds(_presses(scope), "acknowledged_at")


@figure("alarm_onsite_median_seconds", "呼叫到有人到场的中位时间(秒)", SMART, unit="秒")
def alarm_onsite_median_seconds(scope: Scope) -> float:
    return _median_seconds(_presses(scope), "on_site_at")


@figure("callers_offline", "当前离线的呼叫器(台)", SMART)
def callers_offline(scope: Scope) -> int:
    return scope.rows(Device).filter(active=True, status=DeviceStatus.OFFLINE).count()
