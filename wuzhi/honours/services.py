"""Every write to honours. Keyword-only, atomic, validated, audited; views, the portal and the
demo call these and nothing else.

`actor` None is the system (demo) or a member of the public on the portal (pass the name they
gave). Who may do what: running a round, scoring, recording the council's vote and answering
objections need CHANGE over the round's community (the secretary, 两委); nominating needs VISIT
over the nominee's place (grid workers, building heads, party members)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from wuzhi.core import audit
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, grants_of
from wuzhi.core.validators import normalize_phone

from . import flow
from .models import (
    Category,
    Council,
    CouncilVote,
    Nomination,
    NominatorKind,
    Objection,
    Result,
    Round,
    RoundEvent,
    RoundState,
    Score,
    Subject,
)

S = RoundState
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}
# Two-character surnames: masking keeps the whole surname ("欧阳*"), never a given-name character.
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "皇甫", "令狐", "东方", "慕容", "尉迟", "长孙", "夏侯", "公孙")


def _name(actor: Any, fallback: str = "系统") -> str:
    if actor is None:
        return fallback
    return (actor.get_full_name() or actor.username)[:32]


def _require(actor: Any, action: str, path: str, message: str) -> None:
    if actor is not None and not can(actor, action, path):
        raise NotAllowed(message)


def mask_name(name: str) -> str:
    """张三丰 → 张*; 欧阳娜娜 → 欧阳*. The public pages show nothing more of a name."""
    name = name.strip()
    if not name:
        return ""
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[0]
    return f"{surname}*"


def place_label(area: Area | None) -> str:
    """"3栋2单元" for a unit, "3栋" for a building: the nominee's place without the room number."""
    if area is None:
        return ""
    if area.kind == AreaKind.UNIT and area.parent is not None:
        return f"{area.parent.name}{area.name}"
    return area.name


def public_label(*, household: Any = None, resident: Any = None, building: Area | None = None) -> str:
    if building is not None:
        return building.name
    if household is not None:
        head = household.head
        return f"{place_label(household.area)} {mask_name(head.name) if head else ''}家庭".strip()
    if resident is not None:
        return f"{place_label(resident.household.area)} {mask_name(resident.name)}".strip()
    return ""


def _event(rnd: Round, *, source: str, target: str, label: str, actor: Any, at: dt.datetime, note: str = "",
           actor_name: str = "", kind: str = RoundEvent.Kind.TRANSITION) -> RoundEvent:
    return RoundEvent.objects.create(round=rnd, kind=kind, from_state=source, to_state=target, label=label,
                                     actor=actor if getattr(actor, "pk", None) else None,
                                     actor_name=actor_name or _name(actor), at=at, note=note)


# ---- categories and the council -------------------------------------------------------------

@transaction.atomic
def category_save(*, actor: Any, name: str, subject: str, criteria: list[dict[str, Any]],
                  pass_score: Decimal | int = 80, needs_vote: bool = True, description: str = "", sort: int = 0,
                  active: bool = True, category: Category | None = None) -> Category:
    """Create or change a category. Categories are community-independent data, so only a
    superuser or a secretary may change them."""
    if actor is not None and not (actor.is_superuser or any(r == Role.SECRETARY for r, _p in grants_of(actor))):
        raise NotAllowed("只有社区书记可以维护评选类别")
    before = audit.snapshot(category) if category is not None else None
    cat = category or Category()
    cat.name, cat.subject, cat.criteria = name.strip(), subject, criteria
    cat.pass_score, cat.needs_vote, cat.description = Decimal(pass_score), needs_vote, description.strip()
    cat.sort, cat.active = sort, active
    cat.full_clean()
    cat.save()
    audit.log_change(actor, cat, before)
    return cat


@transaction.atomic
def council_create(*, actor: Any, area: Area, members: list[dict[str, str]], name: str = "道德评议会") -> Council:
    _require(actor, Action.CHANGE, area.path, "您不能在该社区设立评议会")
    if len(members) < 3:
        raise ValidationError({"members": "道德评议会至少需要3名成员"})
    council = Council(area=area, area_path=area.path, name=name, members=members)
    council.full_clean()
    council.save()
    audit.log_change(actor, council, None)
    return council


# ---- rounds ------------------------------------------------------------------------------------

