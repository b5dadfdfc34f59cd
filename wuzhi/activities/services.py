"""Writes for teams, activities and attendance: the one mechanism behind every 场次 and 人次."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from wuzhi.core import audit
from wuzhi.core.errors import ConcurrentEdit
from wuzhi.core.models import Area
from wuzhi.core.roles import Action
from wuzhi.registry.services import require

from .models import (
    Activity,
    Attendance,
    CarePairing,
    Enrolment,
    Funding,
    Governance,
    Program,
    Team,
    TeamMember,
)

# Which governance a kind of activity reports under unless told otherwise.
DEFAULT_GOVERNANCE = {
    "team": Governance.POLITICAL, "class": Governance.SELF, "meal": Governance.SELF, "camp": Governance.SELF,
    "law": Governance.LAW, "patrol": Governance.LAW, "gratitude": Governance.MORAL, "training": Governance.MORAL,
    "art": Governance.MORAL, "festival": Governance.MORAL, "skill": Governance.SELF,
}


def _bump(obj: Any, version: int | None, what: str) -> None:
    """Optimistic lock: `version` is the one the page showed (None: the system, no check); the
    row lock makes check and bump one step. The caller saves `version` with its change."""
    locked = type(obj).objects.select_for_update().only("version").get(pk=obj.pk)
    if version is not None and locked.version != version:
        raise ConcurrentEdit(what)
    obj.version = locked.version + 1


@transaction.atomic
def team_create(*, actor: Any, area: Area, kind: str, name: str, governance: str = "", description: str = "") -> Team:
    require(actor, Action.CHANGE, area.path)
    team = Team(area=area, area_path=area.path, kind=kind, name=name.strip(), description=description,
                governance=governance or Governance.POLITICAL)
    team.full_clean()
    team.save()
    audit.log_change(actor, team, None)
    return team


@transaction.atomic
def member_add(*, actor: Any, team: Team, resident: Any = None, user: Any = None, name: str = "",
               organisation: str = "", role: str = "队员", joined_on: dt.date | None = None) -> TeamMember:
    require(actor, Action.CHANGE, team.area_path)
    if resident is not None:
        name = name or resident.name
        if team.members.filter(resident=resident, left_on__isnull=True).exists():
            raise ValidationError({"resident": f"{resident.name}已是{team.name}队员"})
    elif user is not None:
        name = name or user.get_full_name() or user.username
    if not name.strip():
        raise ValidationError({"name": "请填写队员姓名"})
    member = TeamMember(team=team, resident=resident, user=user, name=name.strip(), organisation=organisation,
                        role=role, joined_on=joined_on or timezone.localdate())
    member.full_clean()
    member.save()
    audit.log_change(actor, member, None)
    return member


@transaction.atomic
def member_leave(*, actor: Any, member: TeamMember, on: dt.date | None = None,
                 version: int | None = None) -> TeamMember:
    require(actor, Action.CHANGE, member.team.area_path)
    _bump(member, version, "该队员")
    before = audit.snapshot(member)
    member.left_on = on or timezone.localdate()
    member.save(update_fields=["left_on", "version"])
    audit.log_change(actor, member, before)
    return member


@transaction.atomic
def activity_record(*, actor: Any, area: Area, kind: str, title: str, starts_at: dt.datetime,
                    ends_at: dt.datetime | None = None, team: Team | None = None, governance: str = "",
                    venue: str = "", partner: str = "", headcount: int = 0, note: str = "",
                    program: Program | None = None) -> Activity:
    """An activity held (or planned) at `area`; attendance is marked separately. A session of a
    program (课堂, 餐厅, 夏令营) names its program; staff enrolled in it may record its sessions."""
    if program is None or not _serves(actor, program):
        require(actor, Action.VISIT, area.path)
    if team is not None and not area.path.startswith(team.area_path) and not team.area_path.startswith(area.path):
        raise ValidationError({"team": "服务队不属于该区域"})
    if program is not None and not area.path.startswith(program.area_path):
        raise ValidationError({"program": "活动区域不在该项目范围内"})
    if ends_at is not None and ends_at < starts_at:
        raise ValidationError({"ends_at": "结束时间不能早于开始时间"})
    activity = Activity(area=area, area_path=area.path, kind=kind, title=title.strip(), starts_at=starts_at,
                        ends_at=ends_at, team=team, governance=governance or DEFAULT_GOVERNANCE.get(kind, Governance.SELF),
                        venue=venue, partner=partner, headcount=headcount, note=note, program=program,
                        created_by=actor if getattr(actor, "pk", None) else None)
    activity.full_clean()
    activity.save()
    audit.log_change(actor, activity, None)
    return activity


@transaction.atomic
def attendance_mark(*, actor: Any, activity: Activity, residents: Iterable[Any] = (),
                    members: Iterable[TeamMember] = (), names: Iterable[str] = (),
                    enrolments: Iterable[Enrolment] = (),
                    role: str = Attendance.Role.PARTICIPANT, hours: Decimal | float = 0) -> list[Attendance]:
    """Mark people present. A person already marked in this activity is refused with their name
    (the roll call is idempotent per person, never counted twice). People on a program's list
    (`enrolments`) take their role from the list: a child, diner or camper takes part, a teacher
    or volunteer serves `hours`. A resident marked by search or scan at a program's session is
    linked to their enrolment, so the canteen's statement knows who pays."""
    require(actor, Action.VISIT, activity.area_path, activity)
    hrs = Decimal(str(hours))
    enrolments = list(enrolments)
    if any(e.program_id != activity.program_id for e in enrolments):
        raise ValidationError("名单人员不属于该活动的项目")
    residents = list(residents)
    open_enrolment: dict[int, Enrolment] = {}
    if activity.program_id and residents:
        day = timezone.localdate(activity.starts_at)
        for e in Enrolment.objects.filter(program_id=activity.program_id, resident__in=residents, from_on__lte=day):
            if e.enrolled_on(day):
                open_enrolment[e.resident_id] = e
    rows = []
    for r in residents:
        e = open_enrolment.get(r.pk)
        row_role = e.attendance_role if e is not None else role
        rows.append(Attendance(activity=activity, resident=r, enrolment=e, name=r.name, role=row_role,
                               hours=Decimal("0") if row_role == Attendance.Role.PARTICIPANT else hrs))
    rows += [Attendance(activity=activity, member=m, resident=m.resident, name=m.name, role=role, hours=hrs)
             for m in members]
    rows += [Attendance(activity=activity, enrolment=e, resident=e.resident, name=e.name, role=e.attendance_role,
                        hours=Decimal("0") if e.takes_part else hrs) for e in enrolments]
    rows += [Attendance(activity=activity, name=n.strip(), role=role, hours=hrs) for n in names if n.strip()]
    already = set(activity.attendance.filter(resident__in=[r.resident for r in rows if r.resident])
                  .values_list("name", flat=True))
    already |= set(activity.attendance.filter(member__in=[r.member for r in rows if r.member])
                   .values_list("name", flat=True))
    already |= set(activity.attendance.filter(enrolment__in=[r.enrolment for r in rows if r.enrolment])
                   .values_list("name", flat=True))
    if already:
        raise ValidationError(f"{'、'.join(sorted(already))}已签到,不能重复登记")
    try:
        with transaction.atomic():
            Attendance.objects.bulk_create(rows)
    except IntegrityError:
        raise ValidationError("同一人不能在一次活动中重复签到") from None
    return rows


