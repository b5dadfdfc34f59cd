"""The deliberation flow as data.

TRANSITIONS: which topic state may follow which, under what name, whether the step needs a
written reason, and whether it is taken by a plain button or only by its own service (a decision
only comes from a passed vote). Services refuse anything not listed; pages offer only what is
listed for the current state, so 提议 → 审议 → 合议 → 决议 → 执行 → 已结束 cannot skip a step.

MAJOR_STAGES: 四议两公开 for a 重大事项, in order, each naming the record it needs (a meeting of
a body of given kinds, a passed vote there, or a published disclosure) and the transition it
must precede. Services check every earlier stage has its record before a later one is written."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import BodyKind, DisclosureKind
from .models import TopicState as S


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    label: str | Promise
    note_required: bool = False
    note_label: str | Promise = _("说明")
    special: bool = False  # taken through its own service (vote, merge), not the plain button


TRANSITIONS: dict[tuple[str, str], Step] = {
    (s.source, s.target): s
    for s in [
        # 审议: the 两委 or the party organisation accepts, merges or declines the proposal.
        Step(S.PROPOSED, S.CONSULTING, _("审议:同意提交合议")),
        Step(S.PROPOSED, S.DECLINED, _("审议:不予采纳"), note_required=True, note_label=_("不予采纳的理由")),
        Step(S.PROPOSED, S.MERGED, _("审议:合并议题"), note_required=True, note_label=_("合并说明"), special=True),
        # 决议 comes only from a passed vote of a body that may decide at the topic's level.
        Step(S.CONSULTING, S.DECIDED, _("决议"), special=True),
        Step(S.CONSULTING, S.DECLINED, _("终止议事"), note_required=True, note_label=_("终止的理由")),
        Step(S.DECIDED, S.IMPLEMENTING, _("开始实施"), note_required=True, note_label=_("实施安排")),
        Step(S.IMPLEMENTING, S.CLOSED, _("实施完成"), note_required=True, note_label=_("实施结果")),
    ]
}


def step(source: str, target: str) -> Step | None:
    return TRANSITIONS.get((source, target))


def allowed_from(source: str) -> list[Step]:
    return [s for (src, _t), s in TRANSITIONS.items() if src == source]


@dataclass(frozen=True)
class Stage:
    key: str
    label: str | Promise
    bodies: frozenset[str] = frozenset()  # a meeting of one of these bodies on the topic …
    vote: bool = False  # … with a passed vote on it
    disclosure: str = ""  # or a published disclosure of this kind
    before: tuple[str, str] | None = None  # the transition this stage must precede
    topic_states: tuple[str, ...] = ()  # states in which the stage's record may be made


MAJOR_STAGES: list[Stage] = [
    Stage("proposal", _("党组织提议"), bodies=frozenset({BodyKind.PARTY_ORG}),
          before=(S.PROPOSED, S.CONSULTING), topic_states=(S.PROPOSED,)),
    Stage("two_committees", _("两委会议商议"), bodies=frozenset({BodyKind.TWO_COMMITTEES}),
          topic_states=(S.CONSULTING,)),
    Stage("party_congress", _("党员大会审议"), bodies=frozenset({BodyKind.PARTY_CONGRESS}),
          topic_states=(S.CONSULTING,)),
    Stage("resolution", _("居民代表会议或居民会议决议"),
          bodies=frozenset({BodyKind.REPRESENTATIVES, BodyKind.RESIDENTS_MEETING}), vote=True,
          before=(S.CONSULTING, S.DECIDED), topic_states=(S.CONSULTING,)),
    Stage("publish_decision", _("决议公开"), disclosure=DisclosureKind.DECISION,
          before=(S.DECIDED, S.IMPLEMENTING), topic_states=(S.DECIDED,)),
    Stage("publish_result", _("实施结果公开"), disclosure=DisclosureKind.RESULT,
          before=(S.IMPLEMENTING, S.CLOSED), topic_states=(S.IMPLEMENTING,)),
]


def stage_of_body(kind: str) -> int | None:
    """The index of the 四议 stage a meeting of this body kind records (None: not a stage)."""
    return next((i for i, st in enumerate(MAJOR_STAGES) if kind in st.bodies), None)


def stage_of_disclosure(kind: str) -> int:
    return next(i for i, st in enumerate(MAJOR_STAGES) if st.disclosure == kind)


def stages_before_transition(source: str, target: str) -> int:
    """How many stages must be complete before this transition of a major topic (0 if none)."""
    for i, st in enumerate(MAJOR_STAGES):
        if st.before == (source, target):
            return i + 1
    return 0
