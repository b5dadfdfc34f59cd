"""The round flow: the transition table, the notice period (with time control), objections that
must be answered, results from the scoring sheet and the council's vote, and who may do what."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuzhi.core.errors import NotAllowed
from wuzhi.honours import flow, selectors, services
from wuzhi.honours.models import Result, RoundEvent, RoundState

S = RoundState
T0 = timezone.make_aware(dt.datetime(2026, 3, 1, 9, 0))


def _to_notice(people, honours, rnd, *, at=T0, good_points=90):
    """Nominate h1 (household) and its head (person), score and vote, open the 公示 at `at`+2d."""
    n1 = services.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.hygiene,
                                 household=honours.h1, reason="家中常年干净整洁,带动邻居清理楼道", at=at)
    head = honours.h1.members.get(name="张黎明")
    n2 = services.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.good, resident=head,
                                 reason="常年义务照顾楼上独居老人,帮忙买菜送药", at=at)
    services.round_advance(actor=people.secretary, round=rnd, to=S.EVALUATING, at=at + dt.timedelta(days=1))
    for name in ("甲", "乙"):
        services.score_record(actor=people.secretary, nomination=n1, evaluator_name=name,
                              points={"室内整洁": good_points // 2, "门前三包": good_points - good_points // 2})
        services.score_record(actor=people.secretary, nomination=n2, evaluator_name=name, points={"事迹": 95})
    services.vote_record(actor=people.secretary, nomination=n2, council=honours.council, votes_for=4,
                         votes_against=1, abstain=0)
    rnd = services.round_advance(actor=people.secretary, round=rnd, to=S.NOTICE, at=at + dt.timedelta(days=2))
    return rnd, n1, n2


def test_table_has_no_illegal_transition_and_services_refuse_others(honours, new_round, people):
    allowed = set(flow.TRANSITIONS)
    # The forward chain exists and nothing skips the 公示 or leaves an archived round.
    assert {(S.NOMINATING, S.EVALUATING), (S.EVALUATING, S.NOTICE), (S.NOTICE, S.PUBLISHED),
            (S.PUBLISHED, S.ARCHIVED)} <= allowed
    assert not any(src == S.ARCHIVED for src, _ in allowed)
    assert not any(dst == S.PUBLISHED and src != S.NOTICE for src, dst in allowed)
    rnd = new_round()
    for target in (S.NOTICE, S.PUBLISHED, S.ARCHIVED):
        with pytest.raises(ValidationError, match="不能直接转为"):
            services.round_advance(actor=people.secretary, round=rnd, to=target)


def test_cannot_publish_before_notice_ends_then_can(honours, new_round, people):
    rnd, n1, n2 = _to_notice(people, honours, new_round())
    assert rnd.notice_ends_at == T0 + dt.timedelta(days=9)  # 公示 from day 2, seven days
    with pytest.raises(ValidationError) as exc:
        services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=T0 + dt.timedelta(days=8))
    assert "公示期未满不能发布" in exc.value.messages[0]
    rnd.refresh_from_db()
    assert rnd.state == S.NOTICE
    rnd = services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=T0 + dt.timedelta(days=9))
    assert rnd.state == S.PUBLISHED and rnd.published_at == T0 + dt.timedelta(days=9)


def test_unanswered_objection_blocks_publication_until_answered(honours, new_round, people):
    rnd, n1, n2 = _to_notice(people, honours, new_round())
    obj = services.objection_raise(round=rnd, nomination=n2, content="听说他和邻居有矛盾,请核实",
                                   phone="13900001111", at=T0 + dt.timedelta(days=3))
    after = T0 + dt.timedelta(days=10)
    with pytest.raises(ValidationError, match="尚未答复"):
        services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=after)
    services.objection_answer(actor=people.secretary, objection=obj, answer="经核实与邻居已和好,异议不成立")
    services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=after)
    n2.refresh_from_db()
    assert n2.result == Result.SELECTED
    obj.refresh_from_db()
    assert obj.phone_masked.startswith("139") and "1111" in obj.phone_masked and obj.phone_enc != "13900001111"


def test_upheld_objection_withdraws_the_nominee(honours, new_round, people):
    rnd, n1, n2 = _to_notice(people, honours, new_round())
    obj = services.objection_raise(round=rnd, nomination=n1, content="楼道里长期堆放杂物", at=T0 + dt.timedelta(days=3))
    services.objection_answer(actor=people.secretary, objection=obj, answer="经核实属实,取消入选", upheld=True)
    n1.refresh_from_db()
    assert n1.result == Result.NOT_SELECTED


def test_objections_only_during_the_notice_period(honours, new_round, people):
    rnd, *_ = _to_notice(people, honours, new_round())
    with pytest.raises(ValidationError, match="不在公示期内"):
        services.objection_raise(round=rnd, content="公示已经结束了才提", at=T0 + dt.timedelta(days=9, minutes=1))


def test_results_follow_the_sheet_and_the_vote(honours, new_round, people):
    rnd = new_round()
    rnd, n1, n2 = _to_notice(people, honours, rnd, good_points=70)  # below the 80 line
    n1.refresh_from_db()
    n2.refresh_from_db()
    assert n1.result == Result.NOT_SELECTED and n1.score_avg == 70
    assert n2.result == Result.SELECTED and n2.score_avg == 95


def test_notice_refused_while_a_sheet_or_vote_is_missing(honours, new_round, people):
    rnd = new_round()
    head = honours.h1.members.get(name="张黎明")
    services.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.good, resident=head,
                            reason="常年义务照顾楼上独居老人,帮忙买菜送药")
    services.round_advance(actor=people.secretary, round=rnd, to=S.EVALUATING)
    with pytest.raises(ValidationError, match="1条提名尚未评分、1条提名尚未经道德评议会表决"):
        services.round_advance(actor=people.secretary, round=rnd, to=S.NOTICE)


def test_every_transition_is_a_timeline_row_and_the_chain_is_complete(honours, new_round, people):
    rnd, *_ = _to_notice(people, honours, new_round())
    services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=T0 + dt.timedelta(days=9))
    services.round_advance(actor=people.secretary, round=rnd, to=S.ARCHIVED, at=T0 + dt.timedelta(days=90))
    rows = list(rnd.events.filter(kind=RoundEvent.Kind.TRANSITION).order_by("at", "id"))
    assert [(e.from_state, e.to_state) for e in rows] == [
        ("", S.NOMINATING), (S.NOMINATING, S.EVALUATING), (S.EVALUATING, S.NOTICE), (S.NOTICE, S.PUBLISHED),
        (S.PUBLISHED, S.ARCHIVED)]
    for prev, nxt in zip(rows, rows[1:], strict=False):
        assert prev.to_state == nxt.from_state
        assert flow.step(nxt.from_state, nxt.to_state) is not None
    assert all(e.actor_name == "李书记" for e in rows)


def test_stale_version_is_refused(honours, new_round, people):
    rnd = new_round()
    services.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.hygiene, household=honours.h1,
                            reason="家中常年干净整洁,带动邻居清理楼道")
    with pytest.raises(ValidationError, match="已被其他人修改"):
        services.round_advance(actor=people.secretary, round=rnd, to=S.EVALUATING, version=rnd.version + 5)


def test_who_may_do_what(honours, new_round, people, tree):
    rnd = new_round()
    # A grid worker nominates in their own grid only; a building head in their building.
    with pytest.raises(NotAllowed):
        services.nomination_add(actor=people.worker2, round=rnd, category=honours.cats.hygiene,
                                household=honours.h1, reason="家中常年干净整洁,带动邻居清理楼道")
    n = services.nomination_add(actor=people.head, round=rnd, category=honours.cats.building,
                                building=tree.buildings[0], reason="楼道干净整洁无杂物,邻里互帮互助")
    assert n.get_nominator_kind_display() == "楼长推荐" and n.public_label == "1栋"
    # Running the round is the secretary's: a grid worker cannot advance it.
    with pytest.raises(NotAllowed):
        services.round_advance(actor=people.worker1, round=rnd, to=S.EVALUATING)
    # The category decides the subject.
    with pytest.raises(ValidationError, match="表彰的是"):
        services.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.good, household=honours.h1,
                                reason="常年义务照顾楼上独居老人,帮忙买菜送药")


def test_resident_nomination_must_be_verified_before_evaluation(honours, new_round, people, tree):
    rnd = new_round()
    n = services.nomination_add(actor=None, round=rnd, category=honours.cats.hygiene, unit=tree.units[0],
                                nominee_text="101室张家", reason="家里干净,经常帮大家打扫楼道卫生",
                                nominator_name="李阿姨", nominator_phone="13911112222")
    assert n.nominator_kind == "resident" and n.public_label == "" and n.nominator_phone_masked
    with pytest.raises(ValidationError, match="尚未核实"):
        services.round_advance(actor=people.secretary, round=rnd, to=S.EVALUATING)
    services.nomination_link(actor=people.worker1, nomination=n, household=honours.h1)
    n.refresh_from_db()
    assert n.public_label == "1栋1单元 张*家庭"
    services.round_advance(actor=people.secretary, round=rnd, to=S.EVALUATING)


def test_masking_and_labels():
    assert services.mask_name("张黎明") == "张*"
    assert services.mask_name("欧阳娜娜") == "欧阳*"


def test_figures_count_distinct_published_households_and_people_only(honours, new_round, people, tree):
    from wuzhi.reports.statistics import compute, year_scope

    rnd, n1, n2 = _to_notice(people, honours, new_round())
    scope = year_scope(None, tree.community, 2026)
    assert compute(scope, ["honorees"])["honorees"] == 0  # in 公示: not yet honoured
    services.round_advance(actor=people.secretary, round=rnd, to=S.PUBLISHED, at=T0 + dt.timedelta(days=9))
    values = compute(scope, ["honorees", "civilized_buildings", "honour_objections"])
    assert values == {"honorees": 2, "civilized_buildings": 0, "honour_objections": 0}
    # Seen by a grid worker of the other grid, the honours of grid 1 are not there.
    assert compute(year_scope(people.worker2, tree.community, 2026), ["honorees"])["honorees"] == 0
    assert [h.pk for h in selectors.history_for_household(honours.h1)] == [n1.pk, n2.pk]
    assert list(selectors.history_for_building(tree.buildings[0])) == [n1, n2]
    assert not selectors.history_for_household(honours.h2).exists()
