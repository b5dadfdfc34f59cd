"""Every write to deliberation. Keyword-only, atomic, validated, audited; views, the portal and
the demo call these and nothing else.

`actor` None is the system (demo) or a resident on the portal (`actor_name` says "居民"): the
portal identifies the resident by topic number and phone before it calls a service, as the case
portal does. Staff writes need CHANGE on the topic's (or body's) area; proposing needs VISIT or
CHANGE there (party members and 楼长 propose too)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wuzhi.core import audit, crypto
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can
from wuzhi.core.validators import normalize_phone

from . import flow
from .models import (
    DECIDING_BODIES,
    LEVEL_AREA_KIND,
    AttendanceStatus,
    Ballot,
    Body,
    BodyMember,
    Choice,
    Disclosure,
    DisclosureKind,
    Level,
    Meeting,
    MeetingAttendance,
    Objection,
    PassBase,
    Source,
    Topic,
    TopicEvent,
    TopicState,
    Vote,
    VoteOrigin,
    scrub,
)

S = TopicState
RESIDENT = "居民"
TOPIC_RELATIONS = ["area", "proposer_user", "merged_into", "created_by"]


def _name(actor: Any, fallback: str | None = None) -> str:
    if actor is None:
        return _("系统") if fallback is None else fallback
    return (actor.get_full_name() or actor.username)[:32]


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _require(actor: Any, path: str, message: str = "") -> None:
    if actor is not None and not can(actor, Action.CHANGE, path):
        raise NotAllowed(message or _("您不能办理该区域的议事事项"))


def _community_path(area: Area) -> str:
    paths = area.ancestor_paths()
    # county/town/community: the community is the third level of the tree.
    return paths[2] if len(paths) >= 3 else area.path


def _event(topic: Topic, *, label: str, actor: Any, at: dt.datetime, note: str = "", source: str = "",
           target: str = "", kind: str = TopicEvent.Kind.TRANSITION, actor_name: str = "") -> TopicEvent:
    return TopicEvent.objects.create(topic=topic, kind=kind, from_state=source, to_state=target or topic.state,
                                     label=label, actor=_user(actor), actor_name=actor_name or _name(actor), at=at,
                                     note=note)


def _fresh(topic: Topic, version: int | None) -> Topic:
    fresh = Topic.objects.select_for_update().select_related("area").get(pk=topic.pk)
    if version is not None and fresh.version != version:
        raise ConcurrentEdit(_("该议题"))
    return fresh


def _sync(caller: Topic, fresh: Topic) -> None:
    """The caller's instance shows the new state too (without reading the row again)."""
    if caller is not fresh:
        caller.__dict__.update({f.attname: getattr(fresh, f.attname) for f in Topic._meta.concrete_fields})


# ---- bodies --------------------------------------------------------------------------------

BODY_FIELDS = ["name", "kind", "quorum_num", "quorum_den", "proxy_counts", "pass_num", "pass_den", "pass_base",
               "pass_strict", "description", "active"]


@transaction.atomic
def body_save(*, actor: Any, body: Body | None = None, area: Area | None = None, version: int | None = None,
              **fields: Any) -> Body:
    """Create or change a body and its rules."""
    caller = body
    if body is None:
        if area is None:
            raise ValidationError({"area": _("请选择议事组织的范围")})
        body = Body(area=area, area_path=area.path)
        before = None
    else:
        body = Body.objects.select_for_update().get(pk=body.pk)
        if version is not None and body.version != version:
            raise ConcurrentEdit(_("该议事组织"))
        before = audit.snapshot(body)
        body.version += 1
    _require(actor, body.area_path, _("您不能维护该区域的议事组织"))
    for key, value in fields.items():
        if key not in BODY_FIELDS:
            raise TypeError(key)
        setattr(body, key, value)
    if body.quorum_den == 0 or body.pass_den == 0 or body.quorum_num > body.quorum_den \
            or body.pass_num > body.pass_den:
        raise ValidationError(_("比例的分母不能为0,分子不能大于分母"))
    body.full_clean(exclude=["area"])
    body.save()
    audit.log_change(actor, body, before)
    if caller is not None and caller is not body:
        # The caller's instance carries the new rules too (meetings read them from it).
        caller.__dict__.update({f.attname: getattr(body, f.attname) for f in Body._meta.concrete_fields})
    return body


