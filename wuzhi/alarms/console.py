"""Read-only helpers of the duty console and the responder page (the engine's services own every
write; this module only reads and decides what a user may see).

- `cards(user, alarms)` turns alarms into what a console card shows, with a fixed number of
  queries whatever the number of alarms (events, the elder's tags and "was I notified" are each
  one prefetch/query);
- who may read medical notes and tags (sensitive: health and disability) and who may reveal a
  contact's phone number (each reveal logged, DESIGN §6);
- the console feed: alarms changed after a cursor, read from the database (never process memory),
  so a page served by any server process sees a commit made by any other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from wuzhi.core import audit, crypto
from wuzhi.core.models import AccessLog, Grant
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, grants_of, roles_of
from wuzhi.registry.models import Tag

from . import flow, selectors
from .models import Alarm, AlarmEvent, AlarmKind, AlarmState, Device, DeviceStatus, Notification

S = AlarmState
# Roles that read an alarm's medical notes and the elder's care tags: those who take the call or
# go to the door. Anybody the alarm's chain notified may read them too (they are on their way).
MEDICAL_ROLES = frozenset({Role.DUTY, Role.SECRETARY, Role.GRID_WORKER, Role.DOCTOR, Role.POLICE})
# Roles that see the console entry in the navigation.
CONSOLE_ROLES = frozenset({Role.DUTY, Role.SECRETARY})
# Roles somebody may be sent out in (派人前往), nearest grant first.
RESPONDER_ROLES = (Role.GRID_WORKER, Role.BUILDING_HEAD, Role.POLICE, Role.DOCTOR, Role.VOLUNTEER,
                   Role.PARTY_MEMBER, Role.SECRETARY)
# Tags worth a responder's attention at the door.
CARE_TAGS = {"独居老人", "空巢老人", "留守老人", "残疾人", "特困人员", "重点关注", "高龄老人", "低保户", "慢性病"}
TIMELINE_LIMIT = 12


def _roles_over(user: Any, path: str) -> set[str]:
    return {role for role, p in grants_of(user) if path.startswith(p)}


def may_see_medical(user: Any, alarm: Alarm, notified: bool = False) -> bool:
    if getattr(user, "is_superuser", False) or notified:
        return True
    return bool(_roles_over(user, alarm.area_path) & MEDICAL_ROLES)


def may_reveal_contacts(user: Any, alarm: Alarm) -> bool:
    """The duty station must be able to ring the family; so may whoever may reveal phones there."""
    return Role.DUTY in _roles_over(user, alarm.area_path) or can(user, Action.REVEAL, alarm.area_path)


def shows_console(user: Any) -> bool:
    return getattr(user, "is_superuser", False) or bool(roles_of(user) & CONSOLE_ROLES)


# ---- cards -----------------------------------------------------------------------------------

@dataclass
class Contact:
    ref: str  # "self" or "<step>.<index>" into the chain snapshot: what the reveal endpoint takes
    name: str
    label: str
    masked: str


@dataclass
class Card:
    alarm: Alarm
    events: list[AlarmEvent]
    medical: bool
    tags: list[Tag] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    may_reveal: bool = False
    notified: bool = False
    actions: set[str] = field(default_factory=set)
    responders: list[tuple[int, str]] = field(default_factory=list)

    @property
    def urgent(self) -> bool:
        return self.alarm.state in (S.NEW, S.NOTIFYING)


def actions_for(alarm: Alarm) -> set[str]:
    """What the buttons may offer, from the flow table (the services refuse anything else)."""
    out: set[str] = set()
    if flow.can(alarm.state, S.ACKNOWLEDGED):
        out.add("ack")
    if flow.can(alarm.state, S.ON_SITE):
        out.add("onsite")
    if flow.can(alarm.state, S.RESOLVED):
        out |= {"resolve", "note"}
    if alarm.state != S.RESOLVED and alarm.kind == AlarmKind.PRESS:
        out.add("dispatch")
        if alarm.state != S.ON_SITE:
            out.add("depart")
    return out


def with_details(qs: QuerySet[Alarm]) -> QuerySet[Alarm]:
    return qs.select_related("device", "resident", "dwelling", "acknowledged_by").prefetch_related(
        Prefetch("events", queryset=AlarmEvent.objects.select_related("actor").order_by("at", "id")),
        Prefetch("resident__tags", queryset=Tag.objects.order_by("sort")),
    )


def contacts_of(alarm: Alarm) -> tuple[list[Contact], list[str]]:
    """The family and the elder (phones masked) and the staff in the chain (names), from the
    chain snapshot the alarm took when it opened."""
    people: list[Contact] = []
    staff: list[str] = []
    if alarm.resident is not None and alarm.resident.phone_masked:
        people.append(Contact("self", alarm.resident.name, "本人", alarm.resident.phone_masked))
    seen: set[str] = set()
    for i, step in enumerate(alarm.chain_snapshot.get("steps") or []):
        for j, t in enumerate(step.get("targets") or []):
            if t.get("kind") in ("family", "phone") and t.get("phone_enc"):
                if t["phone_enc"] not in seen:
                    seen.add(t["phone_enc"])
                    people.append(Contact(f"{i}.{j}", t.get("name", ""), t.get("label", ""),
                                          t.get("phone_masked", "")))
            elif t.get("kind") == "user":
                entry = f"{t.get('label', '')} {t.get('name', '')}".strip()
                if entry not in staff:
                    staff.append(entry)
    return people, staff


def cards(user: Any, alarms: list[Alarm]) -> list[Card]:
    ids = [a.pk for a in alarms]
    notified = set(Notification.objects.filter(user_id=user.pk, alarm_id__in=ids)
                   .values_list("alarm_id", flat=True).distinct()) if ids else set()
    dispatchable = [a for a in alarms if a.state != S.RESOLVED and a.kind == AlarmKind.PRESS]
    grants = _responder_grants({p for a in dispatchable for p in _ancestors(a.area_path)}) if dispatchable else []
    out = []
    for alarm in alarms:
        events = list(alarm.events.all())
        # Notified by the chain, or sent by the duty station (which notifies them too).
        is_notified = alarm.pk in notified
        medical = may_see_medical(user, alarm, is_notified)
        card = Card(alarm=alarm, events=events[-TIMELINE_LIMIT:], medical=medical, notified=is_notified,
                    may_reveal=may_reveal_contacts(user, alarm), actions=actions_for(alarm))
        if medical and alarm.resident is not None:
            card.tags = [t for t in alarm.resident.tags.all() if t.name in CARE_TAGS or t.visit_interval_days]
        card.contacts, card.staff = contacts_of(alarm)
        if "dispatch" in card.actions:
            card.responders = [(u.pk, label) for u, label in _pick(grants, alarm.area_path)]
        out.append(card)
    return out


def open_cards(user: Any) -> list[Card]:
    return cards(user, list(with_details(selectors.open_alarms(user))))


def changed_since(user: Any, cursor: int, limit: int = 100) -> tuple[list[Alarm], int]:
    """The console feed: alarms whose feed_seq is above `cursor`, oldest change first; the new
    cursor is the largest seen. Same query whatever the process that committed the change."""
    rows = list(with_details(selectors.visible_alarms(user).filter(feed_seq__gt=cursor)).order_by("feed_seq")[:limit])
    return rows, (rows[-1].feed_seq if rows else cursor)


# ---- reveal ----------------------------------------------------------------------------------

def reveal_contact(*, actor: Any, alarm: Alarm, ref: str, ip: str | None = None) -> str:
    """Decrypt one contact's phone number for a permitted user and log the read."""
    from wuzhi.core.errors import NotAllowed

    if not may_reveal_contacts(actor, alarm):
        raise NotAllowed("您不能查看联系人的完整电话")
    if ref == "self":
        if alarm.resident is None or not alarm.resident.phone_enc:
            raise LookupError(ref)
        name, token = alarm.resident.name, alarm.resident.phone_enc
    else:
        try:
            i, j = (int(x) for x in ref.split("."))
            target = alarm.chain_snapshot["steps"][i]["targets"][j]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LookupError(ref) from None
        if not target.get("phone_enc"):
            raise LookupError(ref)
        name, token = target.get("name", ""), target["phone_enc"]
    audit.log_access(actor=actor, kind=AccessLog.Kind.REVEAL, obj=alarm, field="phone", ip=ip,
                     detail=f"值班台处置呼叫#{alarm.pk}时查看{name}的完整电话")
    return crypto.decrypt(token)


