"""Every write to cases. Keyword-only, atomic, validated, audited; views, the portal, the
management command and the demo call these and nothing else.

`actor` None is the system (demo, commands) or a resident on the portal (pass `actor_name`):
the portal verifies the resident by case number and phone before it calls a service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from wuzhi.core import audit
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import Area, Grant
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, can_on
from wuzhi.core.validators import normalize_phone

from . import flow, notify
from .models import (
    OPEN_STATES,
    SUPERVISION_RANK,
    Case,
    CaseEvent,
    CaseKind,
    CasePhoto,
    CaseState,
    Category,
    Channel,
    Dispute,
    DisputeParty,
    FollowUp,
    Fulfilment,
    MediationSession,
    Outcome,
    PoliceOffice,
    PoliceOfficer,
    Referral,
    Satisfaction,
    Supervision,
)

S = CaseState
RELATIONS = ["category", "area", "household", "resident", "assigned_team", "assigned_user", "merged_into", "patrol",
             "created_by"]


def _name(actor: Any, fallback: str = "系统") -> str:
    if actor is None:
        return fallback
    return (actor.get_full_name() or actor.username)[:32]


def _zh(label: Any) -> str:
    """A choice label written into a timeline note or result: those are records (and what the
    reporter is told), kept in the project's language whatever language the actor's pages use."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


def _require_change(actor: Any, case: Case) -> None:
    if actor is not None and not can_on(actor, Action.CHANGE, case):
        raise NotAllowed(gettext("您不能办理这件事项"))


def route(category: Category, area: Area) -> tuple[Any, Any]:
    """Category → (team, user). A category with a team goes to the team; one with only a role
    goes to the holder of that role closest above the case's place (a grid's grid worker
    before the community's)."""
    if category.team_id:
        return category.team, None
    if category.role:
        grant = (Grant.objects.active().filter(role=category.role, area__path__in=area.ancestor_paths())
                 .select_related("user").order_by("-area__depth", "id").first())
        if grant is not None:
            return None, grant.user
    return None, None


def _event(case: Case, *, source: str, target: str, label: str, actor: Any, at: dt.datetime, note: str = "",
           kind: str = CaseEvent.Kind.TRANSITION, actor_name: str = "") -> CaseEvent:
    return CaseEvent.objects.create(case=case, kind=kind, from_state=source, to_state=target, label=label,
                                    actor=actor if getattr(actor, "pk", None) else None,
                                    actor_name=actor_name or _name(actor), at=at, note=note)


@transaction.atomic
def case_open(*, actor: Any, category: Category, channel: str, area: Area, description: str, title: str = "",
              reporter_name: str = "", reporter_phone: str = "", household: Any = None, resident: Any = None,
              place: str = "", external_number: str = "", photo: Any = None, patrol: Any = None,
              documents: Iterable[str] = (), at: dt.datetime | None = None, actor_name: str = "",
              auto_assign: bool = True) -> Case:
    """Receive a case (受理) and route it by its category (分派), each a timeline row."""
    if actor is not None and not (can(actor, Action.VISIT, area.path) or can(actor, Action.CHANGE, area.path)):
        raise NotAllowed(gettext("您不能在该区域登记事项"))
    at = at or timezone.now()
    if not category.active:
        raise ValidationError({"category": gettext("该分类已停用,请选择其他分类")})
    if not description.strip():
        raise ValidationError({"description": gettext("请描述具体情况")})
    if channel == "hotline" and not external_number.strip():
        raise ValidationError({"external_number": gettext("12345转办的事项请填写工单号")})
    phone = normalize_phone(reporter_phone) if reporter_phone.strip() else ""
    case = Case(kind=category.kind, category=category, channel=channel, area=area, area_path=area.path,
                place=place.strip(), household=household, resident=resident,
                reporter_name=reporter_name.strip() or (resident.name if resident is not None else ""),
                title=(title.strip() or description.strip().splitlines()[0])[:64], description=description.strip(),
                external_number=external_number.strip(), documents=list(documents), patrol=patrol,
                opened_at=at, due_at=at + category.deadline, state=S.ACCEPTED,
                created_by=actor if getattr(actor, "pk", None) else None,
                number=uuid.uuid4().hex[:20])  # placeholder until the pk exists
    case.set_reporter_phone(phone)
    case.full_clean(exclude=["number"])
    case.save()
    if photo:
        CasePhoto.objects.create(case=case, file=photo, at=at)
    # 事项编号: year and a running number; the pk is the running number, so it never collides.
    case.number = f"{at.year}{case.pk:06d}"
    case.save(update_fields=["number"])
    _event(case, source="", target=S.ACCEPTED, label="受理", actor=actor, at=at, actor_name=actor_name,
           note=f"来源:{_zh(Channel(case.channel).label)}" + (f"({case.external_number})" if external_number else ""))
    audit.log_change(actor, case, None)
    notify.tell(case, "accepted", at)
    if auto_assign:
        team, user = route(category, area)
        if team is not None or user is not None:
            _apply(case, flow.TRANSITIONS[(S.ACCEPTED, S.ASSIGNED)], actor=None, at=at, team=team, user=user,
                   note="按事项分类自动分派", actor_name="系统")
    return case