@transaction.atomic
def members_add(*, actor: Any, body: Body, people: Iterable[Mapping[str, Any]],
                on: dt.date | None = None) -> list[BodyMember]:
    """Seat people in a body: each {"name", "role", "resident" or "user"}."""
    _require(actor, body.area_path, _("您不能维护该区域的议事组织"))
    rows = []
    for p in people:
        name = (p.get("name") or getattr(p.get("resident"), "name", "") or _name(p.get("user"), "")).strip()
        if not name:
            raise ValidationError({"name": _("请填写姓名")})
        rows.append(BodyMember(body=body, resident=p.get("resident"), user=p.get("user"), name=name[:32],
                               role=p.get("role", "")[:16], joined_on=on or timezone.localdate()))
    made = BodyMember.objects.bulk_create(rows)
    audit.log_change(actor, body, None, note=_("增加组成人员%(v)s名") % {"v": len(made)})
    return made


@transaction.atomic
def member_leave(*, actor: Any, member: BodyMember, on: dt.date | None = None) -> BodyMember:
    _require(actor, member.body.area_path, _("您不能维护该区域的议事组织"))
    member.left_on = on or timezone.localdate()
    member.save(update_fields=["left_on"])
    return member


def active_members(body: Body, on: dt.date | None = None) -> list[BodyMember]:
    on = on or timezone.localdate()
    return [m for m in body.members.filter(joined_on__lte=on).order_by("id") if m.left_on is None or m.left_on > on]


# ---- topics --------------------------------------------------------------------------------

def _check_level(level: str, area: Area) -> None:
    if level not in Level.values:
        raise ValidationError({"level": _("请选择议事层级")})
    if area.kind != LEVEL_AREA_KIND[level]:
        raise ValidationError({"area": _("%(v)s级议题的范围应是一个%(v2)s") % {
            "v": Level(level).label, "v2": AreaKind(LEVEL_AREA_KIND[level]).label}})


def level_area(level: str, unit_or_area: Area) -> Area:
    """The building, grid or community above a place (a unit on the portal) for a level."""
    want = LEVEL_AREA_KIND[level]
    node: Area | None = unit_or_area
    while node is not None and node.kind != want:
        node = node.parent
    if node is None:
        raise ValidationError({"level": _("该位置没有对应层级的区域")})
    return node


@transaction.atomic
def topic_propose(*, actor: Any, title: str, description: str, level: str, area: Area, source: str,
                  major: bool = False, proposer_name: str = "", proposer_phone: str = "",
                  households_affected: Iterable[Any] = (), households_benefited: Iterable[Any] = (),
                  cases: Iterable[Any] = (), at: dt.datetime | None = None, actor_name: str = "") -> Topic:
    """提议: a resident (portal), grid worker, party member or the party organisation raises a topic."""
    if actor is not None and not (can(actor, Action.VISIT, area.path) or can(actor, Action.CHANGE, area.path)):
        raise NotAllowed(_("您不能在该区域提出议题"))
    at = at or timezone.now()
    _check_level(level, area)
    if source not in Source.values:
        raise ValidationError({"source": _("请选择议题来源")})
    if not title.strip():
        raise ValidationError({"title": _("请填写议题")})
    if len(description.strip()) < 5:
        raise ValidationError({"description": _("请把议题的情况和想法写清楚(至少5个字)")})
    if major and level != Level.COMMUNITY:
        raise ValidationError({"major": _("重大事项应在社区层面按“四议两公开”议定")})
    phone = normalize_phone(proposer_phone) if proposer_phone.strip() else ""
    if source == Source.RESIDENT and actor is None and not phone:
        raise ValidationError({"proposer_phone": _("请填写手机号码,用于查询议题进展")})
    topic = Topic(title=title.strip()[:64], description=description.strip(), level=level, area=area,
                  area_path=area.path, community_path=_community_path(area), major=major, source=source,
                  proposer_user=_user(actor), proposer_name=(proposer_name.strip() or _name(actor, RESIDENT))[:32],
                  proposed_at=at, created_by=_user(actor), number=uuid.uuid4().hex[:20], state=S.PROPOSED)
    topic.set_proposer_phone(phone)
    topic.full_clean(exclude=["number"])
    topic.save()
    topic.number = f"YS{at.year}{topic.pk:05d}"  # 议事 + year + running number (the pk never collides)
    topic.save(update_fields=["number"])
    if households_affected:
        topic.households_affected.set(households_affected)
    if households_benefited:
        topic.households_benefited.set(households_benefited)
    if cases:
        topic.cases.set(cases)
    note = Source(source).label + (_("(重大事项,按“四议两公开”办理)") if major else "")
    _event(topic, label=_("提议"), actor=actor, at=at, target=S.PROPOSED, note=note, actor_name=actor_name)
    audit.log_change(actor, topic, None)
    return topic


