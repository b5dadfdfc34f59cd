"""Every write to callers and alarms. Keyword-only, atomic, validated; ingest (MQTT, HTTP), the
console, the responder pages, the workers, the simulator and the demo call these and nothing else.

`actor` None is the system (ingest, workers, demo) or the elder's own device (`actor_name` says
which). The one rule of ingest: `alarm_press` returns only after its transaction committed, and
callers answer the device only after it returned."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation

from wuzhi.core import audit, crypto, fastsql
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import Area, AreaKind, Grant, StaffProfile
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can
from wuzhi.core.validators import mask_phone, normalize_phone

from . import flow
from .models import (
    OPEN_STATES,
    UNACKED_STATES,
    Alarm,
    AlarmEvent,
    AlarmKind,
    AlarmState,
    Chain,
    ChainStep,
    ChainTarget,
    Device,
    DeviceStatus,
    Notification,
    NotifyChannel,
    Press,
    Resolution,
    Severity,
    TargetKind,
    Vendor,
)

S = AlarmState
T = TypeVar("T")
SYSTEM = "系统"
ELDER = "老人本人"
LOW_BATTERY_BELOW = 20  # percent: below this a low-battery alarm opens
BATTERY_OK_FROM = 30  # percent: hysteresis, so a battery at 19/21/19 does not flap
MISSED_HEARTBEATS = 3


def _name(actor: Any, fallback: str = SYSTEM) -> str:
    if actor is None or not getattr(actor, "pk", None):
        return fallback
    return (actor.get_full_name() or actor.username)[:32]


def _require(actor: Any, action: str, path: str) -> None:
    if actor is not None and not can(actor, action, path):
        raise NotAllowed("您没有在该区域执行此操作的权限")


def _grid_of(area: Area) -> Area | None:
    for path in reversed(area.ancestor_paths()):
        found = Area.objects.filter(path=path, kind=AreaKind.GRID).first()
        if found is not None:
            return found
    return None


def _community_code(area: Area) -> str:
    paths = area.ancestor_paths()
    found = Area.objects.filter(path__in=paths, kind=AreaKind.COMMUNITY).values_list("code", flat=True).first()
    return found or area.code


# ---------------------------------------------------------------------------------------------
# Vendors, devices and chains (the admin pages and the demo)
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def vendor_create(*, actor: Any, code: str, name: str, secret: str = "") -> Vendor:
    if actor is not None and not actor.is_superuser:
        raise NotAllowed("只有系统管理员可以登记呼叫器厂商")
    vendor = Vendor(code=code.strip(), name=name.strip())
    vendor.set_secret(secret or secrets.token_urlsafe(24))
    vendor.full_clean()
    vendor.save()
    audit.log_change(actor, vendor, None)
    return vendor


@transaction.atomic
def device_register(*, actor: Any, key: str, area: Area | None = None, dwelling: Any = None,
                    resident: Any = None, vendor: Vendor | None = None, model_name: str = "", sim: str = "",
                    secret: str = "", heartbeat_seconds: int = 300, chain: Chain | None = None,
                    medical_notes: str = "") -> Device:
    """登记呼叫器. The place is the dwelling's unit when a dwelling is given, else `area`; the
    resident's household dwelling is used when neither is given. A secret is generated when none
    is given (the installer reads it from the device page once)."""
    if dwelling is None and resident is not None and resident.household.dwelling_id:
        dwelling = resident.household.dwelling
    if dwelling is not None:
        area = dwelling.unit
    if area is None:
        raise ValidationError({"area": "请选择呼叫器安装的户室或区域"})
    _require(actor, Action.CHANGE, area.path)
    device = Device(key=key.strip(), area=area, area_path=area.path, dwelling=dwelling, resident=resident,
                    vendor=vendor, model_name=model_name.strip(), heartbeat_seconds=heartbeat_seconds,
                    chain=chain, medical_notes=medical_notes.strip(), community_code=_community_code(area))
    if sim.strip():
        try:
            device.set_sim(normalize_phone(sim))
        except ValidationError as exc:
            raise ValidationError({"sim": exc.messages[0]}) from None
    device.set_secret(secret or secrets.token_urlsafe(24))
    now = timezone.now()
    device.last_seen_at = now
    device.offline_at = now + MISSED_HEARTBEATS * device.heartbeat_interval
    device.full_clean()
    device.save()
    audit.log_change(actor, device, None)
    return device


DEVICE_FIELDS = ("resident", "dwelling", "vendor", "model_name", "heartbeat_seconds", "chain", "medical_notes",
                 "active")


@transaction.atomic
def device_update(*, actor: Any, device: Device, version: int, sim: str | None = None,
                  secret: str | None = None, **changes: Any) -> Device:
    """Change a caller's assignment or settings; `changes` takes the names in DEVICE_FIELDS.
    Refused (ConcurrentEdit) when somebody saved it after `version` was read."""
    unknown = set(changes) - set(DEVICE_FIELDS)
    if unknown:
        raise TypeError(f"device_update: unknown fields {sorted(unknown)}")
    _require(actor, Action.CHANGE, device.area_path)
    if Device.objects.filter(pk=device.pk, version=version).update(version=version + 1) != 1:
        raise ConcurrentEdit("该呼叫器")
    device.refresh_from_db()
    before = audit.snapshot(device)
    for name, value in changes.items():
        setattr(device, name, value)
    if "dwelling" in changes and device.dwelling is not None:
        device.area = device.dwelling.unit
        _require(actor, Action.CHANGE, device.area.path)
        device.area_path = device.area.path
        device.community_code = _community_code(device.area)
    if sim is not None:
        try:
            device.set_sim(normalize_phone(sim) if sim.strip() else "")
        except ValidationError as exc:
            raise ValidationError({"sim": exc.messages[0]}) from None
    if secret is not None:
        device.set_secret(secret or secrets.token_urlsafe(24))
    device.full_clean()
    device.save()
    audit.log_change(actor, device, before)
    return device


@dataclass
class TargetSpec:
    kind: str
    role: str = ""
    user: Any = None
    name: str = ""
    phone: str = ""
    sms: bool = True


@dataclass
class StepSpec:
    wait_seconds: int
    targets: list[TargetSpec] = field(default_factory=list)


def _write_steps(chain: Chain, steps: Sequence[StepSpec]) -> None:
    if not steps:
        raise ValidationError({"steps": "通知链至少要有一步"})
    for i, spec in enumerate(steps, start=1):
        if not spec.targets:
            raise ValidationError({"steps": f"第{i}步没有通知对象"})
        step = ChainStep.objects.create(chain=chain, order=i, wait_seconds=0 if i == 1 else spec.wait_seconds)
        for t in spec.targets:
            target = ChainTarget(step=step, kind=t.kind, role=t.role, user=t.user, name=t.name.strip(), sms=t.sms)
            if t.kind == TargetKind.ROLE and not t.role:
                raise ValidationError({"steps": f"第{i}步:请选择角色"})
            if t.kind == TargetKind.USER and t.user is None:
                raise ValidationError({"steps": f"第{i}步:请选择人员"})
            if t.kind == TargetKind.PHONE:
                try:
                    target.set_phone(normalize_phone(t.phone))
                except ValidationError as exc:
                    raise ValidationError({"steps": f"第{i}步:{exc.messages[0]}"}) from None
            target.full_clean(exclude=["step"])
            target.save()


@transaction.atomic
def chain_create(*, actor: Any, area: Area, name: str, steps: Sequence[StepSpec], is_default: bool = False,
                 onsite_seconds: int = 600, repeat_seconds: int = 300) -> Chain:
    """A contact chain for a grid (`is_default` makes it the grid's default, replacing the old one)."""
    _require(actor, Action.CHANGE, area.path)
    if is_default:
        Chain.objects.filter(area=area, is_default=True).update(is_default=False)
    chain = Chain(area=area, area_path=area.path, name=name.strip(), is_default=is_default,
                  onsite_seconds=onsite_seconds, repeat_seconds=repeat_seconds)
    chain.full_clean()
    chain.save()
    _write_steps(chain, steps)
    audit.log_change(actor, chain, None)
    return chain


@transaction.atomic
def chain_update(*, actor: Any, chain: Chain, version: int, name: str, steps: Sequence[StepSpec],
                 onsite_seconds: int, repeat_seconds: int, is_default: bool | None = None) -> Chain:
    """Replace a chain's steps. Running alarms keep the snapshot they took at open."""
    _require(actor, Action.CHANGE, chain.area_path)
    if Chain.objects.filter(pk=chain.pk, version=version).update(version=version + 1) != 1:
        raise ConcurrentEdit("该通知链")
    chain.refresh_from_db()
    before = audit.snapshot(chain)
    if is_default and not chain.is_default:
        Chain.objects.filter(area_id=chain.area_id, is_default=True).update(is_default=False)
    if is_default is not None:
        chain.is_default = is_default
    chain.name, chain.onsite_seconds, chain.repeat_seconds = name.strip(), onsite_seconds, repeat_seconds
    chain.full_clean()
    chain.save()
    ChainStep.objects.filter(chain=chain).delete()
    _write_steps(chain, steps)
    audit.log_change(actor, chain, before, note="修改通知步骤")
    return chain


def chain_for(device: Device) -> Chain | None:
    """The device's own chain, else the default chain of the nearest grid above it."""
    if device.chain_id:
        return device.chain
    if SNAPSHOT_CACHE_SECONDS:
        chains = _cached("chains", _default_chains)
        return next((chains[p] for p in reversed(_ancestor_paths(device.area_path)) if p in chains), None)
    return (Chain.objects.filter(is_default=True, area_path__in=_ancestor_paths(device.area_path))
            .order_by("-area_path").first())


# ---------------------------------------------------------------------------------------------
# The chain snapshot: who exactly is reached, resolved once when the alarm opens
# ---------------------------------------------------------------------------------------------

DUTY_TARGET = {"kind": TargetKind.DUTY.value, "label": "值班室", "name": "值班室", "user_id": None,
               "phone_enc": "", "phone_masked": "", "sms": False}


def _ancestor_paths(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def _role_holders(roles: Iterable[str], area_path: str) -> dict[str, list[Any]]:
    """Users holding each role over the place, the closest level only (the grid's grid worker,
    not every grid worker of the community when the grid has one)."""
    wanted = set(roles)
    if not wanted:
        return {}
    if SNAPSHOT_CACHE_SECONDS:
        rows = [r for r in _cached("grants", _all_grants) if r[0] in wanted and area_path.startswith(r[1])]
    else:
        rows = [(g.role, g.area.path, g.area.depth, g.user) for g in
                Grant.objects.active().filter(role__in=wanted, area__path__in=_ancestor_paths(area_path))
                .select_related("user", "area").order_by("-area__depth", "id")]
    found: dict[str, list[Any]] = {}
    depth: dict[str, int] = {}
    for role, _path, level, user in rows:
        if not user.is_active:
            continue
        if role in depth and level < depth[role]:
            continue
        depth[role] = level
        if user not in found.setdefault(role, []):
            found[role].append(user)
    return found


# What the consumer may cache for SNAPSHOT_CACHE_SECONDS during a storm (small tables read for
# every alarm opened): active grants, staff phones, default chains, area names.
_cache: dict[str, tuple[float, Any]] = {}


def _cached(name: str, load: Callable[[], T]) -> T:
    hit = _cache.get(name)
    if hit is None or hit[0] < time.monotonic():
        hit = (time.monotonic() + SNAPSHOT_CACHE_SECONDS, load())
        _cache[name] = hit
    return hit[1]


def _all_grants() -> list[tuple[str, str, int, Any]]:
    return [(g.role, g.area.path, g.area.depth, g.user) for g in
            Grant.objects.active().select_related("user", "area").order_by("-area__depth", "id")]


def _all_staff_phones() -> dict[int, str]:
    return dict(StaffProfile.objects.exclude(phone="").values_list("user_id", "phone"))


def _default_chains() -> dict[str, Chain]:
    return {c.area_path: c for c in Chain.objects.filter(is_default=True).prefetch_related("steps__targets__user")}


def _staff_phones(user_ids: Iterable[int]) -> dict[int, str]:
    if SNAPSHOT_CACHE_SECONDS:
        phones = _cached("phones", _all_staff_phones)
        return {uid: phones[uid] for uid in set(user_ids) if uid in phones}
    return {uid: phone for uid, phone in
            StaffProfile.objects.filter(user_id__in=set(user_ids)).exclude(phone="").values_list("user_id", "phone")}


def _user_target(user: Any, label: str, phones: dict[int, str], sms: bool) -> dict[str, Any]:
    phone = phones.get(user.pk, "")
    return {"kind": "user", "label": label, "name": _name(user), "user_id": user.pk,
            "phone_enc": crypto.encrypt(phone) if phone else "", "phone_masked": mask_phone(phone) if phone else "",
            "sms": sms}


def chain_snapshot(device: Device, *, chain: Chain | None = None, kind: str = AlarmKind.PRESS) -> dict[str, Any]:
    """The chain with its people resolved to names, user ids and (encrypted) phone numbers.

    A press alarm always reaches the duty station in its first step, whatever the chain says;
    a device without any chain still reaches the duty station. Health alarms (offline, battery,
    tamper) go to the grid worker alone, one step, no escalation."""
    if kind != AlarmKind.PRESS:
        holders = _role_holders([Role.GRID_WORKER], device.area_path)
        phones = _staff_phones(u.pk for u in holders.get(Role.GRID_WORKER, []))
        workers = [_user_target(u, _zh(Role.GRID_WORKER.label), phones, sms=False) for u in holders.get(Role.GRID_WORKER, [])]
        return {"chain_id": None, "name": "设备状态提醒", "onsite_seconds": 0, "repeat_seconds": 0,
                "steps": [{"order": 1, "wait": 0, "targets": workers or [dict(DUTY_TARGET)]}]}
    cache_key = (device.chain_id, device.area_path)
    cached = _snapshot_cache.get(cache_key) if chain is None and SNAPSHOT_CACHE_SECONDS else None
    if cached is not None and cached[0] > time.monotonic():
        base = cached[1]
    else:
        base = _chain_base(device, chain if chain is not None else chain_for(device))
        if chain is None and SNAPSHOT_CACHE_SECONDS:
            _snapshot_cache[cache_key] = (time.monotonic() + SNAPSHOT_CACHE_SECONDS, base)
    family: list[dict[str, Any]] = []
    if base["has_family"] and device.resident_id:
        from wuzhi.registry.choices import PersonStatus
        from wuzhi.registry.models import Resident

        household = Resident.objects.filter(pk=device.resident_id).values_list("household_id", flat=True)
        for r in (Resident.objects.filter(household_id__in=household, status=PersonStatus.PRESENT)
                  .exclude(pk=device.resident_id).exclude(phone_enc="").only("name", "relation", "phone_enc",
                                                                           "phone_masked")):
            family.append({"kind": "family", "label": f"家属({r.relation})", "name": r.name, "user_id": None,
                           "phone_enc": r.phone_enc, "phone_masked": r.phone_masked, "sms": True})
    steps = []
    for st in base["steps"]:
        targets: list[dict[str, Any]] = []
        for t in st["targets"]:
            if t["kind"] == "family_of_elder":
                targets += [dict(f, sms=t["sms"]) for f in family]
            else:
                targets.append(dict(t))
        steps.append({"order": st["order"], "wait": st["wait"], "targets": targets})
    return {**{k: v for k, v in base.items() if k not in ("steps", "has_family")}, "steps": steps}


# The consumer caches the resolved chain (all but the family) per device place for a few seconds:
# in a storm thousands of devices share a handful of chains. 0 (the default) means no cache.
SNAPSHOT_CACHE_SECONDS = 0.0
_snapshot_cache: dict[tuple[int | None, str], tuple[float, dict[str, Any]]] = {}


def _chain_base(device: Device, chain: Chain | None) -> dict[str, Any]:
    if chain is not None and "steps" in getattr(chain, "_prefetched_objects_cache", {}):
        steps: list[ChainStep] = list(chain.steps.all())
    else:
        steps = list(chain.steps.prefetch_related("targets__user")) if chain else []
    all_targets = [t for s in steps for t in s.targets.all()]
    holders = _role_holders({t.role for t in all_targets if t.kind == TargetKind.ROLE}, device.area_path)
    users = [t.user for t in all_targets if t.kind == TargetKind.USER and t.user]
    users += [u for us in holders.values() for u in us]
    phones = _staff_phones(u.pk for u in users)
    out_steps: list[dict[str, Any]] = []
    for s in steps:
        resolved: list[dict[str, Any]] = []
        for t in s.targets.all():
            if t.kind == TargetKind.DUTY:
                resolved.append(dict(DUTY_TARGET))
            elif t.kind == TargetKind.FAMILY:
                resolved.append({"kind": "family_of_elder", "sms": t.sms})
            elif t.kind == TargetKind.ROLE:
                label = _zh(Role(t.role).label) if t.role in Role.values else t.role
                resolved += [_user_target(u, label, phones, t.sms) for u in holders.get(t.role, [])]
            elif t.kind == TargetKind.USER and t.user is not None:
                resolved.append(_user_target(t.user, t.name or "指定人员", phones, t.sms))
            elif t.kind == TargetKind.PHONE and t.phone_enc:
                resolved.append({"kind": "phone", "label": t.name or "指定电话", "name": t.name or "指定电话",
                                 "user_id": None, "phone_enc": t.phone_enc, "phone_masked": t.phone_masked,
                                 "sms": True})
        out_steps.append({"order": s.order, "wait": s.wait_seconds, "targets": resolved})
    if not out_steps:
        out_steps = [{"order": 1, "wait": 0, "targets": []}]
    if not any(t["kind"] == TargetKind.DUTY for t in out_steps[0]["targets"]):
        out_steps[0]["targets"].insert(0, dict(DUTY_TARGET))
    return {"chain_id": chain.pk if chain else None, "name": chain.name if chain else "默认(仅值班室)",
            "onsite_seconds": chain.onsite_seconds if chain else 600,
            "repeat_seconds": chain.repeat_seconds if chain else 300, "steps": out_steps,
            "has_family": any(t.kind == TargetKind.FAMILY for t in all_targets)}


# ---------------------------------------------------------------------------------------------
# Timeline, feed, notifications (helpers used inside the services' transactions)
# ---------------------------------------------------------------------------------------------


def _zh(label: Any) -> str:
    """A choice label written into a stored row (timeline, outbox text, chain snapshot): Chinese
    whatever the language of the person whose action wrote it, like every saved record."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


def _event(alarm: Alarm, *, label: str, actor: Any = None, actor_name: str = "", source: str = "", target: str = "",
           kind: str = AlarmEvent.Kind.TRANSITION, note: str = "", at: dt.datetime | None = None) -> AlarmEvent:
    return AlarmEvent.objects.create(
        alarm=alarm, kind=kind, from_state=source, to_state=target, label=label[:32],
        actor=actor if getattr(actor, "pk", None) else None, actor_name=(actor_name or _name(actor))[:32],
        at=at or timezone.now(), note=note)


_feed = threading.local()


@contextmanager
def alarm_txn(*, savepoint: bool = True) -> Iterator[None]:
    """transaction.atomic for anything that changes alarms. The outermost one stamps every alarm
    it touched with the next console feed numbers as its LAST statements, so the counter row is
    locked only from there to the commit and the numbers follow commit order (a console that has
    read up to N never misses a change committed later below N). Taking the counter last also
    means it never waits for an alarm row lock while holding the counter: no deadlock."""
    owner = getattr(_feed, "touched", None) is None
    if owner:
        _feed.touched, _feed.wake = {}, False
    try:
        with transaction.atomic(savepoint=savepoint):
            yield
            if owner and _feed.touched:
                _stamp_feed(_feed.touched)
            if owner and _feed.wake:
                _wake_dispatchers()
    finally:
        if owner:
            _feed.touched = None


# Dispatch workers LISTEN on this channel (PostgreSQL): a transaction that wrote notification rows
# wakes them at its commit (NOTIFY is delivered only then, and never for a rollback), so a first
# notification goes out within milliseconds without workers polling the outbox many times a second.
WAKE_CHANNEL = "wuzhi_outbox"


def _wake_dispatchers() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"NOTIFY {WAKE_CHANNEL}")


def alarm_atomic(fn: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with alarm_txn():
            return fn(*args, **kwargs)

    return wrapper


def _touch(alarm: Alarm) -> None:
    touched = getattr(_feed, "touched", None)
    if touched is None:
        raise RuntimeError("alarm changes must run inside alarm_txn()")
    touched[alarm.pk] = alarm


def _stamp_feed(touched: dict[int, Alarm]) -> None:
    table = connection.ops.quote_name("alarms_feedcounter")
    n = len(touched)
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} (id, value) VALUES (1, %s) "
                    f"ON CONFLICT (id) DO UPDATE SET value = {table}.value + %s RETURNING value", [n, n])
        last = int(cur.fetchone()[0])
    pairs = [(pk, seq) for seq, pk in enumerate(sorted(touched), start=last - n + 1)]
    for pk, seq in pairs:
        touched[pk].feed_seq = seq
    with connection.cursor() as cur:  # one statement however many alarms the transaction touched
        cur.execute(f"UPDATE {fastsql.table(Alarm)} SET feed_seq = CASE id {' '.join(['WHEN %s THEN %s'] * n)} END "
                    f"WHERE id IN ({fastsql.marks(pairs)})", [*(x for pair in pairs for x in pair), *touched])


def _save(alarm: Alarm, fields: Iterable[str]) -> None:
    """Save the alarm's changed fields; its feed number is stamped at the end of the transaction."""
    alarm.version += 1
    alarm.save(update_fields=[*set(fields), "version"])
    _touch(alarm)


def _texts(alarm: Alarm) -> tuple[str, str]:
    who = alarm.person_name or "居民"
    place = alarm.address or ""
    if alarm.kind == AlarmKind.PRESS:
        return (f"紧急呼叫:{who}({place})按下了一键呼叫器,请立即联系或前往查看。",
                f"【五治】紧急呼叫:{who}({place})按下了一键呼叫器,请立即联系或前往。确认接警后停止通知。")
    label = _zh(AlarmKind(alarm.kind).label)
    return (f"设备提醒:{who}({place})的呼叫器{label},请尽快上门查看。",
            f"【五治】设备提醒:{who}({place})的呼叫器{label},请尽快上门查看。")


def _notifications(alarm: Alarm, targets: Sequence[dict[str, Any]], *, step: int, tag: str,
                   purpose: str = Notification.Purpose.ALERT, console_text: str = "", sms_text: str = "",
                   now: dt.datetime | None = None, save: bool = True) -> list[Notification]:
    """Outbox rows for one set of targets; `tag` makes the idempotency keys of this decision unique."""
    now = now or timezone.now()
    default_console, default_sms = _texts(alarm)
    console_text, sms_text = console_text or default_console, sms_text or default_sms
    rows: list[Notification] = []
    seen: set[tuple[str, Any]] = set()
    # A user deleted since the snapshot keeps their SMS (name and phone are in the snapshot); only
    # the console row, which needs the account, is skipped.
    wanted = {t["user_id"] for t in targets if t.get("user_id")}
    alive = set(get_user_model().objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True)) \
        if wanted else set()
    for i, t in enumerate(targets):
        common = {"alarm": alarm, "epoch": alarm.epoch, "step": step, "purpose": purpose, "due_at": now,
                  "created_at": now, "area_path": alarm.area_path, "name": t["name"][:32]}
        if t["kind"] == TargetKind.DUTY:
            if ("duty", None) not in seen:
                seen.add(("duty", None))
                rows.append(Notification(channel=NotifyChannel.CONSOLE, to_duty=True, text=console_text[:300],
                                         key=f"{alarm.pk}.{tag}.{i}.c", **common))
            continue
        user_id = t.get("user_id") if t.get("user_id") in alive else None
        if user_id and ("user", user_id) not in seen:
            seen.add(("user", t["user_id"]))
            rows.append(Notification(channel=NotifyChannel.CONSOLE, user_id=user_id, text=console_text[:300],
                                     key=f"{alarm.pk}.{tag}.{i}.c", **common))
        if t.get("sms") and t.get("phone_enc") and ("sms", t["phone_enc"]) not in seen:
            seen.add(("sms", t["phone_enc"]))
            rows.append(Notification(channel=NotifyChannel.SMS, user_id=user_id, phone_enc=t["phone_enc"],
                                     phone_masked=t.get("phone_masked", ""), text=sms_text[:300],
                                     key=f"{alarm.pk}.{tag}.{i}.s", **common))
    if save:
        Notification.objects.bulk_create(rows)
    if rows:
        _feed.wake = True
    return rows


def _duty_info(alarm: Alarm, text: str, tag: str, now: dt.datetime | None = None) -> list[Notification]:
    """Tell the duty station something about an alarm whatever its state (INFO rows are never
    dropped as stale): the elder cancelled, a responder pressed again, a health alarm cleared."""
    return _notifications(alarm, [dict(DUTY_TARGET)], step=alarm.step_index, tag=f"i{tag}",
                          purpose=Notification.Purpose.INFO, console_text=text, sms_text=text, now=now)


def stop_pending(alarm: Alarm) -> int:
    """Drop every not-yet-sent ALERT row of the alarm (inside the caller's transaction, which
    holds the alarm's row lock: a dispatcher checks the same lock before it sends)."""
    return (Notification.objects.filter(alarm=alarm, purpose=Notification.Purpose.ALERT,
                                        status__in=["pending", "sending"])
            .update(status="cancelled", lease_until=None, last_error="已确认/已处置,停止通知"))


def _step_targets(alarm: Alarm, index: int) -> tuple[int, list[dict[str, Any]]]:
    steps = alarm.chain_snapshot.get("steps") or [{"targets": [dict(DUTY_TARGET)]}]
    i = min(index, len(steps) - 1)
    return i, list(steps[i]["targets"])


def _wait_after(alarm: Alarm, fired: int) -> int | None:
    """Seconds from step `fired - 1` to the next one; the repeat interval after the last step."""
    steps = alarm.chain_snapshot.get("steps") or []
    if fired < len(steps):
        return int(steps[fired]["wait"])
    repeat = int(alarm.chain_snapshot.get("repeat_seconds") or 0)
    return repeat or None


# ---------------------------------------------------------------------------------------------
# Ingest: presses
# ---------------------------------------------------------------------------------------------


@dataclass
class PressResult:
    press: Press
    alarm: Alarm | None
    created: bool  # this press opened the alarm
    duplicate: bool  # (device, event_id) had been stored before: nothing was written


def _address(device: Device) -> str:
    d = device.dwelling
    if d is not None:
        return f"{d.unit.short_name}{d.number}室"
    if SNAPSHOT_CACHE_SECONDS:
        names = _cached("areas", dict)
        if device.area_id not in names:
            names[device.area_id] = Area.objects.get(pk=device.area_id).short_name
        return names[device.area_id]
    return Area.objects.get(pk=device.area_id).short_name


def _open(device: Device, *, kind: str, now: dt.datetime, pressed_at: dt.datetime | None,
          actor_name: str, label: str, note: str = "") -> Alarm:
    snapshot = chain_snapshot(device, kind=kind)
    person = device.resident.name if device.resident is not None else ""
    alarm = Alarm(kind=kind, severity=Severity.CRITICAL if kind == AlarmKind.PRESS else Severity.WARNING,
                  device=device, resident_id=device.resident_id, dwelling_id=device.dwelling_id,
                  area_id=device.area_id, area_path=device.area_path, person_name=person[:32],
                  address=_address(device)[:128], opened_at=now, pressed_at=pressed_at, last_press_at=now,
                  chain_snapshot=snapshot, chain_name=snapshot["name"][:64], step_index=1)
    wait = _wait_after(alarm, 1) if kind == AlarmKind.PRESS else None
    alarm.next_step_at = now + dt.timedelta(seconds=wait) if wait is not None else None
    alarm.save()
    _event(alarm, label=label, actor_name=actor_name, target=S.NEW, at=now, note=note)
    _notifications(alarm, snapshot["steps"][0]["targets"], step=0, tag="e0.s0", now=now)
    _touch(alarm)
    return alarm


def _press_once(device: Device, event_id: str, via: str, pressed_at: dt.datetime | None, kind: str,
                now: dt.datetime) -> PressResult:
    existing = Press.objects.filter(device=device, event_id=event_id).select_related("alarm").first()
    if existing is not None:
        return PressResult(existing, existing.alarm, created=False, duplicate=True)
    # The snapshot is not needed to join an open alarm: do not read (and decode) it.
    alarm = (Alarm.objects.select_for_update().filter(device=device, kind=AlarmKind.PRESS, state__in=OPEN_STATES)
             .defer("chain_snapshot").first())
    if kind == Press.Kind.CANCEL:
        press = Press.objects.create(device=device, event_id=event_id, kind=kind, alarm=alarm, via=via,
                                     pressed_at=pressed_at, received_at=now)
        if alarm is not None:
            _resolve(alarm, resolution=Resolution.CANCELLED, actor=None, actor_name=ELDER, note="老人按下取消键",
                     now=now)
            _duty_info(alarm, f"{alarm.person_name or '居民'}({alarm.address})已按取消键取消呼叫,请电话回访确认平安。",
                       tag=f"cancel.{press.pk}", now=now)
        return PressResult(press, alarm, created=False, duplicate=False)
    if alarm is None:
        alarm = _open(device, kind=AlarmKind.PRESS, now=now, pressed_at=pressed_at, actor_name=ELDER,
                      label="一键呼叫", note=f"经{_zh(Press.Via(via).label)}收到")
        press = Press.objects.create(device=device, event_id=event_id, alarm=alarm, via=via, pressed_at=pressed_at,
                                     received_at=now)
        return PressResult(press, alarm, created=True, duplicate=False)
    press = Press.objects.create(device=device, event_id=event_id, alarm=alarm, via=via, pressed_at=pressed_at,
                                 received_at=now)
    alarm.press_count += 1
    alarm.last_press_at = now
    _event(alarm, kind=AlarmEvent.Kind.PRESS, label=f"再次按键(第{alarm.press_count}次)", actor_name=ELDER, at=now)
    if alarm.state not in UNACKED_STATES:
        # Somebody has the alarm already; the station still hears that the elder keeps pressing.
        _duty_info(alarm, f"{alarm.person_name or '居民'}({alarm.address})再次按下呼叫器(第{alarm.press_count}次)。",
                   tag=f"press.{press.pk}", now=now)
    _save(alarm, ["press_count", "last_press_at"])
    return PressResult(press, alarm, created=False, duplicate=False)


def alarm_press(*, device: Device, event_id: str, via: str, pressed_at: dt.datetime | None = None,
                kind: str = Press.Kind.PRESS, now: dt.datetime | None = None, savepoint: bool = True) -> PressResult:
    """Store one press (or the elder's cancel) from a caller; returns after the commit.

    Exactly once per (device, event_id): a retried press returns `duplicate=True` and writes
    nothing. A press while the device's press alarm is open joins it (press_count). Opening
    writes the alarm, its first timeline row, the press and the first step's notification rows in
    one transaction. Race-free: two first presses racing both try to insert an open alarm; the
    partial unique index lets one win, the other retries and joins it."""
    if not event_id:
        raise ValidationError({"event_id": "缺少设备事件编号"})
    if not savepoint:
        # Inside the consumer's batch transaction: no savepoint per press (two round trips each);
        # an IntegrityError aborts the batch, which the consumer then replays press by press.
        with alarm_txn(savepoint=False):
            return _press_once(device, event_id[:64], via, pressed_at, kind, now or timezone.now())
    last: Exception | None = None
    for _attempt in range(4):
        try:
            with alarm_txn():
                return _press_once(device, event_id[:64], via, pressed_at, kind, now or timezone.now())
        except IntegrityError as exc:  # lost a race on the press or on the open alarm: read the winner
            last = exc
    raise last  # type: ignore[misc]


@dataclass
class PressIn:
    device: Device
    event_id: str
    via: str
    pressed_at: dt.datetime | None = None


_OPEN_FIELDS = fastsql.columns(Alarm, {"id", "device_id", "kind", "state", "press_count", "person_name", "address",
                                       "step_index", "epoch", "area_path", "version"})
_PRESS_FIELDS = fastsql.columns(Press, {"id", "device_id", "event_id", "alarm_id"})


def _batch_state(device_ids: list[int], event_ids: list[str]) -> tuple[dict[tuple[int, str], Press], dict[int, Alarm]]:
    """The presses of the batch stored before, and the devices' open press alarms, locked in id
    order (as the dispatcher and the console lock them), in two hand-written statements (see
    fastsql). The alarms come back with the columns the press path reads."""
    db = connection.alias
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(_PRESS_FIELDS)} FROM {fastsql.table(Press)} WHERE device_id IN "
                    f"({fastsql.marks(device_ids)}) AND event_id IN ({fastsql.marks(event_ids)})",
                    [*device_ids, *event_ids])
        stored = {}
        for press in fastsql.load(Press, _PRESS_FIELDS, cur.fetchall()):
            Press.alarm.field.set_cached_value(press, Alarm.from_db(db, ["id"], [press.alarm_id])
                                               if press.alarm_id else None)
            stored[(press.device_id, press.event_id)] = press
        cur.execute(f"SELECT {', '.join(_OPEN_FIELDS)} FROM {fastsql.table(Alarm)} WHERE device_id IN "
                    f"({fastsql.marks(device_ids)}) AND kind = %s AND state IN ({fastsql.marks(OPEN_STATES)}) "
                    f"ORDER BY id{lock}", [*device_ids, str(AlarmKind.PRESS), *map(str, OPEN_STATES)])
        open_alarms = {a.device_id: a for a in fastsql.load(Alarm, _OPEN_FIELDS, cur.fetchall())}
    return stored, open_alarms


