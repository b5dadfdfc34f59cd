"""Reads worth naming: search, filters, overdue visits, tag suggestions, the building grid.
Every function takes the querysets it filters from the scope chokepoint."""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from wuzhi.core import crypto, fastsql
from wuzhi.core.models import Area
from wuzhi.core.validators import normalize_phone, normalize_text, parse_id_number

from . import choices as c
from .models import Household, Resident, ResidentTag, Tag

_ASCII = re.compile(r"[a-z]+")
_CJK = re.compile(r"[\u3400-\u9fff]+")


def _any_of(*querysets: QuerySet[Resident]) -> Q:
    """People matching any of `querysets`, as `id IN (a UNION b …)`.

    An OR across the resident and its household (name or address) cannot be answered from
    indexes, so with millions of rows the database would read every person in scope; as a
    union each part uses its own index (tail, hash, trigram on name or address) and the few
    ids found are then checked against the user's scope."""
    first, *rest = [qs.order_by().values("pk") for qs in querysets]
    return Q(pk__in=first.union(*rest) if rest else first)


def search_parts(query: str) -> list[Q] | None:
    """What a worker types in the one search box — a name, pinyin (`zhangli`) or initials (`zl`),
    the last digits of an ID or phone number, a full ID or phone number, or part of an address —
    as conditions each of which one index answers; a person matches if any does. None: the box
    is empty (no condition); [] would match nobody."""
    q = normalize_text(query).lower().replace(" ", "")
    if not q:
        return None
    if _ASCII.fullmatch(q):
        return [Q(name_pinyin__startswith=q), Q(name_initials__startswith=q)]
    at_address = Q(household__address__contains=q)
    if re.fullmatch(r"\d{3}x?|\d{4,6}x?", q):
        # Only the last 4 digits are stored in clear (as the mask shows them): 4–6 digits match
        # on their last 4; 3 digits match the end of the stored tail.
        tail = q[-4:].upper()
        if len(tail) < 4:
            return [Q(id_tail__endswith=tail), Q(phone_tail__endswith=tail), at_address]
        return [Q(id_tail=tail), Q(phone_tail=tail), at_address]
    if re.fullmatch(r"\d{15}|\d{17}[\dx]", q):
        try:
            return [Q(id_number_hash=crypto.blind_index(parse_id_number(q).number, "id"))]
        except Exception:
            return []
    if re.fullmatch(r"(\+?86)?1\d{10}", q):
        try:
            return [Q(phone_hash=crypto.blind_index(normalize_phone(q), "phone"))]
        except Exception:
            return []
    if _CJK.fullmatch(q) and len(q) <= 2:
        # 张 or 张伟: the start of a name. Nobody's address is two Chinese characters.
        return [Q(name__startswith=q)]
    if _CJK.fullmatch(q):
        # 张伟明: names match from their start, as a worker types them, from the covering name
        # index alone; a trigram "contains" must read every candidate row to check it, thousands
        # of random pages for a city-wide search. Addresses match anywhere (福兴小区3栋).
        return [Q(name__startswith=q), at_address]
    return [Q(name__contains=q), at_address]


def resident_search_q(query: str, within: QuerySet[Resident] | None = None) -> Q:
    """`search_parts` as one condition. `within` is the scoped queryset being searched, when the
    caller has it: each part of a union then carries the scope, so a grid worker's search meets
    the grid's few hundred people in the index instead of every match in the city."""
    parts = search_parts(query)
    if parts is None:
        return Q()
    if not parts:
        return Q(pk__in=[])
    if len(parts) == 1:
        return parts[0]
    people = Resident.objects.all() if within is None else within.order_by()
    return _any_of(*(people.filter(part) for part in parts))


# What a row of the resident list shows (views._RESIDENT_ROW).
_ROW_FIELDS = {"id", "household_id", "relation", "name", "id_number_masked", "birth_date", "sex", "phone_masked",
               "status"}


def resident_rows(pks: list[int]) -> dict[int, Resident]:
    """The people of a resident list page by primary key, each with `address` (their household's)
    and `tag_list` (their tags, in tag order), in one hand-written statement (core.fastsql): the
    ORM's select_related, prefetch and their compiling cost more CPU than the rest of a search
    request. The keys come from a scoped query (core.pagination.keyset_page `load`)."""
    if not pks:
        return {}
    fields, sql = _rows_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql.format(marks=fastsql.marks(pks)), pks)
        rows = cursor.fetchall()
    n = len(fields)
    found: dict[int, Resident] = {}
    for row in rows:  # one per tag of each person, or one for a person without tags
        person = found.get(row[0])
        if person is None:
            person = found[row[0]] = fastsql.load(Resident, fields, [row[:n]])[0]
            person.address, person.tag_list = row[n], []  # type: ignore[attr-defined]
        if row[n + 1] is not None:
            person.tag_list.append(Tag(id=row[n + 1], name=row[n + 2], color=row[n + 3]))  # type: ignore[attr-defined]
    return found