# ---- responders and device health ------------------------------------------------------------

def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def _responder_grants(paths: set[str]) -> list[Grant]:
    return list(Grant.objects.active().filter(role__in=RESPONDER_ROLES, area__path__in=paths, user__is_active=True)
                .select_related("user", "area").order_by("-area__depth", "id"))


def _pick(grants: list[Grant], path: str) -> list[tuple[Any, str]]:
    out: list[tuple[Any, str]] = []
    seen: set[int] = set()
    for g in grants:
        if path.startswith(g.area.path) and g.user_id not in seen:
            seen.add(g.user_id)
            out.append((g.user, f"{Role(g.role).label} {g.user.get_full_name() or g.user.username}"))
    return out


def responders(alarm: Alarm) -> list[tuple[Any, str]]:
    """People who could be sent: holders of a responder role over the alarm's place, nearest first."""
    return _pick(_responder_grants(set(_ancestors(alarm.area_path))), alarm.area_path)


def health(user: Any) -> dict[str, Any]:
    devices = Device.objects.visible_to(user).filter(active=True)
    problems = Q(status=DeviceStatus.OFFLINE) | Q(low_battery=True) | Q(tamper=True)
    rows = list(devices.filter(problems).select_related("resident", "dwelling").order_by("area_path", "key")[:30])
    counts = {
        "total": devices.count(),
        "offline": devices.filter(status=DeviceStatus.OFFLINE).count(),
        "low_battery": devices.filter(low_battery=True).count(),
        "tamper": devices.filter(tamper=True).count(),
    }
    return {"counts": counts, "rows": rows}


def elapsed_label(since: dt.datetime, now: dt.datetime | None = None) -> str:
    seconds = max(0, int(((now or timezone.now()) - since).total_seconds()))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"

