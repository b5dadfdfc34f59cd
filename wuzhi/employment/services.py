"""Every write to employment records: keyword-only, atomic, validated, audited. Recording needs
VISIT over the resident's place (grid workers, the 就业创业服务队's party members, helpers),
the same right as logging a 走访."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from wuzhi.core import audit
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can
from wuzhi.core.validators import age_on
from wuzhi.registry.models import Resident

from .models import WORKING_AGE, Certificate, Contact, Placement, PlacementKind, Profile, Status

# A placement tells the status: a job of these kinds is 就业, the rest 灵活就业.
STATUS_OF_PLACEMENT = {
    PlacementKind.WORKSHOP: Status.EMPLOYED, PlacementKind.LOCAL: Status.EMPLOYED,
    PlacementKind.MIGRANT: Status.EMPLOYED, PlacementKind.PUBLIC_POST: Status.EMPLOYED,
    PlacementKind.SELF: Status.EMPLOYED, PlacementKind.FLEXIBLE: Status.FLEXIBLE,
}


def _name(actor: Any, fallback: str = "系统") -> str:
    if actor is None:
        return fallback
    return (actor.get_full_name() or actor.username)[:32]


def _require(actor: Any, resident: Resident) -> None:
    if actor is not None and not can(actor, Action.VISIT, resident.area_path):
        raise NotAllowed("您不能登记该居民的就业信息")


def is_working_age(resident: Resident, on: dt.date | None = None) -> bool:
    lo, hi = WORKING_AGE
    return lo <= age_on(resident.birth_date, on or timezone.localdate()) <= hi


@transaction.atomic
def profile_save(*, actor: Any, resident: Resident, status: str, skills: str = "", wish: str = "", note: str = "",
                 version: int | None = None, at: dt.datetime | None = None) -> Profile:
    """Record (or update) a working-age resident's employment status, skills and wishes."""
    _require(actor, resident)
    if not is_working_age(resident):
        raise ValidationError("只登记16至59周岁劳动年龄人口的就业情况")
    profile = Profile.objects.select_for_update().filter(resident=resident).first()
    if profile is not None and version is not None and profile.version != version:
        raise ConcurrentEdit("该居民的就业情况")
    before = audit.snapshot(profile) if profile is not None else None
    profile = profile or Profile(resident=resident)
    profile.area_path = resident.area_path
    profile.status, profile.skills, profile.wish, profile.note = status, skills.strip(), wish.strip(), note.strip()
    profile.updated_at = at or timezone.now()
    profile.updated_by = actor if getattr(actor, "pk", None) else None
    if before is not None:
        profile.version += 1
    profile.full_clean(exclude=["resident", "updated_by"], validate_unique=False)
    profile.save()
    audit.log_change(actor, profile, before)
    return profile


@transaction.atomic
def certificate_add(*, actor: Any, resident: Resident, name: str, level: str = "", issuer: str = "",
                    issued_on: dt.date | None = None) -> Certificate:
    _require(actor, resident)
    if issued_on and issued_on > timezone.localdate():
        raise ValidationError({"issued_on": "发证日期不能晚于今天"})
    cert = Certificate(resident=resident, area_path=resident.area_path, name=name.strip(), level=level.strip(),
                       issuer=issuer.strip(), issued_on=issued_on)
    cert.full_clean(exclude=["resident"])
    cert.save()
    audit.log_change(actor, cert, None)
    return cert