@transaction.atomic
def topic_from_cases(*, actor: Any, cases: Iterable[Any], title: str, description: str, level: str, area: Area,
                     at: dt.datetime | None = None) -> Topic:
    """Repeated reports of one problem (five 停车难 cases) become one topic; the cases stay as
    they are in the case flow and are linked, so the topic's record shows who was heard."""
    cases = list(cases)
    if len(cases) < 2:
        raise ValidationError({"cases": _("请至少选择两件同类诉求再汇总为议题")})
    outside = [c.number for c in cases if not c.area_path.startswith(area.path)]
    if outside:
        raise ValidationError({"cases": _("诉求%(v)s不在议题范围内") % {"v": '、'.join(outside)}})
    households = {c.household_id for c in cases if c.household_id}
    topic = topic_propose(actor=actor, title=title, description=description, level=level, area=area,
                          source=Source.CASES, cases=cases, at=at)
    if households:
        topic.households_affected.add(*households)
    _event(topic, label=_("汇总群众反映"), actor=actor, at=topic.proposed_at, kind=TopicEvent.Kind.NOTE,
           note=_("由%(v)s件诉求汇总:") % {"v": len(cases)} + "、".join(c.number for c in cases))
    return topic


def major_progress(topic: Topic) -> list[tuple[flow.Stage, Any]]:
    """Each 四议两公开 stage with its record (a meeting, a vote or a disclosure) or None."""
    meetings = list(topic.meetings.select_related("body").order_by("held_at", "id"))
    votes = list(topic.votes.filter(passed=True).select_related("meeting__body").order_by("at", "id"))
    disclosures = {d.kind: d for d in topic.disclosures.all()}
    out: list[tuple[flow.Stage, Any]] = []
    for st in flow.MAJOR_STAGES:
        record: Any = None
        if st.vote:
            record = next((v for v in votes if v.meeting.body.kind in st.bodies), None)
        elif st.bodies:
            record = next((m for m in meetings if m.body.kind in st.bodies), None)
        elif st.disclosure:
            record = disclosures.get(st.disclosure)
        out.append((st, record))
    return out


def _require_stages(topic: Topic, count: int, doing: str) -> None:
    """A major topic may not do `doing` before the first `count` stages each have their record."""
    if not topic.major or count <= 0:
        return
    for st, record in major_progress(topic)[:count]:
        if record is None:
            raise ValidationError(_("重大事项须按“四议两公开”程序办理:请先完成“%(label)s”,再%(doing)s") % {
                "label": st.label, "doing": doing})