def alarm_press_batch(presses: Sequence[PressIn], *, now: dt.datetime | None = None) -> list[PressResult]:
    """`alarm_press` for many presses in the caller's transaction (the MQTT consumer's batch), with
    a fixed number of statements per batch instead of per press: the devices' open alarms are read
    and locked in one query (in alarm id order, as the dispatcher locks them), stored presses in
    one, and alarms, timeline rows, notifications and presses are inserted in bulk.

    Must run inside `alarm_txn()`. A race with another writer (a press or an open alarm stored
    meanwhile) raises IntegrityError from the unique indexes; the caller rolls the batch back and
    stores the presses one by one with `alarm_press`, which settles such races."""
    now = now or timezone.now()
    if not presses:
        return []
    stored, open_alarms = _batch_state(sorted({p.device.pk for p in presses}), sorted({p.event_id for p in presses}))
    results: list[PressResult | None] = []
    new_alarms: list[Alarm] = []
    joined: dict[int, Alarm] = {}
    pending_events: list[tuple[Alarm, dict[str, Any]]] = []
    pending_notes: list[tuple[Alarm, str, int]] = []  # (alarm, duty text, index of the press)
    press_rows: list[tuple[Press, Alarm]] = []
    for i, p in enumerate(presses):
        existing = stored.get((p.device.pk, p.event_id))
        if existing is not None:
            results.append(PressResult(existing, existing.alarm, created=False, duplicate=True))
            continue
        alarm = open_alarms.get(p.device.pk)
        created = alarm is None
        if alarm is None:
            device = p.device
            snapshot = chain_snapshot(device)
            alarm = Alarm(kind=AlarmKind.PRESS, severity=Severity.CRITICAL, device=device,
                          resident_id=device.resident_id, dwelling_id=device.dwelling_id, area_id=device.area_id,
                          area_path=device.area_path,
                          person_name=(device.resident.name if device.resident is not None else "")[:32],
                          address=_address(device)[:128], opened_at=now, pressed_at=p.pressed_at, last_press_at=now,
                          chain_snapshot=snapshot, chain_name=snapshot["name"][:64], step_index=1)
            wait = _wait_after(alarm, 1)
            alarm.next_step_at = now + dt.timedelta(seconds=wait) if wait is not None else None
            open_alarms[p.device.pk] = alarm
            new_alarms.append(alarm)
            pending_events.append((alarm, {"label": "一键呼叫", "to_state": S.NEW,
                                           "note": f"经{_zh(Press.Via(p.via).label)}收到"}))
        else:
            alarm.press_count += 1
            alarm.last_press_at = now
            if alarm.pk:
                joined[alarm.pk] = alarm
            pending_events.append((alarm, {"label": f"再次按键(第{alarm.press_count}次)",
                                           "kind": AlarmEvent.Kind.PRESS}))
            if alarm.state not in UNACKED_STATES:
                pending_notes.append((alarm, f"{alarm.person_name or '居民'}({alarm.address})再次按下呼叫器"
                                             f"(第{alarm.press_count}次)。", i))
        press = Press(device=p.device, event_id=p.event_id, via=p.via, pressed_at=p.pressed_at, received_at=now)
        press_rows.append((press, alarm))
        results.append(PressResult(press, alarm, created=created, duplicate=False))
    fastsql.insert(new_alarms)
    fastsql.insert([
        AlarmEvent(alarm=a, kind=e.get("kind", AlarmEvent.Kind.TRANSITION), to_state=e.get("to_state", ""),
                   label=e["label"][:32], actor_name=ELDER, at=now, note=e.get("note", ""))
        for a, e in pending_events])
    rows: list[Notification] = []
    for a in new_alarms:
        rows += _notifications(a, a.chain_snapshot["steps"][0]["targets"], step=0, tag="e0.s0", now=now, save=False)
    for a, text, i in pending_notes:
        rows += _notifications(a, [dict(DUTY_TARGET)], step=a.step_index, tag=f"ipress.{a.pk}.{a.press_count}.{i}",
                               purpose=Notification.Purpose.INFO, console_text=text, sms_text=text, now=now,
                               save=False)
    fastsql.insert(rows)
    for press, a in press_rows:
        press.alarm = a
    fastsql.insert([press for press, _a in press_rows])
    if joined:
        for a in joined.values():
            a.version += 1
        Alarm.objects.bulk_update(list(joined.values()), ["press_count", "last_press_at", "version"])
    for a in [*new_alarms, *joined.values()]:
        _touch(a)
    return [r for r in results if r is not None]