@transaction.atomic
def placement_add(*, actor: Any, resident: Resident, kind: str, started_on: dt.date, employer: str = "",
                  post: str = "", province: str = "", city: str = "", monthly_income: int | None = None,
                  at: dt.datetime | None = None) -> Placement:
    """A job: ends any job still open (people hold one main job here), and sets the status."""
    _require(actor, resident)
    at = at or timezone.now()
    p = Placement(resident=resident, area_path=resident.area_path, kind=kind, employer=employer.strip(),
                  post=post.strip(), province=province.strip(), city=city.strip(), monthly_income=monthly_income,
                  started_on=started_on, created_by=actor if getattr(actor, "pk", None) else None, created_at=at)
    p.full_clean(exclude=["resident", "created_by"])
    for old in Placement.objects.select_for_update().filter(resident=resident, ended_on__isnull=True):
        if old.started_on > started_on:
            raise ValidationError({"started_on": f"该居民{old.started_on}起在{old.employer or old.get_kind_display()}"
                                                 ",新岗位的上岗日期不能早于它"})
        before = audit.snapshot(old)
        old.ended_on, old.end_reason = started_on, "更换工作"
        old.save(update_fields=["ended_on", "end_reason"])
        audit.log_change(actor, old, before, note="更换工作")
    p.save()
    audit.log_change(actor, p, None)
    current = Profile.objects.filter(resident=resident).first()
    target = STATUS_OF_PLACEMENT[PlacementKind(kind)]
    if is_working_age(resident) and (current is None or current.status != target):
        profile_save(actor=actor, resident=resident, status=target,
                     skills=current.skills if current else "", wish=current.wish if current else "",
                     note=current.note if current else "", at=at)
    return p


@transaction.atomic
def placement_end(*, actor: Any, placement: Placement, ended_on: dt.date, reason: str,
                  version: int | None = None) -> Placement:
    """离岗: the job ends; the status becomes 失业/待业 until the next placement. `version` is the
    one the page showed: a stale page is refused."""
    p = Placement.objects.select_for_update().select_related("resident").get(pk=placement.pk)
    _require(actor, p.resident)
    if version is not None and p.version != version:
        raise ConcurrentEdit("该就业记录")
    if p.ended_on is not None:
        raise ValidationError("该岗位已登记离岗")
    if not reason.strip():
        raise ValidationError({"end_reason": "请填写离岗原因"})
    before = audit.snapshot(p)
    p.ended_on, p.end_reason = ended_on, reason.strip()[:64]
    p.version += 1
    p.full_clean(exclude=["resident", "created_by"])
    p.save()
    audit.log_change(actor, p, before, note="离岗")
    profile = Profile.objects.filter(resident=p.resident).first()
    if profile is not None and is_working_age(p.resident):
        profile_save(actor=actor, resident=p.resident, status=Status.UNEMPLOYED, skills=profile.skills,
                     wish=profile.wish, note=profile.note)
    return p


@transaction.atomic
def contact_add(*, actor: Any, resident: Resident, content: str, method: str = Contact.Method.PHONE,
                team: Any = None, next_step: str = "", at: dt.datetime | None = None,
                actor_name: str = "") -> Contact:
    """One follow-up contact by the 就业创业服务队 or the grid worker."""
    _require(actor, resident)
    at = at or timezone.now()
    if at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"at": "联系时间不能晚于现在"})
    if not content.strip():
        raise ValidationError({"content": "请填写联系情况"})
    c = Contact(resident=resident, area_path=resident.area_path, at=at, method=method, team=team,
                actor=actor if getattr(actor, "pk", None) else None, actor_name=actor_name or _name(actor),
                content=content.strip(), next_step=next_step.strip())
    c.full_clean(exclude=["resident", "team", "actor"])
    c.save()
    audit.log_change(actor, c, None)
    return c


@transaction.atomic
def profiles_import(*, actor: Any, rows: list[tuple[Resident, str, str]], at: dt.datetime | None = None) -> int:
    """The yearly labour census (劳动力摸底) in one go: (resident, status, skills) rows for
    residents without a profile yet; bulk-written with their audit rows. Residents who already
    have a profile, or are not of working age, are skipped (profile_save edits one by one)."""
    at = at or timezone.now()
    have = set(Profile.objects.filter(resident__in=[r for r, _s, _k in rows]).values_list("resident_id", flat=True))
    new = []
    for resident, status, skills in rows:
        if resident.pk in have or not is_working_age(resident, at.date()):
            continue
        _require(actor, resident)
        p = Profile(resident=resident, area_path=resident.area_path, status=status, skills=skills, updated_at=at,
                    updated_by=actor if getattr(actor, "pk", None) else None)
        p.full_clean(exclude=["resident", "updated_by"], validate_unique=False)
        new.append(p)
        have.add(resident.pk)
    Profile.objects.bulk_create(new, batch_size=500)
    audit.log_changes(audit.change_row(actor, p, None, note="劳动力摸底") for p in new)
    return len(new)
