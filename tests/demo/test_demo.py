"""The 福兴 demo community: the article's counts from records, valid people, determinism.

The demo is built once for this module and test_stats.py (see wuzhi.demo.testing for why a
module fixture with a shared build rather than `db` or a session fixture)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, F, Q
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.roles import Role
from wuzhi.core.validators import age_on, parse_id_number
from wuzhi.demo import data
from wuzhi.demo.generator import build_demo, plan_community
from wuzhi.demo.testing import shared_demo
from wuzhi.registry import choices as c
from wuzhi.registry import selectors
from wuzhi.registry.models import Household, Resident, ResidentTag, Visit

REPO = Path(__file__).resolve().parents[2]
REF = dt.date(2026, 1, 1)


def plan_digest(seed: int, ref: dt.date = REF) -> str:
    return plan_community(seed, ref).digest()


# ---- the plan, without a database (these run before the build) -----------------------------

def test_plan_is_deterministic_and_seed_dependent():
    assert plan_digest(7) == plan_digest(7)
    assert plan_digest(7) != plan_digest(8)


def test_plan_does_not_depend_on_the_process_hash_seed():
    """No str hash() or set order anywhere: another interpreter with another PYTHONHASHSEED
    draws the same community."""
    code = ("import datetime as dt, django; django.setup(); "
            "from wuzhi.demo.generator import plan_community; "
            "print(plan_community(7, dt.date(2026, 1, 1)).digest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "wuzhi.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == plan_digest(7)


def test_plan_families_are_plausible():
    plan = plan_community(2026, REF)
    assert len(plan.households) == data.HOUSEHOLDS
    assert len(plan.residents) == data.RESIDENTS
    assert len(plan.households) + len(plan.empty_slots) == 63 * data.FLOORS * data.DWELLINGS_PER_FLOOR
    for h in plan.households:
        heads = [m for m in h.members if m.relation == c.Relation.HEAD]
        assert len(heads) == 1
        head = heads[0]
        spouses = [m for m in h.members if m.relation == c.Relation.SPOUSE]
        assert len(spouses) <= 1
        for s in spouses:
            assert s.sex != head.sex
            assert abs(age_on(s.birth, REF) - age_on(head.birth, REF)) <= 10
        for kid in (m for m in h.members if m.relation in (c.Relation.SON, c.Relation.DAUGHTER)):
            gap = age_on(head.birth, REF) - age_on(kid.birth, REF)
            assert 17 <= gap <= 45, (h.kind, head.name, kid.name, gap)
            assert (kid.sex == "M") == (kid.relation == c.Relation.SON)
        for parent in (m for m in h.members if m.relation == c.Relation.PARENT):
            assert age_on(parent.birth, REF) - age_on(head.birth, REF) >= 18
    ethnic = Counter(m.ethnicity for m in plan.residents)
    assert 0.68 < ethnic["汉族"] / data.RESIDENTS < 0.82
    assert ethnic["彝族"] > ethnic["苗族"] > 0.05 * data.RESIDENTS


# ---- the built community -------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_tree_has_63_units_and_the_article_totals(fuxing, db):
    community = Area.objects.get(code=data.COMMUNITY_CODE)
    assert community.full_name == "绥江县中城镇福兴社区"
    under = Area.objects.filter(path__startswith=community.path)
    assert under.filter(kind=AreaKind.GRID).count() == data.GRIDS
    assert under.filter(kind=AreaKind.UNIT).count() == 63
    assert Household.objects.filter(status=c.HouseholdStatus.PRESENT).count() == 1775
    assert Resident.objects.filter(status=c.PersonStatus.PRESENT).count() == 6820
    assert Resident.objects.filter(political=c.Political.CPC).count() == data.PARTY_MEMBERS


def test_every_household_has_exactly_one_head(fuxing, db):
    households = Household.objects.annotate(heads=Count("members", filter=Q(members__relation=c.Relation.HEAD)))
    assert not households.exclude(heads=1).exists()
    assert not Household.objects.filter(head__isnull=True).exists()
    assert not Household.objects.exclude(head__household=F("pk")).exists()
    assert not Household.objects.exclude(head__relation=c.Relation.HEAD).exists()


def test_id_numbers_are_valid_unique_and_agree_with_birth_and_sex(fuxing, db):
    rows = list(Resident.objects.values_list("id_number_enc", "birth_date", "sex"))
    numbers = [crypto.decrypt(enc) for enc, _b, _s in rows]
    assert len(set(numbers)) == len(numbers) == 6820
    allowed = {code for code, *_rest in data.COUNTIES}
    for number, (_enc, birth, sex) in zip(numbers, rows, strict=True):
        parsed = parse_id_number(number)
        assert (parsed.birth_date, parsed.sex) == (birth, sex)
        assert number[:6] in allowed


def test_build_writes_the_plan_of_its_seed(fuxing, db):
    plan = plan_community(2026, dt.date(timezone.localdate().year, 1, 1))
    planned = [m.name for h in plan.households for m in sorted(h.members, key=lambda m: m.relation != "户主")]
    built = list(Resident.objects.order_by("household__number", "id").values_list("name", flat=True))
    assert built == planned


def test_running_the_build_again_changes_nothing(fuxing, db):
    before = (Area.objects.count(), Household.objects.count(), Resident.objects.count(), Visit.objects.count(),
              get_user_model().objects.count(), Grant.objects.count())
    again = build_demo(seed=2026)
    assert again.created is False
    after = (Area.objects.count(), Household.objects.count(), Resident.objects.count(), Visit.objects.count(),
             get_user_model().objects.count(), Grant.objects.count())
    assert after == before


def test_special_groups_match_the_article(fuxing, db):
    tagged = Counter(ResidentTag.objects.values_list("tag__name", flat=True))
    assert tagged["独居老人"] == 50  # 50 孝心呼叫器
    assert tagged["孤儿"] + tagged["事实无人抚养儿童"] == 38  # the summer camp
    assert tagged["孤儿"] > 0 and tagged["事实无人抚养儿童"] > 0
    # The canteen serves 60 of the 留守老人, 留守儿童 and 寡孤独残: there are enough of them.
    assert tagged["留守老人"] + tagged["留守儿童"] + tagged["独居老人"] + tagged["残疾人"] > 60
    today = timezone.localdate()
    for r in Resident.objects.filter(tags__name__in=["孤儿", "事实无人抚养儿童", "留守儿童"]):
        assert age_on(r.birth_date, today) < 18
    for r in Resident.objects.filter(tags__name__in=["独居老人", "空巢老人", "留守老人"]):
        assert age_on(r.birth_date, today) >= 60
    # Tags agree with the data: nothing left for a worker to confirm.
    assert selectors.tag_suggestions(Resident.objects.all()) == []


def test_visits_make_some_but_not_all_special_care_people_overdue(fuxing, db):
    assert Visit.objects.count() > 1000
    assert not Visit.objects.filter(visited_at__gt=timezone.now()).exists()
    special = Resident.objects.filter(tags__visit_interval_days__isnull=False).distinct().count()
    overdue = selectors.overdue_residents(Resident.objects.all()).count()
    assert 0 < overdue < special * 0.3
    # Every visit was made by the grid worker of the household's grid.
    for visit in Visit.objects.select_related("created_by").order_by("id")[:200]:
        grid = visit.area_path.split("/")[4]
        assert visit.created_by.username == f"wgy{int(grid)}"


def test_demo_logins(fuxing, db):
    User = get_user_model()
    usernames = [x.username for x in fuxing.logins]
    assert usernames[:4] == ["admin", "county", "town", "shuji"]
    assert {f"wgy{g}" for g in range(1, 8)} <= set(usernames)
    assert all(x.name for x in fuxing.logins)
    assert User.objects.get(username="admin").is_superuser
    # One shared hash (PBKDF2 is slow on purpose): checking two accounts checks them all.
    assert len(set(User.objects.filter(username__in=usernames).values_list("password", flat=True))) == 1
    for username in ("admin", "jumin"):
        assert User.objects.get(username=username).check_password(data.DEMO_PASSWORD)
    grant = Grant.objects.get(user__username="wgy3")
    assert grant.role == Role.GRID_WORKER and grant.area.name == "3网格"
    jumin = Grant.objects.get(user__username="jumin")
    assert jumin.area.kind == AreaKind.UNIT
    assert Household.objects.filter(area=jumin.area, head__name=jumin.user.first_name).exists()
    # A grid worker sees their grid only.
    wgy1 = User.objects.get(username="wgy1")
    assert 0 < Household.objects.visible_to(wgy1).count() < 1775


def test_demo_command_without_serving(fuxing, db, monkeypatch):
    # The command sets WUZHI_DEMO for the login page; monkeypatch takes it away again afterwards.
    monkeypatch.delenv("WUZHI_DEMO", raising=False)
    out = StringIO()
    call_command("demo", "--no-serve", stdout=out)
    text = out.getvalue()
    assert "已存在" in text
    assert data.DEMO_PASSWORD in text
    for header in ("角色", "用户名", "姓名", "范围"):
        assert header in text
    assert "wgy7" in text and "专职网格员" in text
    assert Resident.objects.count() == 6820
    assert os.environ["WUZHI_DEMO"] == "1"