def alarm_raise(*, actor: Any, device: Device, note: str = "") -> Alarm:
    """Register a call by hand (a phone call to the station, a neighbour at the door): the same
    alarm and chain as a press, opened by a staff member."""
    _require(actor, Action.VIEW, device.area_path)
    result = alarm_press(device=device, event_id=f"manual-{secrets.token_hex(8)}", via=Press.Via.CONSOLE)
    assert result.alarm is not None
    if note:
        with alarm_txn():
            _event(result.alarm, kind=AlarmEvent.Kind.NOTE, label="手工登记", actor=actor, note=note)
    return result.alarm


# ---------------------------------------------------------------------------------------------
# The alarm's life: acknowledge, depart, on site, resolve
# ---------------------------------------------------------------------------------------------


def may_act(actor: Any, alarm: Alarm) -> bool:
    """Anyone who sees the alarm (area grants) or was notified of it may take and handle it:
    in an emergency the rule is to let responders act, and every action is on the timeline."""
    if actor is None:
        return True
    if can(actor, Action.VIEW, alarm.area_path):
        return True
    return Notification.objects.filter(alarm_id=alarm.pk, user_id=actor.pk).exists()


def _locked(alarm: Alarm | int) -> Alarm:
    pk = alarm if isinstance(alarm, int) else alarm.pk
    return Alarm.objects.select_for_update().get(pk=pk)


