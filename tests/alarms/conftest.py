"""Fixtures for the alarm engine: an elder living alone with a son who has a phone, the staff of
grid 1 (duty, grid worker, 楼长, doctor, police, secretary), a caller and the grid's default chain
(step 1 at once: family + duty station; step 2 after 60 s: grid worker + 楼长; step 3 after 120 s:
doctor + police + secretary)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wuzhi.alarms import services
from wuzhi.alarms.models import TargetKind
from wuzhi.alarms.services import StepSpec, TargetSpec
from wuzhi.core import services as core_services
from wuzhi.core.roles import Role


@pytest.fixture
def staff(tree, people, make_user):
    duty = make_user("zhiban", Role.DUTY, tree.community, name="值班员")
    doctor = make_user("doctor", Role.DOCTOR, tree.community, name="家庭医生")
    police = make_user("police", Role.POLICE, tree.community, name="社区民警")
    core_services.profile_update(actor=None, user=people.worker1, phone="13800000001", publish_phone=False)
    return SimpleNamespace(duty=duty, doctor=doctor, police=police, worker=people.worker1, head=people.head,
                           secretary=people.secretary, outsider=people.worker2)


@pytest.fixture
def chain(tree, staff):
    return services.chain_create(
        actor=None, area=tree.grids[0], name="1网格默认通知链", is_default=True, onsite_seconds=600,
        repeat_seconds=300,
        steps=[
            StepSpec(0, [TargetSpec(TargetKind.FAMILY), TargetSpec(TargetKind.DUTY)]),
            StepSpec(60, [TargetSpec(TargetKind.ROLE, role=Role.GRID_WORKER),
                          TargetSpec(TargetKind.ROLE, role=Role.BUILDING_HEAD)]),
            StepSpec(120, [TargetSpec(TargetKind.ROLE, role=Role.DOCTOR), TargetSpec(TargetKind.ROLE, role=Role.POLICE),
                           TargetSpec(TargetKind.ROLE, role=Role.SECRETARY)]),
        ])


@pytest.fixture
def elder(tree, make_household):
    household = make_household(tree.dwellings[0], [("王奶奶", {"birth": "19400302", "male": False}),
                                                    ("王小明", {"phone": "13912345678", "relation": "子"})])
    return household.members.get(name="王奶奶")


@pytest.fixture
def device(elder, chain):
    return services.device_register(actor=None, key="860000000000001", resident=elder, sim="13700000001",
                                    secret="device-secret", medical_notes="高血压,服用氨氯地平")