@transaction.atomic
def attendance_unmark(*, actor: Any, attendance: Attendance) -> None:
    require(actor, Action.VISIT, attendance.activity.area_path, attendance.activity)
    attendance.delete()


@transaction.atomic
def headcount_set(*, actor: Any, activity: Activity, headcount: int, version: int | None = None) -> Activity:
    require(actor, Action.VISIT, activity.area_path, activity)
    if headcount < 0:
        raise ValidationError({"headcount": "人数不能为负数"})
    _bump(activity, version, "该活动的未记名人数")
    before = audit.snapshot(activity)
    activity.headcount = headcount
    activity.save(update_fields=["headcount", "version"])
    audit.log_change(actor, activity, before)
    return activity


@transaction.atomic
def attendance_copy(*, actor: Any, activity: Activity, source: Activity) -> list[Attendance]:
    """Mark in `activity` the people who attended `source` (the last session of a recurring
    activity), keeping each one's role and hours. People already marked here and members who
    had left the team by this session's day are skipped, so copying twice adds nobody."""
    require(actor, Action.VISIT, activity.area_path, activity)
    day = timezone.localdate(activity.starts_at)
    marked = list(activity.attendance.values_list("member_id", "resident_id", "enrolment_id", "name"))
    members_done = {m for m, _r, _e, _n in marked if m}
    residents_done = {r for _m, r, _e, _n in marked if r}
    enrolments_done = {e for _m, _r, e, _n in marked if e}
    names_done = {n for m, r, e, n in marked if not m and not r and not e}
    # attendance_mark takes one role and one number of hours per call: group the source's rows.
    groups: dict[tuple[str, Decimal], dict[str, list[Any]]] = {}
    for row in source.attendance.select_related("member", "resident", "enrolment").order_by("id"):
        group = groups.setdefault((row.role, row.hours), {"members": [], "residents": [], "names": [],
                                                          "enrolments": []})
        if row.enrolment is not None:
            # Someone on a program's list, still on it on this session's day.
            e = row.enrolment
            if (e.program_id != activity.program_id or not e.enrolled_on(day) or e.pk in enrolments_done
                    or row.resident_id in residents_done):
                continue
            group["enrolments"].append(e)
            enrolments_done.add(e.pk)
        elif row.member is not None:
            left = row.member.left_on is not None and row.member.left_on <= day
            if left or row.member_id in members_done or row.resident_id in residents_done:
                continue
            group["members"].append(row.member)
            members_done.add(row.member.pk)
        elif row.resident is not None:
            if row.resident_id in residents_done:
                continue
            group["residents"].append(row.resident)
        else:
            if row.name in names_done:
                continue
            group["names"].append(row.name)
            names_done.add(row.name)
        if row.resident_id:
            residents_done.add(row.resident_id)
    created: list[Attendance] = []
    for (role, hours), group in groups.items():
        if any(group.values()):
            created += attendance_mark(actor=actor, activity=activity, role=role, hours=hours, **group)
    return created