@functools.cache
def _rows_sql() -> tuple[list[str], str]:
    fields = fastsql.columns(Resident, _ROW_FIELDS)
    by_name = {f.attname: f.column for f in Resident._meta.concrete_fields}
    q = connection.ops.quote_name
    household, link, tag = (fastsql.table(m) for m in (Household, ResidentTag, Tag))
    select = ", ".join(f"r.{q(by_name[f])}" for f in fields)
    return fields, (
        f"SELECT {select}, h.address, t.id, t.name, t.color FROM {fastsql.table(Resident)} r "
        f"JOIN {household} h ON h.id = r.household_id LEFT JOIN {link} rt ON rt.resident_id = r.id "
        f"LEFT JOIN {tag} t ON t.id = rt.tag_id WHERE r.id IN ({{marks}}) ORDER BY r.id, t.sort, t.name"
    )


def tag_descendants() -> dict[int, set[int]]:
    """Every tag's id → itself and all its sub-tags, from one query."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Tag.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)

    def below(pk: int) -> set[int]:
        found = {pk}
        for child in children.get(pk, []):
            found |= below(child)
        return found

    return {pk: below(pk) for pks in children.values() for pk in pks}


def descendant_tag_ids(tag_ids: list[int]) -> set[int]:
    """A tag filter includes its sub-tags: 困境儿童 finds 孤儿 too."""
    tree = tag_descendants()
    return set().union(*(tree.get(pk, {pk}) for pk in tag_ids)) if tag_ids else set()


@dataclass
class ResidentFilter:
    q: str = ""
    area: Area | None = None
    tag_ids: list[int] | None = None
    age_min: int | None = None
    age_max: int | None = None
    status: str = c.PersonStatus.PRESENT
    sex: str = ""

    def apply(self, qs: QuerySet[Resident], today: dt.date | None = None) -> QuerySet[Resident]:
        qs = self.apply_except_search(qs, today)
        return qs.filter(resident_search_q(self.q, within=qs)) if self.q else qs

    def parts(self, qs: QuerySet[Resident], today: dt.date | None = None) -> list[QuerySet[Resident]] | None:
        """With a search: the filtered people as querysets whose union they are, one per index
        the search box uses (see `search_parts`), for a page that takes its keys from each
        (core.pagination.keyset_page). Without one: None, the plain filtered list will do."""
        parts = search_parts(self.q)
        if parts is None:
            return None
        qs = self.apply_except_search(qs, today)
        return [qs.filter(part) for part in parts]

    def apply_except_search(self, qs: QuerySet[Resident], today: dt.date | None = None) -> QuerySet[Resident]:
        today = today or timezone.localdate()
        if self.area is not None:
            qs = qs.filter(area_path__startswith=self.area.path)
        if self.tag_ids:
            ids = descendant_tag_ids(self.tag_ids)
            qs = qs.filter(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag_id__in=ids)))
        if self.age_min is not None:
            qs = qs.filter(birth_date__lte=_years_before(today, self.age_min))
        if self.age_max is not None:
            qs = qs.filter(birth_date__gt=_years_before(today, self.age_max + 1))
        if self.status:
            qs = qs.filter(status=self.status)
        if self.sex:
            qs = qs.filter(sex=self.sex)
        return qs


def filter_households(user: Any, qs: QuerySet[Household], *, q: str = "", area: Area | None = None,
                      tag: Tag | None = None, status: str = "") -> QuerySet[Household]:
    """The household list's filter over an already scoped queryset. A search finds people first
    (name, pinyin, ID tail …) and shows their households; an address or number matches directly.
    A tag matches the household's own tags or any present member's, sub-tags included."""
    q = normalize_text(q)
    if q:
        scoped = Resident.objects.visible_to(user)
        people = scoped.filter(resident_search_q(q, within=scoped)).values("household_id")
        qs = qs.filter(Q(pk__in=people) | Q(address__contains=q) | Q(number__contains=q))
    if area is not None:
        qs = qs.filter(area_path__startswith=area.path)
    if tag is not None:
        ids = descendant_tag_ids([tag.pk])
        qs = qs.filter(
            Exists(Household.tags.through.objects.filter(household=OuterRef("pk"), tag_id__in=ids))
            | Exists(ResidentTag.objects.filter(resident__household=OuterRef("pk"), tag_id__in=ids,
                                                resident__status=c.PersonStatus.PRESENT))
        )
    if status:
        qs = qs.filter(status=status)
    return qs


def filter_areas(user: Any) -> QuerySet[Area]:
    """The grids and buildings a user may filter lists by."""
    return Area.objects.visible_to(user).filter(kind__in=["grid", "building"]).order_by("path")


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def overdue_residents(qs: QuerySet[Resident], now: dt.datetime | None = None) -> QuerySet[Resident]:
    """Special-care people whose household was not visited within their tag's interval
    (独居老人 monthly, …); a person with several tags is due by the strictest one."""
    now = now or timezone.now()
    cond = Q(pk__in=[])
    for tag_id, days in Tag.objects.filter(visit_interval_days__isnull=False).values_list("pk", "visit_interval_days"):
        cutoff = now - dt.timedelta(days=days or 0)
        cond |= Q(
            Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag_id=tag_id)),
            Q(household__last_visited_at__isnull=True) | Q(household__last_visited_at__lt=cutoff),
        )
    return qs.filter(cond, status=c.PersonStatus.PRESENT)


@dataclass
class Suggestion:
    resident: Resident
    tag: Tag
    reason: str


SUGGESTION_RULES = {
    # tag name: (reason, predicate over (resident, household members, today))
    "独居老人": "年满60周岁且户内无其他在住成员",
    "空巢老人": "年满60周岁且户内在住成员均满60周岁",
    "残疾人": "登记了残疾类别",
}


def tag_suggestions(qs: QuerySet[Resident], limit: int = 200) -> list[Suggestion]:
    """Tags the data implies but nobody has set yet, for a worker to confirm or ignore."""
    tags = {t.name: t for t in Tag.objects.filter(name__in=SUGGESTION_RULES)}
    if not tags:
        return []
    today = timezone.localdate()
    sixty = _years_before(today, 60)
    present = qs.filter(status=c.PersonStatus.PRESENT)
    out: list[Suggestion] = []

    def untagged(name: str) -> Any:
        return ~Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag=tags[name]))

    if "独居老人" in tags:
        alone = present.filter(birth_date__lte=sixty).annotate(
            n=Count("household__members", filter=Q(household__members__status=c.PersonStatus.PRESENT))
        ).filter(n=1).filter(untagged("独居老人"))
        out += [Suggestion(r, tags["独居老人"], SUGGESTION_RULES["独居老人"]) for r in alone.select_related("household")[:limit]]
    if "空巢老人" in tags:
        young = Resident.objects.filter(household=OuterRef("household"), status=c.PersonStatus.PRESENT,
                                        birth_date__gt=sixty)
        empty_nest = present.filter(birth_date__lte=sixty).annotate(
            n=Count("household__members", filter=Q(household__members__status=c.PersonStatus.PRESENT))
        ).filter(n__gte=2).filter(~Exists(young)).filter(untagged("空巢老人"))
        out += [Suggestion(r, tags["空巢老人"], SUGGESTION_RULES["空巢老人"])
                for r in empty_nest.select_related("household")[:limit]]
    if "残疾人" in tags:
        disabled = present.exclude(disability="").filter(untagged("残疾人"))
        out += [Suggestion(r, tags["残疾人"], SUGGESTION_RULES["残疾人"]) for r in disabled.select_related("household")[:limit]]
    return out[:limit]


def building_grid(building: Area, households: QuerySet[Household]) -> dict[str, Any]:
    """楼栋一张图: floors (top first) × dwellings per unit, each cell with its household and the tags
    of its members, in a fixed number of queries whatever the building's size."""
    from .models import Dwelling

    units = list(Area.objects.filter(parent=building).order_by("sort", "segment"))
    dwellings = list(Dwelling.objects.filter(unit__in=units).order_by("floor", "number"))
    visible = {h.dwelling_id: h for h in households.filter(dwelling__in=dwellings, status=c.HouseholdStatus.PRESENT)
               .annotate(n=Count("members", filter=Q(members__status=c.PersonStatus.PRESENT)))}
    tag_rows = (ResidentTag.objects.filter(resident__household__in=[h.pk for h in visible.values()],
                                           resident__status=c.PersonStatus.PRESENT)
                .values_list("resident__household_id", "tag__name", "tag__color"))
    tags_by_household: dict[int, dict[str, str]] = {}
    for hid, name, color in tag_rows:
        tags_by_household.setdefault(hid, {})[name] = color
    floors = sorted({d.floor for d in dwellings}, reverse=True)
    columns = []
    for unit in units:
        per_floor: dict[int, list[dict[str, Any]]] = {}
        for d in dwellings:
            if d.unit_id == unit.pk:
                h = visible.get(d.pk)
                per_floor.setdefault(d.floor, []).append({
                    "dwelling": d, "household": h,
                    "tags": tags_by_household.get(h.pk, {}) if h else {},
                })
        columns.append({"unit": unit, "floors": [(f, per_floor.get(f, [])) for f in floors]})
    return {"building": building, "floors": floors, "units": columns}