@transaction.atomic
def round_open(*, actor: Any, area: Area, year: int, quarter: int, notice_days: int = 7,
               at: dt.datetime | None = None) -> Round:
    """Open a quarter's round for nominations (提名)."""
    _require(actor, Action.CHANGE, area.path, "您不能在该社区发起评选")
    at = at or timezone.now()
    if area.kind != AreaKind.COMMUNITY:
        raise ValidationError({"area": "评选以社区为单位开展,请选择社区"})
    if quarter not in QUARTER_NAMES:
        raise ValidationError({"quarter": "季度只能是1至4"})
    if not 1 <= notice_days <= 30:
        raise ValidationError({"notice_days": "公示期应在1至30天之间"})
    if Round.objects.filter(area=area, year=year, quarter=quarter).exists():
        raise ValidationError({"quarter": f"{year}年{QUARTER_NAMES[quarter]}的评选已经发起"})
    rnd = Round(area=area, area_path=area.path, year=year, quarter=quarter, notice_days=notice_days,
                title=f"{year}年{QUARTER_NAMES[quarter]}模范评选", state=S.NOMINATING, created_at=at,
                created_by=actor if getattr(actor, "pk", None) else None)
    rnd.full_clean()
    rnd.save()
    _event(rnd, source="", target=S.NOMINATING, label="发起评选", actor=actor, at=at,
           note=f"公示期{notice_days}天")
    audit.log_change(actor, rnd, None)
    return rnd


def _decide(rnd: Round) -> None:
    """Results of every pending, linked nomination from its scores and vote. Refuses (naming
    how many) when a sheet or a vote the category asks for is missing."""
    pending = list(rnd.nominations.filter(result=Result.PENDING).select_related("category", "vote")
                   .prefetch_related("scores"))
    missing_scores = [n for n in pending if n.category.criteria and not n.scores.all()]
    missing_votes = [n for n in pending if n.category.needs_vote and not hasattr(n, "vote")]
    if missing_scores or missing_votes:
        parts = []
        if missing_scores:
            parts.append(f"{len(missing_scores)}条提名尚未评分")
        if missing_votes:
            parts.append(f"{len(missing_votes)}条提名尚未经道德评议会表决")
        raise ValidationError("、".join(parts) + ",不能开始公示")
    for n in pending:
        ok = True
        if n.category.criteria:
            totals = [s.total for s in n.scores.all()]
            n.score_avg = (sum(totals, Decimal(0)) / len(totals)).quantize(Decimal("0.1"), ROUND_HALF_UP)
            ok = n.score_avg >= n.category.pass_score
        if n.category.needs_vote:
            ok = ok and n.vote.passed
        n.result = Result.SELECTED if ok else Result.NOT_SELECTED
        n.version += 1
        n.save(update_fields=["score_avg", "result", "version"])


@transaction.atomic
def round_advance(*, actor: Any, round: Round, to: str, note: str = "", version: int | None = None,
                  at: dt.datetime | None = None) -> Round:
    """Move a round along the flow table; each step's own conditions are checked here."""
    at = at or timezone.now()
    rnd = Round.objects.select_for_update().get(pk=round.pk)
    _require(actor, Action.CHANGE, rnd.area_path, "您不能办理该社区的评选")
    if version is not None and rnd.version != version:
        raise ConcurrentEdit("该评选")
    st = flow.step(rnd.state, to)
    if st is None:
        raise ValidationError(f"评选处于“{rnd.get_state_display()}”阶段,不能直接转为“{RoundState(to).label}”"
                              if to in RoundState.values else "未知的状态")
    if st.note_required and not note.strip():
        raise ValidationError({"note": "请填写原因"})
    before = audit.snapshot(rnd)
    if to == S.EVALUATING and rnd.state == S.NOMINATING:
        unlinked = rnd.nominations.filter(result=Result.PENDING, household__isnull=True, resident__isnull=True,
                                          building__isnull=True).count()
        if unlinked:
            raise ValidationError(f"还有{unlinked}条居民推荐尚未核实对象,请先核实或作不予受理处理")
        if not rnd.nominations.exists():
            raise ValidationError("本轮还没有任何提名")
    elif to == S.NOTICE:
        _decide(rnd)
        rnd.notice_starts_at = at
        rnd.notice_ends_at = at + dt.timedelta(days=rnd.notice_days)
        selected = rnd.nominations.filter(result=Result.SELECTED).count()
        note = f"拟表彰{selected}个,公示至{timezone.localtime(rnd.notice_ends_at):%Y年%m月%d日 %H:%M}" + (
            f";{note}" if note else "")
    elif to == S.EVALUATING and rnd.state == S.NOTICE:
        # A fresh evaluation: results of still-standing nominations are open again.
        rnd.nominations.filter(result=Result.SELECTED).update(result=Result.PENDING)
        rnd.notice_starts_at = rnd.notice_ends_at = None
    elif to == S.PUBLISHED:
        assert rnd.notice_ends_at is not None
        if at < rnd.notice_ends_at:
            raise ValidationError(
                f"公示期至{timezone.localtime(rnd.notice_ends_at):%Y年%m月%d日 %H:%M}结束,公示期未满不能发布")
        open_objections = rnd.objections.filter(answered_at__isnull=True).count()
        if open_objections:
            raise ValidationError(f"还有{open_objections}条公示异议尚未答复,答复后才能发布")
        rnd.published_at = at
    source = rnd.state
    rnd.state = to
    rnd.version += 1
    rnd.full_clean(exclude=["area", "created_by"], validate_unique=False, validate_constraints=False)
    rnd.save()
    _event(rnd, source=source, target=to, label=st.label, actor=actor, at=at, note=note.strip())
    audit.log_change(actor, rnd, before, note=st.label)
    return rnd