def state_before_suspension(case: Case) -> str:
    last = case.events.filter(to_state=S.SUSPENDED, kind=CaseEvent.Kind.TRANSITION).order_by("-at", "-id").first()
    return last.from_state if last is not None else S.ACCEPTED


def _apply(case: Case, st: flow.Step, *, actor: Any, at: dt.datetime, note: str = "", team: Any = None,
           user: Any = None, into: Case | None = None, satisfaction: str = "", actor_name: str = "") -> Case:
    """Change the state, write the timeline row and the audit diff. The caller has checked
    the table, the permission and the version."""
    before = audit.snapshot(case)
    source, target = case.state, st.target
    label = st.label
    if target == S.ASSIGNED and source != S.SUSPENDED:  # resuming keeps the assignment
        if team is None and user is None:
            raise ValidationError({"team": gettext("请选择承办队伍或承办人")})
        case.assigned_team, case.assigned_user = team, user
        who = "、".join(str(x) for x in (team, user and _name(user)) if x)
        note = f"承办:{who}" + (f";{note}" if note else "")
    elif target == S.ACCEPTED and source != S.SUSPENDED:
        case.assigned_team, case.assigned_user = None, None  # returned: back to the dispatcher
    elif target == S.RESOLVED:
        case.result, case.resolved_at = note, at
    elif target == S.REVIEWED:
        case.satisfaction = satisfaction
        note = _zh(Satisfaction(satisfaction).label) + (f":{note}" if note else "")
    elif source == S.RESOLVED and target == S.IN_PROGRESS:
        # 不满意 reopens: a fresh deadline, the old result stays in the timeline.
        case.satisfaction, case.resolved_at = Satisfaction.UNSATISFIED, None
        case.due_at = at + case.category.deadline
    elif target == S.MERGED:
        assert into is not None
        case.merged_into = into
        note = f"并入{into.number}" + (f":{note}" if note else "")
    case.state = target
    case.version += 1
    # The relations were checked when they were set; validating them again costs one query each
    # per transition (the demo makes thousands).
    case.full_clean(exclude=RELATIONS, validate_unique=False, validate_constraints=False)
    case.save()
    _event(case, source=source, target=target, label=label, actor=actor, at=at, note=note, actor_name=actor_name)
    audit.log_change(actor, case, before, note=label)
    if target == S.RESOLVED:
        notify.tell(case, "resolved", at)
        _answer_merged(case, at)
    elif source == S.RESOLVED and target == S.IN_PROGRESS:
        notify.tell(case, "reopened", at)
    return case


def _answer_merged(main: Case, at: dt.datetime) -> None:
    """The reporters of merged duplicates are answered with the main case's result."""
    for dup in main.merged_cases.all():
        dup.result, dup.resolved_at = main.result, at
        dup.version += 1
        dup.save(update_fields=["result", "resolved_at", "version"])
        _event(dup, source=S.MERGED, target=S.MERGED, label="随主件办结", actor=None, at=at, kind=CaseEvent.Kind.NOTE,
               note=f"主件{main.number}已办结:{main.result}")
        notify.tell(dup, "merged_resolved", at)