# Whom the 福家邻里守望 team looks after (the article: 空巢老人, 留守儿童, 残疾人).
CARE_TAGS = ("空巢老人", "独居老人", "留守儿童", "残疾人")


@transaction.atomic
def care_pair(*, actor: Any, member: TeamMember, resident: Any) -> CarePairing:
    require(actor, Action.CHANGE, member.team.area_path)
    if member.left_on is not None:
        raise ValidationError({"member": f"{member.name}已离队"})
    if CarePairing.objects.filter(member=member, resident=resident, ended_on__isnull=True).exists():
        raise ValidationError({"resident": f"{member.name}已与{resident.name}结对"})
    pairing = CarePairing(member=member, resident=resident, area_path=resident.area_path)
    pairing.full_clean()
    pairing.save()
    audit.log_change(actor, pairing, None)
    return pairing


@transaction.atomic
def care_end(*, actor: Any, pairing: CarePairing, version: int | None = None) -> CarePairing:
    require(actor, Action.CHANGE, pairing.member.team.area_path)
    _bump(pairing, version, "该守望结对")
    before = audit.snapshot(pairing)
    pairing.ended_on = timezone.localdate()
    pairing.save(update_fields=["ended_on", "version"])
    audit.log_change(actor, pairing, before)
    return pairing


# ---- programs: 四点半课堂, 幸福餐厅, 夏令营 ------------------------------------------------------


def _serves(actor: Any, program: Program) -> bool:
    """Is `actor` a teacher or volunteer login on the program's list (and so may hold its sessions)?"""
    if not getattr(actor, "pk", None):
        return False
    from .scope import program_ids

    return program.pk in program_ids(actor)


