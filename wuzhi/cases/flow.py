"""The case flow as one table: which state may follow which, under what name, and whether the
step needs a written reason. Services refuse anything not listed here; pages offer only what is
listed for the current state."""

from __future__ import annotations

from dataclasses import dataclass

from .models import CaseState as S


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    label: str
    note_required: bool = False
    note_label: str = "说明"


TRANSITIONS: dict[tuple[str, str], Step] = {
    (s.source, s.target): s
    for s in [
        Step(S.ACCEPTED, S.ASSIGNED, "分派"),
        Step(S.ASSIGNED, S.ASSIGNED, "改派", note_required=True, note_label="改派原因"),
        Step(S.ASSIGNED, S.ACCEPTED, "退回", note_required=True, note_label="退回原因"),
        Step(S.ASSIGNED, S.IN_PROGRESS, "开始办理"),
        Step(S.IN_PROGRESS, S.ACCEPTED, "退回", note_required=True, note_label="退回原因"),
        Step(S.IN_PROGRESS, S.RESOLVED, "办结", note_required=True, note_label="办理结果"),
        # 自办自结: the grid worker solves it on the spot and closes it in one step.
        Step(S.ACCEPTED, S.RESOLVED, "自办自结", note_required=True, note_label="办理结果"),
        Step(S.ACCEPTED, S.SUSPENDED, "挂起", note_required=True, note_label="挂起原因"),
        Step(S.ASSIGNED, S.SUSPENDED, "挂起", note_required=True, note_label="挂起原因"),
        Step(S.IN_PROGRESS, S.SUSPENDED, "挂起", note_required=True, note_label="挂起原因"),
        # Resuming returns to the state the case was suspended from (services pick it).
        Step(S.SUSPENDED, S.ACCEPTED, "恢复办理"),
        Step(S.SUSPENDED, S.ASSIGNED, "恢复办理"),
        Step(S.SUSPENDED, S.IN_PROGRESS, "恢复办理"),
        Step(S.RESOLVED, S.REVIEWED, "回访"),
        # 回访 不满意 reopens the case.
        Step(S.RESOLVED, S.IN_PROGRESS, "回访不满意,重新办理", note_required=True, note_label="不满意的原因"),
        Step(S.REVIEWED, S.ARCHIVED, "归档"),
        # Duplicates: merged cases follow the main case's outcome.
        Step(S.ACCEPTED, S.MERGED, "并案", note_required=True),
        Step(S.ASSIGNED, S.MERGED, "并案", note_required=True),
        Step(S.IN_PROGRESS, S.MERGED, "并案", note_required=True),
        Step(S.SUSPENDED, S.MERGED, "并案", note_required=True),
    ]
}

# Steps with their own page or service (they need more than a note) are not offered as the
# plain "transition" buttons on the detail page.
SPECIAL_TARGETS = {S.MERGED, S.REVIEWED}


def step(source: str, target: str) -> Step | None:
    return TRANSITIONS.get((source, target))


def allowed_from(source: str) -> list[Step]:
    return [s for (src, _t), s in TRANSITIONS.items() if src == source]