@transaction.atomic
def case_transition(*, actor: Any, case: Case, to: str, note: str = "", version: int | None = None,
                    team: Any = None, user: Any = None, into: Case | None = None, satisfaction: str = "",
                    at: dt.datetime | None = None, actor_name: str = "") -> Case:
    """Move `case` to state `to` if the flow table allows it; `version` (the one the user saw)
    refuses a change made on a stale page."""
    fresh = Case.objects.select_for_update().select_related("category").get(pk=case.pk)
    if version is not None and fresh.version != version:
        raise ConcurrentEdit("该事项")
    if to not in CaseState.values:
        raise ValidationError(gettext("未知的状态"))
    st = flow.step(fresh.state, to)
    if st is None:
        raise ValidationError(gettext("“%(state)s”的事项不能转为“%(to)s”") % {
            "state": CaseState(fresh.state).label, "to": CaseState(to).label})
    _require_change(actor, fresh)
    note = note.strip()
    if st.note_required and not note:
        raise ValidationError({"note": gettext("请填写%(what)s") % {"what": st.note_label}})
    if fresh.state == S.SUSPENDED and to != state_before_suspension(fresh):
        raise ValidationError(gettext("挂起前为“%(state)s”,只能恢复到该状态") % {
            "state": CaseState(state_before_suspension(fresh)).label})
    if to == S.ASSIGNED and fresh.state == S.ASSIGNED and (team, user) == (fresh.assigned_team, fresh.assigned_user):
        raise ValidationError({"team": gettext("改派请选择不同的承办队伍或承办人")})
    if to == S.REVIEWED and satisfaction not in (Satisfaction.SATISFIED, Satisfaction.BASIC):
        raise ValidationError({"satisfaction": gettext("回访满意度为“满意”或“基本满意”;不满意请重新办理")})
    if to == S.MERGED:
        if into is None or into.pk == fresh.pk:
            raise ValidationError({"into": gettext("请选择要并入的主件")})
        if into.state == S.MERGED or into.kind != fresh.kind and fresh.kind == CaseKind.DISPUTE:
            raise ValidationError({"into": gettext("不能并入该事项")})
    _apply(fresh, st, actor=actor, at=at or timezone.now(), note=note, team=team, user=user, into=into,
           satisfaction=satisfaction, actor_name=actor_name)
    if case is not fresh:
        # The caller's instance shows the new state too (without reading the row again).
        case.__dict__.update({f.attname: getattr(fresh, f.attname) for f in Case._meta.concrete_fields})
        case._state.fields_cache = dict(fresh._state.fields_cache)
    return fresh


def case_resume(*, actor: Any, case: Case, note: str = "", version: int | None = None,
                at: dt.datetime | None = None) -> Case:
    return case_transition(actor=actor, case=case, to=state_before_suspension(case), note=note, version=version,
                           at=at)


def case_review(*, actor: Any, case: Case, satisfaction: str, note: str = "", version: int | None = None,
                at: dt.datetime | None = None, actor_name: str = "") -> Case:
    """回访: 满意/基本满意 closes the loop; 不满意 reopens the case (处理中) with the reason."""
    if satisfaction == Satisfaction.UNSATISFIED:
        return case_transition(actor=actor, case=case, to=S.IN_PROGRESS, note=note or "居民不满意", version=version,
                               at=at, actor_name=actor_name)
    return case_transition(actor=actor, case=case, to=S.REVIEWED, note=note, satisfaction=satisfaction,
                           version=version, at=at, actor_name=actor_name)


@transaction.atomic
def case_merge(*, actor: Any, main: Case, duplicates: Iterable[Case], note: str = "重复反映",
               at: dt.datetime | None = None) -> list[Case]:
    """Merge duplicates into `main`: they leave the queue and are answered when `main` is done
    (at once, when it is done already)."""
    if main.state == S.MERGED:
        raise ValidationError(gettext("主件本身已并案,请选择其主件"))
    merged = [case_transition(actor=actor, case=d, to=S.MERGED, into=main, note=note, at=at) for d in duplicates]
    main.refresh_from_db()
    if main.state in (S.RESOLVED, S.REVIEWED, S.ARCHIVED):
        _answer_merged(main, at or timezone.now())
    return merged


@transaction.atomic
def escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """督办: overdue open cases go 普通 → 黄牌, and → 红牌 once overdue by the category's
    deadline again. Each raise is a timeline row; running twice changes nothing more."""
    now = now or timezone.now()
    raised = 0
    for case in (Case.objects.select_for_update().filter(state__in=OPEN_STATES, due_at__lt=now)
                 .exclude(supervision=Supervision.RED).select_related("category")):
        level = Supervision.RED if now - case.due_at > case.category.deadline else Supervision.YELLOW
        if SUPERVISION_RANK[level] <= SUPERVISION_RANK[Supervision(case.supervision)]:
            continue
        case.supervision = level
        case.save(update_fields=["supervision"])
        _event(case, source=case.state, target=case.state, label=_zh(level.label), actor=None, at=now,
               kind=CaseEvent.Kind.SUPERVISE, note=f"已超过办理期限 {case.due_at:%Y-%m-%d %H:%M}")
        raised += 1
    return raised


# ---- disputes ------------------------------------------------------------------------------

def _case_seen(case: Case, version: int | None, *, bump: bool = True) -> None:
    """Optimistic lock for the dispute's forms: they sit on the case page and carry the case's
    version, so any change to the case since the page was read refuses them."""
    locked = Case.objects.select_for_update().only("version").get(pk=case.pk)
    if version is not None and locked.version != version:
        raise ConcurrentEdit("该事项")
    case.version = locked.version
    if bump:
        case.version += 1
        Case.objects.filter(pk=case.pk).update(version=case.version)


