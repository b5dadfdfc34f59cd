"""Every write to the camera registry, and the one read that needs a permission of its own: the
stream address. Keyword-only, atomic, validated, audited (DESIGN §3, §5, §6).

`actor` None is the system (demo generator, commands)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wuzhi.core import audit, crypto
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import AccessLog, Area
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, grants_of
from wuzhi.registry.models import Household

from .models import (
    CONSENT_ROLES,
    PRINCIPLES,
    PUBLIC_VIEW_ROLES,
    Camera,
    CameraKind,
    Consent,
    PublicArea,
    mask_stream,
)

STREAM_SCHEMES = {"rtsp", "rtsps", "rtmp", "http", "https"}


def _require(actor: Any, action: str, path: str) -> None:
    if actor is not None and not can(actor, action, path):
        raise NotAllowed("您没有在该区域执行此操作的权限")


def community_path(path: str) -> str:
    """The community above `path` (county/town/community are the first three segments)."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:3]) + "/" if len(parts) >= 3 else ""


def _clean_stream(url: str) -> str:
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme.lower() not in STREAM_SCHEMES or not parts.netloc:
        raise ValidationError({"stream_url": "视频流地址应以 rtsp://、rtmp:// 或 http(s):// 开头,并包含设备地址"})
    return url


def _check_coverage(area_path: str, public_areas: list[PublicArea]) -> None:
    home = community_path(area_path)
    if any(pa.area_path[: len(home)] != home for pa in public_areas):
        raise ValidationError({"public_areas": "探头只能覆盖本社区的公共区域"})
    if any(not pa.active for pa in public_areas):
        raise ValidationError({"public_areas": "所选公共区域已停用"})


# ---- public areas --------------------------------------------------------------------------

@transaction.atomic
def public_area_create(*, actor: Any, area: Area, kind: str, name: str, note: str = "") -> PublicArea:
    _require(actor, Action.CHANGE, area.path)
    if not community_path(area.path):
        raise ValidationError({"area": "公共区域应位于社区或其下的网格、楼栋、单元"})
    if PublicArea.objects.filter(area=area, name=name.strip()).exists():
        raise ValidationError({"name": "该区域已有同名的公共区域"})
    pa = PublicArea(area=area, area_path=area.path, kind=kind, name=name.strip(), note=note.strip())
    pa.full_clean()
    pa.save()
    audit.log_change(actor, pa, None)
    return pa


@transaction.atomic
def public_area_set_active(*, actor: Any, public_area: PublicArea, active: bool) -> PublicArea:
    """Retire a place that no longer exists (a car park turned into a garden); its history stays."""
    _require(actor, Action.CHANGE, public_area.area_path)
    before = audit.snapshot(public_area)
    public_area.active = active
    public_area.save(update_fields=["active"])
    audit.log_change(actor, public_area, before)
    return public_area


# ---- cameras -------------------------------------------------------------------------------

@transaction.atomic
def camera_register(*, actor: Any, kind: str, location: str, area: Area | None = None,
                    household: Household | None = None, vendor: str = "", model: str = "", stream_url: str = "",
                    public_areas: Iterable[PublicArea] = (), installed_on: dt.date | None = None,
                    note: str = "") -> Camera:
    """A public camera stands somewhere in the tree; a household camera stands at its owner's
    home (its area is the household's) and is shared only through a consent."""
    if kind == CameraKind.HOUSEHOLD:
        if household is None:
            raise ValidationError({"household": "居民自有探头请选择所属户"})
        area = household.area
    else:
        if household is not None:
            raise ValidationError({"household": "公共区域探头不属于任何一户"})
        if area is None:
            raise ValidationError({"area": "请选择探头所在区域"})
    _require(actor, Action.CHANGE, area.path)
    if not community_path(area.path):
        raise ValidationError({"area": "探头应位于社区或其下的网格、楼栋、单元"})
    if not location.strip():
        raise ValidationError({"location": "请填写安装位置"})
    covered = list(public_areas)
    _check_coverage(area.path, covered)
    url = _clean_stream(stream_url)
    camera = Camera(kind=kind, area=area, area_path=area.path, location=location.strip(), household=household,
                    vendor=vendor.strip(), model=model.strip(), stream_enc=crypto.encrypt(url),
                    stream_masked=mask_stream(url), installed_on=installed_on, note=note.strip(),
                    created_by=actor if getattr(actor, "pk", None) else None,
                    number=uuid.uuid4().hex[:24])  # placeholder until the pk exists
    camera.full_clean(exclude=["number"])
    camera.save()
    # 公共 / 自有 and a running number: short enough to paint on the housing.
    camera.number = f"{'TG' if kind == CameraKind.PUBLIC else 'TJ'}{camera.pk:05d}"
    camera.save(update_fields=["number"])
    camera.public_areas.set(covered)
    audit.log_change(actor, camera, None)
    return camera


@transaction.atomic
def camera_update(*, actor: Any, camera: Camera, version: int, location: str, vendor: str = "", model: str = "",
                  public_areas: Iterable[PublicArea] = (), active: bool = True, note: str = "",
                  installed_on: dt.date | None = None, stream_url: str | None = None) -> Camera:
    """`stream_url` None keeps the stored address (the form never shows it, so never sends it back)."""
    _require(actor, Action.CHANGE, camera.area_path)
    if not location.strip():
        raise ValidationError({"location": "请填写安装位置"})
    covered = list(public_areas)
    _check_coverage(camera.area_path, covered)
    before = audit.snapshot(camera)
    if not Camera.objects.filter(pk=camera.pk, version=version).update(version=F("version") + 1):
        raise ConcurrentEdit(f"探头“{camera.number}”")
    camera.version = version + 1
    camera.location, camera.vendor, camera.model = location.strip(), vendor.strip(), model.strip()
    camera.active, camera.note, camera.installed_on = active, note.strip(), installed_on
    if stream_url is not None and stream_url.strip():
        url = _clean_stream(stream_url)
        camera.stream_enc, camera.stream_masked = crypto.encrypt(url), mask_stream(url)
    camera.full_clean()
    camera.save()
    camera.public_areas.set(covered)
    audit.log_change(actor, camera, before)
    return camera


