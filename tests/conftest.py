"""Shared fixtures: a small area tree with two grids, staff with grants on each, and helpers to
make households and residents through the services (never by writing rows directly)."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model

from wuzhi.core import services as core_services
from wuzhi.core.roles import Role
from wuzhi.core.validators import id_check_digit
from wuzhi.demo.testing import FIXTURE_NAME
from wuzhi.registry import services as reg

_counter = itertools.count(1)


def make_id_number(birth: str = "19800101", region: str = "530626", seq: int | None = None, male: bool = True) -> str:
    """A valid 18-digit ID number; `seq` makes it unique."""
    n = next(_counter) if seq is None else seq
    order = (n * 2 + (1 if male else 0)) % 1000
    first17 = f"{region}{birth}{order:03d}"
    return first17 + id_check_digit(first17)


def make_phone() -> str:
    return f"139{next(_counter):08d}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every test that reads the built demo community last and together, module by module.

    The demo takes a minute to build (more on PostgreSQL); wuzhi.demo.testing keeps it between
    modules only when the next database test also uses it. Without this, the apps' demo-figure
    modules sit between other tests in path order and each would build it again. Runs after
    pytest-django's own reordering, whose transactional tests leave an empty database behind."""
    demo = [item for item in items if FIXTURE_NAME in getattr(item, "fixturenames", ())]
    if demo:
        items[:] = [item for item in items if FIXTURE_NAME not in getattr(item, "fixturenames", ())] + demo


@pytest.fixture(autouse=True)
def _empty_cache():
    # The cache is shared (a file cache in WUZHI_HOME): one test's failed logins must not lock
    # another test out, nor an import's progress leak into the next test.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher costs ~0.3 s per user on purpose; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 "django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture
def tree(db):
    """county 530626 → town 100 → community 012 (福兴社区) → grids 01, 02 → one building each with
    two units and four dwellings per unit."""
    county = core_services.area_create(actor=None, parent=None, segment="530626", name="绥江县")
    town = core_services.area_create(actor=None, parent=county, segment="100", name="中城镇")
    community = core_services.area_create(actor=None, parent=town, segment="012", name="福兴社区")
    grids, buildings, units, dwellings = [], [], [], []
    for g in (1, 2):
        grid = core_services.area_create(actor=None, parent=community, segment=f"{g:02d}", name=f"{g}网格")
        building = core_services.area_create(actor=None, parent=grid, segment=f"{g:02d}", name=f"{g}栋", floors=2)
        grids.append(grid)
        buildings.append(building)
        for u in (1, 2):
            unit = core_services.area_create(actor=None, parent=building, segment=str(u), name=f"{u}单元")
            units.append(unit)
            for floor in (1, 2):
                for room in (1, 2):
                    dwellings.append(reg.dwelling_create(actor=None, unit=unit, floor=floor, number=f"{floor}0{room}"))
    return SimpleNamespace(county=county, town=town, community=community, grids=grids, buildings=buildings,
                           units=units, dwellings=dwellings)


@pytest.fixture
def make_user(db):
    User = get_user_model()

    def make(username: str, role: str | None = None, area=None, **extra):
        user = User.objects.create_user(username=username, password="wuzhi-test-pw", first_name=extra.pop("name", username), **extra)
        if role is not None:
            core_services.grant_role(actor=None, user=user, role=role, area=area)
        return user

    return make


@pytest.fixture
def people(tree, make_user):
    """One user per role that matters for scoping."""
    return SimpleNamespace(
        secretary=make_user("secretary", Role.SECRETARY, tree.community, name="李书记"),
        worker1=make_user("worker1", Role.GRID_WORKER, tree.grids[0], name="王网格"),
        worker2=make_user("worker2", Role.GRID_WORKER, tree.grids[1], name="赵网格"),
        county=make_user("county", Role.COUNTY_CADRE, tree.county, name="县干部"),
        head=make_user("head1", Role.BUILDING_HEAD, tree.buildings[0], name="楼长甲"),
    )


@pytest.fixture
def make_household(db):
    """make_household(dwelling, [("张黎", {"birth": "19700512"}), ...]) → household with members."""

    def make(dwelling, members=(("张黎", {}),), **fields):
        household = reg.household_create(actor=None, dwelling=dwelling, **fields)
        for i, (name, opts) in enumerate(members):
            opts = dict(opts)
            reg.resident_create(
                actor=None, household=household, name=name,
                id_number=opts.pop("id_number", None) or make_id_number(opts.pop("birth", "19800101"), male=opts.pop("male", True)),
                phone=opts.pop("phone", ""), relation=opts.pop("relation", "户主" if i == 0 else "子"), **opts,
            )
        household.refresh_from_db()
        return household

    return make


@pytest.fixture
def rng():
    return random.Random(20261126)