@transaction.atomic
def dispute_intake(*, actor: Any, case: Case, dispute_type: str, situation: str, cause: str = "",
                   risk: str = "low", parties: Iterable[dict[str, Any]] = (), version: int | None = None) -> Dispute:
    """The intake of 张黎's method: situation, parties with their needs and interests, cause."""
    if case.kind != CaseKind.DISPUTE:
        raise ValidationError(gettext("只有矛盾纠纷类事项需要登记纠纷详情"))
    _require_change(actor, case)
    _case_seen(case, version)
    dispute = Dispute(case=case, dispute_type=dispute_type, situation=situation.strip(), cause=cause.strip(),
                      risk=risk)
    dispute.full_clean(exclude=["case"])
    dispute.save()
    rows = [DisputeParty(dispute=dispute, **p) for p in parties if p.get("name", "").strip()]
    if len(rows) < 2:
        raise ValidationError(gettext("请至少登记两方当事人"))
    for row in rows:
        row.full_clean(exclude=["dispute"])
    DisputeParty.objects.bulk_create(rows)
    audit.log_change(actor, dispute, None)
    return dispute


@transaction.atomic
def dispute_open(*, actor: Any, category: Category, channel: str, area: Area, dispute_type: str, situation: str,
                 parties: Iterable[dict[str, Any]], cause: str = "", risk: str = "low", title: str = "",
                 reporter_name: str = "", reporter_phone: str = "", at: dt.datetime | None = None,
                 resident: Any = None, household: Any = None) -> Dispute:
    case = case_open(actor=actor, category=category, channel=channel, area=area, description=situation,
                     title=title, reporter_name=reporter_name, reporter_phone=reporter_phone, at=at,
                     resident=resident, household=household)
    return dispute_intake(actor=actor, case=case, dispute_type=dispute_type, situation=situation, cause=cause,
                          risk=risk, parties=parties)


@transaction.atomic
def mediation_record(*, actor: Any, dispute: Dispute, notes: str, held_at: dt.datetime | None = None,
                     mediator: Any = None, mediator_name: str = "", committee: str = "",
                     place: str = "人民调解室") -> MediationSession:
    case = dispute.case
    _require_change(actor, case)
    if case.state not in (S.ASSIGNED, S.IN_PROGRESS):
        raise ValidationError(gettext("该纠纷当前不在调解阶段"))
    held_at = held_at or timezone.now()
    if case.state == S.ASSIGNED:  # the first session is the start of the work
        case_transition(actor=actor, case=case, to=S.IN_PROGRESS, at=held_at)
    mediator = mediator or actor
    session = MediationSession(dispute=dispute, held_at=held_at, place=place, mediator=mediator,
                               mediator_name=mediator_name or _name(mediator, "调解员"), committee=committee,
                               notes=notes.strip())
    session.full_clean()
    session.save()
    _event(case, source=case.state, target=case.state, label="调解", actor=actor, at=held_at,
           kind=CaseEvent.Kind.NOTE, note=f"{session.mediator_name}主持调解:{session.notes}")
    audit.log_change(actor, session, None)
    return session


@transaction.atomic
def dispute_conclude(*, actor: Any, dispute: Dispute, outcome: str, terms: str = "", performance: str = "",
                     referral: str = "", at: dt.datetime | None = None, version: int | None = None) -> Dispute:
    """调解成功 with the agreed terms (the 协议书 is generated from them), or 调解不成 with the
    referral given. Either way the case is 办结 with that result."""
    case = dispute.case
    if outcome == Outcome.SUCCESS and not terms.strip():
        raise ValidationError({"terms": gettext("调解成功请填写协议内容")})
    if outcome == Outcome.FAILED and not referral:
        raise ValidationError({"referral": gettext("调解不成请选择引导途径(诉讼、仲裁或信访)")})
    if outcome not in (Outcome.SUCCESS, Outcome.FAILED):
        raise ValidationError({"outcome": gettext("请选择调解结果")})
    if not dispute.sessions.exists():
        raise ValidationError(gettext("请先登记调解记录"))
    _case_seen(case, version, bump=False)  # the transition below bumps it
    at = at or timezone.now()
    before = audit.snapshot(dispute)
    dispute.outcome, dispute.concluded_at = outcome, at
    dispute.terms, dispute.performance, dispute.referral = terms.strip(), performance.strip(), referral
    dispute.full_clean(exclude=["case"])
    dispute.save()
    audit.log_change(actor, dispute, before)
    result = ("调解成功,签订人民调解协议书" if outcome == Outcome.SUCCESS
              else f"调解不成,已{_zh(Referral(referral).label)}")
    case_transition(actor=actor, case=case, to=S.RESOLVED, note=result, at=at)
    return dispute