def _transition(alarm: Alarm, target: str, *, actor: Any, actor_name: str = "", note: str = "",
                now: dt.datetime, fields: Sequence[str] = ()) -> None:
    step = flow.step(alarm.state, target)
    if step is None:
        raise ValidationError(f"当前状态“{AlarmState(alarm.state).label}”不能变为“{AlarmState(target).label}”")
    source = alarm.state
    alarm.state = target
    changed = ["state", *fields]
    if step.stops_escalation:
        alarm.epoch += 1
        stop_pending(alarm)
        changed.append("epoch")
    _event(alarm, label=step.label, actor=actor, actor_name=actor_name, source=source, target=target, note=note,
           at=now)
    _save(alarm, changed)


def _check_version(alarm: Alarm, version: int | None) -> None:
    if version is not None and alarm.version != version:
        raise ConcurrentEdit("该呼叫")


@alarm_atomic
def acknowledge(*, actor: Any, alarm: Alarm | int, note: str = "", version: int | None = None,
                now: dt.datetime | None = None) -> Alarm:
    """确认接警: stops every pending notification and escalation step of the alarm (in this
    transaction) and starts the on-site timer. Acknowledging an alarm already taken is a no-op."""
    alarm = _locked(alarm)
    now = now or timezone.now()  # after the lock: the moment this change takes effect
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if alarm.state not in UNACKED_STATES:
        return alarm
    _check_version(alarm, version)
    onsite = int(alarm.chain_snapshot.get("onsite_seconds") or 0)
    alarm.acknowledged_at, alarm.acknowledged_by = now, actor if getattr(actor, "pk", None) else None
    alarm.next_step_at = now + dt.timedelta(seconds=onsite) if onsite and alarm.kind == AlarmKind.PRESS else None
    _transition(alarm, S.ACKNOWLEDGED, actor=actor, note=note, now=now,
                fields=["acknowledged_at", "acknowledged_by", "next_step_at"])
    return alarm


