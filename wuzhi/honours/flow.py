"""The round flow as one table: 提名 → 评议 → 公示 → 发布 → 归档. Services refuse anything not
listed here; the round page offers only what is listed for the current state. The conditions a
step has beyond the table (every nomination decided, the 公示 over, every objection answered)
are checked by services.round_advance, each with its own message."""

from __future__ import annotations

from dataclasses import dataclass

from .models import RoundState as S


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    label: str
    note_required: bool = False


TRANSITIONS: dict[tuple[str, str], Step] = {
    (s.source, s.target): s
    for s in [
        Step(S.NOMINATING, S.EVALUATING, "截止提名,开始评议"),
        # Back to nominations when too few came in; the reason is kept on the timeline.
        Step(S.EVALUATING, S.NOMINATING, "退回补充提名", note_required=True),
        Step(S.EVALUATING, S.NOTICE, "评议结束,开始公示"),
        # An upheld objection may need a fresh evaluation of the category.
        Step(S.NOTICE, S.EVALUATING, "撤回公示,重新评议", note_required=True),
        Step(S.NOTICE, S.PUBLISHED, "发布光荣榜"),
        Step(S.PUBLISHED, S.ARCHIVED, "归档"),
    ]
}


def step(source: str, target: str) -> Step | None:
    return TRANSITIONS.get((source, target))


def allowed_from(source: str) -> list[Step]:
    return [s for (src, _t), s in TRANSITIONS.items() if src == source]
