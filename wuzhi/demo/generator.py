"""The 福兴 demo community: 绥江县中城镇福兴社区 as the article describes it, built from records.

Two phases, so the expensive one is easy to test without a database:

1. `plan_community(seed, ref)` draws every household and person in plain Python from one
   `random.Random(seed)`: families with plausible ages and relations, names, valid unique ID
   numbers, phones, origins, tags. Same seed and reference date, same community, byte for byte.
2. `build_demo(seed)` writes the plan through the services (area_create, dwelling_create,
   household_create, resident_create, grant_role, visit_record) inside one transaction, then adds
   demo logins and a few months of visits relative to today.

Ages are drawn against a reference date, 1 January of the current year, so the demo does not
age out of its categories and every birth date lies in the past. Visits are relative to today
(the overdue list compares with now), with offsets drawn from the seed."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from wuzhi.core import services as core_services
from wuzhi.core.models import Area, Grant
from wuzhi.core.roles import Role
from wuzhi.core.validators import age_on, id_check_digit
from wuzhi.registry import choices as c
from wuzhi.registry import services as reg
from wuzhi.registry.models import Dwelling, Household, Resident, Tag

from . import data as d

T = TypeVar("T")
HISTORY_DAYS = 120  # visits go back about four months
# Households by nationality; children of mixed marriages mostly register as the minority, so
# people come out near 72 % 汉族, 16 % 彝族, 11 % 苗族.
ETHNIC_MIX = [("汉族", 77), ("彝族", 14), ("苗族", 9)]


# ---- plan ----------------------------------------------------------------------------------

@dataclass(eq=False)  # identity, not field equality: two plans are two people
class PersonPlan:
    name: str
    sex: str  # "M" / "F"
    birth: dt.date
    relation: str
    ethnicity: str
    migrant: bool = False
    region: str = ""  # 6-digit county code of the ID number
    id_number: str = ""
    phone: str = ""
    education: str = ""
    employment: str = ""
    health: str = c.Health.HEALTHY
    disability: str = ""
    disability_grade: str = ""
    political: str = c.Political.MASSES
    residence: str = c.Residence.BOTH
    note: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass(eq=False)
class HouseholdPlan:
    kind: str
    ethnicity: str
    members: list[PersonPlan]
    origin_code: str = ""
    origin_county: str = ""
    origin_town: str = ""
    origin_village: str = ""
    relocation_batch: str = ""
    moved_in_on: dt.date | None = None
    hukou_address: str = ""
    tenant: bool = False
    left_behind: bool = False  # every working-age member works away; children and elders stay
    slot: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # grid, building, unit, floor, room

    @property
    def room(self) -> str:
        """房号 within the unit: floor and dwelling, 1103 = 11th floor, 3rd door."""
        return f"{self.slot[3]}{self.slot[4]:02d}"


@dataclass
class CommunityPlan:
    seed: int
    ref: dt.date
    households: list[HouseholdPlan]  # in address order
    empty_slots: list[tuple[int, int, int, int, int]]

    @property
    def residents(self) -> list[PersonPlan]:
        return [p for h in self.households for p in h.members]

    def digest(self) -> str:
        """SHA-256 over every person's place, name, ID number, phone and tags, in order: equal
        digests mean the same community."""
        text = "\n".join(f"{h.slot}|{m.name}|{m.id_number}|{m.phone}|{','.join(m.tags)}"
                         for h in self.households for m in h.members)
        return hashlib.sha256(text.encode()).hexdigest()


def _weighted(rng: random.Random, pairs: Sequence[tuple[T, int]]) -> T:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _birth(rng: random.Random, ref: dt.date, age: int) -> dt.date:
    """A birth date so that the person is exactly `age` on `ref` (and born before it)."""
    anniversary = ref.replace(year=ref.year - age) if not (ref.month == 2 and ref.day == 29) else \
        ref.replace(year=ref.year - age, day=28)
    return anniversary - dt.timedelta(days=rng.randint(1, 364))


def _generation(year: int) -> str:
    return "old" if year < 1966 else "mid" if year < 1990 else "young" if year < 2010 else "child"


class _Planner:
    """Draws one community. All randomness goes through self.rng in a fixed order."""

    def __init__(self, seed: int, ref: dt.date) -> None:
        self.rng = random.Random(seed)
        self.ref = ref
        self.villages: dict[tuple[str, str], list[str]] = {}
        self.used_ids: set[str] = set()  # membership tests only; never iterated
        self.used_phones: set[str] = set()
        self.natural_total = 0  # population before _adjust_population, for tuning the mix

    # -- people ------------------------------------------------------------------------------

    def surname(self, ethnicity: str) -> str:
        table = {"彝族": d.SURNAMES_YI, "苗族": d.SURNAMES_MIAO}.get(ethnicity, d.SURNAMES_HAN)
        return _weighted(self.rng, table)

    def given(self, surname: str, sex: str, birth: dt.date, gen_char: str = "", avoid: Sequence[str] = ()) -> str:
        gen = _generation(birth.year)
        for _ in range(20):
            if gen_char and gen != "child":
                name = gen_char + self.rng.choice(d.SECOND_CHARS[sex])
            else:
                name = self.rng.choice(d.GIVEN[gen][sex])
            if name != surname and surname + name not in avoid:
                return name
        return name

    def person(self, *, surname: str, sex: str, age: int, relation: str, ethnicity: str, gen_char: str = "",
               avoid: Sequence[str] = ()) -> PersonPlan:
        birth = _birth(self.rng, self.ref, age)
        name = surname + self.given(surname, sex, birth, gen_char, avoid)
        return PersonPlan(name=name, sex=sex, birth=birth, relation=relation, ethnicity=ethnicity)

    def spouse_of(self, head: PersonPlan, ethnicity: str) -> PersonPlan:
        """Opposite sex, similar age: husbands are mostly 0–5 years older."""
        gap = max(-2, min(8, round(self.rng.gauss(2.5, 2.2))))
        head_age = age_on(head.birth, self.ref)
        age = head_age - gap if head.sex == "M" else head_age + gap
        eth = ethnicity if self.rng.random() < 0.88 else ("汉族" if ethnicity != "汉族" else
                                                            _weighted(self.rng, [("彝族", 3), ("苗族", 2)]))
        sex = "F" if head.sex == "M" else "M"
        return self.person(surname=self.surname(eth), sex=sex, age=max(20, age), relation=c.Relation.SPOUSE,
                           ethnicity=eth)

    def children(self, *, parent_age: int, n: int, surname: str, ethnicity: str, relation_child: bool = True,
                 max_age: int = 30) -> list[PersonPlan]:
        """Up to n children 20–38 years younger than the (mother's) `parent_age`, 1–5 years apart."""
        kids: list[PersonPlan] = []
        age = min(max_age, parent_age - self.rng.randint(20, 30))
        gen_char = self.rng.choice(d.GENERATION_CHARS) if self.rng.random() < 0.3 else ""
        for _ in range(n):
            if age < 0 or parent_age - age > 38:
                break
            sex = "M" if self.rng.random() < 0.52 else "F"
            relation = (c.Relation.SON if sex == "M" else c.Relation.DAUGHTER) if relation_child \
                else c.Relation.GRANDCHILD
            kids.append(self.person(surname=surname, sex=sex, age=age, relation=relation, ethnicity=ethnicity,
                                    gen_char=gen_char, avoid=[k.name for k in kids]))
            age -= self.rng.randint(1, 5)
        return kids

    def kid_count(self) -> int:
        return _weighted(self.rng, [(1, 28), (2, 42), (3, 21), (4, 9)])

    def child_ethnicity(self, father: PersonPlan | None, mother: PersonPlan | None) -> str:
        ethnicities = [p.ethnicity for p in (father, mother) if p is not None]
        minority = [e for e in ethnicities if e != "汉族"]
        # Mixed families mostly register children with the minority nationality.
        if minority and (len(minority) == len(ethnicities) or self.rng.random() < 0.8):
            return minority[0]
        return ethnicities[0] if ethnicities else "汉族"

    # -- households ----------------------------------------------------------------------------

    def household(self, kind: str) -> HouseholdPlan:
        eth = _weighted(self.rng, ETHNIC_MIX)
        build = getattr(self, f"_h_{kind}")
        members: list[PersonPlan] = build(eth)
        plan = HouseholdPlan(kind=kind, ethnicity=eth, members=members)
        self.origin(plan)
        return plan

    def _couple(self, eth: str, head_age: int, head_male: float = 0.88) -> tuple[PersonPlan, PersonPlan]:
        sex = "M" if self.rng.random() < head_male else "F"
        head = self.person(surname=self.surname(eth), sex=sex, age=head_age, relation=c.Relation.HEAD, ethnicity=eth)
        return head, self.spouse_of(head, eth)

    @staticmethod
    def _husband_wife(a: PersonPlan, b: PersonPlan) -> tuple[PersonPlan, PersonPlan]:
        return (a, b) if a.sex == "M" else (b, a)

    def _h_alone(self, eth: str) -> list[PersonPlan]:
        # 61+ on 1 January keeps them 60+ all year (the 独居老人 suggestion rule uses 60).
        sex = "F" if self.rng.random() < 0.62 else "M"
        return [self.person(surname=self.surname(eth), sex=sex, age=self.rng.randint(61, 92),
                            relation=c.Relation.HEAD, ethnicity=eth)]

    def _h_empty_nest(self, eth: str) -> list[PersonPlan]:
        head, spouse = self._couple(eth, self.rng.randint(64, 86))
        if age_on(spouse.birth, self.ref) < 61:
            spouse.birth = _birth(self.rng, self.ref, 61 + self.rng.randint(0, 3))
        return [head, spouse]

    def _h_skip_gen(self, eth: str, kids: int = 1) -> list[PersonPlan]:
        """Grandparents raising grandchildren whose parents are dead or missing (孤儿, 事实无人抚养)."""
        head_age = self.rng.randint(58, 78)
        if self.rng.random() < 0.5:
            head, spouse = self._couple(eth, head_age)
            members = [head, spouse]
        else:
            head = self.person(surname=self.surname(eth), sex="F" if self.rng.random() < 0.6 else "M",
                               age=head_age, relation=c.Relation.HEAD, ethnicity=eth)
            members = [head]
        # The grandchildren carry the family name of their (absent) father.
        surname = head.name[0] if head.sex == "M" else self.surname(eth)
        ages = [self.rng.randint(4, 16)]
        while len(ages) < kids:
            ages.append(max(1, ages[-1] - self.rng.randint(1, 4)))
        for age in ages:
            sex = "M" if self.rng.random() < 0.52 else "F"
            members.append(self.person(surname=surname, sex=sex, age=age, relation=c.Relation.GRANDCHILD,
                                       ethnicity=eth, avoid=[m.name for m in members]))
        return members

    def _h_single(self, eth: str) -> list[PersonPlan]:
        sex = "M" if self.rng.random() < 0.75 else "F"
        return [self.person(surname=self.surname(eth), sex=sex, age=self.rng.randint(22, 55),
                            relation=c.Relation.HEAD, ethnicity=eth)]

    def _h_young_couple(self, eth: str) -> list[PersonPlan]:
        return list(self._couple(eth, self.rng.randint(23, 36)))

    def _h_middle_couple(self, eth: str) -> list[PersonPlan]:
        # Children grown and registered as their own households.
        return list(self._couple(eth, self.rng.randint(42, 57)))

    def _h_single_parent(self, eth: str) -> list[PersonPlan]:
        sex = "F" if self.rng.random() < 0.65 else "M"
        age = self.rng.randint(28, 55)
        head = self.person(surname=self.surname(eth), sex=sex, age=age, relation=c.Relation.HEAD, ethnicity=eth)
        surname = head.name[0] if sex == "M" or self.rng.random() < 0.3 else self.surname(eth)
        kids = self.children(parent_age=age, n=_weighted(self.rng, [(1, 45), (2, 40), (3, 15)]), surname=surname,
                             ethnicity=eth)
        return [head, *kids]

    def _h_nuclear(self, eth: str) -> list[PersonPlan]:
        head, spouse = self._couple(eth, self.rng.randint(26, 60))
        father, mother = self._husband_wife(head, spouse)
        kids = self.children(parent_age=age_on(mother.birth, self.ref), n=self.kid_count(),
                             surname=father.name[0], ethnicity=self.child_ethnicity(father, mother))
        return [head, spouse, *kids]

    def _h_three_gen(self, eth: str) -> list[PersonPlan]:
        """Head couple with children and one or two of the head's parents (父母)."""
        head_age = self.rng.randint(30, 52)
        head, spouse = self._couple(eth, head_age, head_male=0.93)
        father, mother = self._husband_wife(head, spouse)
        kids = self.children(parent_age=age_on(mother.birth, self.ref), n=self.kid_count(),
                             surname=father.name[0], ethnicity=self.child_ethnicity(father, mother), max_age=24)
        elder_age = head_age + self.rng.randint(24, 36)
        elders: list[PersonPlan] = []
        if self.rng.random() < 0.4:
            elders.append(self.person(surname=head.name[0], sex="M", age=elder_age, relation=c.Relation.PARENT,
                                      ethnicity=head.ethnicity))
            elders.append(self.person(surname=self.surname(head.ethnicity), sex="F",
                                      age=elder_age - self.rng.randint(0, 4), relation=c.Relation.PARENT,
                                      ethnicity=head.ethnicity))
        else:
            # Mostly a widowed mother: women outlive men.
            sex = "F" if self.rng.random() < 0.7 else "M"
            elders.append(self.person(surname=head.name[0] if sex == "M" else self.surname(head.ethnicity),
                                      sex=sex, age=elder_age, relation=c.Relation.PARENT, ethnicity=head.ethnicity))
        return [head, spouse, *kids, *elders]

    def _h_extended(self, eth: str) -> list[PersonPlan]:
        """Elder head couple, a married son (or a daughter with a 上门女婿) and grandchildren."""
        head_age = self.rng.randint(50, 74)
        if self.rng.random() < 0.88:
            head, spouse = self._couple(eth, head_age, head_male=0.9)
            members = [head, spouse]
            mother_age = age_on(self._husband_wife(head, spouse)[1].birth, self.ref)
        else:
            head = self.person(surname=self.surname(eth), sex="F", age=head_age, relation=c.Relation.HEAD,
                               ethnicity=eth)
            members = [head]
            mother_age = head_age
        family_name = head.name[0] if head.sex == "M" else self.surname(eth)
        child_age = min(mother_age - self.rng.randint(20, 28), 45)
        child_sex = "M" if self.rng.random() < 0.85 else "F"
        child = self.person(surname=family_name, sex=child_sex, age=max(child_age, 20),
                            relation=c.Relation.SON if child_sex == "M" else c.Relation.DAUGHTER, ethnicity=eth)
        in_law = self.spouse_of(child, eth)
        in_law.relation = c.Relation.CHILD_IN_LAW
        members += [child, in_law]
        father, mother = self._husband_wife(child, in_law)
        grandkids = self.children(parent_age=age_on(mother.birth, self.ref), n=_weighted(self.rng, [(1, 40), (2, 45), (3, 15)]),
                                  surname=father.name[0], ethnicity=self.child_ethnicity(father, mother),
                                  relation_child=False, max_age=18)
        members += grandkids
        if self.rng.random() < 0.15:
            # A younger unmarried child still at home.
            age = age_on(child.birth, self.ref) - self.rng.randint(3, 8)
            if age >= 16:
                sex = "M" if self.rng.random() < 0.5 else "F"
                members.append(self.person(surname=family_name, sex=sex, age=age,
                                           relation=c.Relation.SON if sex == "M" else c.Relation.DAUGHTER,
                                           ethnicity=eth, avoid=[m.name for m in members]))
        return members

    # -- where they came from ----------------------------------------------------------------

    def origin(self, plan: HouseholdPlan) -> None:
        rng = self.rng
        if plan.ethnicity == "汉族":
            code, county, _w, towns = _weighted(rng, [(row, row[2]) for row in d.COUNTIES])
            town = rng.choice(towns)
        else:
            code = _weighted(rng, d.MINORITY_COUNTIES)
            _code, county, _w, towns = next(row for row in d.COUNTIES if row[0] == code)
            marker = "彝" if plan.ethnicity == "彝族" else "苗"
            ethnic_towns = [t for t in towns if marker in t]
            town = rng.choice(ethnic_towns) if ethnic_towns and rng.random() < 0.75 else rng.choice(towns)
        key = (county, town)
        if key not in self.villages:
            self.villages[key] = rng.sample(d.VILLAGE_STEMS, 4)
        village = rng.choice(self.villages[key]) + "村"
        plan.origin_code, plan.origin_county, plan.origin_town, plan.origin_village = code, county, town, village
        label, first, last, _w = _weighted(rng, [(b, b[3]) for b in d.BATCHES])
        start, end = dt.date(*first), dt.date(*last)
        plan.relocation_batch = label
        plan.moved_in_on = start + dt.timedelta(days=rng.randint(0, (end - start).days))


# Household mix. The fixed kinds carry the article's special groups; the rest is sampled and
# then nudged (children added or removed in nuclear families) to hit 6820 people exactly.
FIXED_KINDS: list[tuple[str, int]] = [
    ("alone", 50),          # the article's 50 独居老人 with 孝心呼叫器
    ("empty_nest", 46),
    ("single", 48),
    ("young_couple", 70),
    ("middle_couple", 80),
    ("single_parent", 60),
]
# 38 孤儿 and 事实无人抚养儿童 (the summer camp) in 26 grandparent households: 14×1 + 12×2.
SKIP_GEN_KIDS = [1] * 14 + [2] * 12
SAMPLED_KINDS = [("nuclear", 68), ("three_gen", 14), ("extended", 18)]
MIGRANT_PLACES = ["浙江宁波", "浙江义乌", "福建晋江", "广东东莞", "江苏苏州", "四川宜宾", "昆明", "上海"]


def plan_community(seed: int = 2026, ref: dt.date | None = None) -> CommunityPlan:
    """Every household and person of the demo, without touching the database."""
    ref = ref or dt.date(timezone.localdate().year, 1, 1)
    p = _Planner(seed, ref)
    rng = p.rng
    households: list[HouseholdPlan] = []
    for kind, n in FIXED_KINDS:
        households += [p.household(kind) for _ in range(n)]
    for kids in SKIP_GEN_KIDS:
        eth = _weighted(rng, ETHNIC_MIX)
        h = HouseholdPlan(kind="skip_gen", ethnicity=eth, members=p._h_skip_gen(eth, kids))
        p.origin(h)
        households.append(h)
    while len(households) < d.HOUSEHOLDS:
        households.append(p.household(_weighted(rng, SAMPLED_KINDS)))
    _adjust_population(p, households)
    _work_and_migration(p, households)
    for h in households:
        for person in h.members:
            _attributes(p, h, person)
            if person.migrant:
                person.note = f"在{rng.choice(MIGRANT_PLACES)}务工"
    _assign_dwellings(p, households)
    households.sort(key=lambda h: h.slot)
    all_slots = [(g, b, u, f, r) for g, b, u in _units() for f in range(1, d.FLOORS + 1)
                 for r in range(1, d.DWELLINGS_PER_FLOOR + 1)]
    taken = {h.slot for h in households}
    empty = [s for s in all_slots if s not in taken]
    _party_members(p, households)
    _tags(p, households)
    _identifiers(p, households)
    return CommunityPlan(seed=seed, ref=ref, households=households, empty_slots=empty)


def _units() -> list[tuple[int, int, int]]:
    """(grid, building, unit) in address order; buildings are numbered 1–21 across the community."""
    out = []
    for g in range(1, d.GRIDS + 1):
        for bi in range(d.BUILDINGS_PER_GRID):
            b = (g - 1) * d.BUILDINGS_PER_GRID + bi + 1
            out += [(g, b, u) for u in range(1, d.UNITS_PER_BUILDING + 1)]
    return out


def _adjust_population(p: _Planner, households: list[HouseholdPlan]) -> None:
    """Add or remove the youngest child of nuclear families until the total is exact."""
    total = sum(len(h.members) for h in households)
    p.natural_total = total
    nuclear = [h for h in households if h.kind == "nuclear"]
    guard = 0
    while total != d.RESIDENTS:
        guard += 1
        if guard > 100_000:
            raise RuntimeError("could not reach the population total")
        h = p.rng.choice(nuclear)
        kids = [m for m in h.members if m.relation in (c.Relation.SON, c.Relation.DAUGHTER)]
        if total > d.RESIDENTS:
            if len(kids) >= 2:
                youngest_kid = min(kids, key=lambda k: age_on(k.birth, p.ref))
                h.members = [m for m in h.members if m is not youngest_kid]
                total -= 1
            continue
        if not kids or len(kids) >= 4:
            continue
        mother = next(m for m in h.members if m.relation in (c.Relation.HEAD, c.Relation.SPOUSE) and m.sex == "F")
        youngest = min(age_on(k.birth, p.ref) for k in kids)
        age = youngest - p.rng.randint(1, 4)
        if age < 0 or age_on(mother.birth, p.ref) - age > 38:
            continue
        sex = "M" if p.rng.random() < 0.52 else "F"
        father = next(m for m in h.members if m.relation in (c.Relation.HEAD, c.Relation.SPOUSE) and m.sex == "M")
        # A younger sibling keeps the 字辈 the others share (胡世翠, 胡世全 → 胡世X).
        shared = kids[0].name[1] if all(len(k.name) == 3 and k.name[1] == kids[0].name[1] for k in kids) else ""
        gen_char = shared if shared in d.GENERATION_CHARS else ""
        h.members.append(p.person(surname=father.name[0], sex=sex, age=age,
                                  relation=c.Relation.SON if sex == "M" else c.Relation.DAUGHTER,
                                  ethnicity=kids[0].ethnicity, gen_char=gen_char,
                                  avoid=[m.name for m in h.members]))
        total += 1


def _work_and_migration(p: _Planner, households: list[HouseholdPlan]) -> None:
    """Who works away (外出务工). In three- and four-generation families a share of couples both
    leave and the grandparents keep the children: 留守儿童 and 留守老人."""
    rng = p.rng
    for h in households:
        ages = [(m, age_on(m.birth, p.ref)) for m in h.members]
        working = [m for m, a in ages if 18 <= a <= 55]
        young = [m for m, a in ages if a < 16]
        elders = [m for m, a in ages if a >= 60]
        if (h.kind in ("three_gen", "extended") and young and elders and rng.random() < 0.28
                and working and all(m.relation in _PARENT_RELATIONS for m in working)):
            h.left_behind = True
            for m in working:
                m.migrant = True
            continue
        if h.kind in ("alone", "empty_nest", "skip_gen"):
            continue
        # Otherwise at most one parent of young children leaves; adults without them more often.
        gone_parent = False
        for m in working:
            is_parent = m.relation in (c.Relation.HEAD, c.Relation.SPOUSE) and bool(young)
            chance = 0.3 if is_parent else 0.35
            if is_parent and gone_parent:
                continue
            if rng.random() < chance:
                m.migrant = True
                gone_parent = gone_parent or is_parent


_PARENT_RELATIONS = (c.Relation.HEAD, c.Relation.SPOUSE, c.Relation.SON, c.Relation.DAUGHTER,
                     c.Relation.CHILD_IN_LAW)


_DISABILITY_KINDS = [(c.Disability.LIMB, 40), (c.Disability.HEARING, 15), (c.Disability.SIGHT, 12),
                     (c.Disability.INTELLECT, 11), (c.Disability.MENTAL, 9), (c.Disability.SPEECH, 3),
                     (c.Disability.MULTIPLE, 10)]
_GRADES = [(c.DisabilityGrade.ONE, 12), (c.DisabilityGrade.TWO, 25), (c.DisabilityGrade.THREE, 28),
           (c.DisabilityGrade.FOUR, 35)]


def _education(rng: random.Random, age: int) -> tuple[str, bool]:
    """(education, still at school) by age; older cohorts of the mountains went to school less."""
    E = c.Education
    if age < 6:
        return E.PRESCHOOL, False
    if age < 12:
        return E.PRIMARY, True
    if age < 15:
        return E.JUNIOR, True
    if age < 18:
        return (E.SENIOR, True) if rng.random() < 0.8 else (E.JUNIOR, False)
    if age < 23 and rng.random() < 0.4:
        return _weighted(rng, [(E.COLLEGE, 55), (E.BACHELOR, 45)]), True
    if age < 30:
        table = [(E.PRIMARY, 6), (E.JUNIOR, 42), (E.SENIOR, 30), (E.COLLEGE, 13), (E.BACHELOR, 9)]
    elif age < 45:
        table = [(E.NONE, 4), (E.PRIMARY, 26), (E.JUNIOR, 50), (E.SENIOR, 14), (E.COLLEGE, 4), (E.BACHELOR, 2)]
    elif age < 60:
        table = [(E.NONE, 15), (E.PRIMARY, 45), (E.JUNIOR, 32), (E.SENIOR, 7), (E.COLLEGE, 1)]
    else:
        table = [(E.NONE, 45), (E.PRIMARY, 40), (E.JUNIOR, 13), (E.SENIOR, 2)]
    return _weighted(rng, table), False


def _attributes(p: _Planner, h: HouseholdPlan, m: PersonPlan) -> None:
    """Health, disability, education and work, consistent with age and with each other."""
    rng = p.rng
    age = age_on(m.birth, p.ref)
    disabled_chance = 0.015 if age < 18 else 0.035 if age < 60 else 0.10
    if rng.random() < disabled_chance:
        m.disability = _weighted(rng, _DISABILITY_KINDS)
        if age < 18 and m.disability == c.Disability.LIMB and rng.random() < 0.5:
            m.disability = c.Disability.INTELLECT
        m.disability_grade = _weighted(rng, _GRADES)
        m.health = c.Health.DISABLED
    else:
        chronic, serious = ((0.01, 0.003) if age < 18 else (0.03, 0.01) if age < 45 else (0.12, 0.03)
                            if age < 60 else (0.30, 0.05) if age < 70 else (0.45, 0.07))
        roll = rng.random()
        m.health = c.Health.SERIOUS if roll < serious else c.Health.CHRONIC if roll < serious + chronic \
            else c.Health.HEALTHY
    m.education, at_school = _education(rng, age)
    severe = m.disability_grade in (c.DisabilityGrade.ONE, c.DisabilityGrade.TWO) or m.health == c.Health.SERIOUS
    E = c.Employment
    if age < 6:
        m.employment = E.CHILD
    elif age < 16 or at_school:
        m.employment = E.STUDENT
        m.migrant = False
    elif m.migrant:
        m.employment = E.MIGRANT
    elif severe:
        m.employment = E.UNABLE
    elif age < 60:
        m.employment = _weighted(rng, [(E.LOCAL, 30), (E.WORKSHOP, 16), (E.PUBLIC_POST, 8), (E.SELF, 7),
                                       (E.FARMING, 10), (E.UNEMPLOYED, 12)])
    elif age < 70:
        m.employment = _weighted(rng, [(E.FARMING, 25), (E.PUBLIC_POST, 8), (E.LOCAL, 7), (E.RETIRED, 4),
                                       (E.UNABLE, 56)])
    else:
        m.employment = _weighted(rng, [(E.UNABLE, 90), (E.RETIRED, 4), (E.FARMING, 6)])
    if m.migrant:
        m.residence = c.Residence.REGISTERED_AWAY
    if 14 <= age <= 28 and rng.random() < (0.5 if at_school else 0.2):
        m.political = c.Political.CYL


def _assign_dwellings(p: _Planner, households: list[HouseholdPlan]) -> None:
    """Old, disabled and grandparent households got low floors at allocation; a few dwellings
    are let to tenants who are not resettled (人在户不在)."""
    rng = p.rng
    slots = [(g, b, u, f, r) for g, b, u in _units() for f in range(1, d.FLOORS + 1)
             for r in range(1, d.DWELLINGS_PER_FLOOR + 1)]
    rng.shuffle(slots)
    low = [s for s in slots if s[3] <= 3]
    high = [s for s in slots if s[3] > 3]

    def needs_low(h: HouseholdPlan) -> bool:
        return h.kind in ("alone", "empty_nest", "skip_gen") or any(
            m.disability_grade in (c.DisabilityGrade.ONE, c.DisabilityGrade.TWO) for m in h.members)

    needy = [h for h in households if needs_low(h)]
    others = [h for h in households if not needs_low(h)]
    for h, slot in zip(needy, low, strict=False):
        h.slot = slot
    rest = low[len(needy):] + high
    rng.shuffle(rest)
    for h, slot in zip(others, rest, strict=False):
        h.slot = slot
    # Tenants: about 3% of working-age households, not from the relocation.
    for h in others:
        if h.kind in ("single", "young_couple", "nuclear") and rng.random() < 0.035:
            h.tenant = True
            h.relocation_batch = ""
            h.moved_in_on = dt.date(2021, 3, 1) + dt.timedelta(days=rng.randint(0, 1400))
            for m in h.members:
                if not m.migrant:
                    m.residence = c.Residence.LIVES_ONLY
    for h in households:
        g, b, u, f, r = h.slot
        if h.tenant:
            h.hukou_address = f"云南省昭通市{h.origin_county}{h.origin_town}{h.origin_village}"
        else:
            h.hukou_address = f"{d.COMMUNITY_ADDRESS}{b}栋{u}单元{f}{r:02d}室"


def _party_members(p: _Planner, households: list[HouseholdPlan]) -> None:
    """Exactly 167 中共党员: first one per building (every 楼栋 names a 党员), then weighted toward
    older men and the better schooled, as in a rural branch."""
    rng = p.rng
    adults = [(h, m) for h in households for m in h.members if age_on(m.birth, p.ref) >= 22]

    def weight(m: PersonPlan) -> float:
        age = age_on(m.birth, p.ref)
        w = 2.5 if m.sex == "M" else 1.0
        w *= 2.0 if 40 <= age <= 75 else 1.0
        w *= 3.0 if m.education in (c.Education.SENIOR, c.Education.COLLEGE, c.Education.BACHELOR) else 1.0
        w *= 2.0 if m.employment == c.Employment.PUBLIC_POST else 1.0
        return w

    chosen: list[PersonPlan] = []
    buildings = sorted({h.slot[1] for h in households})
    for b in buildings:
        pool = [m for h, m in adults if h.slot[1] == b and not m.migrant]
        chosen.append(rng.choices(pool, weights=[weight(m) for m in pool])[0])
    taken = {id(m) for m in chosen}
    pool = [m for _h, m in adults if id(m) not in taken]
    weights = [weight(m) for m in pool]
    while len(chosen) < d.PARTY_MEMBERS:
        i = rng.choices(range(len(pool)), weights=weights)[0]
        chosen.append(pool.pop(i))
        weights.pop(i)
    for m in chosen:
        m.political = c.Political.CPC


def _tags(p: _Planner, households: list[HouseholdPlan]) -> None:
    """Tags follow from the data, the way a worker would set them (and the way
    registry.selectors.tag_suggestions would suggest them)."""
    rng = p.rng
    ref = p.ref
    orphans_left = 14
    alone = [h for h in households if h.kind == "alone"]
    for h in households:
        ages = {id(m): age_on(m.birth, ref) for m in h.members}
        if h.kind == "alone":
            h.members[0].tags.append("独居老人")
        elif h.kind == "empty_nest":
            for m in h.members:
                m.tags.append("空巢老人")
        elif h.kind == "skip_gen":
            kids = [m for m in h.members if m.relation == c.Relation.GRANDCHILD]
            orphan = orphans_left >= len(kids) and rng.random() < 0.55
            note = d.ORPHAN_NOTE if orphan else rng.choice(d.UNSUPPORTED_CHILD_NOTES)
            if orphan:
                orphans_left -= len(kids)
            for k in kids:
                k.tags.append("孤儿" if orphan else "事实无人抚养儿童")
                k.note = note
        if h.left_behind:
            for m in h.members:
                if ages[id(m)] < 16:
                    m.tags.append("留守儿童")
                elif ages[id(m)] >= 60:
                    m.tags.append("留守老人")
        for m in h.members:
            if m.disability:
                m.tags.append("残疾人")
            if m.disability == c.Disability.MENTAL and m.disability_grade in (c.DisabilityGrade.ONE,
                                                                                c.DisabilityGrade.TWO):
                m.tags.append("重点关注")
    # 特困: alone elders without family support (a third of them) and severely disabled adults
    # living alone.
    for h in alone:
        if rng.random() < 0.3:
            h.members[0].tags.append("特困")
    for h in households:
        if h.kind == "single" and any(m.disability_grade == c.DisabilityGrade.ONE for m in h.members):
            h.members[0].tags.append("特困")
    # 低保: about 8% of households, mostly those with a severe illness or disability, a single
    # parent, or grandparents raising children; every member is a 低保对象.
    for h in households:
        if any("特困" in m.tags for m in h.members) or h.tenant:
            continue
        hardship = (h.kind in ("single_parent", "skip_gen")
                    or any(m.health in (c.Health.SERIOUS,) or m.disability_grade in (c.DisabilityGrade.ONE,
                                                                                   c.DisabilityGrade.TWO)
                           for m in h.members))
        if rng.random() < (0.25 if hardship else 0.025):
            for m in h.members:
                m.tags.append("低保")
    # A handful more 重点关注 (family conflicts, recent crises) so the list is never empty.
    candidates = [m for h in households for m in h.members if age_on(m.birth, ref) >= 25 and not m.migrant]
    for m in rng.sample(candidates, 8):
        if "重点关注" not in m.tags:
            m.tags.append("重点关注")


def _identifiers(p: _Planner, households: list[HouseholdPlan]) -> None:
    """ID numbers (valid GB 11643 check digit, unique) and mobile phones."""
    rng = p.rng
    for h in households:
        for m in h.members:
            if h.moved_in_on and m.birth > h.moved_in_on and not h.tenant:
                region = "530626"  # born after the move: registered in 绥江
            elif m.relation in (c.Relation.SPOUSE, c.Relation.CHILD_IN_LAW) and rng.random() < 0.15:
                region = _weighted(rng, [(row[0], row[2]) for row in d.COUNTIES])
            else:
                region = h.origin_code
            m.region = region
            while True:
                order = rng.randrange(0, 500) * 2 + (1 if m.sex == "M" else 0)
                first17 = f"{region}{m.birth:%Y%m%d}{order:03d}"
                if first17 not in p.used_ids:
                    break
            p.used_ids.add(first17)
            m.id_number = first17 + id_check_digit(first17)
            age = age_on(m.birth, p.ref)
            has_phone = (m.migrant or (18 <= age < 70 and rng.random() < 0.93) or (age >= 70 and rng.random() < 0.45)
                         or (15 <= age < 18 and rng.random() < 0.4))
            if has_phone:
                while True:
                    phone = rng.choice(d.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                    if phone not in p.used_phones:
                        break
                p.used_phones.add(phone)
                m.phone = phone


# ---- build ---------------------------------------------------------------------------------

@dataclass
class DemoLogin:
    role: str
    username: str
    name: str
    scope: str


@dataclass
class DemoResult:
    created: bool
    community: Area
    password: str
    logins: list[DemoLogin]
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def _writer(stdout: IO[str] | Any | None) -> Callable[[str], None]:
    def write(msg: str) -> None:
        if stdout is not None:
            stdout.write(msg if msg.endswith("\n") else msg + "\n")
            if hasattr(stdout, "flush"):
                stdout.flush()

    return write


def demo_exists() -> bool:
    return Area.objects.filter(code=d.COMMUNITY_CODE).exists()


@dataclass
class DemoContext:
    """What a later demo step (another app's `demo_steps.py`) gets to add its own records:
    branches and duty roles, activities, cases … on top of the people built here."""

    seed: int
    today: dt.date
    plan: CommunityPlan
    community: Area
    grids: dict[int, Area]
    buildings: dict[int, Area]
    units: dict[tuple[int, int], Area]
    households: list[tuple[HouseholdPlan, Household, list[tuple[PersonPlan, Resident]]]]
    users: dict[str, Any]
    write: Callable[[str], None]

    def rng(self, name: str) -> random.Random:
        """A stream of its own per step, so one app's draws never shift another's. String seeds
        are hashed with SHA-512 by `random`, not with the per-process `hash()`."""
        return random.Random(f"{self.seed}:{name}")


DemoStep = Callable[[DemoContext], None]
_STEPS: list[tuple[int, str, DemoStep]] = []


def demo_step(order: int = 100) -> Callable[[DemoStep], DemoStep]:
    """Register a function that adds an app's demo records; apps put these in `<app>/demo_steps.py`.
    Steps run in (order, module.function) order inside the build's transaction and must call
    services, like the rest of the build."""

    def register(func: DemoStep) -> DemoStep:
        key = f"{func.__module__}.{func.__qualname__}"
        if all(k != key for _o, k, _f in _STEPS):
            _STEPS.append((order, key, func))
        return func

    return register


def build_demo(seed: int = 2026, stdout: IO[str] | Any | None = None) -> DemoResult:
    """Build the demo community unless it exists. Everything goes in one transaction: on SQLite
    that is the difference between minutes and seconds, and a failed build leaves nothing."""
    out = _writer(stdout)
    started = time.perf_counter()
    existing = Area.objects.filter(code=d.COMMUNITY_CODE).first()
    if existing is not None:
        out(f"演示社区“{existing.full_name}”已存在(区域代码 {d.COMMUNITY_CODE}),跳过生成。")
        return DemoResult(created=False, community=existing, password=d.DEMO_PASSWORD, logins=demo_logins())
    out(f"演示账号统一密码:{d.DEMO_PASSWORD}")
    today = timezone.localdate()
    plan = plan_community(seed, dt.date(today.year, 1, 1))
    out(f"生成福兴社区:{len(plan.households)} 户 {len(plan.residents)} 人(随机种子 {seed})……")

    def lap() -> str:
        return f"({time.perf_counter() - started:.1f} 秒)"

    autodiscover_modules("demo_steps")
    with transaction.atomic():
        tags = ensure_tags()
        community, units, buildings, grids = _create_areas()
        dwellings = _create_dwellings(plan, units)
        out(f"  区域:{len(grids)} 个网格 {len(buildings)} 栋楼 {len(units)} 个单元,户室 {len(dwellings)} 间 {lap()}")
        households = _create_households(plan, dwellings, tags)
        out(f"  户 {len(households)},居民 {sum(len(people) for _h, people in households)} 人 {lap()}")
        users = _create_users(community, grids, buildings, units, today)
        workers = {g: users[f"wgy{g}"] for g in grids}
        visits = _record_visits(plan, households, workers, seed, today)
        out(f"  走访记录 {visits} 条 {lap()}")
        ctx = DemoContext(seed=seed, today=today, plan=plan, community=community, grids=grids,
                          buildings=buildings, units=units,
                          households=[(hp, h, people) for hp, (h, people) in zip(plan.households, households,
                                                                                 strict=True)],
                          users=users, write=out)
        for _order, key, step in sorted(_STEPS, key=lambda s: (s[0], s[1])):
            step(ctx)
            out(f"  {key} {lap()}")
    if connection.vendor == "postgresql":
        # Planner statistics now, not whenever autovacuum gets to it: without them PostgreSQL
        # guesses row counts for a fresh database and picks plans that are slow for the pages.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
    out(f"福兴社区演示数据生成完毕,用时 {seconds:.1f} 秒。")
    counts = {
        "units": len(units), "dwellings": len(dwellings), "households": len(households),
        "residents": len(plan.residents), "visits": visits,
    }
    return DemoResult(created=True, community=community, password=d.DEMO_PASSWORD, logins=demo_logins(),
                      seconds=seconds, counts=counts)


def ensure_tags() -> dict[str, Tag]:
    """The tag tree. Tags have no service yet, so they are created here directly (idempotent)."""
    tags: dict[str, Tag] = {}
    for sort, (name, parent, interval, color) in enumerate(d.TAGS):
        tag, _created = Tag.objects.get_or_create(
            name=name,
            defaults={"parent": tags.get(parent) if parent else None, "visit_interval_days": interval,
                      "color": color, "sort": sort * 10},
        )
        tags[name] = tag
    return tags


def _area(parent: Area | None, segment: str, name: str, **kw: Any) -> Area:
    """Reuse the county and town when another part of the installation created them already."""
    path = f"{parent.path if parent else '/'}{segment}/"
    found = Area.objects.filter(path=path).first()
    return found or core_services.area_create(actor=None, parent=parent, segment=segment, name=name, **kw)


def _create_areas() -> tuple[Area, dict[tuple[int, int], Area], dict[int, Area], dict[int, Area]]:
    county = _area(None, *d.COUNTY)
    town = _area(county, *d.TOWN)
    community = core_services.area_create(actor=None, parent=town, segment=d.COMMUNITY[0], name=d.COMMUNITY[1],
                                          note="易地扶贫搬迁安置社区")
    grids: dict[int, Area] = {}
    buildings: dict[int, Area] = {}
    units: dict[tuple[int, int], Area] = {}
    for g, b, u in _units():
        if g not in grids:
            grids[g] = core_services.area_create(actor=None, parent=community, segment=f"{g:02d}", name=f"{g}网格",
                                                 sort=g)
        if b not in buildings:
            buildings[b] = core_services.area_create(actor=None, parent=grids[g], segment=f"{b:02d}", name=f"{b}栋",
                                                     sort=b, floors=d.FLOORS)
        units[(b, u)] = core_services.area_create(actor=None, parent=buildings[b], segment=str(u), name=f"{u}单元",
                                                  sort=u)
    return community, units, buildings, grids


def _create_dwellings(plan: CommunityPlan, units: dict[tuple[int, int], Area]
                      ) -> dict[tuple[int, int, int, int, int], Dwelling]:
    # Registered as they are used: owner-occupied, let, or empty (household_create would
    # otherwise flip each empty dwelling to 自住 with one more UPDATE per household).
    occupancy_of = {h.slot: c.Occupancy.RENTED if h.tenant else c.Occupancy.OWNER for h in plan.households}
    slots = sorted([h.slot for h in plan.households] + plan.empty_slots)
    out: dict[tuple[int, int, int, int, int], Dwelling] = {}
    for slot in slots:
        _g, b, u, f, r = slot
        occupancy = occupancy_of.get(slot, c.Occupancy.EMPTY)
        out[slot] = reg.dwelling_create(actor=None, unit=units[(b, u)], floor=f, number=f"{f}{r:02d}",
                                        occupancy=occupancy)
    return out


Created = list[tuple[Household, list[tuple[PersonPlan, Resident]]]]


def _create_households(plan: CommunityPlan, dwellings: dict[tuple[int, int, int, int, int], Dwelling],
                       tags: dict[str, Tag]) -> Created:
    created: Created = []
    for i, hp in enumerate(plan.households, start=1):
        household = reg.household_create(
            actor=None, dwelling=dwellings[hp.slot], number=f"{d.COMMUNITY_CODE}-{i:05d}",
            hukou_address=hp.hukou_address, origin_county=hp.origin_county, origin_town=hp.origin_town,
            origin_village=hp.origin_village, relocation_batch=hp.relocation_batch, moved_in_on=hp.moved_in_on,
            status=c.HouseholdStatus.PRESENT,
        )
        people: list[tuple[PersonPlan, Resident]] = []
        # The head first, so resident_create makes them the household's head.
        for m in sorted(hp.members, key=lambda m: m.relation != c.Relation.HEAD):
            people.append((m, reg.resident_create(
                actor=None, household=household, name=m.name, id_number=m.id_number, phone=m.phone,
                tags=[tags[t] for t in m.tags], relation=m.relation, ethnicity=m.ethnicity,
                education=m.education, employment=m.employment, health=m.health, disability=m.disability,
                disability_grade=m.disability_grade, political=m.political, residence=m.residence,
                hukou_address=hp.hukou_address, status=c.PersonStatus.PRESENT, note=m.note,
            )))
        created.append((household, people))
    return created


DEMO_USERNAMES = ["admin", "county", "town", "shuji", *[f"wgy{g}" for g in range(1, d.GRIDS + 1)],
                  *[u[0] for u in d.DEMO_USERS[4:]]]


def _create_users(community: Area, grids: dict[int, Area], buildings: dict[int, Area],
                  units: dict[tuple[int, int], Area], today: dt.date) -> dict[str, Any]:
    """Demo logins with one published password; returns the users by username.

    Users have no service; they are created directly. The password is hashed once and the hash
    shared: hashing is deliberately slow (PBKDF2) and every account has the same password anyway."""
    User = get_user_model()
    password = make_password(d.DEMO_PASSWORD)
    town = community.parent
    assert town is not None and town.parent is not None
    where = {"county": town.parent, "town": town, "community": community, "building": buildings[1],
             "unit": units[(1, 1)]}
    since = dt.date(today.year - 1, 1, 1)
    resident_head = (Household.objects.filter(area=units[(1, 1)]).select_related("head")
                     .order_by("address_key").first())
    entries: list[tuple[str, str, str | None, Area | None]] = []
    for username, name, role, level in d.DEMO_USERS[:4]:
        entries.append((username, name, role, where.get(level)))
    for g, grid in grids.items():
        entries.append((f"wgy{g}", d.GRID_WORKER_NAMES[g - 1], Role.GRID_WORKER, grid))
    for username, name, role, level in d.DEMO_USERS[4:]:
        if username == "jumin" and resident_head is not None and resident_head.head is not None:
            name = resident_head.head.name
        entries.append((username, name, role, where.get(level)))
    users: dict[str, Any] = {}
    for username, name, role, area in entries:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create(username=username, first_name=name, password=password,
                                       is_superuser=role is None, is_staff=role is None)
        if role is not None and area is not None:
            core_services.grant_role(actor=None, user=user, role=role, area=area, valid_from=since)
        users[username] = user
    return users


def demo_logins() -> list[DemoLogin]:
    """The demo accounts as they are in the database, for the login table."""
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
    first_grant: dict[int, Grant] = {}
    for row in Grant.objects.filter(user__in=users.values()).select_related("area").order_by("id"):
        first_grant.setdefault(row.user_id, row)
    out = []
    for username in DEMO_USERNAMES:
        user = users.get(username)
        if user is None:
            continue
        grant = first_grant.get(user.pk)
        if user.is_superuser:
            role, scope = "系统管理员", "全部区域"
        elif grant is not None:
            role, scope = grant.get_role_display(), grant.area.full_name
        else:
            role, scope = "(无角色)", ""
        out.append(DemoLogin(role=role, username=username, name=user.first_name, scope=scope))
    return out


def _visit_reason(tags: list[str]) -> str:
    for reason in ("重点关注", "孤儿", "事实无人抚养儿童", "独居老人", "特困", "留守儿童", "留守老人", "空巢老人",
                   "残疾人"):
        if reason in tags:
            return "困境儿童" if reason in ("孤儿", "事实无人抚养儿童") else reason
    return "一般"


def _record_visits(plan: CommunityPlan, households: Created, workers: dict[int, Any], seed: int,
                   today: dt.date) -> int:
    """About four months of 走访: special-care households at their tags' interval, about one in
    eight of them now overdue; a third of the other households once or twice."""
    rng = random.Random(seed * 7919 + 17)  # its own stream: the plan stays the same if visits change
    intervals = {name: days for name, _parent, days, _color in d.TAGS if days}
    tz = timezone.get_current_timezone()
    count = 0
    for hp, (household, people) in zip(plan.households, households, strict=True):
        tags = [t for m in hp.members for t in m.tags]
        due = min((intervals[t] for t in tags if t in intervals), default=None)
        ages: list[int] = []
        if due is not None:
            overdue = rng.random() < 0.12
            age = rng.randint(due + 1, due + 25) if overdue else rng.randint(1, max(1, due - 2))
            while age <= HISTORY_DAYS:
                ages.append(age)
                age += max(3, due - rng.randint(0, 6))
        elif rng.random() < 0.35:
            ages.append(rng.randint(1, HISTORY_DAYS))
            if rng.random() < 0.15:
                ages.append(rng.randint(1, HISTORY_DAYS))
        worker = workers[hp.slot[0]]
        reason = _visit_reason(tags)
        at_home = [r for m, r in people if not m.migrant]
        tagged_home = [r for m, r in people if not m.migrant and m.tags]
        for days_ago in sorted(ages, reverse=True):
            day = today - dt.timedelta(days=days_ago)
            if day.weekday() == 6:  # Sundays off: the visit happened on Saturday
                day -= dt.timedelta(days=1)
            when = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.choice([0, 10, 20, 30, 40, 50])),
                                       tzinfo=tz)
            kind = _weighted(rng, [(c.VisitKind.HOME, 80), (c.VisitKind.PHONE, 12), (c.VisitKind.MEETING, 8)])
            follow = rng.random() < 0.08
            seen = (tagged_home or at_home[:1]) if kind != c.VisitKind.PHONE else at_home[:1]
            reg.visit_record(
                actor=worker, household=household, findings=rng.choice(d.FINDINGS[reason]), visitors=[worker],
                residents=seen, visited_at=when, kind=kind, follow_up_needed=follow,
                follow_up_note=rng.choice(d.FOLLOW_UPS) if follow else "",
            )
            count += 1
    return count