@alarm_atomic
def dispatch(*, actor: Any, alarm: Alarm | int, responder: Any, label: str = "", note: str = "",
             now: dt.datetime | None = None) -> Alarm:
    """派人前往: the duty station sends someone. Takes an unacknowledged alarm, writes who was sent
    on the timeline, and tells the responder on their phone page through the outbox. The row is
    INFO, so the acknowledgement that stops the chain's alerts does not drop it, and being
    notified is what lets the responder see and handle the alarm (`may_act`, `my_alarms`)."""
    alarm = _locked(alarm)
    now = now or timezone.now()  # after the lock: the moment this change takes effect
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if alarm.state == S.RESOLVED:
        raise ValidationError("这条呼叫已处置完毕")
    if not getattr(responder, "is_active", False):
        raise ValidationError({"responder": "请选择要派出的人员"})
    who = (label or _name(responder))[:32]
    if alarm.state in UNACKED_STATES:
        alarm = acknowledge(actor=actor, alarm=alarm, note=f"派{who}前往", now=now)
    event = _event(alarm, kind=AlarmEvent.Kind.DISPATCH, label="派人前往", actor=actor, at=now,
                   note=f"派{who}前往" + (f":{note.strip()}" if note.strip() else ""))
    _notifications(alarm, [{"kind": TargetKind.USER, "user_id": responder.pk, "name": who}], step=alarm.step_index,
                   tag=f"d{event.pk}", purpose=Notification.Purpose.INFO, now=now,
                   console_text=f"值班室派您前往:{alarm.person_name or '居民'}({alarm.address})的呼叫,请尽快到场。")
    return alarm


