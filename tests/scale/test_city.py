"""`wuzhi gen-city`: the synthetic 昭通 is a valid area tree with valid people, in the intended
proportions, and the same seed always describes the same city."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F

from wuzhi.activities.models import Activity
from wuzhi.alarms.models import Device
from wuzhi.cases.models import Case
from wuzhi.core import crypto
from wuzhi.core.models import Area
from wuzhi.core.pinyin import name_keys
from wuzhi.core.validators import mask_id, parse_id_number
from wuzhi.registry.models import Dwelling, Household, Resident, ResidentTag
from wuzhi.scale.city import COUNTIES, Shape, iter_roster, split

pytestmark = pytest.mark.django_db


def gen(**options: object) -> dict:
    out = io.StringIO()
    call_command("gen-city", json=True, stdout=out, **options)
    return json.loads(out.getvalue())


def test_split_is_exact_and_proportional():
    assert split(10, [1, 1, 2]) == [2, 3, 5] or sum(split(10, [1, 1, 2])) == 10
    parts = split(15000, [w for _, _, w in COUNTIES])
    assert sum(parts) == 15000 and min(parts) >= 1
    assert parts[7] == max(parts)  # 镇雄 is the largest county
    assert Shape.for_residents(5_000_000) == Shape(5_000_000, 150, 1500, 15000)


def test_city_structure_and_people():
    result = gen(residents=2000, seed=7)
    counts = result["counts"]
    assert counts["residents"] == Resident.objects.count() == 2000
    kinds = dict(Area.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds["county"] == len(COUNTIES) == 11
    assert kinds["town"] == kinds["community"] == kinds["grid"] == 11  # small city: one of each per county
    assert kinds["building"] >= 11 and kinds["unit"] >= kinds["building"]

    # The materialised paths are what Area.compute_path derives, and every level hangs where it may.
    for area in Area.objects.select_related("parent"):
        stored = (area.path, area.code, area.depth, area.full_name)
        area.compute_path()
        assert stored == (area.path, area.code, area.depth, area.full_name)
        area.clean()

    # One 户主 per household, living in it; people live where their household does.
    households = Household.objects.count()
    assert counts["households"] == households
    assert Household.objects.filter(head__relation="户主", head__household=F("pk")).count() == households
    assert Resident.objects.filter(relation="户主").count() == households
    assert not Resident.objects.exclude(area_path=F("household__area_path")).exists()
    assert not Household.objects.exclude(area_path=F("dwelling__area_path")).exists()
    assert 2.4 < 2000 / households < 3.8  # 昭通's households average about three people
    occupancy = Counter(Dwelling.objects.values_list("occupancy", flat=True))
    assert occupancy["空置"] > 0 and occupancy["自住"] + occupancy["出租"] == households

    # ID numbers: valid, unique, encrypted, with hash, mask and tail agreeing; same for phones.
    residents = list(Resident.objects.all())
    numbers = set()
    for r in residents:
        number = crypto.decrypt(r.id_number_enc)
        parsed = parse_id_number(number)
        assert (parsed.birth_date, parsed.sex) == (r.birth_date, r.sex)
        assert r.id_number_hash == crypto.blind_index(number, "id")
        assert (r.id_number_masked, r.id_tail) == (mask_id(number), number[-4:])
        assert (r.name_pinyin, r.name_initials) == name_keys(r.name)
        if r.phone_enc:
            phone = crypto.decrypt(r.phone_enc)
            assert r.phone_hash == crypto.blind_index(phone, "phone") and r.phone_tail == phone[-4:]
        numbers.add(number)
    assert len(numbers) == 2000
    with_phone = sum(1 for r in residents if r.phone_enc)
    assert 0.6 < with_phone / 2000 < 0.95

    # Tags, cases, activities and callers in realistic proportions.
    tags = Counter(ResidentTag.objects.values_list("tag__name", flat=True))
    assert tags["残疾人"] == Resident.objects.exclude(disability="").count() > 0
    assert 0.02 < tags["残疾人"] / 2000 < 0.12
    assert tags["独居老人"] > 0 and tags["低保"] > 0
    assert Device.objects.count() == counts["devices"] <= tags["独居老人"]
    assert not Device.objects.exclude(resident__tags__name="独居老人").exists()
    assert Case.objects.count() == counts["cases"] < 100
    assert Activity.objects.count() == 11 * 20
    assert Case.objects.filter(resident__isnull=False).count() == Case.objects.count()


def test_same_seed_same_city(tmp_path: Path):
    a, b, other = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "other.csv"
    gen(residents=600, seed=11, load="none", roster=a)
    gen(residents=600, seed=11, load="none", roster=b)
    gen(residents=600, seed=12, load="none", roster=other)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != other.read_bytes()
    assert Resident.objects.count() == 0 and Area.objects.count() == 0  # roster only: nothing written

    # A load with the same seed is the city the roster describes, person by person.
    loaded = tmp_path / "loaded.csv"
    gen(residents=600, seed=11, roster=loaded)
    assert loaded.read_bytes() == a.read_bytes()
    rows = list(iter_roster(a))[1:]
    assert len(rows) == 600
    people = {crypto.decrypt(r.id_number_enc): (r.name, r.household.address)
              for r in Resident.objects.select_related("household")}
    for row in rows:
        county, town, community, grid, building, unit, room, _floor, _rel, name, id_number = row[:11]
        assert people[id_number] == (name, f"{building}{unit}{room}室")


def test_refuses_a_tree_that_has_the_city(tmp_path: Path):
    gen(residents=300, seed=1)
    with pytest.raises(CommandError, match="区域树中已有"):
        gen(residents=300, seed=2)


def test_many_grids_keep_area_codes_unique():
    """Segments are fixed-width, so grid 10 + building 01 never spells the code of grid 100 + building 1."""
    gen(residents=2000, seed=3, counties=1, towns=1, communities=1, grids=120, load="areas")
    codes = list(Area.objects.values_list("code", flat=True))
    assert len(codes) == len(set(codes))
    assert Area.objects.filter(kind="grid").count() == 120
    assert Area.objects.filter(kind="grid", segment="001").exists()
