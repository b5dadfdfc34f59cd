"""A synthetic 昭通: 11 counties, about 150 towns, 1,500 communities and 15,000 grids at 5 million
residents, with buildings, units, dwellings, households, people, tags, cases, activities and
caller devices in the proportions of a real prefecture.

Everything is drawn from `random.Random` seeded per grid from the city seed, so the same seed and
size give the same city (names, ID numbers, phones, addresses, tags) on every machine. Only the
ciphertexts differ between runs: AES-GCM needs a fresh random nonce for every encryption, and a
seeded nonce would repeat across two cities generated with one key.

The city is streamed grid by grid and written in batches with COPY (executemany on SQLite), with
explicit primary keys under a table lock so foreign keys are known before the rows exist; memory
stays flat whatever the size. The services are not used: they validate and audit one object at
a time, which is right for a worker and hopeless for 5 million rows. The rows they would write
are written instead, derived by the same model helpers (crypto, masks, pinyin keys)."""

from __future__ import annotations

import csv
import datetime as dt
import random
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pinyin import name_keys
from wuzhi.core.validators import id_check_digit, mask_id, mask_phone
from wuzhi.demo import data as d
from wuzhi.registry import choices as c
from wuzhi.registry.models import Dwelling, Household, Resident, ResidentTag, Tag

from . import bulk

# GB/T 2260 codes of 昭通's 11 county-level divisions and their weight in the population (10k).
COUNTIES: list[tuple[str, str, int]] = [
    ("530602", "昭阳区", 95), ("530621", "鲁甸县", 40), ("530622", "巧家县", 50), ("530623", "盐津县", 37),
    ("530624", "大关县", 27), ("530625", "永善县", 40), ("530626", "绥江县", 15), ("530627", "镇雄县", 135),
    ("530628", "彝良县", 50), ("530629", "威信县", 40), ("530681", "水富市", 10),
]
CITY_NAME = "昭通市"
FULL_RESIDENTS = 5_000_000
FULL_TOWNS, FULL_COMMUNITIES, FULL_GRIDS = 150, 1500, 15000
# People whose ID number was issued elsewhere: 四川宜宾, 贵州毕节, 昆明.
OUTSIDE_REGIONS = ["511502", "520502", "530102"]
REGIONS = [code for code, _, _ in COUNTIES] + OUTSIDE_REGIONS
REF_DATE = dt.date(2026, 1, 1)  # ages are drawn against a fixed day so a seed means one city
EPOCH = dt.date(1915, 1, 1)
ID_DAYS = (REF_DATE - EPOCH).days + 1
TOWN_SUFFIXES = ["镇", "镇", "镇", "乡", "街道"]
HOUSEHOLD_SIZES = [(1, 14), (2, 24), (3, 22), (4, 20), (5, 12), (6, 6), (7, 2)]
ETHNIC_MIX = [("汉族", 88), ("回族", 4), ("彝族", 4), ("苗族", 4)]
# (floors, units, dwellings per floor, weight): 6- and 7-storey walk-ups, 11-storey 安置房, towers.
BUILDING_TYPES = [(6, 2, 2, 30), (7, 3, 2, 25), (11, 3, 3, 30), (18, 2, 4, 10), (24, 2, 4, 5)]
CASE_PER_RESIDENTS = 100  # 诉求/报事/帮办/纠纷 per year, about one for every hundred people
ACTIVITIES_PER_COMMUNITY = 20
DEVICE_SHARE_ALONE = 0.6  # 孝心呼叫器 installed for most elders who live alone
BATCH_RESIDENTS = 50_000


def split(total: int, weights: list[int], minimum: int = 1) -> list[int]:
    """`total` in parts proportional to `weights` (largest remainder), each at least `minimum`."""
    n = len(weights)
    if total < minimum * n:
        minimum = 0
    rest = total - minimum * n
    whole = sum(weights)
    raw = [rest * w / whole for w in weights]
    parts = [int(x) for x in raw]
    for i in sorted(range(n), key=lambda i: (parts[i] - raw[i], i))[: rest - sum(parts)]:
        parts[i] += 1
    return [p + minimum for p in parts]


@dataclass(frozen=True)
class Shape:
    residents: int
    towns: int
    communities: int
    grids: int

    @classmethod
    def for_residents(cls, residents: int, towns: int | None = None, communities: int | None = None,
                      grids: int | None = None) -> Shape:
        """The full tree at 5 million people; a smaller city keeps ≈333 people per grid, and
        every level has at least one node per parent."""
        f = min(1.0, residents / FULL_RESIDENTS)
        t = towns or max(len(COUNTIES), round(FULL_TOWNS * f))
        cm = communities or max(t, round(FULL_COMMUNITIES * f))
        g = grids or max(cm, round(FULL_GRIDS * f))
        return cls(residents=residents, towns=t, communities=cm, grids=g)


