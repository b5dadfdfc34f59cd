"""The flow table: every step it lists works, every step it does not list is refused, every
transition is a timeline row; routing, deadlines, 督办, merge, reopen on 不满意."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wuzhi.cases import flow, services
from wuzhi.cases.models import Case, CaseEvent, CaseState, Satisfaction, Supervision
from wuzhi.core.errors import ConcurrentEdit, NotAllowed

S = CaseState


def _timeline_is_complete(case: Case) -> None:
    """The transitions chain: each starts where the previous ended and the last is the state."""
    rows = list(case.events.filter(kind=CaseEvent.Kind.TRANSITION).order_by("at", "id"))
    assert rows[0].from_state == "" and rows[0].to_state == S.ACCEPTED
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.from_state == prev.to_state
        assert (row.from_state, row.to_state) in flow.TRANSITIONS
    case.refresh_from_db()
    assert rows[-1].to_state == case.state


def test_open_routes_by_category_and_sets_the_deadline(open_case, categories, teams, people, tree):
    case = open_case()
    assert case.state == S.ASSIGNED and case.assigned_team == teams.repairs
    assert case.due_at - case.opened_at == dt.timedelta(hours=48)
    assert case.number.startswith(str(timezone.now().year))
    assert case.reporter_phone_masked == "139****1111" and "13900001111" not in case.reporter_phone_enc
    assert [e.label for e in case.events.all()] == ["受理", "分派"]
    # A role route goes to the role holder closest above the place: grid 1's worker.
    policy = open_case(categories.policy)
    assert policy.assigned_user == people.worker1
    # No route: the case waits at 受理 for the dispatcher.
    assert open_case(categories.unrouted).state == S.ACCEPTED


def test_full_flow_and_reopen_on_unsatisfied(open_case, people, teams):
    case = open_case()
    services.case_transition(actor=teams.fixer, case=case, to=S.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=case, to=S.RESOLVED, note="已更换灯泡")
    services.case_review(actor=people.worker1, case=case, satisfaction=Satisfaction.UNSATISFIED, note="又坏了")
    assert case.state == S.IN_PROGRESS and case.satisfaction == Satisfaction.UNSATISFIED
    services.case_transition(actor=teams.fixer, case=case, to=S.RESOLVED, note="更换了整条线路")
    services.case_review(actor=people.worker1, case=case, satisfaction=Satisfaction.SATISFIED)
    services.case_transition(actor=people.secretary, case=case, to=S.ARCHIVED)
    assert case.state == S.ARCHIVED and case.result == "更换了整条线路"
    _timeline_is_complete(case)


def test_self_resolve_suspend_resume_return(open_case, categories, people, teams):
    case = open_case(categories.unrouted)
    services.case_transition(actor=people.worker1, case=case, to=S.RESOLVED, note="当场解答")
    assert case.state == S.RESOLVED
    other = open_case()
    services.case_transition(actor=people.worker1, case=other, to=S.SUSPENDED, note="等待物业配件")
    with pytest.raises(ValidationError, match="只能恢复到"):
        services.case_transition(actor=people.worker1, case=other, to=S.IN_PROGRESS)
    services.case_resume(actor=people.worker1, case=other)
    assert other.state == S.ASSIGNED
    with pytest.raises(ValidationError):
        services.case_transition(actor=teams.fixer, case=other, to=S.ACCEPTED)  # a return needs a reason
    services.case_transition(actor=teams.fixer, case=other, to=S.ACCEPTED, note="不属于维修范围")
    assert other.assigned_team is None
    _timeline_is_complete(other)


def test_every_transition_outside_the_table_is_refused(open_case, people):
    case = open_case()
    for target in S.values:
        if (case.state, target) in flow.TRANSITIONS:
            continue
        with pytest.raises(ValidationError, match="不能转为"):
            services.case_transition(actor=people.secretary, case=case, to=target, note="试试")
    assert case.events.count() == 2


def test_stale_version_and_outsiders_are_refused(open_case, people, teams):
    case = open_case()
    with pytest.raises(ConcurrentEdit):
        services.case_transition(actor=teams.fixer, case=case, to=S.IN_PROGRESS, version=case.version - 1)
    with pytest.raises(NotAllowed):
        services.case_transition(actor=people.worker2, case=case, to=S.IN_PROGRESS)  # grid 2, not routed to him
    with pytest.raises(NotAllowed):
        services.case_transition(actor=teams.mediator, case=case, to=S.IN_PROGRESS)  # another team


def test_merge_answers_every_reporter(open_case, people, teams):
    main = open_case()
    dup1 = open_case(reporter_phone="13900002222")
    dup2 = open_case(reporter_phone="13900003333")
    services.case_merge(actor=people.secretary, main=main, duplicates=[dup1, dup2])
    assert {dup1.state, dup2.state} == {S.MERGED}
    services.case_transition(actor=teams.fixer, case=main, to=S.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=main, to=S.RESOLVED, note="已修好")
    for dup in (dup1, dup2):
        dup.refresh_from_db()
        assert dup.result == "已修好" and dup.merged_into == main
        assert dup.events.last().note == f"主件{main.number}已办结:已修好"
    with pytest.raises(ValidationError):
        services.case_transition(actor=people.secretary, case=open_case(), to=S.MERGED, note="x")  # no main


def test_escalation_levels_and_idempotence(open_case, categories):
    case = open_case()  # 48 h deadline
    assert services.escalate_overdue(now=case.due_at - dt.timedelta(minutes=1)) == 0
    assert services.escalate_overdue(now=case.due_at + dt.timedelta(hours=1)) == 1
    case.refresh_from_db()
    assert case.supervision == Supervision.YELLOW
    assert services.escalate_overdue(now=case.due_at + dt.timedelta(hours=2)) == 0  # idempotent
    assert services.escalate_overdue(now=case.due_at + dt.timedelta(hours=49)) == 1
    case.refresh_from_db()
    assert case.supervision == Supervision.RED
    call_command("escalate_cases", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert case.events.filter(kind=CaseEvent.Kind.SUPERVISE).count() == 2


def test_escalation_jumps_straight_to_red(open_case):
    case = open_case()
    services.escalate_overdue(now=case.due_at + dt.timedelta(hours=100))
    case.refresh_from_db()
    assert case.supervision == Supervision.RED
    assert case.events.filter(kind=CaseEvent.Kind.SUPERVISE).count() == 1


TARGETS = st.sampled_from([s for s in S.values if s != S.MERGED])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(TARGETS, min_size=1, max_size=12))
def test_random_sequences_keep_the_timeline_complete(open_case, people, steps):
    case = open_case()
    for target in steps:
        allowed = (case.state, target) in flow.TRANSITIONS
        try:
            services.case_transition(actor=people.secretary, case=case, to=target, note="随机", team=case.assigned_team
                                     if target != S.ASSIGNED else None, user=people.worker1,
                                     satisfaction=Satisfaction.BASIC)
        except ValidationError:
            case.refresh_from_db()
            continue
        assert allowed
    _timeline_is_complete(case)
