"""The demo's 德治 honours and 能致富 records (article: "共评选出'卫生示范户''身边好人''好婆媳'等
80户(人)和文明楼栋5栋"). Reuses the one shared demo build (wuzhi.demo.testing)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.demo.testing import shared_demo
from wuzhi.employment.models import Contact, Placement, PlacementKind
from wuzhi.honours import flow
from wuzhi.honours.models import Nomination, Result, Round, RoundEvent, RoundState
from wuzhi.reports.statistics import compute, year_scope


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_article_figures(fuxing, db):
    values = compute(year_scope(None, fuxing.community, timezone.localdate().year),
                     ["honorees", "civilized_buildings", "honour_objections", "employment_rate",
                      "employment_placements"])
    assert values["honorees"] == 80
    assert values["civilized_buildings"] == 5
    assert values["honour_objections"] >= 1
    assert 50 < values["employment_rate"] < 100
    assert 200 <= values["employment_placements"] <= 400


def test_rounds_timelines_and_the_running_notice(fuxing, db):
    rounds = list(Round.objects.filter(area=fuxing.community))
    quarter = (timezone.localdate().month - 1) // 3 + 1
    assert {r.quarter for r in rounds} == set(range(1, max(quarter, 1) + 1))
    for rnd in rounds:
        rows = list(rnd.events.filter(kind=RoundEvent.Kind.TRANSITION).order_by("at", "id"))
        assert rows[0].from_state == "" and rows[-1].to_state == rnd.state
        for prev, nxt in zip(rows, rows[1:], strict=False):
            assert prev.to_state == nxt.from_state and flow.step(nxt.from_state, nxt.to_state) is not None
        if rnd.published_at:
            assert rnd.published_at >= rnd.notice_ends_at
    if quarter > 1:
        running = next(r for r in rounds if r.quarter == quarter)
        assert running.state == RoundState.NOTICE and running.notice_open()
        objection = running.objections.get()
        assert objection.answered_at is not None and not objection.upheld
    # Some fell short: the sheets and the votes decide.
    assert Nomination.objects.filter(result=Result.NOT_SELECTED).count() >= 10


def test_public_board_of_the_demo(fuxing, client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        resp = client.get(reverse("honours_public:board", args=[fuxing.community.code]))
    html = resp.content.decode()
    assert resp.status_code == 200 and "文明楼栋" in html and "*家庭" in html
    # Heads' full names never appear.
    heads = Nomination.objects.filter(result=Result.SELECTED, household__isnull=False).values_list(
        "household__head__name", flat=True)[:20]
    assert heads and not any(name in html for name in heads)


def test_employment_records(fuxing, db):
    kinds = set(Placement.objects.values_list("kind", flat=True))
    assert {PlacementKind.WORKSHOP, PlacementKind.MIGRANT, PlacementKind.PUBLIC_POST} <= kinds
    migrant = Placement.objects.filter(kind=PlacementKind.MIGRANT).first()
    assert migrant.province and migrant.city and migrant.employer
    assert Contact.objects.filter(team__name="就业创业服务队").exists()
