"""The demo's 法治 figures (article): 受理矛盾纠纷13起,调解成功12起;警务室1个,派驻警力3人;
20人的巡防队伍,每晚巡逻. Reuses the one shared demo build (wuzhi.demo.testing)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuzhi.cases.models import Case, CaseEvent, CaseKind, CaseState, Supervision
from wuzhi.demo.testing import shared_demo
from wuzhi.reports.statistics import compute, year_scope


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_article_figures(fuxing, db):
    values = compute(year_scope(None, fuxing.community, timezone.localdate().year))
    assert values["disputes_received"] == 13
    assert values["disputes_mediated"] == 12
    assert values["police_offices"] == 1
    assert values["police_officers"] == 3
    assert values["patrol_team_members"] == 20
    # A patrol every night of the year so far.
    assert values["patrols"] == (timezone.localdate() - dt.date(timezone.localdate().year, 1, 1)).days
    assert values["cases_received"] > 200 and 0 < values["cases_on_time_rate"] <= 100


def test_demo_cases_cover_every_kind_and_state_with_complete_timelines(fuxing, db):
    kinds = set(Case.objects.values_list("kind", flat=True))
    assert kinds == set(CaseKind.values)
    states = set(Case.objects.values_list("state", flat=True))
    assert {CaseState.ARCHIVED, CaseState.REVIEWED, CaseState.IN_PROGRESS, CaseState.MERGED} <= states
    # Every case's last transition row is its current state.
    for case in Case.objects.order_by("?")[:60]:
        last = case.events.filter(kind=CaseEvent.Kind.TRANSITION).order_by("at", "id").last()
        assert last.to_state == case.state
    assert Case.objects.filter(supervision__in=[Supervision.YELLOW, Supervision.RED]).exists()