# ---- nominations -----------------------------------------------------------------------------

def _subject_area(household: Any, resident: Any, building: Area | None) -> Area:
    if building is not None:
        return building
    if household is not None:
        return household.area
    return resident.household.area


def _check_subject(category: Category, household: Any, resident: Any, building: Area | None) -> None:
    given = [x for x in (household, resident, building) if x is not None]
    if len(given) != 1:
        raise ValidationError(f"“{category.name}”请选择一个{category.get_subject_display()}作为表彰对象")
    wanted = {Subject.HOUSEHOLD: household, Subject.PERSON: resident, Subject.BUILDING: building}[
        Subject(category.subject)]
    if wanted is None:
        raise ValidationError(f"“{category.name}”表彰的是{category.get_subject_display()}")
    if building is not None and building.kind != AreaKind.BUILDING:
        raise ValidationError({"building": "请选择楼栋"})


def _nominator_kind(actor: Any) -> str:
    roles = {r for r, _p in grants_of(actor)}
    if Role.GRID_WORKER in roles:
        return NominatorKind.GRID_WORKER
    if Role.BUILDING_HEAD in roles:
        return NominatorKind.BUILDING_HEAD
    return NominatorKind.COMMITTEE


@transaction.atomic
def nomination_add(*, actor: Any, round: Round, category: Category, reason: str, household: Any = None,
                   resident: Any = None, building: Area | None = None, nominee_text: str = "",
                   unit: Area | None = None, nominator_name: str = "", nominator_phone: str = "",
                   at: dt.datetime | None = None) -> Nomination:
    """A nomination with its reason. Staff (actor given) name the household, person or building;
    a resident on the portal (actor None, `unit` = the unit of the QR code they scanned) names
    the nominee in words and leaves a phone number so the grid worker can ask back."""
    at = at or timezone.now()
    if round.state != S.NOMINATING:
        raise ValidationError("本轮评选已截止提名")
    if not category.active:
        raise ValidationError({"category": "该评选类别已停用"})
    if len(reason.strip()) < 10:
        raise ValidationError({"reason": "请写明推荐理由(不少于10个字),说说具体事迹"})
    n = Nomination(round=round, category=category, reason=reason.strip(), created_at=at)
    if actor is None and unit is not None:
        # Resident nomination: a name in words, verified later by the grid worker.
        if not nominee_text.strip():
            raise ValidationError({"nominee_text": "请写明推荐谁(如:302室王阿姨家)"})
        if not nominator_name.strip():
            raise ValidationError({"nominator_name": "请留下您的姓名"})
        if not nominator_phone.strip():
            raise ValidationError({"nominator_phone": "请留下联系电话,网格员会与您核实"})
        if not unit.path.startswith(round.area_path):
            raise ValidationError("只能推荐本社区的居民")
        n.set_nominator_phone(normalize_phone(nominator_phone))
        n.nominee_text = nominee_text.strip()[:64]
        n.area, n.area_path = unit, unit.path
        n.nominator_kind, n.nominator_name = NominatorKind.RESIDENT, nominator_name.strip()[:32]
    else:
        _check_subject(category, household, resident, building)
        where = _subject_area(household, resident, building)
        if not where.path.startswith(round.area_path):
            raise ValidationError("被推荐对象不在本轮评选的社区")
        _require(actor, Action.VISIT, where.path, "您只能推荐您负责区域内的居民和楼栋")
        n.household, n.resident, n.building = household, resident, building
        n.area, n.area_path = where, where.path
        n.public_label = public_label(household=household, resident=resident, building=building)
        n.nominator = actor if getattr(actor, "pk", None) else None
        n.nominator_kind = _nominator_kind(actor) if actor is not None else NominatorKind.COMMITTEE
        n.nominator_name = nominator_name.strip()[:32] or _name(actor, "社区两委")
        dup = Nomination.objects.filter(round=round, category=category, household=household, resident=resident,
                                        building=building)
        if dup.exists():
            raise ValidationError(f"{n.public_label}已被推荐参评本轮“{category.name}”")
    n.full_clean(exclude=["round", "category", "household", "resident", "building", "area", "nominator"])
    n.save()
    audit.log_change(actor, n, None)
    return n


