"""The flow table is the law: no step skipped, decline needs a reason, decisions only from a vote
with quorum, and 四议两公开 for major matters, each record before the next."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from wuzhi.cases import services as case_services
from wuzhi.cases.models import CaseKind, Category
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.deliberation import flow, services
from wuzhi.deliberation.models import (
    Choice,
    DisclosureKind,
    Level,
    TopicEvent,
    TopicState,
    VoteOrigin,
)

from .conftest import attendance

S = TopicState


@pytest.fixture
def in_state(helpers, people, bodies):
    """A topic in each state, reached through the services."""
    s = people.secretary

    def make(state):
        t = helpers.propose(title=f"议题{state}")
        if state == S.PROPOSED:
            return t
        if state == S.DECLINED:
            return services.topic_transition(actor=s, topic=t, to=S.DECLINED, note="不属于居民自治范围")
        if state == S.MERGED:
            other = helpers.propose(title="同类议题")
            return services.topic_merge(actor=s, topic=t, into=other, note="内容相同")
        helpers.accept(t)
        if state == S.CONSULTING:
            return t
        m = helpers.meet(bodies.building, t)
        helpers.vote(m, t)
        t.refresh_from_db()
        if state == S.DECIDED:
            return t
        services.topic_transition(actor=s, topic=t, to=S.IMPLEMENTING, note="物业实施")
        if state == S.IMPLEMENTING:
            return t
        return services.topic_transition(actor=s, topic=t, to=S.CLOSED, note="已完成")

    return make


@pytest.mark.parametrize("state", list(S.values))
def test_every_transition_not_in_the_table_is_refused(in_state, people, state):
    """Property over the table: from each state, every target not listed (or listed as special,
    which only its own service may take) is refused, and the topic is unchanged."""
    topic = in_state(state)
    assert topic.state == state
    for target in S.values:
        st = flow.step(state, target)
        if st is not None and not st.special:
            continue
        before = topic.events.count()
        with pytest.raises(ValidationError):
            services.topic_transition(actor=people.secretary, topic=topic, to=target, note="试图跳过步骤")
        topic.refresh_from_db()
        assert topic.state == state and topic.events.count() == before


def test_no_state_reaches_decided_except_by_a_vote():
    assert all(st.special for (src, tgt), st in flow.TRANSITIONS.items() if tgt == S.DECIDED)
    # And nothing leaves the end states.
    assert not [k for k in flow.TRANSITIONS if k[0] in (S.CLOSED, S.DECLINED, S.MERGED)]


def test_the_full_path_writes_one_timeline_row_per_transition(helpers, people, bodies):
    s = people.secretary
    t = helpers.decide(helpers.propose())
    services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.DECISION, text="同意更换楼道灯")
    services.topic_transition(actor=s, topic=t, to=S.IMPLEMENTING, note="物业两周内完成")
    services.progress_note(actor=s, topic=t, note="已更换一半")
    services.topic_transition(actor=s, topic=t, to=S.CLOSED, note="全部更换完毕")
    rows = list(t.events.filter(kind=TopicEvent.Kind.TRANSITION).values_list("from_state", "to_state"))
    assert rows == [("", S.PROPOSED), (S.PROPOSED, S.CONSULTING), (S.CONSULTING, S.DECIDED),
                    (S.DECIDED, S.IMPLEMENTING), (S.IMPLEMENTING, S.CLOSED)]
    kinds = list(t.events.values_list("kind", flat=True))
    assert kinds.count(TopicEvent.Kind.MEETING) == 1 and kinds.count(TopicEvent.Kind.VOTE) == 1
    assert TopicEvent.Kind.DISCLOSURE in kinds and TopicEvent.Kind.PROGRESS in kinds
    t.refresh_from_db()
    assert t.result == "全部更换完毕" and t.decided_at is not None and t.completed_at is not None


def test_decline_needs_a_written_reason_the_proposer_sees(helpers, people):
    t = helpers.propose()
    for blank in ("", "   "):
        with pytest.raises(ValidationError) as exc:
            services.topic_transition(actor=people.secretary, topic=t, to=S.DECLINED, note=blank)
        assert "不予采纳的理由" in str(exc.value)
    services.topic_transition(actor=people.secretary, topic=t, to=S.DECLINED, note="属于物业合同范围,已转物业办理")
    t.refresh_from_db()
    assert t.state == S.DECLINED and t.decline_reason == "属于物业合同范围,已转物业办理"


def test_meeting_and_vote_need_the_topic_in_consulting(helpers, bodies):
    t = helpers.propose()
    with pytest.raises(ValidationError, match="不能由"):
        helpers.meet(bodies.building, t)
    helpers.accept(t)
    m = helpers.meet(bodies.building, t)
    helpers.vote(m, t)
    t.refresh_from_db()
    assert t.state == S.DECIDED
    with pytest.raises(ValidationError, match="只有合议中的议题可以表决"):
        helpers.vote(m, t)


# ---- quorum and pass rules -----------------------------------------------------------------

def test_failed_quorum_blocks_the_decision(helpers, bodies):
    t = helpers.propose(level=Level.COMMUNITY)
    helpers.accept(t)
    m = helpers.meet(bodies.reps, t, present=5)  # 9 members, 2/3 → 6 needed
    assert not m.quorum_met and m.quorum_needed == 6
    with pytest.raises(ValidationError) as exc:
        helpers.vote(m, t)
    assert "到会人数不足" in str(exc.value) and "至少需要6人" in str(exc.value)
    t.refresh_from_db()
    assert t.state == S.CONSULTING and not t.votes.exists()


def test_proxies_count_toward_the_quorum_only_when_the_body_says_so(helpers, bodies, people):
    t = helpers.propose(level=Level.COMMUNITY)
    helpers.accept(t)
    m = helpers.meet(bodies.reps, t, present=4, proxy=2)
    assert m.quorum_met and m.attending == 6
    services.body_save(actor=people.secretary, body=bodies.reps, proxy_counts=False)
    m2 = helpers.meet(bodies.reps, t, present=4, proxy=2)
    m2.body.refresh_from_db()
    assert not m2.quorum_met
    with pytest.raises(ValidationError, match="到会人数不足"):
        helpers.vote(m2, t)


@pytest.mark.parametrize("rules,votes_for,passed", [
    ({}, 3, False),  # 6 present, more than half needed: 3 is not more than 3
    ({}, 4, True),
    ({"pass_strict": False}, 3, True),  # "达到半数"
    ({"pass_base": "members"}, 4, False),  # more than half of all 9 members: 5 needed
    ({"pass_base": "members"}, 5, True),
    ({"pass_num": 2, "pass_den": 3, "pass_strict": False}, 4, True),
    ({"pass_num": 2, "pass_den": 3, "pass_strict": False}, 3, False),
])
def test_pass_rule_is_the_bodys_data(helpers, bodies, people, rules, votes_for, passed):
    if rules:
        services.body_save(actor=people.secretary, body=bodies.reps, **rules)
    t = helpers.propose(level=Level.COMMUNITY)
    helpers.accept(t)
    m = helpers.meet(bodies.reps, t, present=6)
    vote = helpers.vote(m, t, votes_for=votes_for, against=6 - votes_for)
    t.refresh_from_db()
    assert vote.passed is passed
    assert t.state == (S.DECIDED if passed else S.CONSULTING)


def test_votes_cannot_exceed_those_present_and_a_passed_vote_needs_its_decision(helpers, bodies):
    t = helpers.propose()
    helpers.accept(t)
    m = helpers.meet(bodies.building, t, present=3)
    with pytest.raises(ValidationError, match="超过到会人数"):
        helpers.vote(m, t, votes_for=4)
    with pytest.raises(ValidationError, match="决议内容"):
        helpers.vote(m, t, votes_for=3, decision="")


def test_per_member_ballots_give_the_counts_and_only_attendees_vote(helpers, bodies, people):
    t = helpers.propose()
    helpers.accept(t)
    m = helpers.meet(bodies.building, t, present=4)
    members = list(bodies.building.members.order_by("id"))
    with pytest.raises(ValidationError, match="只有到会"):
        services.vote_record(actor=people.secretary, meeting=m, topic=t, origin=VoteOrigin.PAPER,
                             ballots={members[4].pk: Choice.FOR}, decision="同意")
    vote = services.vote_record(actor=people.secretary, meeting=m, topic=t, origin=VoteOrigin.PAPER,
                                decision="同意", ballots={members[0].pk: Choice.FOR, members[1].pk: Choice.FOR,
                                                        members[2].pk: Choice.FOR, members[3].pk: Choice.AGAINST})
    assert (vote.votes_for, vote.votes_against, vote.votes_abstain, vote.passed) == (3, 1, 0, True)
    assert vote.ballots.count() == 4


def test_only_a_body_that_may_decide_at_the_level_votes(helpers, bodies):
    t = helpers.propose()  # building level
    helpers.accept(t)
    m = helpers.meet(bodies.two, t)
    with pytest.raises(ValidationError, match="不能由两委会表决"):
        helpers.vote(m, t)
    community = helpers.propose(level=Level.COMMUNITY, title="全社区议题")
    helpers.accept(community)
    with pytest.raises(ValidationError, match="不在1栋楼栋议事会的范围内"):
        helpers.meet(bodies.building, community)


def test_a_meeting_records_every_member_absent_unless_told(helpers, bodies, people):
    t = helpers.propose()
    helpers.accept(t)
    m = services.meeting_record(actor=people.secretary, body=bodies.building, topics=[t],
                                held_at=helpers.now - dt.timedelta(hours=1), place="楼下", minutes="记录",
                                attendance={bodies.building.members.order_by("id")[0].pk: "present"})
    assert m.attendance.count() == 5 and m.attendance.filter(status="absent").count() == 4
    with pytest.raises(ValidationError, match="晚于现在"):
        helpers.meet(bodies.building, t, at=helpers.now + dt.timedelta(days=1))


# ---- 四议两公开 ------------------------------------------------------------------------------

def test_major_matter_cannot_advance_without_each_record(helpers, bodies, people):
    s = people.secretary
    t = helpers.propose(level=Level.COMMUNITY, major=True, title="集体经济红利反哺社区治理")
    # 1 党组织提议 before 审议
    with pytest.raises(ValidationError, match="党组织提议"):
        helpers.accept(t)
    helpers.meet(bodies.party_org, t)
    helpers.accept(t)
    # 3 党员大会 before 2 两委会议商议 is refused; so is the representatives' vote.
    with pytest.raises(ValidationError, match="两委会议商议"):
        helpers.meet(bodies.congress, t)
    with pytest.raises(ValidationError, match="两委会议商议"):
        helpers.meet(bodies.reps, t)
    helpers.meet(bodies.two, t)
    with pytest.raises(ValidationError, match="党员大会审议"):
        helpers.meet(bodies.reps, t)
    helpers.meet(bodies.congress, t)
    m = helpers.meet(bodies.reps, t)
    helpers.vote(m, t, decision="安排8万元用于社区治理")
    t.refresh_from_db()
    assert t.state == S.DECIDED
    # 决议公开 before 实施; 实施结果公开 before 结束.
    with pytest.raises(ValidationError, match="决议公开"):
        services.topic_transition(actor=s, topic=t, to=S.IMPLEMENTING, note="开始")
    with pytest.raises(ValidationError):
        services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.RESULT, text="结果")
    services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.DECISION, text="安排8万元")
    services.topic_transition(actor=s, topic=t, to=S.IMPLEMENTING, note="开始")
    with pytest.raises(ValidationError, match="实施结果公开"):
        services.topic_transition(actor=s, topic=t, to=S.CLOSED, note="完成")
    services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.RESULT, text="8万元已使用完毕")
    services.topic_transition(actor=s, topic=t, to=S.CLOSED, note="完成")
    progress = services.major_progress(t)
    assert [st.key for st, _r in progress] == [st.key for st in flow.MAJOR_STAGES]
    assert all(record is not None for _st, record in progress)


def test_major_matter_must_be_decided_by_representatives_and_sit_at_community_level(helpers, bodies):
    with pytest.raises(ValidationError, match="社区层面"):
        helpers.propose(level=Level.BUILDING, major=True)
    t = helpers.propose(level=Level.COMMUNITY, major=True)
    helpers.meet(bodies.party_org, t)
    helpers.accept(t)
    helpers.meet(bodies.two, t)
    helpers.meet(bodies.congress, t)
    m = helpers.meet(bodies.congress, t)
    with pytest.raises(ValidationError, match="不能由党员大会表决"):
        helpers.vote(m, t)


# ---- proposals, merges, cases --------------------------------------------------------------

def test_merge_joins_households_and_points_to_the_main_topic(helpers, people, tree, make_household):
    h = make_household(tree.dwellings[0])
    main = helpers.propose(title="停车难")
    dup = helpers.propose(title="乱停车", households_affected=[h])
    services.topic_merge(actor=people.secretary, topic=dup, into=main, note="同一件事")
    dup.refresh_from_db()
    assert dup.state == S.MERGED and dup.merged_into == main
    assert list(main.households_affected.all()) == [h]
    with pytest.raises(ValidationError):
        services.topic_merge(actor=people.secretary, topic=main, into=main, note="自己")


def test_repeated_cases_become_one_topic_without_touching_the_cases(tree, people):
    cat = Category.objects.create(kind=CaseKind.REPORT, name="停车秩序", deadline_hours=48)
    cases = [case_services.case_open(actor=None, category=cat, channel="qr", area=tree.units[i % 2],
                                     description=f"停车难第{i}次反映", reporter_phone="13900001111",
                                     auto_assign=False) for i in range(5)]
    states = [c.state for c in cases]
    topic = services.topic_from_cases(actor=people.secretary, cases=cases, title="1栋停车难", description="5件停车难反映",
                                      level=Level.BUILDING, area=tree.buildings[0])
    assert topic.cases.count() == 5 and topic.source == "cases"
    assert [c.state for c in type(cases[0]).objects.filter(pk__in=[c.pk for c in cases]).order_by("id")] == states
    with pytest.raises(ValidationError, match="至少选择两件"):
        services.topic_from_cases(actor=people.secretary, cases=cases[:1], title="x", description="不够两件",
                                  level=Level.BUILDING, area=tree.buildings[0])


def test_level_must_match_the_area(helpers, tree):
    with pytest.raises(ValidationError, match="楼栋"):
        helpers.propose(level=Level.BUILDING, area=tree.grids[0])


def test_stale_version_is_refused(helpers, people):
    t = helpers.propose()
    with pytest.raises(ConcurrentEdit):
        services.topic_transition(actor=people.secretary, topic=t, to=S.CONSULTING, version=t.version + 1)


def test_a_worker_cannot_act_outside_their_grid(helpers, people, tree):
    t = helpers.propose(area=tree.buildings[1])
    with pytest.raises(NotAllowed):
        services.topic_transition(actor=people.worker1, topic=t, to=S.CONSULTING)
    with pytest.raises(NotAllowed):
        helpers.propose(area=tree.buildings[1], actor=people.worker1)
    services.topic_transition(actor=people.worker2, topic=t, to=S.CONSULTING)


def test_objections_only_during_the_notice_period_and_answered_once(helpers, people):
    s = people.secretary
    t = helpers.decide(helpers.propose())
    d = services.disclosure_publish(actor=s, topic=t, kind=DisclosureKind.DECISION, text="更换楼道灯",
                                    notice_days=7, at=helpers.now - dt.timedelta(days=8))
    with pytest.raises(ValidationError, match="公示期已结束"):
        services.objection_submit(disclosure=d, text="我有不同意见", phone="13900002222")
    d.published_at = helpers.now - dt.timedelta(days=2)
    d.save()
    o = services.objection_submit(disclosure=d, text="费用怎么分摊?", phone="13900002222")
    assert o.phone_masked == "139****2222" and not o.verified_resident
    services.objection_answer(actor=s, objection=o, answer="从公共维修资金列支,不向住户收费")
    with pytest.raises(ValidationError, match="已经答复"):
        services.objection_answer(actor=s, objection=o, answer="再答一次")
    assert t.events.filter(kind=TopicEvent.Kind.OBJECTION).count() == 1


def test_attendance_helper_counts(bodies):
    att = attendance(bodies.reps, 5, 2)
    assert list(att.values()).count("present") == 5 and list(att.values()).count("proxy") == 2
