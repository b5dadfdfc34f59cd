"""Writes to the area tree and to role grants. Every write checks scope, validates and audits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import audit
from .errors import ConcurrentEdit, NotAllowed
from .models import CHILD_KIND, Area, AreaKind, Grant, StaffProfile
from .roles import GRANTABLE, Action, Role
from .scoping import can, forget_grants, grants_of
from .validators import normalize_phone


def _require(actor: Any, action: str, path: str) -> None:
    if actor is not None and not can(actor, action, path):
        raise NotAllowed("您没有在该区域执行此操作的权限")


@transaction.atomic
def area_create(*, actor: Any, parent: Area | None, segment: str, name: str, kind: str | None = None,
                sort: int = 0, floors: int | None = None, note: str = "") -> Area:
    """actor None is the system (demo generator, CLI); users need MANAGE_AREAS on the parent."""
    if parent is not None:
        _require(actor, Action.MANAGE_AREAS, parent.path)
    elif actor is not None and not actor.is_superuser:
        raise NotAllowed("只有系统管理员可以建立顶层区域")
    default_kind = CHILD_KIND.get(parent.kind if parent else None)
    if default_kind is None:
        raise ValidationError({"parent": "单元下不能再建立下级区域,户室请在单元页面添加"})
    area = Area(parent=parent, segment=segment.strip(), name=name.strip(),
                kind=kind or default_kind, sort=sort, floors=floors, note=note)
    area.compute_path()
    area.full_clean()
    area.save()
    audit.log_change(actor, area, None)
    return area


@transaction.atomic
def area_update(*, actor: Any, area: Area, name: str, sort: int, floors: int | None, note: str = "",
                version: int | None = None) -> Area:
    """`version` is the one the editor read (the page and the API always send it; None is the
    system): a stale one is refused rather than overwriting somebody else's change."""
    _require(actor, Action.MANAGE_AREAS, area.path)
    locked = Area.objects.select_for_update().only("version").get(pk=area.pk)
    if version is not None and locked.version != version:
        raise ConcurrentEdit(f"区域“{area.name}”")
    area.version = locked.version + 1
    before = audit.snapshot(area)
    old_full = area.full_name
    area.name, area.sort, area.floors, area.note = name.strip(), sort, floors, note
    area.compute_path()
    area.full_clean()
    area.save()
    if area.full_name != old_full:
        # Descendants carry the full name for display; rename them in one pass.
        for child in Area.objects.filter(path__startswith=area.path).exclude(pk=area.pk).order_by("depth"):
            child.parent = Area.objects.get(pk=child.parent_id)
            child.compute_path()
            child.save(update_fields=["full_name"])
    audit.log_change(actor, area, before)
    return area


@transaction.atomic
def grant_role(*, actor: Any, user: Any, role: str, area: Area, valid_from: dt.date | None = None,
               valid_to: dt.date | None = None) -> Grant:
    """A grid head may grant only inside their own subtree, and only the roles GRANTABLE lists."""
    if actor is not None and not actor.is_superuser:
        allowed_roles: set[str] = set()
        for held_role, path in grants_of(actor):
            if area.path.startswith(path):
                allowed_roles |= GRANTABLE.get(held_role, frozenset())
        if not can(actor, Action.GRANT, area.path) or role not in allowed_roles:
            raise NotAllowed(f"您不能在“{area}”授予“{Role(role).label}”角色")
    grant = Grant(user=user, role=role, area=area, granted_by=actor if actor is not None else None)
    if valid_from:
        grant.valid_from = valid_from
    grant.valid_to = valid_to
    grant.full_clean()
    grant.save()
    forget_grants(user)
    audit.log_change(actor, grant, None)
    return grant


def areas_for_kind_under(root: Area, kind: AreaKind) -> list[Area]:
    return list(Area.objects.filter(path__startswith=root.path, kind=kind))


@transaction.atomic
def profile_update(*, actor: Any, user: Any, phone: str, publish_phone: bool) -> StaffProfile:
    """Only the person themself sets their published phone: consent cannot be given for someone."""
    if actor is not None and actor.pk != user.pk:
        raise NotAllowed("只能由本人填写并同意公开自己的电话")
    number = ""
    if phone.strip():
        try:
            number = normalize_phone(phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages[0]}) from None
    elif publish_phone:
        raise ValidationError({"phone": "同意公开时请填写电话"})
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    before = audit.snapshot(profile)
    profile.phone = number
    if publish_phone and not profile.publish_phone:
        profile.consented_at = timezone.now()
    profile.publish_phone = publish_phone
    profile.save()
    audit.log_change(actor, profile, before, note="本人更新公开电话")
    return profile