@transaction.atomic
def nomination_link(*, actor: Any, nomination: Nomination, household: Any = None, resident: Any = None,
                    building: Area | None = None, version: int | None = None) -> Nomination:
    """核实: tie a resident's nomination in words to the household, person or building."""
    n = Nomination.objects.select_for_update().select_related("round", "category").get(pk=nomination.pk)
    if version is not None and n.version != version:
        raise ConcurrentEdit("该提名")
    if n.round.state != S.NOMINATING:
        raise ValidationError("本轮评选已截止提名,不能再核实")
    _check_subject(n.category, household, resident, building)
    where = _subject_area(household, resident, building)
    _require(actor, Action.VISIT, where.path, "您只能核实您负责区域内的推荐")
    if not where.path.startswith(n.round.area_path):
        raise ValidationError("被推荐对象不在本轮评选的社区")
    before = audit.snapshot(n)
    n.household, n.resident, n.building = household, resident, building
    n.area, n.area_path = where, where.path
    n.public_label = public_label(household=household, resident=resident, building=building)
    n.version += 1
    n.save()
    audit.log_change(actor, n, before, note="核实推荐对象")
    return n


@transaction.atomic
def nomination_decline(*, actor: Any, nomination: Nomination, note: str, version: int | None = None) -> Nomination:
    """不予受理: a nomination that does not qualify (not a resident, not this community…)."""
    n = Nomination.objects.select_for_update().select_related("round").get(pk=nomination.pk)
    _require(actor, Action.CHANGE, n.round.area_path, "您不能处理该评选的提名")
    if version is not None and n.version != version:
        raise ConcurrentEdit("该提名")
    if n.round.state not in (S.NOMINATING, S.EVALUATING):
        raise ValidationError("公示开始后不能再处理提名")
    if not note.strip():
        raise ValidationError({"note": "请写明不予受理的原因"})
    before = audit.snapshot(n)
    n.result = Result.NOT_SELECTED
    n.version += 1
    n.save()
    audit.log_change(actor, n, before, note=f"不予受理:{note.strip()}"[:200])
    return n


# ---- evaluation ------------------------------------------------------------------------------

@transaction.atomic
def score_record(*, actor: Any, nomination: Nomination, points: dict[str, Any], evaluator_name: str = "",
                 at: dt.datetime | None = None) -> Score:
    """One evaluator's sheet: a score for every criterion of the category, each within 0..max."""
    # Read the round's state fresh: the caller's nomination may predate the last transition.
    n = Nomination.objects.select_related("round", "category").get(pk=nomination.pk)
    if n.round.state != S.EVALUATING:
        raise ValidationError("只能在评议阶段评分")
    _require(actor, Action.CHANGE, n.round.area_path, "您不是本轮评选的评议人员")
    if n.result != Result.PENDING:
        raise ValidationError("该提名已有结果,不能再评分")
    criteria = n.category.criteria
    if not criteria:
        raise ValidationError(f"“{n.category.name}”不设评分表,由道德评议会表决")
    clean: dict[str, int] = {}
    errors = []
    for c in criteria:
        raw = points.get(c["name"])
        try:
            value = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors.append(f"请给“{c['name']}”打分")
            continue
        if not 0 <= value <= c["max"]:
            errors.append(f"“{c['name']}”的得分应在0至{c['max']}分之间")
            continue
        clean[c["name"]] = value
    if errors:
        raise ValidationError(errors)
    name = (evaluator_name.strip() or _name(actor))[:32]
    if Score.objects.filter(nomination=n, evaluator_name=name).exists():
        raise ValidationError(f"{name}已给该提名评过分")
    score = Score.objects.create(nomination=n, evaluator=actor if getattr(actor, "pk", None) else None,
                                 evaluator_name=name, points=clean, total=Decimal(sum(clean.values())),
                                 at=at or timezone.now())
    audit.log_change(actor, score, None)
    return score