def _transition(topic: Topic, st: flow.Step, *, actor: Any, at: dt.datetime, note: str = "",
                actor_name: str = "") -> Topic:
    before = audit.snapshot(topic)
    source = topic.state
    if st.target == S.CONSULTING:
        topic.reviewed_at = at
    elif st.target == S.DECLINED:
        topic.decline_reason = note
        if source == S.PROPOSED:
            topic.reviewed_at = at
    elif st.target == S.CLOSED:
        topic.result, topic.completed_at = note, at
    topic.state = st.target
    topic.version += 1
    topic.full_clean(exclude=TOPIC_RELATIONS, validate_unique=False, validate_constraints=False)
    topic.save()
    _event(topic, label=str(st.label), actor=actor, at=at, note=note, source=source, target=st.target,
           actor_name=actor_name)
    audit.log_change(actor, topic, before, note=str(st.label))
    return topic


@transaction.atomic
def topic_transition(*, actor: Any, topic: Topic, to: str, note: str = "", version: int | None = None,
                     at: dt.datetime | None = None) -> Topic:
    """Move a topic along the table (审议 accept/decline, 开始实施, 实施完成, 终止). Steps marked
    special (决议, 合并) have their own services."""
    fresh = _fresh(topic, version)
    if to not in TopicState.values:
        raise ValidationError(_("未知的状态"))
    st = flow.step(fresh.state, to)
    if st is None:
        raise ValidationError(_("“%(v)s”阶段的议题不能转为“%(v2)s”,议事步骤不能跳过") % {
            "v": TopicState(fresh.state).label, "v2": TopicState(to).label})
    if st.special:
        raise ValidationError(_("“%(label)s”须通过相应的表决或合并办理") % {"label": st.label})
    _require(actor, fresh.area_path)
    note = note.strip()
    if st.note_required and not note:
        raise ValidationError({"note": _("请填写%(note_label)s") % {"note_label": st.note_label}})
    _require_stages(fresh, flow.stages_before_transition(fresh.state, to), str(st.label))
    _transition(fresh, st, actor=actor, at=at or timezone.now(), note=note)
    _sync(topic, fresh)
    return fresh


@transaction.atomic
def topic_merge(*, actor: Any, topic: Topic, into: Topic, note: str, version: int | None = None,
                at: dt.datetime | None = None) -> Topic:
    """审议: the same matter proposed twice goes on as one topic; the merged one points to it and
    its households and cases join it."""
    fresh = _fresh(topic, version)
    st = flow.step(fresh.state, S.MERGED)
    if st is None:
        raise ValidationError(_("只有待审议的议题可以合并"))
    _require(actor, fresh.area_path)
    if into.pk == fresh.pk or into.state in (S.MERGED, S.DECLINED, S.CLOSED):
        raise ValidationError({"into": _("请选择一个正在办理的议题作为合并对象")})
    if not fresh.area_path.startswith(into.area_path):
        raise ValidationError({"into": _("只能并入范围相同或更大的议题")})
    if not note.strip():
        raise ValidationError({"note": _("请填写合并说明")})
    at = at or timezone.now()
    fresh.merged_into = into
    _transition(fresh, st, actor=actor, at=at, note=_("并入%(number)s:%(v)s") % {
        "number": into.number, "v": note.strip()})
    into.households_affected.add(*fresh.households_affected.all())
    into.households_benefited.add(*fresh.households_benefited.all())
    into.cases.add(*fresh.cases.all())
    _event(into, label=_("合并议题"), actor=actor, at=at, kind=TopicEvent.Kind.NOTE,
           note=_("%(number)s“%(title)s”并入本议题") % {"number": fresh.number, "title": fresh.title})
    _sync(topic, fresh)
    return fresh


@transaction.atomic
def topic_set_households(*, actor: Any, topic: Topic, affected: Iterable[Any] | None = None,
                         benefited: Iterable[Any] | None = None, version: int | None = None) -> Topic:
    """Replace the affected and benefited households. `version` (the one the page showed) refuses
    a save from a stale page: the lists are replaced whole, so a stale one would drop others' ticks."""
    _require(actor, topic.area_path)
    fresh = _fresh(topic, version)
    fresh.version += 1
    fresh.save(update_fields=["version"])
    _sync(topic, fresh)
    before = audit.snapshot(topic)
    for label, field, rows in ((_("涉及"), topic.households_affected, affected),
                               (_("受益"), topic.households_benefited, benefited)):
        if rows is None:
            continue
        rows = list(rows)
        outside = [h for h in rows if not h.area_path.startswith(topic.area_path)]
        if outside:
            raise ValidationError({"households": _("%(label)s户须在议题范围内") % {"label": label}})
        field.set(rows)
    audit.log_change(actor, topic, before, note=_("涉及和受益户"))
    return topic


