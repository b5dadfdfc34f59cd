"""The alarm's life as one table: new → notifying → acknowledged → on site → resolved.

Services refuse any transition not listed here; the console and the responder page offer only
what is listed for the current state. Resolving names a `Resolution` (real emergency, false press,
test, cancelled by the elder, device recovered)."""

from __future__ import annotations

from dataclasses import dataclass

from .models import AlarmState as S


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    label: str
    # Does this transition make pending escalation and notifications stale (epoch + 1)?
    stops_escalation: bool = False


TRANSITIONS: dict[tuple[str, str], Step] = {
    (s.source, s.target): s
    for s in [
        # The dispatcher reached somebody (the first notification went out).
        Step(S.NEW, S.NOTIFYING, "开始通知"),
        Step(S.NEW, S.ACKNOWLEDGED, "确认接警", stops_escalation=True),
        Step(S.NOTIFYING, S.ACKNOWLEDGED, "确认接警", stops_escalation=True),
        # A responder who reports "已到达" without anyone having acknowledged also takes the alarm.
        Step(S.NEW, S.ON_SITE, "已到达现场", stops_escalation=True),
        Step(S.NOTIFYING, S.ON_SITE, "已到达现场", stops_escalation=True),
        Step(S.ACKNOWLEDGED, S.ON_SITE, "已到达现场", stops_escalation=True),
        Step(S.NEW, S.RESOLVED, "处置完毕", stops_escalation=True),
        Step(S.NOTIFYING, S.RESOLVED, "处置完毕", stops_escalation=True),
        Step(S.ACKNOWLEDGED, S.RESOLVED, "处置完毕", stops_escalation=True),
        Step(S.ON_SITE, S.RESOLVED, "处置完毕", stops_escalation=True),
    ]
}


def step(source: str, target: str) -> Step | None:
    return TRANSITIONS.get((source, target))


def allowed_from(source: str) -> list[Step]:
    return [s for (src, _t), s in TRANSITIONS.items() if src == source]


def can(source: str, target: str) -> bool:
    return (source, target) in TRANSITIONS