@transaction.atomic
def vote_record(*, actor: Any, nomination: Nomination, council: Council, votes_for: int, votes_against: int,
                abstain: int, note: str = "", at: dt.datetime | None = None) -> CouncilVote:
    """The 道德评议会's show of hands on one nomination: counts that cannot exceed its members."""
    n = Nomination.objects.select_related("round").get(pk=nomination.pk)
    if n.round.state != S.EVALUATING:
        raise ValidationError("只能在评议阶段表决")
    _require(actor, Action.CHANGE, n.round.area_path, "您不能录入本社区评议会的表决")
    if not n.round.area_path.startswith(council.area_path):
        raise ValidationError("该评议会不属于本社区")
    if min(votes_for, votes_against, abstain) < 0:
        raise ValidationError("票数不能为负数")
    present = votes_for + votes_against + abstain
    if present == 0:
        raise ValidationError("请填写表决票数")
    if present > len(council.members):
        raise ValidationError(f"表决票数合计{present}票,超过评议会成员{len(council.members)}人")
    if present * 2 <= len(council.members):
        raise ValidationError(f"到会{present}人,未过评议会成员半数,表决无效")
    if CouncilVote.objects.filter(nomination=n).exists():
        raise ValidationError("该提名已经表决")
    vote = CouncilVote.objects.create(nomination=n, council=council, votes_for=votes_for,
                                      votes_against=votes_against, abstain=abstain, note=note.strip()[:200],
                                      at=at or timezone.now())
    audit.log_change(actor, vote, None)
    return vote


# ---- 公示 and objections ---------------------------------------------------------------------

@transaction.atomic
def objection_raise(*, round: Round, content: str, objector_name: str = "", phone: str = "",
                    nomination: Nomination | None = None, actor: Any = None,
                    at: dt.datetime | None = None) -> Objection:
    """Anyone may object while the 公示 runs; a contact is optional (anonymous tips are allowed,
    they are answered on the round's timeline)."""
    at = at or timezone.now()
    rnd = Round.objects.select_for_update().get(pk=round.pk)
    if not rnd.notice_open(at):
        raise ValidationError("本轮评选不在公示期内,不能提出异议")
    if nomination is not None and nomination.round_id != rnd.pk:
        raise ValidationError({"nomination": "请选择本轮公示的对象"})
    if len(content.strip()) < 5:
        raise ValidationError({"content": "请写明异议的具体内容"})
    obj = Objection(round=rnd, nomination=nomination, objector_name=objector_name.strip()[:32],
                    content=content.strip(), at=at)
    obj.set_phone(normalize_phone(phone) if phone.strip() else "")
    obj.full_clean(exclude=["round", "nomination"])
    obj.save()
    target = f"(针对:{nomination.public_label})" if nomination is not None else ""
    _event(rnd, source=rnd.state, target=rnd.state, label="收到异议", actor=actor, at=at,
           actor_name="" if actor is not None else "群众", note=f"异议{target}", kind=RoundEvent.Kind.NOTE)
    return obj


@transaction.atomic
def objection_answer(*, actor: Any, objection: Objection, answer: str, upheld: bool = False,
                     at: dt.datetime | None = None) -> Objection:
    """Answer an objection after looking into it. Upheld: the nominee is withdrawn (未入选)."""
    at = at or timezone.now()
    obj = Objection.objects.select_for_update(of=("self",)).select_related("round", "nomination").get(pk=objection.pk)
    _require(actor, Action.CHANGE, obj.round.area_path, "您不能答复该评选的异议")
    if obj.answered_at is not None:
        raise ValidationError("该异议已经答复")
    if obj.round.state != S.NOTICE:
        raise ValidationError("评选已不在公示阶段")
    if len(answer.strip()) < 5:
        raise ValidationError({"answer": "请写明核查情况和答复意见"})
    before = audit.snapshot(obj)
    obj.answer, obj.upheld, obj.answered_at = answer.strip(), upheld, at
    obj.answered_by = actor if getattr(actor, "pk", None) else None
    obj.save()
    if upheld and obj.nomination is not None:
        n = obj.nomination
        n.result = Result.NOT_SELECTED
        n.version += 1
        n.save(update_fields=["result", "version"])
    _event(obj.round, source=obj.round.state, target=obj.round.state, label="答复异议", actor=actor, at=at,
           note=("异议成立,取消入选" if upheld else "异议不成立,维持公示结果") + f":{obj.answer}",
           kind=RoundEvent.Kind.NOTE)
    audit.log_change(actor, obj, before, note="答复异议")
    return obj