@alarm_atomic
def depart(*, actor: Any, alarm: Alarm | int, note: str = "", now: dt.datetime | None = None) -> Alarm:
    """我已出发: a timeline row; a responder setting out also takes an unacknowledged alarm."""
    alarm = _locked(alarm)
    now = now or timezone.now()  # after the lock: the moment this change takes effect
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if alarm.state == S.RESOLVED:
        raise ValidationError("这条呼叫已处置完毕")
    if alarm.state in UNACKED_STATES:
        alarm = acknowledge(actor=actor, alarm=alarm, note="出发时确认接警", now=now)
    alarm.departed_at = alarm.departed_at or now
    _event(alarm, kind=AlarmEvent.Kind.DEPART, label="我已出发", actor=actor, note=note, at=now)
    _save(alarm, ["departed_at"])
    return alarm


@alarm_atomic
def on_site(*, actor: Any, alarm: Alarm | int, note: str = "", now: dt.datetime | None = None) -> Alarm:
    """已到达: somebody is with the elder; all escalation stops."""
    alarm = _locked(alarm)
    now = now or timezone.now()  # after the lock: the moment this change takes effect
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if alarm.state in (S.ON_SITE, S.RESOLVED):
        return alarm
    alarm.on_site_at = now
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at, alarm.acknowledged_by = now, actor if getattr(actor, "pk", None) else None
    alarm.next_step_at = None
    _transition(alarm, S.ON_SITE, actor=actor, note=note, now=now,
                fields=["on_site_at", "acknowledged_at", "acknowledged_by", "next_step_at"])
    return alarm