@transaction.atomic
def program_create(*, actor: Any, area: Area, kind: str, name: str, venue: str = "", schedule: str = "",
                   session_time: dt.time | None = None, session_minutes: int = 120, partner: str = "",
                   meal_price: Decimal | float = 0, starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                   description: str = "", governance: str = "") -> Program:
    require(actor, Action.CHANGE, area.path)
    program = Program(area=area, area_path=area.path, kind=kind, name=name.strip(), venue=venue, schedule=schedule,
                      session_time=session_time, session_minutes=session_minutes, partner=partner,
                      meal_price=Decimal(str(meal_price)), starts_on=starts_on or timezone.localdate(),
                      ends_on=ends_on, description=description, governance=governance or Governance.SELF)
    if ends_on is not None and ends_on < program.starts_on:
        raise ValidationError({"ends_on": "结束日期不能早于开始日期"})
    program.full_clean()
    program.save()
    audit.log_change(actor, program, None)
    return program


@transaction.atomic
def enrol(*, actor: Any, program: Program, role: str, resident: Any = None, user: Any = None, name: str = "",
          organisation: str = "", funding: str = "", from_on: dt.date | None = None, note: str = "") -> Enrolment:
    """Put someone on a program's list. A child, diner or camper is a resident of the community;
    a teacher or volunteer may also be a staff login or an outsider named with their organisation."""
    require(actor, Action.CHANGE, program.area_path)
    if role in Enrolment.TAKING_PART and resident is None:
        raise ValidationError({"resident": "学员、就餐者和营员须从居民中选择"})
    if resident is not None:
        name = name or resident.name
        if program.enrolments.filter(resident=resident, to_on__isnull=True).exists():
            raise ValidationError({"resident": f"{resident.name}已在“{program.name}”名单中"})
    elif user is not None:
        name = name or user.get_full_name() or user.username
        if program.enrolments.filter(user=user, to_on__isnull=True).exists():
            raise ValidationError({"user": f"{name}已在“{program.name}”名单中"})
    if not name.strip():
        raise ValidationError({"name": "请填写姓名"})
    if funding and role != Enrolment.Role.DINER:
        funding = ""
    if role == Enrolment.Role.DINER and not funding:
        funding = Funding.SELF
    enrolment = Enrolment(program=program, resident=resident, user=user, name=name.strip(), role=role,
                          organisation=organisation.strip(), funding=funding, from_on=from_on or timezone.localdate(),
                          note=note, area_path=program.area_path)
    enrolment.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            enrolment.save()
    except IntegrityError:
        raise ValidationError({"resident": f"{name}已在“{program.name}”名单中"}) from None
    audit.log_change(actor, enrolment, None)
    return enrolment


@transaction.atomic
def enrolment_end(*, actor: Any, enrolment: Enrolment, on: dt.date | None = None,
                  version: int | None = None) -> Enrolment:
    require(actor, Action.CHANGE, enrolment.area_path)
    _bump(enrolment, version, "该名单记录")
    before = audit.snapshot(enrolment)
    enrolment.to_on = max(on or timezone.localdate(), enrolment.from_on)
    enrolment.save(update_fields=["to_on", "version"])
    audit.log_change(actor, enrolment, before)
    return enrolment


@transaction.atomic
def session_open(*, actor: Any, program: Program, day: dt.date | None = None, starts_at: dt.datetime | None = None,
                 title: str = "", headcount: int = 0, note: str = "") -> Activity:
    """A session of the program (one class, one day's meal, one camp day) on `day` at the
    program's usual time: an Activity of the program's session kind."""
    if starts_at is None:
        day = day or timezone.localdate()
        starts_at = timezone.make_aware(dt.datetime.combine(day, program.session_time or dt.time(9, 0)))
    ends_at = starts_at + dt.timedelta(minutes=program.session_minutes) if program.session_minutes else None
    return activity_record(actor=actor, area=program.area, kind=program.session_kind, program=program,
                           title=title or program.name, starts_at=starts_at, ends_at=ends_at,
                           governance=program.governance, venue=program.venue, partner=program.partner,
                           headcount=headcount, note=note)
