"""法治 figures from case rows: disputes received and mediated, the police office and patrols,
and how the case flow performs (received, resolved, on time, satisfaction)."""

from __future__ import annotations

from django.db.models import F, QuerySet

from wuzhi.activities.models import Activity, ActivityKind, Team, TeamKind, TeamMember
from wuzhi.reports.statistics import Scope, figure

from .models import (
    DONE_STATES,
    Case,
    CaseKind,
    CaseState,
    Dispute,
    Outcome,
    PoliceOffice,
    PoliceOfficer,
    Satisfaction,
)

LAW = "法治"


def _received(scope: Scope) -> QuerySet[Case]:
    # A merged duplicate is the same matter reported twice: count it once.
    return scope.in_period(scope.rows(Case), "opened_at").exclude(state=CaseState.MERGED)


@figure("disputes_received", "受理矛盾纠纷(起)", LAW)
def disputes_received(scope: Scope) -> int:
    return _received(scope).filter(kind=CaseKind.DISPUTE).count()


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
    return TeamMember.objects.filter(team__in=scope.rows(Team).filter(kind=TeamKind.PATROL, active=True),
                                     left_on__isnull=True).count()


@figure("patrols", "夜间巡逻(次)", LAW)
def patrols(scope: Scope) -> int:
    return scope.in_period(scope.rows(Activity).filter(kind=ActivityKind.PATROL), "starts_at").count()


@figure("cases_received", "受理群众诉求、报事和帮办代办(件)", LAW)
def cases_received(scope: Scope) -> int:
    return _received(scope).count()


@figure("cases_resolved", "已办结(件)", LAW)
def cases_resolved(scope: Scope) -> int:
    return _received(scope).filter(state__in=DONE_STATES).count()


@figure("cases_on_time_rate", "按期办结率(%)", LAW)
def cases_on_time_rate(scope: Scope) -> float:
    done = _received(scope).filter(state__in=DONE_STATES)
    total = done.count()
    return round(100 * done.filter(resolved_at__lte=F("due_at")).count() / total, 1) if total else 0


@figure("cases_satisfaction_rate", "回访满意率(%)", LAW)
def cases_satisfaction_rate(scope: Scope) -> float:
    """满意 and 基本满意 among the reviewed cases (a reopened case counts by its last answer)."""
    rated = _received(scope).exclude(satisfaction="")
    total = rated.count()
    happy = rated.filter(satisfaction__in=(Satisfaction.SATISFIED, Satisfaction.BASIC)).count()
    return round(100 * happy / total, 1) if total else 0