def _resolve(alarm: Alarm, *, resolution: str, actor: Any, actor_name: str = "", note: str = "",
             now: dt.datetime) -> None:
    if resolution not in Resolution.values:
        raise ValidationError({"resolution": "请选择处置结果"})
    alarm.resolution, alarm.resolved_at = resolution, now
    alarm.resolved_by = actor if getattr(actor, "pk", None) else None
    alarm.result_note = note
    alarm.next_step_at = None
    _transition(alarm, S.RESOLVED, actor=actor, actor_name=actor_name,
                note=_zh(Resolution(resolution).label) + (f":{note}" if note else ""), now=now,
                fields=["resolution", "resolved_at", "resolved_by", "result_note", "next_step_at"])


@alarm_atomic
def resolve(*, actor: Any, alarm: Alarm | int, resolution: str, note: str = "", version: int | None = None,
            now: dt.datetime | None = None) -> Alarm:
    """处置完毕 with its resolution (real emergency, false press, test, cancelled by the elder)."""
    alarm = _locked(alarm)
    now = now or timezone.now()  # after the lock: the moment this change takes effect
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if alarm.state == S.RESOLVED:
        raise ValidationError("这条呼叫已处置完毕")
    _check_version(alarm, version)
    if resolution == Resolution.REAL and not note.strip():
        raise ValidationError({"note": "真实求助请填写处置情况"})
    _resolve(alarm, resolution=resolution, actor=actor, note=note.strip(), now=now)
    return alarm


def cancel(*, device: Device, event_id: str, via: str, now: dt.datetime | None = None) -> PressResult:
    """The elder pressed cancel: resolves the open press alarm as 老人本人取消 and still tells
    the duty station (an INFO row), so somebody calls back."""
    return alarm_press(device=device, event_id=event_id, via=via, kind=Press.Kind.CANCEL, now=now)


@alarm_atomic
def add_note(*, actor: Any, alarm: Alarm | int, note: str) -> AlarmEvent:
    alarm = _locked(alarm)
    if not may_act(actor, alarm):
        raise NotAllowed("您不能处理这条呼叫")
    if not note.strip():
        raise ValidationError({"note": "请填写记录内容"})
    event = _event(alarm, kind=AlarmEvent.Kind.NOTE, label="记录", actor=actor, note=note.strip())
    _save(alarm, [])
    return event