@transaction.atomic
def progress_note(*, actor: Any, topic: Topic, note: str, at: dt.datetime | None = None) -> TopicEvent:
    """执行: a progress note on the implementation, public on the topic's page."""
    _require(actor, topic.area_path)
    if topic.state != S.IMPLEMENTING:
        raise ValidationError(_("议题开始实施后才能记录实施进展"))
    if not note.strip():
        raise ValidationError({"note": _("请填写实施进展")})
    return _event(topic, label=_("实施进展"), actor=actor, at=at or timezone.now(), kind=TopicEvent.Kind.PROGRESS,
                  note=note.strip(), source=topic.state)


# ---- meetings and votes --------------------------------------------------------------------

@transaction.atomic
def meeting_record(*, actor: Any, body: Body, topics: Iterable[Topic], held_at: dt.datetime, place: str,
                   minutes: str, attendance: Mapping[int, str], proxies: Mapping[int, str] | None = None,
                   opinions: str = "", host: str = "") -> Meeting:
    """合议: a meeting of `body` on `topics`, with every member's attendance (a member missing from
    `attendance` is recorded 缺席) and the minutes. For a major topic the meeting must be the
    next 四议 stage: a 党员大会 before the 两委会 has met on it is refused."""
    _require(actor, body.area_path, _("您不能记录该议事组织的会议"))
    topics = list(topics)
    if not topics:
        raise ValidationError({"topics": _("请选择会议讨论的议题")})
    if not minutes.strip():
        raise ValidationError({"minutes": _("请填写会议记录")})
    if not place.strip():
        raise ValidationError({"place": _("请填写会议地点")})
    if held_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"held_at": _("会议时间不能晚于现在:会议开过之后再记录")})
    stage = flow.stage_of_body(body.kind)
    for topic in topics:
        _require(actor, topic.area_path)
        if not topic.area_path.startswith(body.area_path):
            raise ValidationError({"topics": _("议题“%(title)s”不在%(name)s的范围内") % {
                "title": topic.title, "name": body.name}})
        allowed: tuple[str, ...] = (S.CONSULTING,)
        if topic.major and stage is not None:
            allowed = flow.MAJOR_STAGES[stage].topic_states
            _require_stages(topic, stage, _("召开%(kind)s") % {"kind": body.get_kind_display()})
        if topic.state not in allowed:
            raise ValidationError({"topics": _("议题“%(title)s”处于“%(state)s”阶段,不能由%(kind)s议事") % {
                "title": topic.title, "state": topic.get_state_display(), "kind": body.get_kind_display()}})
        since = topic.reviewed_at if topic.state == S.CONSULTING and topic.reviewed_at else topic.proposed_at
        # Forms give the time to the minute: a meeting "now" may be recorded right after 审议.
        if held_at < since.replace(second=0, microsecond=0):
            raise ValidationError({"held_at": _("会议时间早于议题“%(title)s”提出或审议的时间") % {"title": topic.title}})
        held_at = max(held_at, since)  # same minute: keep the timeline in order
    members = {m.pk: m for m in active_members(body, timezone.localtime(held_at).date())}
    if not members:
        raise ValidationError(_("该议事组织还没有组成人员,请先添加"))
    unknown = set(attendance) - set(members)
    if unknown:
        raise ValidationError({"attendance": _("出席名单中有不属于该组织的人员")})
    proxies = proxies or {}
    statuses = {pk: attendance.get(pk, AttendanceStatus.ABSENT) for pk in members}
    if any(s not in AttendanceStatus.values for s in statuses.values()):
        raise ValidationError({"attendance": _("出席情况只能是出席、委托或缺席")})
    meeting = Meeting(body=body, area_path=body.area_path, held_at=held_at, place=place.strip(), host=host.strip(),
                      minutes=minutes.strip(), opinions=opinions.strip(), recorded_by=_user(actor),
                      members_total=len(members),
                      present=sum(s == AttendanceStatus.PRESENT for s in statuses.values()),
                      proxies=sum(s == AttendanceStatus.PROXY for s in statuses.values()))
    meeting.full_clean(exclude=["body", "recorded_by"])
    meeting.save()
    meeting.topics.set(topics)
    MeetingAttendance.objects.bulk_create([
        MeetingAttendance(meeting=meeting, member_id=pk, status=s,
                          proxy_name=proxies.get(pk, "")[:32] if s == AttendanceStatus.PROXY else "")
        for pk, s in statuses.items()])
    when = timezone.localtime(held_at)
    for topic in topics:
        _event(topic, label=body.get_kind_display(), actor=actor, at=held_at, kind=TopicEvent.Kind.MEETING,
               source=topic.state,
               note=_("%(when)s %(name)s在%(place)s议事,应到%(members_total)s人,到会%(attending)s人") % {
                   "when": format(when, '%Y-%m-%d'), "name": body.name, "place": meeting.place,
                   "members_total": meeting.members_total,
                   "attending": meeting.attending}
               + (_("(含委托%(proxies)s人)") % {"proxies": meeting.proxies} if meeting.proxies else ""))
    audit.log_change(actor, meeting, None)
    return meeting


