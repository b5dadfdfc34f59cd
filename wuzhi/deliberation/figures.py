"""自治 figures from deliberation rows: topics that reached a decision (决议) in the period, the
distinct households they benefit, and how the flow is used (raised, declined, major matters,
objections answered, meetings)."""

from __future__ import annotations

from django.db.models import QuerySet

from wuzhi.reports.statistics import Scope, figure

from .models import Meeting, Objection, Topic, TopicState

SELF = "自治"


def _decided(scope: Scope) -> QuerySet[Topic]:
    return scope.in_period(scope.rows(Topic), "decided_at")


@figure("deliberations", "楼栋、片区、社区三级议事协商(次)", SELF)
def deliberations(scope: Scope) -> int:
    return _decided(scope).count()


@figure("deliberation_households_benefited", "议事协商惠及群众(户)", SELF)
def deliberation_households_benefited(scope: Scope) -> int:
    through = Topic.households_benefited.through
    return through.objects.filter(topic__in=_decided(scope)).values("household_id").distinct().count()


@figure("deliberation_topics_raised", "提出议题(个)", SELF)
def deliberation_topics_raised(scope: Scope) -> int:
    return scope.in_period(scope.rows(Topic), "proposed_at").count()


@figure("deliberation_topics_declined", "审议后不予采纳的议题(个)", SELF)
def deliberation_topics_declined(scope: Scope) -> int:
    return scope.in_period(scope.rows(Topic), "proposed_at").filter(state=TopicState.DECLINED).count()


@figure("deliberation_major_matters", "“四议两公开”重大事项(项)", SELF)
def deliberation_major_matters(scope: Scope) -> int:
    return _decided(scope).filter(major=True).count()


@figure("deliberation_meetings", "议事会议(次)", SELF)
def deliberation_meetings(scope: Scope) -> int:
    return scope.in_period(scope.rows(Meeting), "held_at").count()


@figure("deliberation_objections_answered", "公示期异议已答复(条)", SELF)
def deliberation_objections_answered(scope: Scope) -> int:
    topics = scope.rows(Topic)
    return scope.in_period(Objection.objects.filter(disclosure__topic__in=topics, answered_at__isnull=False),
                           "answered_at").count()
