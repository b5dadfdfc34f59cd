"""Writes for the party organisation and the 三联系 pairings."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from wuzhi.core import audit
from wuzhi.core.errors import ConcurrentEdit
from wuzhi.core.models import Area
from wuzhi.core.roles import Action
from wuzhi.registry.services import require

from .models import Branch, Cadre, Department, Pairing, PartyMember


@transaction.atomic
def department_create(*, actor: Any, county: Area, name: str) -> Department:
    require(actor, Action.MANAGE_AREAS, county.path)
    dept = Department(area=county, area_path=county.path, name=name.strip())
    dept.full_clean()
    dept.save()
    branch = Branch(name=f"{dept.name}党支部", kind=Branch.Kind.DEPARTMENT, area=county, area_path=county.path,
                    department=dept)
    branch.full_clean()
    branch.save()
    audit.log_change(actor, dept, None)
    return dept


@transaction.atomic
def branch_create(*, actor: Any, area: Area, name: str, linked_department: Department | None = None) -> Branch:
    require(actor, Action.MANAGE_AREAS, area.path)
    branch = Branch(name=name.strip(), kind=Branch.Kind.COMMUNITY, area=area, area_path=area.path,
                    linked_department=linked_department)
    branch.full_clean()
    branch.save()
    audit.log_change(actor, branch, None)
    return branch


def _bump(model: Any, obj: Any, version: int | None, what: str) -> None:
    """Optimistic lock: `version` is the one the page showed (None: the system, no check). The
    row lock makes the check and the bump one step, so two saves from the same page never both
    pass."""
    locked = model.objects.select_for_update().only("version").get(pk=obj.pk)
    if version is not None and locked.version != version:
        raise ConcurrentEdit(what)
    obj.version = locked.version + 1


@transaction.atomic
def branch_link(*, actor: Any, branch: Branch, department: Department | None, version: int | None = None) -> Branch:
    """部门联系党支部: one department per community branch (or none, to unlink)."""
    require(actor, Action.CHANGE, branch.area_path)
    _bump(Branch, branch, version, f"支部“{branch.name}”")
    before = audit.snapshot(branch)
    branch.linked_department = department
    branch.save(update_fields=["linked_department", "version"])
    audit.log_change(actor, branch, before)
    return branch


@transaction.atomic
def member_create(*, actor: Any, branch: Branch, name: str = "", resident: Any = None, user: Any = None,
                  joined_on: Any = None, is_mobile: bool = False, phone_masked: str = "") -> PartyMember:
    require(actor, Action.CHANGE, branch.area_path)
    if resident is not None:
        name = name or resident.name
        phone_masked = phone_masked or resident.phone_masked
        if PartyMember.objects.filter(resident=resident, active=True).exists():
            raise ValidationError({"resident": f"{resident.name}已登记为党员"})
    if not name.strip():
        raise ValidationError({"name": "请填写党员姓名或选择居民"})
    member = PartyMember(branch=branch, resident=resident, user=user, name=name.strip(), joined_on=joined_on,
                         is_mobile=is_mobile, phone_masked=phone_masked, area_path=branch.area_path)
    member.full_clean()
    member.save()
    audit.log_change(actor, member, None)
    return member


@transaction.atomic
def member_move(*, actor: Any, member: PartyMember, branch: Branch, version: int | None = None) -> PartyMember:
    """Moving a member to another branch keeps their pairings but flags them for review."""
    require(actor, Action.CHANGE, member.area_path)
    require(actor, Action.CHANGE, branch.area_path)
    _bump(PartyMember, member, version, f"党员“{member.name}”的信息")
    before = audit.snapshot(member)
    member.branch, member.area_path = branch, branch.area_path
    member.save(update_fields=["branch", "area_path", "version"])
    Pairing.objects.filter(member=member, ended_on__isnull=True).update(flag=f"党员已转入{branch.name},请确认是否继续联系")
    audit.log_change(actor, member, before)
    return member


@transaction.atomic
def cadre_create(*, actor: Any, department: Department, name: str, user: Any = None, title: str = "",
                 phone_masked: str = "") -> Cadre:
    require(actor, Action.MANAGE_AREAS, department.area_path)
    cadre = Cadre(department=department, name=name.strip(), user=user, title=title, phone_masked=phone_masked,
                  area_path=department.area_path)
    cadre.full_clean()
    cadre.save()
    audit.log_change(actor, cadre, None)
    return cadre


@transaction.atomic
def pairing_create(*, actor: Any, household: Any, member: PartyMember | None = None, cadre: Cadre | None = None,
                   started_on: Any = None) -> Pairing:
    require(actor, Action.CHANGE, household.area_path)
    if (member is None) == (cadre is None):
        raise ValidationError("请选择一名党员或一名帮扶干部")
    same_helper = Pairing.objects.filter(household=household, ended_on__isnull=True)
    same_helper = same_helper.filter(member=member) if member else same_helper.filter(cadre=cadre)
    if same_helper.exists():
        raise ValidationError("该户已与此人结对")
    pairing = Pairing(household=household, member=member, cadre=cadre, area_path=household.area_path,
                      started_on=started_on or timezone.localdate(), created_by=actor)
    pairing.full_clean()
    pairing.save()
    audit.log_change(actor, pairing, None)
    return pairing


@transaction.atomic
def pairing_end(*, actor: Any, pairing: Pairing, reason: str, version: int | None = None) -> Pairing:
    require(actor, Action.CHANGE, pairing.area_path)
    if not reason.strip():
        raise ValidationError({"reason": "请说明结束结对的原因"})
    _bump(Pairing, pairing, version, "该结对")
    before = audit.snapshot(pairing)
    pairing.ended_on = timezone.localdate()
    pairing.flag = ""
    pairing.save(update_fields=["ended_on", "flag", "version"])
    audit.log_change(actor, pairing, before, note=reason.strip())
    return pairing


@transaction.atomic
def pairing_confirm(*, actor: Any, pairing: Pairing, version: int | None = None) -> Pairing:
    """Clear a flag after a person checked the pairing still holds."""
    require(actor, Action.CHANGE, pairing.area_path)
    _bump(Pairing, pairing, version, "该结对")
    before = audit.snapshot(pairing)
    pairing.flag = ""
    pairing.save(update_fields=["flag", "version"])
    audit.log_change(actor, pairing, before, note="确认继续结对")
    return pairing


@transaction.atomic
def branch_set_secretary(*, actor: Any, branch: Branch, member: PartyMember | None,
                         version: int | None = None) -> Branch:
    require(actor, Action.CHANGE, branch.area_path)
    if member is not None and member.branch_id != branch.pk:
        raise ValidationError({"secretary": "支部书记必须是本支部党员"})
    _bump(Branch, branch, version, f"支部“{branch.name}”")
    before = audit.snapshot(branch)
    branch.secretary = member
    branch.save(update_fields=["secretary", "version"])
    audit.log_change(actor, branch, before)
    return branch


@transaction.atomic
def member_link_user(*, actor: Any, member: PartyMember, user: Any) -> PartyMember:
    """Give a party member a login, so they see and visit the households paired with them."""
    require(actor, Action.CHANGE, member.area_path)
    before = audit.snapshot(member)
    member.user = user
    member.full_clean()
    member.save(update_fields=["user"])
    audit.log_change(actor, member, before)
    return member