@dataclass
class Counts:
    areas: int = 0
    dwellings: int = 0
    households: int = 0
    residents: int = 0
    resident_tags: int = 0
    household_tags: int = 0
    cases: int = 0
    activities: int = 0
    devices: int = 0
    roster_rows: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# ---- people --------------------------------------------------------------------------------

@dataclass
class Person:
    name: str
    sex: str
    birth: dt.date
    relation: str
    ethnicity: str
    id_number: str = ""
    phone: str = ""
    education: str = ""
    employment: str = ""
    health: str = c.Health.HEALTHY
    disability: str = ""
    disability_grade: str = ""
    political: str = c.Political.MASSES
    residence: str = c.Residence.BOTH
    status: str = c.PersonStatus.PRESENT
    tags: list[str] = field(default_factory=list)

    @property
    def age(self) -> int:
        return REF_DATE.year - self.birth.year - ((REF_DATE.month, REF_DATE.day) < (self.birth.month, self.birth.day))


@dataclass
class HouseholdDraft:
    members: list[Person]
    hukou_address: str
    origin: tuple[str, str, str, str] = ("", "", "", "")  # county, town, village, batch
    moved_in_on: dt.date | None = None
    tags: list[str] = field(default_factory=list)
    tenant: bool = False


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


_SURNAMES = {
    "汉族": d.SURNAMES_HAN, "彝族": d.SURNAMES_YI, "苗族": d.SURNAMES_MIAO,
    "回族": [("马", 40), ("沙", 10), ("丁", 8), ("纳", 6), ("张", 6), ("李", 6), ("王", 5), ("杨", 5)],
}
_SURNAME_TABLES = {eth: ([s for s, _ in rows], [w for _, w in rows]) for eth, rows in _SURNAMES.items()}


class IdIssuer:
    """Unique, valid ID numbers without remembering 5 million of them: for every (region, birth
    day, sex) a counter in a compact array, turned into a 顺序码 (odd for men, even for women)
    by a stride through the 500 codes of that sex that starts somewhere different for every
    day. Real codes are spread over 000–999, so ID tails are too: a tail search finds about one
    person in ten thousand, not thousands who all share "0012"."""

    STRIDE = 137  # coprime with 500: n = 0 … 499 give 500 different codes

    def __init__(self) -> None:
        self.used = array("H", bytes(2 * len(REGIONS) * ID_DAYS * 2))

    def issue(self, region: int, birth: dt.date, sex: str) -> tuple[str, dt.date]:
        while True:
            slot = ((region * ID_DAYS) + (birth - EPOCH).days) * 2 + (sex == "M")
            n = self.used[slot]
            if n < 500:
                self.used[slot] = n + 1
                index = (slot * 7919 + n * self.STRIDE) % 500
                order = index * 2 + 1 if sex == "M" else index * 2
                first17 = f"{REGIONS[region]}{birth:%Y%m%d}{order:03d}"
                return first17 + id_check_digit(first17), birth
            birth += dt.timedelta(days=1)  # that day is full: the next one keeps the person's age


