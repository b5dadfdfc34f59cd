"""自治 figures from deliberation rows: topics that reached a decision (决议) in the period, the
distinct households they benefit, and how the flow is used (raised, declined, major matters,
objections answered, meetings)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from wuzhi.reports.statistics import Scope, figure

from .models import Meeting, Objection, Topic, TopicState

SELF = "自治"


def _decided(scope: Scope) -> QuerySet[Topic]:
    return scope.in_period(scope.rows(Topic), "decided_at")


def topic_counts(scope: Scope) -> dict[str, int]:
    """The period's topics decided (and of those the major matters), raised and declined: one query."""
    def run() -> dict[str, int]:
        decided, raised = scope.period_q("decided_at"), scope.period_q("proposed_at")
        return scope.rows(Topic).filter(decided | raised).aggregate(
            decided=Count("id", filter=decided), major=Count("id", filter=decided & Q(major=True)),
            raised=Count("id", filter=raised), declined=Count("id", filter=raised & Q(state=TopicState.DECLINED)))

    return scope.shared("deliberation.topics", run)


@figure("deliberations", "楼栋、片区、社区三级议事协商(次)", SELF)
def deliberations(scope: Scope) -> int:
    return topic_counts(scope)["decided"]


@figure("deliberation_households_benefited", "议事协商惠及群众(户)", SELF)
def deliberation_households_benefited(scope: Scope) -> int:
    through = Topic.households_benefited.through
    return through.objects.filter(topic__in=_decided(scope)).values("household_id").distinct().count()


@figure("deliberation_topics_raised", "提出议题(个)", SELF)
def deliberation_topics_raised(scope: Scope) -> int:
    return topic_counts(scope)["raised"]


@figure("deliberation_topics_declined", "审议后不予采纳的议题(个)", SELF)
def deliberation_topics_declined(scope: Scope) -> int:
    return topic_counts(scope)["declined"]


@figure("deliberation_major_matters", "“四议两公开”重大事项(项)", SELF)
def deliberation_major_matters(scope: Scope) -> int:
    return topic_counts(scope)["major"]


@figure("deliberation_meetings", "议事会议(次)", SELF)
def deliberation_meetings(scope: Scope) -> int:
    return scope.in_period(scope.rows(Meeting), "held_at").count()


@figure("deliberation_objections_answered", "公示期异议已答复(条)", SELF)
def deliberation_objections_answered(scope: Scope) -> int:
    topics = scope.rows(Topic)
    return scope.in_period(Objection.objects.filter(disclosure__topic__in=topics, answered_at__isnull=False),
                           "answered_at").count()