# ---- consent -------------------------------------------------------------------------------

@transaction.atomic
def consent_record(*, actor: Any, camera: Camera, signed_by: str, purpose: str, viewer_roles: Iterable[str],
                   starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                   principles: Iterable[str] = ()) -> Consent:
    """Record the household's signed consent. The worker must have gone through the five
    principles with them (the form makes each one a checkbox), and the household chooses who
    may look: nobody else can, whatever their grants."""
    _require(actor, Action.CHANGE, camera.area_path)
    camera = Camera.objects.select_for_update().get(pk=camera.pk)
    if camera.kind != CameraKind.HOUSEHOLD or camera.household_id is None:
        raise ValidationError("公共区域探头不需要居民授权")
    roles = [r for r in dict.fromkeys(viewer_roles) if r]
    if not roles:
        raise ValidationError({"viewer_roles": "请至少选择一个可查看的角色"})
    if any(r not in CONSENT_ROLES for r in roles):
        raise ValidationError({"viewer_roles": "所选角色不能查看居民探头"})
    told = [p for p in PRINCIPLES if p in set(principles)]
    if told != PRINCIPLES:
        raise ValidationError({"principles": "请向居民逐条说明五项原则并勾选确认"})
    if not signed_by.strip():
        raise ValidationError({"signed_by": "请填写签字人姓名"})
    if not purpose.strip():
        raise ValidationError({"purpose": "请填写共享用途"})
    starts_on = starts_on or timezone.localdate()
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": "截止日期不能早于开始日期"})
    overlapping = Consent.objects.filter(camera=camera, withdrawn_at__isnull=True).exclude(ends_on__lt=starts_on)
    if ends_on is not None:
        overlapping = overlapping.filter(starts_on__lte=ends_on)
    if overlapping.exists():
        raise ValidationError("该探头已有有效的共享授权,请先撤回原授权")
    consent = Consent(camera=camera, household_id=camera.household_id, area_path=camera.area_path,
                      signed_by=signed_by.strip(), purpose=purpose.strip(), viewer_roles=roles,
                      starts_on=starts_on, ends_on=ends_on, principles=told,
                      recorded_by=actor if getattr(actor, "pk", None) else None, recorded_at=timezone.now())
    consent.full_clean()
    consent.save()
    audit.log_change(actor, consent, None)
    return consent


@transaction.atomic
def consent_withdraw(*, actor: Any, consent: Consent, reason: str = "", at: dt.datetime | None = None) -> Consent:
    """The household takes its consent back: from this moment nobody may see the stream. A
    resident never has to give a reason, so `reason` may be empty."""
    _require(actor, Action.CHANGE, consent.area_path)
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise ValidationError("该授权已撤回")
    before = audit.snapshot(consent)
    consent.withdrawn_at = at or timezone.now()
    consent.withdrawn_by = actor if getattr(actor, "pk", None) else None
    consent.withdraw_reason = reason.strip()[:120]
    consent.save(update_fields=["withdrawn_at", "withdrawn_by", "withdraw_reason"])
    audit.log_change(actor, consent, before, note="居民撤回探头共享授权")
    return consent


# ---- the stream address ---------------------------------------------------------------------

def running_consent(camera: Camera) -> Consent | None:
    return Consent.objects.running().filter(camera=camera).order_by("-starts_on").first()


def viewer_roles(camera: Camera, consent: Consent | None = None) -> set[str]:
    """Which roles may look at this camera now: a fixed set for public cameras, the running
    consent's choice for a household camera (none without one)."""
    if camera.kind == CameraKind.PUBLIC:
        return set(PUBLIC_VIEW_ROLES)
    return set(consent.viewer_roles) if consent is not None else set()


def may_view_stream(user: Any, camera: Camera, consent: Consent | None = None, *, look_up: bool = True) -> bool:
    """True when the user holds, over the camera's place, a role allowed to look. A superuser
    may look at public cameras, never at a household's: only the household grants that."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not camera.active:
        return False
    if not camera.stream_enc:
        return False
    if camera.kind == CameraKind.HOUSEHOLD and consent is None and look_up:
        consent = running_consent(camera)
    if camera.kind == CameraKind.PUBLIC and user.is_superuser:
        return True
    allowed = viewer_roles(camera, consent)
    return any(role in allowed and camera.area_path.startswith(path) for role, path in grants_of(user))


def stream_reveal(*, actor: Any, camera: Camera, ip: str | None = None) -> str:
    """Decrypt the stream address for a permitted viewer and log the look (AccessLog)."""
    consent = running_consent(camera) if camera.kind == CameraKind.HOUSEHOLD else None
    if not may_view_stream(actor, camera, consent, look_up=False):
        if camera.kind == CameraKind.HOUSEHOLD and consent is None:
            raise NotAllowed("该居民探头没有有效的共享授权,不能查看")
        raise NotAllowed("您的角色不在允许查看该探头的范围内")
    with transaction.atomic():
        audit.log_access(actor=actor, kind=AccessLog.Kind.REVEAL, obj=camera, field="stream",
                         detail=f"查看探头{camera.number}({camera.location})的视频流地址"
                                + (f",依据授权#{consent.pk}" if consent is not None else ""), ip=ip)
    return crypto.decrypt(camera.stream_enc)