def vote_outcome(body: Body, *, eligible: int, attending: int, votes_for: int) -> bool:
    """The body's pass rule applied to counts (the quorum is checked before)."""
    base = attending if body.pass_base == PassBase.PRESENT else eligible
    needed = body.pass_ratio * base
    return votes_for > needed if body.pass_strict else votes_for >= needed


@transaction.atomic
def vote_record(*, actor: Any, meeting: Meeting, topic: Topic, origin: str, decision: str = "",
                question: str = "", votes_for: int | None = None, votes_against: int | None = None,
                votes_abstain: int | None = None, ballots: Mapping[int, str] | None = None,
                version: int | None = None) -> Vote:
    """决议: the body votes on the topic. A meeting without its quorum cannot decide (refused with
    the numbers); a vote that passes by the body's rule moves the topic to 决议 with `decision`
    as its text, one that fails is recorded and the topic stays in 合议."""
    fresh = _fresh(topic, version)
    body = meeting.body
    _require(actor, fresh.area_path)
    if origin not in VoteOrigin.values:
        raise ValidationError({"origin": _("请选择表决方式")})
    if not meeting.topics.filter(pk=fresh.pk).exists():
        raise ValidationError(_("这次会议没有讨论该议题,不能就它表决"))
    if fresh.state != S.CONSULTING:
        raise ValidationError(_("议题处于“%(state)s”阶段,只有合议中的议题可以表决") % {"state": fresh.get_state_display()})
    if body.kind not in DECIDING_BODIES[fresh.level]:
        raise ValidationError(_("%(v)s级议题不能由%(kind)s表决决议") % {
            "v": Level(fresh.level).label, "kind": body.get_kind_display()})
    if fresh.major:
        _require_stages(fresh, 3, _("表决"))
        if body.kind not in flow.MAJOR_STAGES[3].bodies:
            raise ValidationError(_("重大事项须由居民代表会议或居民会议表决"))
    if not meeting.quorum_met:
        raise ValidationError(_("到会人数不足,不能表决:应到%(members_total)s人,到会%(attending)s人,至少需要%(quorum_needed)s人") % {
            "members_total": meeting.members_total, "attending": meeting.attending,
            "quorum_needed": meeting.quorum_needed})
    if ballots:
        attending_ids = set(meeting.attendance.exclude(status=AttendanceStatus.ABSENT).values_list("member_id",
                                                                                                   flat=True))
        if set(ballots) - attending_ids:
            raise ValidationError({"ballots": _("只有到会(含委托)的成员可以投票")})
        if any(c not in Choice.values for c in ballots.values()):
            raise ValidationError({"ballots": _("意见只能是赞成、反对或弃权")})
        votes_for = sum(c == Choice.FOR for c in ballots.values())
        votes_against = sum(c == Choice.AGAINST for c in ballots.values())
        votes_abstain = sum(c == Choice.ABSTAIN for c in ballots.values())
    counts = [votes_for, votes_against, votes_abstain]
    if any(c is None or c < 0 for c in counts):
        raise ValidationError({"votes_for": _("请填写赞成、反对和弃权票数")})
    vf, va, vb = (int(c or 0) for c in counts)
    if vf + va + vb > meeting.attending:
        raise ValidationError({"votes_for": _("票数合计%(v)s超过到会人数%(attending)s") % {
            "v": vf + va + vb, "attending": meeting.attending}})
    passed = vote_outcome(body, eligible=meeting.members_total, attending=meeting.attending, votes_for=vf)
    if passed and not decision.strip():
        raise ValidationError({"decision": _("请填写决议内容")})
    at = meeting.held_at
    vote = Vote.objects.create(meeting=meeting, topic=fresh, question=(question.strip() or fresh.title)[:200],
                               origin=origin, votes_for=vf, votes_against=va, votes_abstain=vb,
                               eligible=meeting.members_total, attending=meeting.attending, passed=passed, at=at)
    if ballots:
        Ballot.objects.bulk_create([Ballot(vote=vote, member_id=pk, choice=c, origin=origin)
                                    for pk, c in ballots.items()])
    _event(fresh, label=_("表决"), actor=actor, at=at, kind=TopicEvent.Kind.VOTE, source=fresh.state,
           note=_("%(name)s%(v)s:%(tally)s,%(v2)s") % {
               "name": body.name, "v": VoteOrigin(origin).label, "tally": vote.tally,
               "v2": _("通过") if passed else _("未通过")})
    if passed:
        fresh.decision, fresh.decided_at = decision.strip(), at
        _transition(fresh, flow.TRANSITIONS[(S.CONSULTING, S.DECIDED)], actor=actor, at=at, note=decision.strip())
    _sync(topic, fresh)
    return vote


