"""法治 figures from case rows: disputes received and mediated, the police office and patrols,
and how the case flow performs (received, resolved, on time, satisfaction)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from wuzhi.activities.figures import activity_groups, team_members
from wuzhi.activities.models import ActivityKind
from wuzhi.reports.statistics import Scope, figure

from .models import (
    Case,
    CaseKind,
    CaseState,
    Dispute,
    Outcome,
    PoliceOffice,
    PoliceOfficer,
)
from .selectors import _measures

LAW = "法治"


def _received(scope: Scope) -> QuerySet[Case]:
    # A merged duplicate is the same matter reported twice: count it once.
    return scope.in_period(scope.rows(Case), "opened_at").exclude(state=CaseState.MERGED)


GROUP_FIELDS = ("kind", "state", "month")
GROUP_SUMS = ("received", "resolved", "on_time", "rated", "satisfied")


def case_groups(scope: Scope) -> list[dict[str, Any]]:
    """The period's cases counted once for every case figure and chart: grouped by kind, state
    and month (the index into wuzhi.reports.series.months, None after the reference month), each
    group with the measures every case statistic shows (selectors._measures: received,
    resolved, on_time, rated, satisfied). The dashboard's drill-down runs the same query per
    child area and hands the sums over to this one (wuzhi.reports.series.child_table)."""
    return scope.shared("cases.groups", lambda: case_group_rows(scope))


def case_group_rows(scope: Scope, **by: Any) -> list[dict[str, Any]]:
    """The query of case_groups, grouped further by the expressions `by`."""
    from wuzhi.reports.series import month_index

    return list(_received(scope).annotate(**by).values(*by, "kind", "state", month=month_index(scope, "opened_at"))
                .annotate(**_measures()).order_by())


def case_counts(scope: Scope) -> dict[str, int]:
    """The period's totals: received, disputes, resolved, on time, rated, satisfied."""
    totals = dict.fromkeys(("received", "disputes", "resolved", "on_time", "rated", "satisfied"), 0)
    for g in case_groups(scope):
        for key in ("received", "resolved", "on_time", "rated", "satisfied"):
            totals[key] += g[key]
        if g["kind"] == CaseKind.DISPUTE:
            totals["disputes"] += g["received"]
    return totals


def _rate(part: int, total: int) -> float:
    return round(100 * part / total, 1) if total else 0


@figure("disputes_received", "受理矛盾纠纷(起)", LAW)
def disputes_received(scope: Scope) -> int:
    return case_counts(scope)["disputes"]


@figure("disputes_mediated", "调解成功矛盾纠纷(起)", LAW)
def disputes_mediated(scope: Scope) -> int:
    cases = scope.rows(Case).filter(kind=CaseKind.DISPUTE)
    return scope.in_period(Dispute.objects.filter(case__in=cases, outcome=Outcome.SUCCESS), "concluded_at").count()


@figure("police_offices", "警务室(个)", LAW)
def police_offices(scope: Scope) -> int:
    return scope.rows(PoliceOffice).count()


@figure("police_officers", "派驻警力(人)", LAW)
def police_officers(scope: Scope) -> int:
    return scope.rows(PoliceOfficer).filter(active=True).count()


@figure("patrol_team_members", "巡防队伍(人)", LAW)
def patrol_team_members(scope: Scope) -> int:
    return team_members(scope)["patrol_members"]


@figure("patrols", "夜间巡逻(次)", LAW)
def patrols(scope: Scope) -> int:
    return sum(g["n"] for g in activity_groups(scope) if g["kind"] == ActivityKind.PATROL)


@figure("cases_received", "受理群众诉求、报事和帮办代办(件)", LAW)
def cases_received(scope: Scope) -> int:
    return case_counts(scope)["received"]


@figure("cases_resolved", "已办结(件)", LAW)
def cases_resolved(scope: Scope) -> int:
    return case_counts(scope)["resolved"]


@figure("cases_on_time_rate", "按期办结率(%)", LAW)
def cases_on_time_rate(scope: Scope) -> float:
    counts = case_counts(scope)
    return _rate(counts["on_time"], counts["resolved"])


@figure("cases_satisfaction_rate", "回访满意率(%)", LAW)
def cases_satisfaction_rate(scope: Scope) -> float:
    """满意 and 基本满意 among the reviewed cases (a reopened case counts by its last answer)."""
    counts = case_counts(scope)
    return _rate(counts["satisfied"], counts["rated"])