# ---------------------------------------------------------------------------------------------
# Device health
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Beat:
    key: str
    at: dt.datetime
    battery: int | None = None
    tamper: bool | None = None


def _health_alarm_open(device: Device, kind: str, now: dt.datetime, note: str) -> Alarm | None:
    """One health alarm per transition: the partial unique index refuses a second open one."""
    if Alarm.objects.filter(device=device, kind=kind, state__in=OPEN_STATES).exists():
        return None
    try:
        with alarm_txn():
            return _open(device, kind=kind, now=now, pressed_at=None, actor_name=SYSTEM,
                         label=_zh(AlarmKind(kind).label), note=note)
    except IntegrityError:
        return None


def _health_alarm_close(device: Device, kind: str, now: dt.datetime, note: str) -> None:
    for alarm in Alarm.objects.select_for_update().filter(device=device, kind=kind, state__in=OPEN_STATES):
        _resolve(alarm, resolution=Resolution.RECOVERED, actor=None, actor_name=SYSTEM, note=note, now=now)


_BEAT_FIELDS = fastsql.columns(Device, {"id", "key", "heartbeat_seconds", "status", "low_battery", "tamper", "battery",
                                        "last_seen_at", "offline_at"})


def heartbeat_flush(beats: Sequence[Beat], *, now: dt.datetime | None = None) -> dict[str, int]:
    """Store a batch of heartbeats: one SELECT and one bulk UPDATE of last_seen/battery for the whole
    batch; only devices whose health changed (back online, battery low or recovered, tamper) get
    their own small transaction. Returns {key: device id} of the known devices."""
    now = now or timezone.now()
    latest: dict[str, Beat] = {}
    for b in beats:
        if b.key not in latest or b.at >= latest[b.key].at:
            latest[b.key] = b
    if not latest:
        return {}
    # Hand-written SQL (see fastsql): a storm brings a few hundred heartbeats a second, and
    # bulk_update's CASE expressions cost ~0.3 ms of CPU per device.
    keys = sorted(latest)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(_BEAT_FIELDS)} FROM {fastsql.table(Device)} "
                    f"WHERE {connection.ops.quote_name('key')} IN ({fastsql.marks(keys)}) ORDER BY id", keys)
        devices = fastsql.load(Device, _BEAT_FIELDS, cur.fetchall())
        changed: list[list[Any]] = []
        for d in devices:
            b = latest[d.key]
            if d.last_seen_at and b.at < d.last_seen_at:
                continue
            d.last_seen_at = b.at
            d.offline_at = b.at + MISSED_HEARTBEATS * dt.timedelta(seconds=d.heartbeat_seconds)
            if b.battery is not None:
                d.battery = b.battery
            changed.append([fastsql.when(d.last_seen_at), fastsql.when(d.offline_at), d.battery, d.pk])
        if changed:
            cur.executemany(f"UPDATE {fastsql.table(Device)} SET last_seen_at = %s, offline_at = %s, battery = %s "
                            "WHERE id = %s", changed)
    for d in devices:
        b = latest[d.key]
        back_online = d.status == DeviceStatus.OFFLINE
        low = d.low_battery
        if b.battery is not None:
            low = b.battery < LOW_BATTERY_BELOW or (d.low_battery and b.battery < BATTERY_OK_FROM)
        tamper = d.tamper if b.tamper is None else b.tamper
        if back_online or low != d.low_battery or tamper != d.tamper:
            device_health_change(device_id=d.pk, online=True if back_online else None, low_battery=low,
                                 tamper=tamper, now=now)
    return {d.key: d.pk for d in devices}


@alarm_atomic
def device_health_change(*, device_id: int, online: bool | None = None, low_battery: bool | None = None,
                         tamper: bool | None = None, now: dt.datetime | None = None) -> Device:
    """Apply a health transition to one device, opening or closing its health alarms: once per
    transition (going offline opens one offline alarm; coming back closes it)."""
    now = now or timezone.now()
    device = Device.objects.select_for_update(of=("self",)).select_related("resident", "dwelling__unit").get(
        pk=device_id)
    fields: list[str] = []
    if online is True and device.status == DeviceStatus.OFFLINE:
        device.status = DeviceStatus.ONLINE
        fields.append("status")
        _health_alarm_close(device, AlarmKind.OFFLINE, now, "设备重新上线")
    elif online is False and device.status == DeviceStatus.ONLINE:
        device.status = DeviceStatus.OFFLINE
        fields.append("status")
        _health_alarm_open(device, AlarmKind.OFFLINE, now,
                           f"连续{MISSED_HEARTBEATS}次未收到心跳(最近在线 {timezone.localtime(device.last_seen_at):%m-%d %H:%M})"
                           if device.last_seen_at else f"连续{MISSED_HEARTBEATS}次未收到心跳")
    if low_battery is not None and low_battery != device.low_battery:
        device.low_battery = low_battery
        fields.append("low_battery")
        if low_battery:
            _health_alarm_open(device, AlarmKind.LOW_BATTERY, now, f"电量 {device.battery}%")
        else:
            _health_alarm_close(device, AlarmKind.LOW_BATTERY, now, f"电量恢复到 {device.battery}%")
    if tamper is not None and tamper != device.tamper:
        device.tamper = tamper
        fields.append("tamper")
        if tamper:
            _health_alarm_open(device, AlarmKind.TAMPER, now, "设备报告被拆卸或移动")
        else:
            _health_alarm_close(device, AlarmKind.TAMPER, now, "设备已复位")
    if fields:
        device.save(update_fields=[*fields, "updated_at"])
    return device


def health_check(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Devices whose third heartbeat is overdue go offline (one offline alarm each). Returns how
    many went offline. Safe with several workers: each device changes under its row lock."""
    now = now or timezone.now()
    overdue = list(Device.objects.filter(status=DeviceStatus.ONLINE, active=True, offline_at__lt=now)
                   .order_by("offline_at").values_list("pk", flat=True)[:limit])
    count = 0
    for pk in overdue:
        with alarm_txn():
            d = Device.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked
                                                 ).filter(pk=pk, status=DeviceStatus.ONLINE, offline_at__lt=now).first()
            if d is None:
                continue
            device_health_change(device_id=pk, online=False, now=now)
            count += 1
    return count


def users_notified(alarm: Alarm) -> list[Any]:
    User = get_user_model()
    return list(User.objects.filter(pk__in=Notification.objects.filter(alarm=alarm).values("user_id")))


__all__ = [
    "Beat", "PressResult", "StepSpec", "TargetSpec", "acknowledge", "add_note", "alarm_press", "alarm_raise",
    "cancel", "chain_create", "chain_for", "chain_snapshot", "chain_update", "depart", "device_health_change",
    "device_register", "device_update", "health_check", "heartbeat_flush", "may_act", "on_site",
    "resolve", "stop_pending", "vendor_create",
]