# ---- disclosure and objections -------------------------------------------------------------

DISCLOSURE_STATES: dict[str, tuple[str, ...]] = {
    DisclosureKind.DECISION: (S.DECIDED, S.IMPLEMENTING, S.CLOSED),
    DisclosureKind.RESULT: (S.IMPLEMENTING, S.CLOSED),
}


@transaction.atomic
def disclosure_publish(*, actor: Any, topic: Topic, kind: str, text: str, title: str = "",
                       notice_days: int = 7, at: dt.datetime | None = None) -> Disclosure:
    """决议公开 / 实施结果公开: put it on the community's public notice board, with a notice period
    for objections. The text must carry no resident's personal data; the board never shows names."""
    _require(actor, topic.area_path)
    if kind not in DisclosureKind.values:
        raise ValidationError({"kind": _("请选择公开类型")})
    if topic.state not in DISCLOSURE_STATES[kind]:
        raise ValidationError(_("议题处于“%(state)s”阶段,不能%(v)s") % {
            "state": topic.get_state_display(), "v": DisclosureKind(kind).label})
    if topic.major:
        _require_stages(topic, flow.stage_of_disclosure(kind), str(DisclosureKind(kind).label))
    if not text.strip():
        raise ValidationError({"text": _("请填写公开内容")})
    if not 1 <= notice_days <= 30:
        raise ValidationError({"notice_days": _("公示期为1至30天")})
    if topic.disclosures.filter(kind=kind).exists():
        raise ValidationError(_("该议题已经%(v)s") % {"v": DisclosureKind(kind).label})
    at = at or timezone.now()
    d = Disclosure(topic=topic, kind=kind, community_path=topic.community_path, area_path=topic.area_path,
                   title=(title.strip() or _("关于“%(title)s”的%(v)s") % {
                       "title": topic.title, "v": DisclosureKind(kind).label})[:80],
                   text=text.strip(), published_at=at, notice_days=notice_days, published_by=_user(actor))
    d.full_clean(exclude=["topic", "published_by"])
    d.save()
    ends = timezone.localtime(d.notice_ends)
    _event(topic, label=str(DisclosureKind(kind).label), actor=actor, at=at, kind=TopicEvent.Kind.DISCLOSURE,
           source=topic.state, note=_("在公开栏公示%(notice_days)s天,至%(ends)s") % {
               "notice_days": notice_days, "ends": format(ends, '%Y-%m-%d %H:%M')})
    audit.log_change(actor, d, None)
    return d


