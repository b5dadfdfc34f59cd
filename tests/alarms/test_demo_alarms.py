"""The demo's callers: one per 独居老人, a default chain per grid, past calls of every outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone

from wuzhi.alarms.figures import emergency_callers
from wuzhi.alarms.models import Alarm, AlarmKind, Chain, Device, Notification, Resolution
from wuzhi.core.models import Area, AreaKind
from wuzhi.demo.testing import shared_demo
from wuzhi.reports.statistics import year_scope

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_fifty_callers_on_elders_living_alone(fuxing):
    devices = Device.objects.select_related("resident")
    assert devices.count() == 50
    assert all(d.resident is not None and d.resident.residenttag_set.filter(tag__name="独居老人").exists()
               for d in devices)
    assert all(d.dwelling_id for d in devices)
    community = Area.objects.get(code="530626100012")
    assert emergency_callers(year_scope(None, community, timezone.localdate().year)) == 50


def test_every_grid_has_a_default_chain_with_three_steps(fuxing):
    grids = Area.objects.filter(kind=AreaKind.GRID).count()
    chains = Chain.objects.filter(is_default=True).prefetch_related("steps")
    assert chains.count() == grids
    assert all([s.wait_seconds for s in c.steps.all()] == [0, 60, 120] for c in chains)


def test_past_calls_of_every_outcome_with_timelines(fuxing):
    presses = Alarm.objects.filter(kind=AlarmKind.PRESS)
    outcomes = set(presses.values_list("resolution", flat=True))
    assert {Resolution.REAL, Resolution.FALSE_PRESS, Resolution.TEST, Resolution.CANCELLED} <= outcomes
    real = presses.get(resolution=Resolution.REAL)
    labels = list(real.events.values_list("label", flat=True))
    assert labels == ["一键呼叫", "开始通知", "升级通知第2步", "确认接警", "我已出发", "已到达现场", "处置完毕"]
    # the snapshot resolved the demo's people: the duty station, the grid worker, the doctor …
    names = {t["name"] for s in real.chain_snapshot["steps"] for t in s["targets"]}
    assert {"值班室", "肖雪梅", "唐伟", "李秀芬"} <= names
    assert presses.filter(state="on_site").count() == 1  # one still being handled on the console
    assert Alarm.objects.filter(kind=AlarmKind.LOW_BATTERY, state__in=["new", "notifying"]).count() == 1
    # nothing left for a worker to send when the demo starts
    assert not Notification.objects.filter(status__in=["pending", "sending"]).exists()
