"""Every write to the registry. Keyword-only, atomic, validated, audited; views, the API, the
importer and the demo generator call these and nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuzhi.core import audit, crypto
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import AccessLog, Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, can_on
from wuzhi.core.validators import normalize_phone, parse_id_number

from . import choices as c
from .models import Dwelling, Household, Resident, ResidentTag, Tag, Visit
from .signals import household_moved

RESIDENT_FIELDS = ("relation", "ethnicity", "education", "employment", "health", "disability",
                   "disability_grade", "political", "residence", "hukou_address", "status", "note")
HOUSEHOLD_FIELDS = ("hukou_address", "origin_county", "origin_town", "origin_village", "relocation_batch",
                    "moved_in_on", "status", "note")


def require(actor: Any, action: str, path: str, obj: Any = None) -> None:
    """actor None is the system itself (demo generator, management commands). With `obj`, access
    through a relation (a party member's paired household) counts too."""
    if actor is None or can(actor, action, path) or (obj is not None and can_on(actor, action, obj)):
        return
    raise NotAllowed("您没有在该区域执行此操作的权限")


# ---- dwellings -----------------------------------------------------------------------------

def address_of(unit: Area, number: str) -> tuple[str, str]:
    """Display address and a sort key that orders 2栋 before 10栋 and 301 before 1201."""
    building = unit.parent
    assert building is not None
    label = f"{building.name}{unit.name}{number}室"
    key = f"{unit.path}{number.zfill(6)}"
    return label, key


@transaction.atomic
def dwelling_create(*, actor: Any, unit: Area, floor: int, number: str,
                    occupancy: str = c.Occupancy.EMPTY) -> Dwelling:
    require(actor, Action.MANAGE_AREAS, unit.path)
    if unit.kind != AreaKind.UNIT:
        raise ValidationError({"unit": "户室只能建在单元下"})
    dwelling = Dwelling(unit=unit, floor=floor, number=str(number).strip(), occupancy=occupancy, area_path=unit.path)
    dwelling.full_clean()
    dwelling.save()
    audit.log_change(actor, dwelling, None)
    return dwelling


# ---- households ----------------------------------------------------------------------------

def _place(household: Household, dwelling: Dwelling | None, area: Area | None) -> None:
    if dwelling is not None:
        household.dwelling = dwelling
        household.area = dwelling.unit
        household.address, household.address_key = address_of(dwelling.unit, dwelling.number)
    elif area is not None:
        household.dwelling = None
        household.area = area
        household.address, household.address_key = area.short_name, area.path
    household.area_path = household.area.path


def next_household_number(area: Area) -> str:
    """户编号: the community code and a running number within it."""
    community_path = "/".join(area.path.split("/")[:4]) + "/"
    community_code = community_path.replace("/", "")
    last = (Household.objects.filter(number__startswith=community_code + "-")
            .order_by("-number").values_list("number", flat=True).first())
    seq = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{community_code}-{seq:05d}"


@transaction.atomic
def household_create(*, actor: Any, dwelling: Dwelling | None = None, area: Area | None = None,
                     number: str = "", **fields: Any) -> Household:
    target = dwelling.unit if dwelling else area
    if target is None:
        raise ValidationError({"dwelling": "请选择户室"})
    require(actor, Action.CHANGE, target.path)
    household = Household(number=number or next_household_number(target))
    _place(household, dwelling, area)
    for name in HOUSEHOLD_FIELDS:
        if name in fields:
            setattr(household, name, fields[name])
    household.full_clean(exclude=["head"])
    household.save()
    if dwelling is not None and dwelling.occupancy == c.Occupancy.EMPTY:
        Dwelling.objects.filter(pk=dwelling.pk).update(occupancy=c.Occupancy.OWNER)
    audit.log_change(actor, household, None)
    return household


def _bump(model: Any, obj: Any, version: int, what: str) -> None:
    """Optimistic lock: the row is ours only if nobody saved since `version` was read."""
    updated = model.objects.filter(pk=obj.pk, version=version).update(version=F("version") + 1)
    if not updated:
        raise ConcurrentEdit(what)
    obj.version = version + 1


@transaction.atomic
def household_update(*, actor: Any, household: Household, version: int, dwelling: Dwelling | None = None,
                     head: Resident | None = None, tags: Iterable[Tag] | None = None, **fields: Any) -> Household:
    require(actor, Action.CHANGE, household.area_path)
    if dwelling is not None:
        require(actor, Action.CHANGE, dwelling.area_path)
    before = audit.snapshot(household)
    _bump(Household, household, version, f"户“{household.address}”")
    moved_from = None
    if dwelling is not None and dwelling.pk != household.dwelling_id:
        moved_from = household.area_path
        _place(household, dwelling, None)
        Resident.objects.filter(household=household).update(area_path=household.area_path)
        Visit.objects.filter(household=household).update(area_path=household.area_path)
    if head is not None:
        if head.household_id != household.pk:
            raise ValidationError({"head": "户主必须是本户成员"})
        household.head = head
    for name in HOUSEHOLD_FIELDS:
        if name in fields:
            setattr(household, name, fields[name])
    household.full_clean()
    household.save()
    if tags is not None:
        household.tags.set(tags)
    audit.log_change(actor, household, before)
    if moved_from is not None:
        # Other apps keep their rows that follow a household (pairings, cases …) in step.
        household_moved.send(sender=Household, household=household, old_path=moved_from, actor=actor)
    return household


# ---- residents -----------------------------------------------------------------------------

def _duplicate_message(actor: Any, id_hash: str, exclude_pk: int | None) -> str | None:
    """Name the existing record only to someone who may see it: otherwise the form would tell a
    worker whose ID number this is anywhere in the county."""
    other = (Resident.objects.filter(id_number_hash=id_hash).exclude(pk=exclude_pk)
             .select_related("household").first())
    if other is None:
        return None
    if actor is None or can(actor, Action.VIEW, other.area_path):
        return f"该身份证号已登记:{other.name}({other.household.address})"
    return "该身份证号已登记在其他网格,请联系社区核实后再办理迁入"


def _apply_identity(actor: Any, resident: Resident, *, name: str | None, id_number: str | None, phone: str | None,
                    landline: str | None) -> None:
    """Validate and set the identifying fields; errors are keyed by field for the form."""
    errors: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            errors["name"] = "姓名不能为空"
        else:
            resident.set_name(name)
    if id_number is not None:
        try:
            parsed = parse_id_number(id_number)
        except ValidationError as exc:
            errors["id_number"] = exc.messages[0]
        else:
            dup = _duplicate_message(actor, crypto.blind_index(parsed.number, "id"), resident.pk)
            if dup:
                errors["id_number"] = dup
            else:
                resident.set_id_number(parsed)
    for field, value, setter in (("phone", phone, resident.set_phone), ("landline", landline, resident.set_landline)):
        if value is None:
            continue
        if not value.strip():
            setter("")
            continue
        try:
            number = normalize_phone(value)
        except ValidationError as exc:
            errors[field] = exc.messages[0]
        else:
            if field == "phone" and "-" in number:
                errors[field] = "手机号码应为11位,座机请填写在“座机”一栏"
            elif field == "landline" and "-" not in number:
                errors[field] = "座机号码需带区号,如 0870-1234567"
            else:
                setter(number)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def resident_create(*, actor: Any, household: Household, name: str, id_number: str, phone: str = "",
                    landline: str = "", tags: Iterable[Tag] = (), **fields: Any) -> Resident:
    require(actor, Action.CHANGE, household.area_path)
    resident = Resident(household=household, area_path=household.area_path)
    for field in RESIDENT_FIELDS:
        if field in fields:
            setattr(resident, field, fields[field])
    _apply_identity(actor, resident, name=name, id_number=id_number, phone=phone, landline=landline)
    # The ID number's uniqueness was checked above with a readable message; skip the second query.
    resident.full_clean(exclude=["tags"], validate_unique=False)
    resident.save()
    if resident.relation == c.Relation.HEAD and household.head_id is None:
        Household.objects.filter(pk=household.pk).update(head=resident)
        household.head = resident
    for tag in tags:
        ResidentTag.objects.create(resident=resident, tag=tag, added_by=actor)
    audit.log_change(actor, resident, None)
    return resident


@transaction.atomic
def resident_update(*, actor: Any, resident: Resident, version: int, name: str | None = None,
                    id_number: str | None = None, phone: str | None = None, landline: str | None = None,
                    tags: Iterable[Tag] | None = None, **fields: Any) -> Resident:
    """Fields left None are unchanged; an empty phone clears it."""
    require(actor, Action.CHANGE, resident.area_path)
    before = audit.snapshot(resident)
    _apply_identity(actor, resident, name=name, id_number=id_number, phone=phone, landline=landline)
    for field in RESIDENT_FIELDS:
        if field in fields:
            setattr(resident, field, fields[field])
    resident.full_clean(exclude=["tags"], validate_unique=False)
    _bump(Resident, resident, version, f"居民“{resident.name}”的信息")
    resident.save()
    if tags is not None:
        _replace_tags(resident, tags, actor, ResidentTag.Source.MANUAL)
    audit.log_change(actor, resident, before)
    return resident


def _replace_tags(resident: Resident, tags: Iterable[Tag], actor: Any, source: str) -> None:
    wanted = {t.pk for t in tags}
    have = set(ResidentTag.objects.filter(resident=resident).values_list("tag_id", flat=True))
    ResidentTag.objects.filter(resident=resident, tag_id__in=have - wanted).delete()
    ResidentTag.objects.bulk_create(
        [ResidentTag(resident=resident, tag_id=pk, source=source, added_by=actor) for pk in wanted - have]
    )


@transaction.atomic
def set_resident_tags(*, actor: Any, resident: Resident, tags: Iterable[Tag],
                      source: str = ResidentTag.Source.MANUAL) -> None:
    require(actor, Action.CHANGE, resident.area_path)
    before = audit.snapshot(resident)
    _replace_tags(resident, tags, actor, source)
    audit.log_change(actor, resident, before)


@transaction.atomic
def tag_confirm(*, actor: Any, resident: Resident, tag: Tag, version: int | None = None) -> None:
    """A worker confirms a suggested tag (see selectors.tag_suggestions). `version` is the
    resident's as the suggestion showed it: an edit since then may have made it wrong."""
    require(actor, Action.CHANGE, resident.area_path)
    if ResidentTag.objects.filter(resident=resident, tag=tag).exists():
        return
    if version is None:  # the system: no check, but an edit form opened before is stale now
        Resident.objects.filter(pk=resident.pk).update(version=F("version") + 1)
    else:
        _bump(Resident, resident, version, f"居民“{resident.name}”")
    before = audit.snapshot(resident)
    ResidentTag.objects.create(resident=resident, tag=tag, source=ResidentTag.Source.SUGGESTED, added_by=actor)
    audit.log_change(actor, resident, before, note=f"确认系统建议的标签:{tag.name}")


# ---- sensitive reads -----------------------------------------------------------------------

SENSITIVE = {"id_number": ("id_number_enc", "身份证号"), "phone": ("phone_enc", "手机"),
             "landline": ("landline_enc", "座机")}


def reveal(*, actor: Any, resident: Resident, field: str, ip: str | None = None) -> str:
    """Decrypt one sensitive field for a permitted user and record that they read it."""
    if field not in SENSITIVE:
        raise ValidationError("未知字段")
    require(actor, Action.REVEAL, resident.area_path)
    column, label = SENSITIVE[field]
    audit.log_access(actor=actor, kind=AccessLog.Kind.REVEAL, obj=resident, field=field,
                     detail=f"查看{resident.name}的完整{label}", ip=ip)
    return crypto.decrypt(getattr(resident, column))


# ---- visits --------------------------------------------------------------------------------

@transaction.atomic
def visit_record(*, actor: Any, household: Household, findings: str, visitors: Iterable[Any] = (),
                 residents: Iterable[Resident] = (), visited_at: Any = None, kind: str = c.VisitKind.HOME,
                 follow_up_needed: bool = False, follow_up_note: str = "") -> Visit:
    require(actor, Action.VISIT, household.area_path, household)
    residents = list(residents)
    if any(r.household_id != household.pk for r in residents):
        raise ValidationError({"residents": "只能选择本户成员"})
    if follow_up_needed and not follow_up_note.strip():
        raise ValidationError({"follow_up_note": "需要跟进时请写明跟进事项"})
    visit = Visit(household=household, area_path=household.area_path, findings=findings.strip(), kind=kind,
                  follow_up_needed=follow_up_needed, follow_up_note=follow_up_note.strip(),
                  created_by=actor, visited_at=visited_at or timezone.now())
    if visit.visited_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"visited_at": "走访时间不能晚于现在"})
    visit.full_clean()
    visit.save()
    people = list(visitors) or ([actor] if actor is not None else [])
    visit.visitors.set(people)
    visit.residents.set(residents)
    # "Last visited" is what the overdue lists filter on; keep it on the household row.
    Household.objects.filter(pk=household.pk).exclude(last_visited_at__gt=visit.visited_at).update(
        last_visited_at=visit.visited_at
    )
    audit.log_change(actor, visit, None)
    return visit