def resident_names(community_path: str) -> list[str]:
    from wuzhi.registry.models import Resident

    return list(Resident.objects.filter(area_path__startswith=community_path).values_list("name", flat=True)
                .distinct())


def is_community_resident(phone_hash: str, community_path: str) -> bool:
    from wuzhi.registry.models import Resident

    return bool(phone_hash) and Resident.objects.filter(phone_hash=phone_hash,
                                                        area_path__startswith=community_path).exists()


@transaction.atomic
def objection_submit(*, disclosure: Disclosure, text: str, phone: str, kind: str = Objection.Kind.OBJECTION,
                     at: dt.datetime | None = None) -> Objection:
    """A resident's objection or comment, only during the notice period. The phone identifies the
    sender to the 两委 (and is checked against the registry); it is never shown publicly."""
    at = at or timezone.now()
    if not disclosure.in_notice(at):
        raise ValidationError(_("公示期已结束,不能再提交异议;如有意见请联系社区"))
    if len(text.strip()) < 5:
        raise ValidationError({"text": _("请写明您的意见或异议(至少5个字)")})
    number = normalize_phone(phone)
    if not number:
        raise ValidationError({"phone": _("请填写手机号码")})
    if kind not in Objection.Kind.values:
        raise ValidationError({"kind": _("请选择类型")})
    o = Objection(disclosure=disclosure, kind=kind, text=text.strip()[:1000], submitted_at=at)
    o.public_text = scrub(o.text, resident_names(disclosure.community_path))
    o.set_phone(number)
    o.verified_resident = is_community_resident(o.phone_hash, disclosure.community_path)
    o.full_clean(exclude=["disclosure", "answered_by"])
    o.save()
    _event(disclosure.topic, label=_("收到%(kind)s") % {
        "kind": o.get_kind_display()}, actor=None, actor_name=RESIDENT, at=at,
           kind=TopicEvent.Kind.NOTE, source=disclosure.topic.state, note=o.public_text[:200])
    return o


@transaction.atomic
def objection_answer(*, actor: Any, objection: Objection, answer: str, at: dt.datetime | None = None) -> Objection:
    """The 两委's answer, shown publicly under the objection."""
    o = Objection.objects.select_for_update().select_related("disclosure__topic").get(pk=objection.pk)
    _require(actor, o.disclosure.area_path, _("您不能答复该区域的异议"))
    if o.answered_at is not None:
        raise ValidationError(_("该异议已经答复"))
    if not answer.strip():
        raise ValidationError({"answer": _("请填写答复内容")})
    before = audit.snapshot(o)
    o.answer, o.answered_at, o.answered_by = answer.strip(), at or timezone.now(), _user(actor)
    o.save(update_fields=["answer", "answered_at", "answered_by"])
    _event(o.disclosure.topic, label=_("答复异议"), actor=actor, at=o.answered_at, kind=TopicEvent.Kind.OBJECTION,
           source=o.disclosure.topic.state, note=o.answer[:200])
    audit.log_change(actor, o, before)
    objection.answer, objection.answered_at = o.answer, o.answered_at
    return o


def track(number: str, phone: str) -> Topic | None:
    """The proposer's lookup: the topic number and the phone given when proposing must both match."""
    try:
        phone = normalize_phone(phone)
    except ValidationError:
        return None
    digest = crypto.blind_index(phone, "phone") if phone else ""
    if not number.strip() or not digest:
        return None
    return Topic.objects.filter(number=number.strip().upper(), proposer_phone_hash=digest).first()

