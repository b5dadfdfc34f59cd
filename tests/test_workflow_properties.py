"""Property tests for every workflow table (issue 10, item 7) and for the pinyin search.

For each workflow (cases, deliberation topics, honour rounds, alarms) hypothesis generates a
sequence of requested target states and drives it through the real services on a fresh object,
checking after every request:

1. a request the table does not allow is refused (the service raises, or — for the alarm's
   idempotent "I have it" taps — does nothing) and the state and the timeline stay as they were;
2. an allowed request moves the object to exactly the requested state;
3. the timeline is complete: its transition rows, in display order, chain from the initial state
   to the current one (each row's from is the previous row's to), one row per accepted request.

The model ("is this allowed?") is the flow table plus the few conditions the services document
on top of it (a note where the step requires one, resume to the state before 挂起, …); anything
else the services refuse would be a disagreement between the table and the services: a bug."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from cases.conftest import categories, open_case, teams  # noqa: F401  (fixtures)
from conftest import make_id_number
from deliberation.conftest import attendance, bodies  # noqa: F401  (fixtures)
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from honours.conftest import honours  # noqa: F401  (fixtures)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wuzhi.alarms import flow as alarm_flow
from wuzhi.alarms import outbox
from wuzhi.alarms import services as alarm_services
from wuzhi.alarms.models import Alarm, AlarmEvent, AlarmState, Press, Resolution
from wuzhi.cases import flow as case_flow
from wuzhi.cases import services as case_services
from wuzhi.cases.models import CaseEvent, CaseState, Satisfaction
from wuzhi.deliberation import flow as topic_flow
from wuzhi.deliberation import services as topic_services
from wuzhi.deliberation.models import Level, Source, TopicEvent, TopicState, VoteOrigin
from wuzhi.honours import flow as round_flow
from wuzhi.honours import services as honour_services
from wuzhi.honours.models import RoundEvent, RoundState
from wuzhi.registry.models import Resident
from wuzhi.registry.selectors import ResidentFilter

pytestmark = pytest.mark.django_db

# Small and reproducible: CI runs the same examples every time, in a few seconds.
PROPS = settings(max_examples=20, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

REFUSED = (ValidationError, PermissionDenied)  # ConcurrentEdit and NotAllowed are subclasses
_seq = itertools.count(1)


def chain_of(rows: list[tuple[str, str]], initial: str) -> None:
    """The timeline rows (from, to) in display order start from nothing, reach `initial` and then
    follow each other without a gap."""
    assert rows, "the timeline has no rows"
    assert rows[0][0] == "", rows
    previous = rows[0][1]
    assert previous == initial, rows
    for source, target in rows[1:]:
        assert source == previous, f"gap in the timeline: {rows}"
        previous = target


def requests(states: type) -> st.SearchStrategy[list[tuple[str | int, bool]]]:
    """A sequence of (request, whether the user wrote a note). A request is any state, or a
    number: the n-th step the table offers from wherever the object is then. Half of the requests
    follow the table, so the sequences reach the deep states instead of stalling at the first."""
    return st.lists(st.tuples(st.one_of(st.sampled_from(list(states.values)), st.integers(0, 5)), st.booleans()),
                    min_size=1, max_size=12)


def pick(request: str | int, source: str, table: dict[tuple[str, str], object]) -> str:
    if isinstance(request, str):
        return request
    offered = sorted(t for (s, t) in table if s == source)
    return offered[request % len(offered)] if offered else source


# ---- cases -------------------------------------------------------------------------------------


@PROPS
@given(steps=requests(CaseState), auto_assign=st.booleans())
def test_case_flow_through_services(steps, auto_assign, tree, people, teams, categories, open_case):  # noqa: F811
    s = people.secretary
    case = open_case(auto_assign=auto_assign)
    main = open_case(description="同一盏灯,另一位居民也反映了")
    expected = CaseState.ASSIGNED if auto_assign else CaseState.ACCEPTED
    accepted = 0
    before_suspension = ""
    for request, with_note in steps:
        case.refresh_from_db()
        source = case.state
        target = pick(request, source, case_flow.TRANSITIONS)
        assert source == expected
        rows_before = case.events.filter(kind=CaseEvent.Kind.TRANSITION).count()
        step = case_flow.step(source, target)
        allowed = step is not None and (with_note or not step.note_required)
        if source == CaseState.SUSPENDED:
            allowed = allowed and target == before_suspension  # resume where it was suspended
        # 改派 needs another team: offer the one the case does not have.
        team = teams.mediators if case.assigned_team_id == teams.repairs.pk else teams.repairs
        kw = {"note": "按规定办理" if with_note else "", "team": team}
        if target == CaseState.REVIEWED:
            kw["satisfaction"] = Satisfaction.SATISFIED
        if target == CaseState.MERGED:
            kw["into"] = main
        try:
            case_services.case_transition(actor=s, case=case, to=target, version=case.version, **kw)
        except REFUSED:
            refused = True
        else:
            refused = False
        case.refresh_from_db()
        assert refused != allowed, f"{source} → {target} (note: {with_note}): refused={refused}"
        if refused:
            assert case.state == source
            assert case.events.filter(kind=CaseEvent.Kind.TRANSITION).count() == rows_before
        else:
            assert case.state == target
            accepted += 1
            event(f"reached {target}")  # --hypothesis-show-statistics: are deep states reached?
            if target == CaseState.SUSPENDED:
                before_suspension = source
            expected = target
    rows = list(case.events.filter(kind=CaseEvent.Kind.TRANSITION).order_by("at", "id")
                .values_list("from_state", "to_state"))
    chain_of(rows, CaseState.ACCEPTED)
    assert rows[-1][1] == case.state
    assert len(rows) == 1 + int(auto_assign) + accepted


# ---- deliberation topics -----------------------------------------------------------------------


@PROPS
@given(steps=requests(TopicState))
def test_topic_flow_through_services(steps, tree, people, bodies):  # noqa: F811
    s = people.secretary
    now = timezone.now()
    topic = topic_services.topic_propose(actor=s, title="1栋楼道灯改造", description="楼道灯坏了很久,晚上看不见",
                                         level=Level.BUILDING, area=tree.buildings[0], source=Source.GRID,
                                         at=now - dt.timedelta(days=3))
    into = topic_services.topic_propose(actor=s, title="楼道照明", description="楼道照明需要统一改造",
                                        level=Level.BUILDING, area=tree.buildings[0], source=Source.GRID,
                                        at=now - dt.timedelta(days=3))
    accepted = 0
    for request, with_note in steps:
        topic.refresh_from_db()
        source = topic.state
        target = pick(request, source, topic_flow.TRANSITIONS)
        rows_before = topic.events.filter(kind=TopicEvent.Kind.TRANSITION).count()
        step = topic_flow.step(source, target)
        allowed = step is not None and (with_note or not step.note_required or target == TopicState.DECIDED)
        note = "经审议,按程序办理" if with_note else ""
        try:
            if target == TopicState.DECIDED:
                # 决议 only comes from a passed vote; the plain button must refuse it in any state.
                with pytest.raises(ValidationError):
                    topic_services.topic_transition(actor=s, topic=topic, to=target, note=note)
                meeting = topic_services.meeting_record(
                    actor=s, body=bodies.building, topics=[topic], held_at=timezone.now(), place="议事厅",
                    minutes="讨论方案", attendance=attendance(bodies.building, 5))
                topic_services.vote_record(actor=s, meeting=meeting, topic=topic, origin=VoteOrigin.HANDS,
                                           votes_for=meeting.attending, votes_against=0, votes_abstain=0,
                                           decision="同意实施", version=topic.version)
            elif target == TopicState.MERGED:
                topic_services.topic_merge(actor=s, topic=topic, into=into, note=note, version=topic.version)
            else:
                topic_services.topic_transition(actor=s, topic=topic, to=target, note=note, version=topic.version)
        except REFUSED:
            refused = True
        else:
            refused = False
        topic.refresh_from_db()
        assert refused != allowed, f"{source} → {target} (note: {with_note}): refused={refused}"
        if refused:
            assert topic.state == source
            assert topic.events.filter(kind=TopicEvent.Kind.TRANSITION).count() == rows_before
        else:
            assert topic.state == target
            accepted += 1
            event(f"reached {target}")  # --hypothesis-show-statistics: are deep states reached?
    rows = list(topic.events.filter(kind=TopicEvent.Kind.TRANSITION).order_by("at", "id")
                .values_list("from_state", "to_state"))
    chain_of(rows, TopicState.PROPOSED)
    assert rows[-1][1] == topic.state
    assert len(rows) == 1 + accepted


# ---- honour rounds -----------------------------------------------------------------------------


@PROPS
@given(steps=requests(RoundState))
def test_round_flow_through_services(steps, tree, people, honours):  # noqa: F811
    s = people.secretary
    n = next(_seq)
    at = timezone.make_aware(dt.datetime(2026, 1, 5, 9, 0))
    # One round per example: (community, year, quarter) is unique.
    rnd = honour_services.round_open(actor=s, area=tree.community, year=2100 + n // 4, quarter=n % 4 + 1, at=at)
    nomination = honour_services.nomination_add(actor=s, round=rnd, category=honours.cats.hygiene,
                                                household=honours.h1, reason="家中常年干净整洁,带动邻居清理楼道", at=at)
    scored = False
    accepted = 0
    for request, with_note in steps:
        # Each request a month after the last: a 公示 opened before is always over.
        at += dt.timedelta(days=30)
        rnd.refresh_from_db()
        source = rnd.state
        target = pick(request, source, round_flow.TRANSITIONS)
        rows_before = rnd.events.filter(kind=RoundEvent.Kind.TRANSITION).count()
        step = round_flow.step(source, target)
        allowed = step is not None and (with_note or not step.note_required)
        try:
            honour_services.round_advance(actor=s, round=rnd, to=target, note="补充材料" if with_note else "",
                                          version=rnd.version, at=at)
        except REFUSED:
            refused = True
        else:
            refused = False
        rnd.refresh_from_db()
        assert refused != allowed, f"{source} → {target} (note: {with_note}): refused={refused}"
        if refused:
            assert rnd.state == source
            assert rnd.events.filter(kind=RoundEvent.Kind.TRANSITION).count() == rows_before
        else:
            assert rnd.state == target
            accepted += 1
            event(f"reached {target}")  # --hypothesis-show-statistics: are deep states reached?
        if rnd.state == RoundState.EVALUATING and not scored:
            # The one sheet the category asks for, so 评议结束 can pass when it is requested.
            honour_services.score_record(actor=s, nomination=nomination, evaluator_name="甲",
                                         points={"室内整洁": 45, "门前三包": 45})
            scored = True
    rows = list(rnd.events.filter(kind=RoundEvent.Kind.TRANSITION).order_by("at", "id")
                .values_list("from_state", "to_state"))
    chain_of(rows, RoundState.NOMINATING)
    assert rows[-1][1] == rnd.state
    assert len(rows) == 1 + accepted
    assert nomination.score_avg is None or nomination.score_avg == Decimal("90.0")


# ---- alarms ------------------------------------------------------------------------------------

# What a person can request of an alarm, each through its own service. "notifying" is not a
# button: it is what the outbox does when the first notification goes out.
ALARM_ACTIONS = ["notify", "acknowledge", "depart", "on_site", "resolve", "cancel"]
ACTION_TARGET = {"notify": AlarmState.NOTIFYING, "acknowledge": AlarmState.ACKNOWLEDGED,
                 "depart": AlarmState.ACKNOWLEDGED, "on_site": AlarmState.ON_SITE,
                 "resolve": AlarmState.RESOLVED, "cancel": AlarmState.RESOLVED}


@pytest.fixture
def alarm_device(tree, make_household):
    household = make_household(tree.dwellings[0], [("王奶奶", {"birth": "19400302", "male": False}),
                                                    ("王小明", {"phone": "13912345678", "relation": "子"})])
    elder = household.members.get(name="王奶奶")

    def make():
        return alarm_services.device_register(actor=None, key=f"8600000000{next(_seq):05d}", resident=elder,
                                              sim="13700000001", secret="device-secret")

    return make


@PROPS
@given(actions=st.lists(st.sampled_from(ALARM_ACTIONS), min_size=1, max_size=8))
def test_alarm_flow_through_services(actions, tree, people, alarm_device):
    worker = people.worker1
    device = alarm_device()  # its own device: a press on a device with an open alarm would join it
    alarm = alarm_services.alarm_press(device=device, event_id="p0", via=Press.Via.MQTT).alarm
    assert alarm is not None
    accepted = 0
    for i, action in enumerate(actions):
        alarm.refresh_from_db()
        source = alarm.state
        target = ACTION_TARGET[action]
        rows_before = alarm.events.filter(kind=AlarmEvent.Kind.TRANSITION).count()
        allowed = alarm_flow.can(source, target)
        try:
            if action == "notify":
                outbox.drain()
            elif action == "acknowledge":
                alarm_services.acknowledge(actor=worker, alarm=alarm, version=alarm.version)
            elif action == "depart":
                alarm_services.depart(actor=worker, alarm=alarm, note="5分钟到")
            elif action == "on_site":
                alarm_services.on_site(actor=worker, alarm=alarm)
            elif action == "resolve":
                alarm_services.resolve(actor=worker, alarm=alarm, resolution=Resolution.TEST, version=alarm.version)
            else:
                alarm_services.cancel(device=device, event_id=f"c{i}", via=Press.Via.MQTT)
        except REFUSED:
            refused = True
        else:
            refused = False
        alarm.refresh_from_db()
        rows_after = alarm.events.filter(kind=AlarmEvent.Kind.TRANSITION).count()
        if action == "notify" and source == AlarmState.NEW and rows_after == rows_before:
            allowed = False  # nothing was due to be sent (cannot happen before the first dispatch)
        if allowed:
            assert not refused and alarm.state == target, f"{action} in {source}: now {alarm.state}"
            assert rows_after == rows_before + 1
            accepted += 1
            event(f"reached {target}")
        else:
            # Refused, or (acknowledge/on-site twice, a second tap in an emergency) a no-op.
            assert alarm.state == source, f"{action} in {source} moved the alarm to {alarm.state}"
            assert rows_after == rows_before
    rows = list(alarm.events.filter(kind=AlarmEvent.Kind.TRANSITION).order_by("at", "id")
                .values_list("from_state", "to_state"))
    chain_of(rows, AlarmState.NEW)
    assert rows[-1][1] == alarm.state
    assert len(rows) == 1 + accepted
    assert Alarm.objects.filter(device=device).count() == 1


# ---- pinyin search -----------------------------------------------------------------------------

# Common surnames with the reading they take as a surname (several differ from the character's
# everyday reading: 单 shan, 曾 zeng, 解 xie, 仇 qiu, 朴 piao, 查 zha, 区 ou, 乐 yue, 覃 qin …).
SURNAMES = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang", "赵": "zhao",
    "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma", "朱": "zhu", "胡": "hu", "郭": "guo",
    "何": "he", "高": "gao", "林": "lin", "罗": "luo", "郑": "zheng", "梁": "liang", "谢": "xie", "宋": "song",
    "唐": "tang", "许": "xu", "韩": "han", "冯": "feng", "邓": "deng", "曹": "cao", "彭": "peng", "曾": "zeng",
    "肖": "xiao", "田": "tian", "董": "dong", "袁": "yuan", "潘": "pan", "蒋": "jiang", "蔡": "cai", "余": "yu",
    "杜": "du", "叶": "ye", "程": "cheng", "苏": "su", "魏": "wei", "吕": "lv", "丁": "ding", "任": "ren",
    "沈": "shen", "姚": "yao", "卢": "lu", "崔": "cui", "钟": "zhong", "谭": "tan", "陆": "lu", "范": "fan",
    "石": "shi", "廖": "liao", "夏": "xia", "方": "fang", "白": "bai", "孟": "meng", "秦": "qin", "段": "duan",
    "雷": "lei", "龙": "long", "黎": "li", "贺": "he", "顾": "gu", "毛": "mao", "万": "wan", "覃": "qin",
    "单": "shan", "解": "xie", "仇": "qiu", "朴": "piao", "查": "zha", "区": "ou", "乐": "yue", "缪": "miao",
    "翟": "zhai", "盖": "ge", "欧阳": "ouyang", "诸葛": "zhuge", "司马": "sima",
}
# Given-name characters with one reading.
GIVEN = {
    "明": "ming", "丽": "li", "芳": "fang", "军": "jun", "强": "qiang", "伟": "wei", "秀": "xiu", "英": "ying",
    "玉": "yu", "兰": "lan", "红": "hong", "平": "ping", "建": "jian", "国": "guo", "文": "wen", "志": "zhi",
    "海": "hai", "春": "chun", "梅": "mei", "林": "lin", "云": "yun", "雪": "xue", "杰": "jie", "涛": "tao",
    "静": "jing", "敏": "min", "燕": "yan", "霞": "xia", "慧": "hui", "浩": "hao", "宇": "yu", "婷": "ting",
    "娜": "na", "鹏": "peng", "磊": "lei", "欣": "xin", "颖": "ying", "德": "de", "福": "fu", "荣": "rong",
    "黎": "li", "琴": "qin", "桂": "gui", "凤": "feng", "刚": "gang", "勇": "yong", "斌": "bin", "洁": "jie",
}


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(surname=st.sampled_from(sorted(SURNAMES)), given=st.lists(st.sampled_from(sorted(GIVEN)), min_size=1,
                                                                  max_size=2))
def test_any_generated_name_is_found_by_pinyin_and_initials(surname, given, tree, make_household):
    name = surname + "".join(given)
    syllables = [SURNAMES[surname], *(GIVEN[c] for c in given)]
    full = "".join(syllables)
    # A compound surname is two syllables: 欧阳 → o + y.
    initials = ("".join(p[0] for p in {"欧阳": ["ou", "yang"], "诸葛": ["zhu", "ge"], "司马": ["si", "ma"]}
                        .get(surname, [SURNAMES[surname]])) + "".join(GIVEN[c][0] for c in given))
    household = make_household(tree.dwellings[next(_seq) % len(tree.dwellings)],
                               [(name, {"id_number": make_id_number("19800101")})])
    resident = household.members.get()
    for typed in (full, initials, full.upper(), " ".join(syllables), SURNAMES[surname]):
        found = ResidentFilter(q=typed).apply(Resident.objects.all())
        assert resident in found, f"{name}: “{typed}” did not find it (stored {resident.name_pinyin!r}, " \
                                  f"{resident.name_initials!r})"