@transaction.atomic
def followup_record(*, actor: Any, dispute: Dispute, status: str, note: str = "",
                    at: dt.datetime | None = None, version: int | None = None) -> FollowUp:
    _require_change(actor, dispute.case)
    if dispute.outcome != Outcome.SUCCESS:
        raise ValidationError(gettext("只有调解成功的纠纷需要回访履行情况"))
    _case_seen(dispute.case, version)
    row = FollowUp(dispute=dispute, status=status, note=note.strip(), at=at or timezone.now(),
                   actor=actor if getattr(actor, "pk", None) else None)
    row.full_clean()
    row.save()
    dispute.fulfilment = status
    dispute.save(update_fields=["fulfilment"])
    _event(dispute.case, source=dispute.case.state, target=dispute.case.state, label="履行回访", actor=actor,
           at=row.at, kind=CaseEvent.Kind.NOTE, note=_zh(Fulfilment(row.status).label) + (f":{row.note}" if note else ""))
    return row


# ---- police office -------------------------------------------------------------------------

@transaction.atomic
def police_office_create(*, actor: Any, area: Area, name: str, phone: str = "", patrol_team: Any = None
                         ) -> PoliceOffice:
    if actor is not None and not can(actor, Action.CHANGE, area.path):
        raise NotAllowed(gettext("您不能在该区域设立警务室"))
    office = PoliceOffice(area=area, area_path=area.path, name=name.strip(), phone=phone, patrol_team=patrol_team)
    office.full_clean()
    office.save()
    audit.log_change(actor, office, None)
    return office


@transaction.atomic
def officer_add(*, actor: Any, office: PoliceOffice, name: str, user: Any = None, title: str = "社区民警"
                ) -> PoliceOfficer:
    if actor is not None and not can(actor, Action.CHANGE, office.area_path):
        raise NotAllowed(gettext("您不能维护该警务室"))
    officer = PoliceOfficer(office=office, name=name.strip(), user=user, title=title, area_path=office.area_path)
    officer.full_clean()
    officer.save()
    audit.log_change(actor, officer, None)
    return officer


# ---- patrols -------------------------------------------------------------------------------

@transaction.atomic
def patrol_record(*, actor: Any, team: Any, area: Area, starts_at: dt.datetime, ends_at: dt.datetime,
                  route: str, members: Iterable[Any], findings: str = "") -> Any:
    """A night's patrol is an activity of kind "patrol" of the 巡防队; attendance is the members
    who walked it, the findings are its note (a finding becomes a case with one tap)."""
    from wuzhi.activities import services as activities

    activity = activities.activity_record(actor=actor, area=area, kind="patrol", team=team, governance="law",
                                          title=f"夜间巡逻:{route}"[:128], venue=route[:64], starts_at=starts_at,
                                          ends_at=ends_at, note=findings.strip() or "未发现异常")
    activities.attendance_mark(actor=actor, activity=activity, members=list(members), role="volunteer", hours=2)
    return activity


# ---- categories (data the secretary edits) -------------------------------------------------

def may_edit_categories(user: Any) -> bool:
    from wuzhi.core.roles import Role
    from wuzhi.core.scoping import roles_of

    return bool(user.is_superuser or Role.SECRETARY in roles_of(user))


CATEGORY_FIELDS = ("kind", "name", "team", "role", "deadline_hours", "checklist", "sort", "active")


@transaction.atomic
def category_save(*, actor: Any, category: Category | None = None, version: int | None = None,
                  **fields: Any) -> Category:
    """Create or change a category: routing and deadline apply to cases opened from now on.
    `version` (the one the editor read) refuses a change made on a stale page."""
    if actor is not None and not may_edit_categories(actor):
        raise NotAllowed(gettext("只有社区书记可以维护事项分类"))
    if category is not None:
        locked = Category.objects.select_for_update().only("version").get(pk=category.pk)
        if version is not None and locked.version != version:
            raise ConcurrentEdit(gettext("事项分类“%(name)s”") % {"name": category.name})
        category.version = locked.version + 1
    before = audit.snapshot(category) if category is not None else None
    category = category or Category()
    for name in CATEGORY_FIELDS:
        if name in fields:
            setattr(category, name, fields[name])
    category.full_clean()
    category.save()
    audit.log_change(actor, category, before)
    return category
