"""The demo's 自治 figures (article): 楼栋、片区、社区三级议事协商12次,惠及群众140余户, with a
四议两公开 major matter carrying every record. Reuses the one shared demo build."""

from __future__ import annotations

import pytest
from django.utils import timezone

from wuzhi.deliberation import services
from wuzhi.deliberation.models import Disclosure, Level, Objection, Topic, TopicEvent, TopicState
from wuzhi.demo.testing import shared_demo
from wuzhi.reports.statistics import compute, year_scope


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_article_figures(fuxing, db):
    values = compute(year_scope(None, fuxing.community, timezone.localdate().year))
    assert values["deliberations"] == 12
    assert 140 < values["deliberation_households_benefited"] < 150
    assert values["deliberation_major_matters"] >= 1
    assert values["deliberation_topics_declined"] >= 1 and values["deliberation_objections_answered"] >= 1


def test_demo_covers_the_three_levels_the_major_matter_and_earlier_steps(fuxing, db):
    decided = Topic.objects.filter(decided_at__isnull=False)
    assert {t.level for t in decided} == set(Level.values)
    major = decided.get(major=True)
    assert all(record is not None for _st, record in services.major_progress(major))
    states = set(Topic.objects.values_list("state", flat=True))
    assert {TopicState.PROPOSED, TopicState.CONSULTING, TopicState.DECLINED, TopicState.MERGED} <= states
    assert Topic.objects.filter(cases__isnull=False).exists()
    # One decision still in its notice period, with an objection answered.
    live = [d for d in Disclosure.objects.all() if d.in_notice()]
    assert live and Objection.objects.filter(disclosure__in=live, answered_at__isnull=False).exists()
    # Every topic's last transition row is its current state.
    for topic in Topic.objects.all():
        last = topic.events.filter(kind=TopicEvent.Kind.TRANSITION).order_by("at", "id").last()
        assert last.to_state == topic.state
