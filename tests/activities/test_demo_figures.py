"""The 福兴 demo reproduces the article's 自治/法治/德治 program and event figures from rows
(seed/figures.json), each one through `wuzhi stats`, and the rows behind them look as the article
says: 四点半 on Fridays, 60 diners with a funding category, 38 困境儿童 at camp with 4 students
and 7 volunteers of 四川农业大学, law events at the 法治文化园's three venues."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.demo.test_stats import article_figures, meets
from wuzhi.activities import canteen
from wuzhi.activities.models import Activity, Enrolment, Program, ProgramKind
from wuzhi.activities.venues import LAW_VENUES
from wuzhi.demo.testing import shared_demo

KEYS = ["afterschool_child_visits", "camp_children", "camp_volunteers", "canteen_diners", "law_events",
        "law_event_visits", "gratitude_events", "gratitude_visits", "art_teams", "art_team_members",
        "training_events", "training_visits"]


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_stats_reproduce_every_program_and_event_figure(fuxing, db):
    out = StringIO()
    call_command("stats", "--json", "--area", "530626100012", stdout=out)
    values = json.loads(out.getvalue())
    spec = article_figures()
    assert set(KEYS) <= set(spec)
    shown = {k: values.get(k) for k in KEYS}
    failures = {k: (shown[k], spec[k]["op"], spec[k]["value"]) for k in KEYS
                if shown[k] is None or not meets(shown[k], spec[k])}
    assert failures == {}, shown


def test_demo_rows_behind_the_figures(fuxing, db):
    after = Program.objects.get(kind=ProgramKind.AFTERSCHOOL)
    days = {timezone.localtime(a.starts_at).weekday() for a in Activity.objects.filter(program=after)}
    assert days == {4}  # Fridays only
    diners = Enrolment.objects.filter(program__kind=ProgramKind.CANTEEN, role="diner")
    assert diners.count() == 60 and not diners.filter(funding="").exists()
    camp = Enrolment.objects.filter(program__kind=ProgramKind.CAMP)
    assert camp.filter(role="camper").count() == 38
    assert camp.filter(role="volunteer", organisation="四川农业大学").count() == 7
    assert camp.filter(role="volunteer").exclude(organisation="四川农业大学").count() == 4
    assert set(Activity.objects.filter(kind="law").values_list("venue", flat=True)) == set(LAW_VENUES)


def test_demo_canteen_statement_matches_its_meal_rows_every_month(fuxing, db):
    program = Program.objects.get(kind=ProgramKind.CANTEEN)
    today = timezone.localdate()
    for month in range(1, today.month + 1):
        first, last = canteen.month_span(f"{today.year}-{month:02d}")
        st = canteen.statement(program, Activity.objects.all(), first, last)
        rows = canteen.meal_rows(program, Activity.objects.all(), first, last).count()
        assert st.meals == rows == sum(g.meals for g in st.by_funding)
        assert st.amount == program.meal_price * rows
    assert first <= today <= last + dt.timedelta(days=1)