class PeopleDrafter:
    def __init__(self, rng: random.Random, county_index: int, hukou: str, ids: IdIssuer) -> None:
        self.rng = rng
        self.county_index = county_index
        self.hukou = hukou
        self.ids = ids

    def surname(self, eth: str) -> str:
        names, weights = _SURNAME_TABLES[eth]
        return self.rng.choices(names, weights=weights)[0]

    def given(self, sex: str, birth_year: int) -> str:
        gen = "old" if birth_year < 1966 else "mid" if birth_year < 1990 else "young" if birth_year < 2010 else "child"
        return self.rng.choice(d.GIVEN[gen][sex])

    def birth(self, age: int) -> dt.date:
        day = self.rng.randrange(365)
        return REF_DATE.replace(year=REF_DATE.year - age - 1) + dt.timedelta(days=day)

    def person(self, surname: str, sex: str, age: int, relation: str, eth: str) -> Person:
        age = max(0, min(age, 100))
        birth = self.birth(age)
        return Person(name=surname + self.given(sex, birth.year), sex=sex, birth=birth, relation=relation,
                      ethnicity=eth)

    def household(self) -> HouseholdDraft:
        rng = self.rng
        eth = _weighted(rng, ETHNIC_MIX)
        size = _weighted(rng, HOUSEHOLD_SIZES)
        if size == 1:
            head_age = rng.choice([rng.randint(22, 59), rng.randint(60, 92), rng.randint(60, 92)])
        else:
            head_age = rng.randint(26, 78)
        head_sex = "M" if rng.random() < (0.55 if size == 1 else 0.85) else "F"
        surname = self.surname(eth)
        head = self.person(surname, head_sex, head_age, c.Relation.HEAD, eth)
        members = [head]
        if size >= 2 and (rng.random() < 0.88 or size == 2):
            spouse_sex = "F" if head_sex == "M" else "M"
            spouse_eth = eth if rng.random() < 0.9 else _weighted(rng, ETHNIC_MIX)
            members.append(self.person(self.surname(spouse_eth), spouse_sex, head_age + rng.randint(-4, 3),
                                       c.Relation.SPOUSE, spouse_eth))
        elders = 0
        if size >= 5 and head_age < 60 and rng.random() < 0.6:
            elders = min(2, size - len(members) - 1)
        child_surname = surname if head_sex == "M" else self.surname(eth)
        while len(members) < size - elders:
            age = head_age - rng.randint(22, 36)
            if age < 0:
                break
            sex = rng.choice("MF")
            members.append(self.person(child_surname, sex, age, c.Relation.SON if sex == "M" else c.Relation.DAUGHTER,
                                       eth))
        for i in range(elders):
            members.append(self.person(surname if i == 0 else self.surname(eth), "M" if i == 0 else "F",
                                       head_age + rng.randint(22, 32), c.Relation.PARENT, eth))
        draft = HouseholdDraft(members=members, hukou_address=self.hukou)
        if rng.random() < 0.08:  # 易地扶贫搬迁 households keep where they came from
            county = _weighted(rng, [(row, row[2]) for row in d.COUNTIES])
            batch = _weighted(rng, [(b, b[3]) for b in d.BATCHES])
            first, last = dt.date(*batch[1]), dt.date(*batch[2])
            draft.origin = (county[1], rng.choice(county[3]), rng.choice(d.VILLAGE_STEMS) + "村", batch[0])
            draft.moved_in_on = first + dt.timedelta(days=rng.randrange((last - first).days + 1))
        draft.tenant = rng.random() < 0.12
        for m in members:
            self.attributes(m)
        self.tag(draft)
        return draft

    def attributes(self, m: Person) -> None:
        rng = self.rng
        age = m.age
        region = self.county_index if rng.random() < 0.9 else rng.randrange(len(REGIONS))
        m.id_number, m.birth = self.ids.issue(region, m.birth, m.sex)
        if (16 <= age < 75 and rng.random() < 0.92) or (age >= 75 and rng.random() < 0.4):
            m.phone = rng.choice(d.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if age < 6:
            m.education, m.employment = c.Education.PRESCHOOL, c.Employment.CHILD
        elif age < 18:
            m.education = c.Education.PRIMARY if age < 12 else c.Education.JUNIOR if age < 15 else c.Education.SENIOR
            m.employment = c.Employment.STUDENT
        else:
            m.education = _weighted(rng, [(c.Education.NONE, 8 if age > 55 else 2), (c.Education.PRIMARY, 30),
                                          (c.Education.JUNIOR, 35), (c.Education.SENIOR, 14),
                                          (c.Education.COLLEGE, 7), (c.Education.BACHELOR, 5)])
            if age >= 60:
                m.employment = _weighted(rng, [(c.Employment.RETIRED, 30), (c.Employment.FARMING, 40),
                                               (c.Employment.UNABLE, 30)])
            elif age < 23 and rng.random() < 0.4:
                m.employment = c.Employment.STUDENT
            else:
                m.employment = _weighted(rng, [(c.Employment.MIGRANT, 35), (c.Employment.LOCAL, 30),
                                               (c.Employment.FARMING, 15), (c.Employment.SELF, 6),
                                               (c.Employment.WORKSHOP, 4), (c.Employment.PUBLIC_POST, 2),
                                               (c.Employment.UNEMPLOYED, 8)])
            if m.employment == c.Employment.MIGRANT and rng.random() < 0.7:
                m.residence = c.Residence.REGISTERED_AWAY
            if age >= 18 and rng.random() < 0.065:
                m.political = c.Political.CPC
        if 14 <= age <= 28 and m.political == c.Political.MASSES and rng.random() < 0.25:
            m.political = c.Political.CYL
        if rng.random() < 0.065:
            m.disability = _weighted(rng, [(c.Disability.LIMB, 50), (c.Disability.SIGHT, 12),
                                           (c.Disability.HEARING, 15), (c.Disability.INTELLECT, 8),
                                           (c.Disability.MENTAL, 8), (c.Disability.SPEECH, 2),
                                           (c.Disability.MULTIPLE, 5)])
            m.disability_grade = rng.choice(c.DisabilityGrade.values)
            m.health = c.Health.DISABLED
        elif age >= 60 and rng.random() < 0.35:
            m.health = c.Health.CHRONIC
        elif rng.random() < 0.01:
            m.health = c.Health.SERIOUS

    def tag(self, h: HouseholdDraft) -> None:
        rng = self.rng
        ages = [m.age for m in h.members]
        if len(h.members) == 1 and ages[0] >= 60:
            h.members[0].tags.append("独居老人")
            if rng.random() < 0.08:
                h.members[0].tags.append("特困")
        elif len(h.members) >= 2 and min(ages) >= 60:
            for m in h.members:
                m.tags.append("空巢老人")
        poor = rng.random() < 0.04
        parents_away = sum(m.residence == c.Residence.REGISTERED_AWAY for m in h.members if 18 <= m.age < 60) >= 1
        for m in h.members:
            if m.disability:
                m.tags.append("残疾人")
            if poor:
                m.tags.append("低保")
            if m.age < 16 and parents_away and rng.random() < 0.5:
                m.tags.append("留守儿童")
            if rng.random() < 0.001:
                m.tags.append("重点关注")


# ---- the tree ------------------------------------------------------------------------------

@dataclass
class Node:
    id: int
    parent: Node | None
    kind: str
    segment: str
    name: str
    sort: int = 0
    floors: int | None = None

    @property
    def path(self) -> str:
        return f"{self.parent.path if self.parent else '/'}{self.segment}/"

    @property
    def full_name(self) -> str:
        if self.parent is None or self.kind == AreaKind.COUNTY:
            return self.name
        return self.parent.full_name + self.name


AREA_COLUMNS = ("id", "parent_id", "kind", "segment", "code", "path", "depth", "name", "full_name", "sort",
                "floors", "note", "version")
DWELLING_COLUMNS = ("id", "unit_id", "floor", "number", "occupancy", "area_m2", "area_path")
HOUSEHOLD_COLUMNS = ("id", "number", "dwelling_id", "area_id", "area_path", "address", "address_key", "head_id",
                     "hukou_address", "origin_county", "origin_town", "origin_village", "relocation_batch",
                     "moved_in_on", "status", "last_visited_at", "note", "version", "created_at", "updated_at")
RESIDENT_COLUMNS = ("id", "household_id", "relation", "name", "name_pinyin", "name_initials", "id_number_enc",
                    "id_number_hash", "id_number_masked", "id_tail", "birth_date", "sex", "phone_enc", "phone_hash",
                    "phone_masked", "phone_tail", "landline_enc", "landline_masked", "ethnicity", "education",
                    "employment", "health", "disability", "disability_grade", "political", "residence",
                    "hukou_address", "status", "area_path", "note", "version", "created_at", "updated_at")
RESIDENT_TAG_COLUMNS = ("resident_id", "tag_id", "source", "added_by_id", "added_at")
HOUSEHOLD_TAG_COLUMNS = ("household_id", "tag_id")

ROSTER_HEADERS = ["县", "乡镇", "社区", "网格", "楼栋", "单元", "房号", "楼层", "与户主关系", "姓名", "身份证号", "民族",
                  "手机", "文化程度", "就业状况", "健康状况", "残疾类别", "残疾等级", "政治面貌", "户籍与居住", "户籍地",
                  "搬迁来源县", "搬迁来源乡镇", "搬迁来源村", "搬迁批次", "入住日期", "人员状态", "标签"]


@lru_cache(maxsize=200_000)
def _pinyin(name: str) -> tuple[str, str]:
    return name_keys(name)


class _Ids:
    """Explicit primary keys, handed out while the tables are locked."""

    def __init__(self) -> None:
        self.area = bulk.next_id(Area)
        self.dwelling = bulk.next_id(Dwelling)
        self.household = bulk.next_id(Household)
        self.resident = bulk.next_id(Resident)

    def take(self, name: str) -> int:
        value: int = getattr(self, name)
        setattr(self, name, value + 1)
        return value


@dataclass
class CityOptions:
    residents: int
    seed: int = 2026
    load: str = "all"  # "all": everything; "areas": the area tree only (for an import); "none"
    roster: Path | None = None
    towns: int | None = None
    communities: int | None = None
    grids: int | None = None
    counties: int | None = None  # only the first N counties (a roster for one county, say)


@dataclass
class CityResult:
    shape: Shape
    counts: Counts
    seconds: float
    county_paths: list[str]


class CityExists(Exception):
    pass


def generate_city(options: CityOptions, log: Callable[[str], None] = lambda s: None) -> CityResult:
    """Build the city (see module doc). Refuses when one of its counties is already in the tree."""
    started = time.monotonic()
    counties = COUNTIES[: options.counties] if options.counties else COUNTIES
    shape = Shape.for_residents(options.residents, options.towns, options.communities, options.grids)
    existing = list(Area.objects.filter(path__in=[f"/{code}/" for code, _, _ in counties]).values_list("name", flat=True))
    if existing and options.load != "none":
        raise CityExists("区域树中已有" + "、".join(existing) + ",城市数据只能生成到空的区域树中")
    loader = _Loader(options, counts=Counts(), log=log)
    if options.load == "none":
        loader.run(counties, shape)
    else:
        with transaction.atomic():
            loader.run(counties, shape)
    return CityResult(shape=shape, counts=loader.counts, seconds=time.monotonic() - started,
                      county_paths=[f"/{code}/" for code, _, _ in counties])


class _Loader:
    def __init__(self, options: CityOptions, counts: Counts, log: Callable[[str], None]) -> None:
        self.options = options
        self.counts = counts
        self.log = log
        self.load_people = options.load == "all"
        self.load_areas = options.load in ("all", "areas")
        self.ids_issuer = IdIssuer()
        self.now = timezone.now()
        self.buffers: dict[str, list[tuple[Any, ...]]] = {k: [] for k in
                                                          ("area", "dwelling", "household", "resident", "rtag", "htag")}
        self.pending_people = 0
        self.alone: list[tuple[int, int, int, str, str, str]] = []  # resident, dwelling, unit, path, community, phone
        self.case_seeds: list[tuple[int, int, int, str, str, str]] = []  # resident, household, unit, path, name, phone
        self.communities: list[Node] = []
        self.roster_file: IO[str] | None = None
        self.roster: Any = None

    # -- orchestration --

    def run(self, counties: list[tuple[str, str, int]], shape: Shape) -> None:
        self.ids: Any
        if self.load_areas:
            bulk.lock_tables(Area, Dwelling, Household, Resident)
            self.ids = _Ids()
            for model, columns in ((Area, AREA_COLUMNS), (Dwelling, DWELLING_COLUMNS),
                                   (Household, HOUSEHOLD_COLUMNS), (Resident, RESIDENT_COLUMNS)):
                bulk.check_columns(model, columns)
            from wuzhi.demo.generator import ensure_tags

            self.tag_ids = {name: t.pk for name, t in ensure_tags().items()}
        else:
            self.ids = _FakeIds()
            self.tag_ids = {name: i for i, (name, *_rest) in enumerate(d.TAGS, 1)}
        self.open_roster()
        try:
            self.walk(counties, shape)
            self.flush()
        finally:
            if self.roster_file is not None:
                self.roster_file.close()
            elif isinstance(self.roster, _XlsxRoster):
                self.roster.close()
        if self.load_areas:
            bulk.reset_sequences(Area, Dwelling, Household, Resident)
        if self.load_people:
            self.extras()

    def walk(self, counties: list[tuple[str, str, int]], shape: Shape) -> None:
        weights = [w for _, _, w in counties]
        towns_per_county = split(shape.towns, weights)
        # Communities and grids follow the county's weight too, so people per grid stay even.
        town_weights = [w * 1000 // n for w, n in zip(weights, towns_per_county, strict=True) for _ in range(n)]
        communities_per_town = split(shape.communities, town_weights)
        community_weights = [tw * 1000 // max(1, n) for tw, n in zip(town_weights, communities_per_town, strict=True)
                             for _ in range(n)]
        grids_per_community = split(shape.grids, community_weights)
        grid_weights = [cw // max(1, n) or 1 for cw, n in zip(community_weights, grids_per_community, strict=True)
                        for _ in range(n)]
        people_per_grid = split(shape.residents, grid_weights, minimum=0)
        t = cm = g = 0
        for ci, (code, name, _w) in enumerate(counties):
            county = self.area(None, AreaKind.COUNTY, code, name, ci)
            for ti in range(towns_per_county[ci]):
                stem = d.VILLAGE_STEMS[(ti * 7 + ci * 5) % len(d.VILLAGE_STEMS)]
                suffix = TOWN_SUFFIXES[(ti + ci) % len(TOWN_SUFFIXES)]
                number = "" if ti < len(d.VILLAGE_STEMS) else str(ti // len(d.VILLAGE_STEMS) + 1)
                town = self.area(county, AreaKind.TOWN, f"{ti + 1:03d}", f"{stem}{number}{suffix}", ti)
                for mi in range(communities_per_town[t]):
                    cstem = d.VILLAGE_STEMS[(mi * 11 + ti * 3 + ci) % len(d.VILLAGE_STEMS)]
                    cnumber = "" if mi < len(d.VILLAGE_STEMS) else str(mi // len(d.VILLAGE_STEMS) + 1)
                    community = self.area(town, AreaKind.COMMUNITY, f"{mi + 1:03d}", f"{cstem}{cnumber}社区", mi)
                    self.communities.append(community)
                    self.household_seq = 0
                    hukou = f"云南省{CITY_NAME}{county.name}{town.name}{community.name}"
                    # Fixed-width segments: the code (the path without slashes) must stay unique.
                    width = max(2, len(str(grids_per_community[cm])))
                    for gi in range(grids_per_community[cm]):
                        grid = self.area(community, AreaKind.GRID, f"{gi + 1:0{width}d}", f"{gi + 1}网格", gi + 1)
                        rng = random.Random(f"{self.options.seed}:{grid.path}")
                        self.grid(rng, ci, county, town, community, grid, hukou, people_per_grid[g])
                        g += 1
                    cm += 1
                t += 1
            self.log(f"{name}: {self.counts.residents} 人")

    # -- rows --

    def area(self, parent: Node | None, kind: str, segment: str, name: str, sort: int,
             floors: int | None = None) -> Node:
        node = Node(id=self.ids.take("area"), parent=parent, kind=kind, segment=segment, name=name, sort=sort,
                    floors=floors)
        if self.load_areas:
            path = node.path
            self.buffers["area"].append((node.id, parent.id if parent else None, kind, segment, path.replace("/", ""),
                                         path, path.count("/") - 1, name, node.full_name, sort, floors, "", 1))
        self.counts.areas += 1
        return node

    def grid(self, rng: random.Random, county_index: int, county: Node, town: Node, community: Node, grid: Node,
             hukou: str, people: int) -> None:
        drafter = PeopleDrafter(rng, county_index, hukou, self.ids_issuer)
        households: list[HouseholdDraft] = []
        total = 0
        while total < people:
            h = drafter.household()
            if total + len(h.members) > people:
                h.members = [m for m in h.members if m.relation == c.Relation.HEAD][:1] + \
                            [m for m in h.members if m.relation != c.Relation.HEAD][: people - total - 1]
            households.append(h)
            total += len(h.members)
        # Buildings until about one dwelling in eight stays empty.
        needed = int(len(households) / 0.88) + 1
        slots: list[tuple[Node, Node, int, str]] = []  # building, unit, floor, number
        b = 0
        # Enough digits for the most buildings this grid could get (of the smallest type).
        width = max(2, len(str(needed // min(t[0] * t[1] * t[2] for t in BUILDING_TYPES) + 1)))
        while len(slots) < needed or b == 0:
            # Any type that is not much bigger than what is still needed, else the smallest one:
            # a grid's buildings then leave about one dwelling in eight empty, as 安置社区 do.
            remaining = needed - len(slots)
            fitting = [t for t in BUILDING_TYPES if t[0] * t[1] * t[2] <= remaining * 1.3] or \
                [min(BUILDING_TYPES, key=lambda t: t[0] * t[1] * t[2])]
            floors, units, per_floor, _w = _weighted(rng, [(t, t[3]) for t in fitting])
            b += 1
            building = self.area(grid, AreaKind.BUILDING, f"{b:0{width}d}", f"{b}栋", b, floors=floors)
            for u in range(1, units + 1):
                unit = self.area(building, AreaKind.UNIT, str(u), f"{u}单元", u)
                for f in range(1, floors + 1):
                    for k in range(1, per_floor + 1):
                        slots.append((building, unit, f, f"{f}{k:02d}"))
        occupied = sorted(rng.sample(range(len(slots)), len(households)))
        taken = dict(zip(occupied, households, strict=True))
        for i, (building, unit, floor, number) in enumerate(slots):
            draft = taken.get(i)
            dwelling_id = self.ids.take("dwelling")
            # Drawn whether or not it is written, so a roster-only run draws exactly what a load does.
            area_m2 = rng.randrange(450, 1400) / 10
            if self.load_people:
                occupancy = (c.Occupancy.EMPTY if draft is None else
                             c.Occupancy.RENTED if draft.tenant else c.Occupancy.OWNER)
                self.buffers["dwelling"].append((dwelling_id, unit.id, floor, number, occupancy, area_m2, unit.path))
                self.counts.dwellings += 1
            if draft is not None:
                self.household(rng, draft, community, grid, building, unit, floor, number, dwelling_id, county, town)

    def household(self, rng: random.Random, h: HouseholdDraft, community: Node, grid: Node, building: Node, unit: Node,
                  floor: int, number: str, dwelling_id: int, county: Node, town: Node) -> None:
        self.household_seq += 1
        unit_path = unit.path
        # The draws of the database-only details come first and always, so a roster-only run and a
        # load with the same seed describe the same people.
        last_visit = self.now - dt.timedelta(days=rng.randrange(1, 120)) if rng.random() < 0.7 else None
        flags = [("独居老人" in m.tags and rng.random() < DEVICE_SHARE_ALONE, rng.random() < 1 / CASE_PER_RESIDENTS)
                 for m in h.members]
        if self.roster is not None:
            for m in h.members:
                self.roster.writerow([
                    county.name, town.name, community.name, grid.name, building.name, unit.name, number, floor,
                    m.relation, m.name, m.id_number, m.ethnicity, m.phone, m.education, m.employment, m.health,
                    m.disability, m.disability_grade, m.political, m.residence, h.hukou_address, *h.origin,
                    h.moved_in_on.isoformat() if h.moved_in_on else "", m.status, "、".join(m.tags)])
                self.counts.roster_rows += 1
        if not self.load_people:
            return
        household_id = self.ids.take("household")
        members = [(self.ids.take("resident"), m) for m in h.members]
        head_id = members[0][0]
        community_code = community.path.replace("/", "")
        address = f"{building.name}{unit.name}{number}室"
        self.buffers["household"].append((
            household_id, f"{community_code}-{self.household_seq:05d}", dwelling_id, unit.id, unit_path, address,
            f"{unit_path}{number.zfill(6)}", head_id, h.hukou_address, *h.origin, h.moved_in_on,
            c.HouseholdStatus.PRESENT, last_visit, "", 1, self.now, self.now))
        self.counts.households += 1
        for (rid, m), (device, case) in zip(members, flags, strict=True):
            pinyin, initials = _pinyin(m.name)
            phone = m.phone
            self.buffers["resident"].append((
                rid, household_id, m.relation, m.name, pinyin, initials, crypto.encrypt(m.id_number),
                crypto.blind_index(m.id_number, "id"), mask_id(m.id_number), m.id_number[-4:], m.birth, m.sex,
                crypto.encrypt(phone), crypto.blind_index(phone, "phone"), mask_phone(phone) if phone else "",
                phone[-4:], "", "", m.ethnicity, m.education, m.employment, m.health, m.disability,
                m.disability_grade, m.political, m.residence, h.hukou_address, m.status, unit_path, "", 1,
                self.now, self.now))
            for tag in m.tags:
                self.buffers["rtag"].append((rid, self.tag_ids[tag], ResidentTag.Source.IMPORT, None, self.now))
            if device:
                self.alone.append((rid, dwelling_id, unit.id, unit_path, community_code, phone))
            if case:
                self.case_seeds.append((rid, household_id, unit.id, unit_path, m.name, phone))
        self.counts.residents += len(members)
        self.pending_people += len(members)
        if self.pending_people >= BATCH_RESIDENTS:
            self.flush()

    def flush(self) -> None:
        b = self.buffers
        writes = [("area", Area._meta.db_table, AREA_COLUMNS),
                  ("dwelling", Dwelling._meta.db_table, DWELLING_COLUMNS),
                  ("household", Household._meta.db_table, HOUSEHOLD_COLUMNS),
                  ("resident", Resident._meta.db_table, RESIDENT_COLUMNS),
                  ("rtag", ResidentTag._meta.db_table, RESIDENT_TAG_COLUMNS),
                  ("htag", Household.tags.through._meta.db_table, HOUSEHOLD_TAG_COLUMNS)]
        for key, table, columns in writes:
            if b[key]:
                bulk.copy_rows(table, columns, b[key])
                if key == "rtag":
                    self.counts.resident_tags += len(b[key])
                b[key] = []
        self.pending_people = 0

    def open_roster(self) -> None:
        path = self.options.roster
        if path is None:
            return
        if path.suffix.lower() == ".xlsx":
            self.roster = _XlsxRoster(path)
            self.roster.writerow(ROSTER_HEADERS)
            return
        self.roster_file = path.open("w", newline="", encoding="utf-8-sig")
        self.roster = csv.writer(self.roster_file)
        self.roster.writerow(ROSTER_HEADERS)

    # -- cases, activities, callers --

    def extras(self) -> None:
        from wuzhi.activities.models import Activity, ActivityKind, Governance
        from wuzhi.alarms.models import Device
        from wuzhi.cases.models import Case, CaseState, Category, Channel

        rng = random.Random(f"{self.options.seed}:extras")
        categories = [Category.objects.get_or_create(kind=kind, name=name, defaults={"deadline_hours": hours})[0]
                      for kind, name, hours in CASE_CATEGORIES]
        first_case = bulk.next_id(Case)
        cases: list[Any] = []
        states = [(CaseState.ARCHIVED, 45), (CaseState.REVIEWED, 15), (CaseState.RESOLVED, 15),
                  (CaseState.IN_PROGRESS, 10), (CaseState.ASSIGNED, 8), (CaseState.ACCEPTED, 7)]
        channels = [(Channel.QR, 30), (Channel.GRID, 35), (Channel.WALK_IN, 10), (Channel.PHONE, 10),
                    (Channel.PATROL, 5)]
        for i, (rid, hid, unit_id, path, name, phone) in enumerate(self.case_seeds):
            category = rng.choice(categories)
            opened = self.now - dt.timedelta(days=rng.randrange(365), minutes=rng.randrange(1440))
            state = _weighted(rng, states)
            done = state in (CaseState.ARCHIVED, CaseState.REVIEWED, CaseState.RESOLVED)
            pk = first_case + i
            case = Case(pk=pk, number=f"{opened.year}{pk:06d}", kind=category.kind, category=category,
                        channel=_weighted(rng, channels), area_id=unit_id, area_path=path, household_id=hid,
                        resident_id=rid, reporter_name=name, title=category.name,
                        description=f"{name}反映:{category.name}", state=state, opened_at=opened,
                        due_at=opened + category.deadline,
                        resolved_at=opened + dt.timedelta(hours=rng.randrange(2, category.deadline_hours + 24))
                        if done else None, result="已按规定办理,居民认可" if done else "")
            case.set_reporter_phone(phone)
            cases.append(case)
            if len(cases) >= 2000:
                Case.objects.bulk_create(cases)
                cases = []
        if cases:
            Case.objects.bulk_create(cases)
        self.counts.cases = len(self.case_seeds)
        bulk.reset_sequences(Case)
        kinds = [(ActivityKind.TEAM, Governance.POLITICAL, "党员服务队进小区"), (ActivityKind.CLASS, Governance.MORAL, "四点半课堂"),
                 (ActivityKind.LAW, Governance.LAW, "法律明白人普法宣传"), (ActivityKind.FESTIVAL, Governance.MORAL, "邻里节"),
                 (ActivityKind.TRAINING, Governance.SELF, "居民议事会培训"), (ActivityKind.PATROL, Governance.LAW, "平安巡逻")]
        activities = []
        for community in self.communities:
            for _ in range(ACTIVITIES_PER_COMMUNITY):
                kind, governance, title = rng.choice(kinds)
                start = self.now - dt.timedelta(days=rng.randrange(365), hours=rng.randrange(8, 20))
                activities.append(Activity(kind=kind, governance=governance, title=title, area_id=community.id,
                                           area_path=community.path, venue="社区活动室", starts_at=start,
                                           ends_at=start + dt.timedelta(hours=2), headcount=rng.randrange(10, 80)))
            if len(activities) >= 2000:
                Activity.objects.bulk_create(activities)
                activities = []
        if activities:
            Activity.objects.bulk_create(activities)
        self.counts.activities = len(self.communities) * ACTIVITIES_PER_COMMUNITY
        devices = []
        for rid, dwelling_id, unit_id, path, community_code, phone in self.alone:
            device = Device(key=f"ZT{rid:012d}", model_name="孝心呼叫器", resident_id=rid, dwelling_id=dwelling_id,
                            area_id=unit_id, area_path=path, community_code=community_code,
                            last_seen_at=self.now - dt.timedelta(seconds=rng.randrange(300)),
                            battery=rng.randrange(20, 101), installed_on=REF_DATE)
            device.set_sim(d.MOBILE_PREFIXES[0] + phone[3:] if phone else "")
            devices.append(device)
            if len(devices) >= 2000:
                Device.objects.bulk_create(devices)
                devices = []
        if devices:
            Device.objects.bulk_create(devices)
        self.counts.devices = len(self.alone)


CASE_CATEGORIES = [("request", "环境卫生", 72), ("request", "物业维修", 72), ("report", "安全隐患", 24),
                   ("report", "违章搭建", 72), ("proxy", "医保办理", 120), ("proxy", "残疾证办理", 240),
                   ("dispute", "邻里纠纷", 168), ("dispute", "家庭纠纷", 168)]


class _FakeIds:
    """Roster only: numbers that stand for ids, nothing is written."""

    def __init__(self) -> None:
        self.n = 0

    def take(self, name: str) -> int:
        self.n += 1
        return self.n


class _XlsxRoster:
    """openpyxl's write-only workbook: rows go to disk as they come (fine up to a few 100k rows)."""

    def __init__(self, path: Path) -> None:
        from openpyxl import Workbook

        self.path = path
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("户籍信息表")

    def writerow(self, row: list[Any]) -> None:
        self.sheet.append(row)

    def close(self) -> None:
        self.workbook.save(self.path)


def iter_roster(path: Path) -> Iterator[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        yield from csv.reader(f)


def vacuum_analyze() -> None:
    """Fresh statistics, so the planner sees millions of rows rather than the empty tables it knew,
    and a visibility map, so index-only scans need not visit the rows (outside a transaction)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            for model in (Area, Dwelling, Household, Resident, ResidentTag, Tag):
                cursor.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
