"""Programs on the one activity/attendance mechanism: 人次 (named + counted, one rule everywhere),
no double marking (service message and database constraint), the canteen's statement against its
meal rows (page totals and the .xlsx), program and enrolment scope (area grants and the tutor's
relation rule), resident cards, and the figures' periods."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from openpyxl import load_workbook

from wuzhi.activities import canteen, cards, exporter, figures, selectors, services
from wuzhi.activities.models import (
    Activity,
    ActivityKind,
    Attendance,
    Enrolment,
    Funding,
    Program,
    ProgramKind,
    TeamKind,
)
from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import AccessLog
from wuzhi.core.roles import Role
from wuzhi.reports.statistics import Scope

from . import at

CHILDREN = ["张小雨", "王小明", "李小红", "赵小军", "陈小兰"]


@pytest.fixture
def school(tree, make_household):
    """A 四点半 class on grid 1 with five children, a resident volunteer and an outside teacher."""
    kids = []
    for i, name in enumerate(CHILDREN):
        kids.append(make_household(tree.dwellings[i], [(name, {"birth": "20160301"})]).head)
    helper = make_household(tree.dwellings[5], [("周志愿", {})]).head
    program = services.program_create(actor=None, area=tree.grids[0], kind=ProgramKind.AFTERSCHOOL,
                                      name="四点半希望小课堂", session_time=dt.time(16, 30), session_minutes=120,
                                      venue="新时代文明实践站")
    learners = [services.enrol(actor=None, program=program, role=Enrolment.Role.LEARNER, resident=r,
                               from_on=dt.date(2020, 1, 1)) for r in kids]
    volunteer = services.enrol(actor=None, program=program, role=Enrolment.Role.VOLUNTEER, resident=helper,
                               from_on=dt.date(2020, 1, 1))
    teacher = services.enrol(actor=None, program=program, role=Enrolment.Role.TEACHER, name="罗老师",
                             organisation="县第二小学", from_on=dt.date(2020, 1, 1))
    friday = timezone.localdate() - dt.timedelta(days=(timezone.localdate().weekday() - 4) % 7 or 7)
    session = services.session_open(actor=None, program=program, day=friday)
    return type("School", (), dict(program=program, kids=kids, learners=learners, volunteer=volunteer,
                                   teacher=teacher, session=session, friday=friday))


def year_scope(area=None, user=None) -> Scope:
    today = timezone.localdate()
    return Scope(user, area, today.replace(month=1, day=1), today.replace(month=12, day=31))


# ---- 人次 --------------------------------------------------------------------------------------


def test_visits_sum_named_participants_and_headcount_the_same_way_everywhere(tree, school):
    s = school.session
    services.attendance_mark(actor=None, activity=s, enrolments=school.learners[:3])
    services.attendance_mark(actor=None, activity=s, enrolments=[school.volunteer, school.teacher], hours=2)
    services.attendance_mark(actor=None, activity=s, names=["旁听家长"])
    services.headcount_set(actor=None, activity=s, headcount=10)
    # 3 children + 1 typed-in participant by name + 10 counted; the two who served are not 人次.
    expected = 3 + 1 + 10
    qs = Activity.objects.filter(pk=s.pk)
    assert selectors.visits_total(qs) == expected
    assert selectors.with_visits(qs).get().visits == expected
    assert selectors.attendance_totals(s)["visits"] == expected
    assert selectors.attendance_totals(s)["helpers"] == 2
    assert figures.afterschool_child_visits(year_scope()) == expected
    # A second session adds its own: sums, not maxima.
    other = services.session_open(actor=None, program=school.program, day=school.friday - dt.timedelta(days=7))
    services.attendance_mark(actor=None, activity=other, enrolments=school.learners)
    services.headcount_set(actor=None, activity=other, headcount=2)
    assert selectors.visits_total(Activity.objects.filter(program=school.program)) == expected + 5 + 2
    assert figures.afterschool_child_visits(year_scope()) == expected + 7
    # Distinct children (名, not 人次): the five on the list and the parent typed in.
    people = Attendance.objects.filter(selectors.TAKES_PART, activity__program=school.program)
    assert selectors.people_total(people) == 6


def test_team_figures_and_events_count_through_the_same_rule(tree, make_household):
    team = services.team_create(actor=None, area=tree.community, kind=TeamKind.ART, name="彩虹文艺队")
    dancer = services.member_add(actor=None, team=team, resident=make_household(tree.dwellings[0]).head)
    day = timezone.localdate() - dt.timedelta(days=1)
    show = services.activity_record(actor=None, area=tree.community, kind="festival", team=team, title="浓情端午",
                                    starts_at=at(day, 19), headcount=300)
    services.attendance_mark(actor=None, activity=show, members=[dancer])
    assert selectors.team_figures(Activity.objects.all())[team.pk]["visits"] == 301
    law = services.activity_record(actor=None, area=tree.community, kind="law", title="禁毒宣传", venue="法治长廊",
                                   starts_at=at(day, 9), headcount=120)
    services.attendance_mark(actor=None, activity=law, names=["甲", "乙"])
    services.attendance_mark(actor=None, activity=law, names=["司法所干部"], role="volunteer", hours=2)
    scope = year_scope()
    assert (figures.law_events(scope), figures.law_event_visits(scope)) == (1, 122)
    assert (figures.art_teams(scope), figures.art_team_members(scope)) == (1, 1)


# ---- no double marking -------------------------------------------------------------------------


def test_a_child_cannot_be_marked_twice_in_one_session(school):
    s, child = school.session, school.learners[0]
    services.attendance_mark(actor=None, activity=s, enrolments=[child])
    with pytest.raises(ValidationError, match="张小雨已签到,不能重复登记"):
        services.attendance_mark(actor=None, activity=s, enrolments=[child])
    # Found again by the resident search (or a scanned card): the same person, still refused.
    with pytest.raises(ValidationError, match="张小雨已签到"):
        services.attendance_mark(actor=None, activity=s, residents=[school.kids[0]])
    # Twice in one call: the database refuses it, the service says so in Chinese.
    with pytest.raises(ValidationError, match="同一人不能在一次活动中重复签到"):
        services.attendance_mark(actor=None, activity=s, enrolments=[school.learners[1], school.learners[1]])
    assert s.attendance.count() == 1
    # And under the service, the constraint itself holds (an outsider has only the enrolment).
    services.attendance_mark(actor=None, activity=s, enrolments=[school.teacher], hours=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.create(activity=s, enrolment=school.teacher, name="罗老师", role="tutor")


def test_a_resident_marked_by_search_is_linked_to_their_enrolment(school):
    services.attendance_mark(actor=None, activity=school.session, residents=[school.kids[2]])
    row = school.session.attendance.get()
    assert row.enrolment == school.learners[2] and row.role == "participant"
    # A volunteer found by search serves (hours), as their enrolment says.
    services.attendance_mark(actor=None, activity=school.session, residents=[school.volunteer.resident], hours=2)
    assert school.session.attendance.get(enrolment=school.volunteer).role == "volunteer"
    # Someone not on the list still counts, without an enrolment.


def test_enrolment_rules(tree, make_household, school):
    with pytest.raises(ValidationError, match="已在“四点半希望小课堂”名单中"):
        services.enrol(actor=None, program=school.program, role="learner", resident=school.kids[0])
    with pytest.raises(ValidationError, match="须从居民中选择"):
        services.enrol(actor=None, program=school.program, role="learner", name="外人")
    # An ended enrolment is history: the child is not on later sessions' lists, and may come back.
    services.enrolment_end(actor=None, enrolment=school.learners[4], on=school.friday - dt.timedelta(days=1))
    assert not school.learners[4].enrolled_on(school.friday)
    again = services.enrol(actor=None, program=school.program, role="learner", resident=school.kids[4])
    assert again.pk != school.learners[4].pk


# ---- scope ---------------------------------------------------------------------------------------


def test_programs_enrolments_and_sessions_follow_the_area_tree(people, school):
    for model in (Program, Enrolment):
        assert model.objects.visible_to(people.worker1).count() > 0
        assert model.objects.visible_to(people.worker2).count() == 0
        assert model.objects.visible_to(people.secretary).count() > 0
    assert not Activity.objects.visible_to(people.worker2).filter(program=school.program).exists()
    with pytest.raises(NotAllowed):
        services.attendance_mark(actor=people.worker2, activity=school.session, enrolments=school.learners[:1])
    with pytest.raises(NotAllowed):
        services.enrol(actor=people.worker2, program=school.program, role="volunteer", name="路人")
    # Figures go through Scope: grid 2's view of the class is empty.
    services.attendance_mark(actor=None, activity=school.session, enrolments=school.learners)
    assert figures.afterschool_child_visits(year_scope(user=people.worker2)) == 0
    assert figures.afterschool_child_visits(year_scope(user=people.worker1)) == 5


def test_a_tutor_login_on_the_list_takes_the_roll_of_its_sessions_only(tree, make_user, people, school):
    # A volunteer login with a grant elsewhere (grid 2): may view there, may not record on grid 1.
    tutor = make_user("tutor", Role.VOLUNTEER, tree.grids[1], name="胡老师")
    assert not Program.objects.visible_to(tutor).exists()
    with pytest.raises(NotAllowed):
        services.attendance_mark(actor=tutor, activity=school.session, enrolments=school.learners[:1])
    services.enrol(actor=people.secretary, program=school.program, role="teacher", user=tutor)
    tutor = type(tutor).objects.get(pk=tutor.pk)  # a fresh request: memberships are read once per user
    assert list(Program.objects.visible_to(tutor)) == [school.program]
    assert Enrolment.objects.visible_to(tutor).count() == 8
    services.attendance_mark(actor=tutor, activity=school.session, enrolments=school.learners[:2])
    session = services.session_open(actor=tutor, program=school.program)
    assert Activity.objects.visible_to(tutor, "visit").filter(pk=session.pk).exists()
    # Not another activity on grid 1, and no changes to the list.
    other = services.activity_record(actor=None, area=tree.grids[0], kind="law", title="普法", starts_at=at(school.friday))
    assert not Activity.objects.visible_to(tutor).filter(pk=other.pk).exists()
    with pytest.raises(NotAllowed):
        services.enrol(actor=tutor, program=school.program, role="volunteer", name="路人")


# ---- canteen statement ---------------------------------------------------------------------------


@pytest.fixture
def canteen_data(tree, make_household):
    diners = [make_household(tree.dwellings[i], [(name, {"birth": "19450101"})]).head
              for i, name in enumerate(["王奶奶", "李爷爷", "张婆婆"])]
    program = services.program_create(actor=None, area=tree.grids[0], kind=ProgramKind.CANTEEN, name="新时代幸福餐厅",
                                      session_time=dt.time(11, 30), session_minutes=60, meal_price=Decimal("12.50"))
    listed = [services.enrol(actor=None, program=program, role="diner", resident=r, funding=f,
                             from_on=dt.date(2020, 1, 1))
              for r, f in zip(diners, [Funding.WELFARE, Funding.SUBSIDY, Funding.WELFARE], strict=True)]
    first = timezone.localdate().replace(day=1) - dt.timedelta(days=1)  # last month, complete
    first = first.replace(day=1)
    meals = 0
    for day_n, who in [(1, listed), (2, listed[:2]), (3, listed[:1]), (10, listed)]:
        meal = services.session_open(actor=None, program=program, day=first.replace(day=day_n), title="午餐")
        services.attendance_mark(actor=None, activity=meal, enrolments=who)
        meals += len(who)
    # A walk-in typed by name (no enrolment), whose name Excel would run as a formula.
    services.attendance_mark(actor=None, activity=meal, names=["=1+1"])
    meals += 1
    # The month after must not leak in; neither must a volunteer serving lunch.
    later = services.session_open(actor=None, program=program, day=timezone.localdate(), title="午餐")
    services.attendance_mark(actor=None, activity=later, enrolments=listed)
    services.attendance_mark(actor=None, activity=meal, names=["帮厨志愿者"], role="volunteer", hours=1)
    return type("Canteen", (), dict(program=program, listed=listed, first=first, meals=meals,
                                   last=canteen.month_span(f"{first:%Y-%m}")[1]))


def test_statement_totals_match_the_meal_rows(canteen_data):
    c = canteen_data
    st = canteen.statement(c.program, Activity.objects.all(), c.first, c.last)
    rows = canteen.meal_rows(c.program, Activity.objects.all(), c.first, c.last)
    assert rows.count() == c.meals == 10
    assert st.meals == c.meals == sum(d.meals for d in st.diners) == sum(g.meals for g in st.by_funding)
    assert st.amount == Decimal("12.50") * c.meals
    per = {d.name: (d.funding, d.days, d.meals) for d in st.diners}
    assert per == {"王奶奶": ("民政兜底", 4, 4), "李爷爷": ("政府补贴", 3, 3), "张婆婆": ("民政兜底", 2, 2),
                   "=1+1": ("未登记", 1, 1)}
    assert [(g.funding, g.diners, g.meals) for g in st.by_funding] == [("民政兜底", 2, 6), ("政府补贴", 1, 3),
                                                                        ("未登记", 1, 1)]
    # Meals are 人次 of the canteen's sessions: the same rows the figures count.
    month = selectors.in_days(Activity.objects.filter(program=c.program), c.first, c.last + dt.timedelta(days=1))
    assert selectors.visits_total(month) == st.meals


def test_statement_workbook_matches_the_rows_escapes_formulas_and_is_logged(canteen_data, people):
    c = canteen_data
    data = exporter.export_canteen_statement(actor=people.secretary, program=c.program,
                                             sessions=Activity.objects.visible_to(people.secretary, "export"),
                                             first=c.first, last=c.last)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["按就餐者", "按经费类别", "就餐明细"]
    diners = [list(r) for r in wb["按就餐者"].iter_rows(values_only=True)]
    assert diners[0] == ["序号", "姓名", "住址", "经费类别", "就餐天数", "就餐次数", "餐标(元/餐)", "金额(元)"]
    body, total = diners[1:-1], diners[-1]
    assert sum(r[5] for r in body) == total[5] == c.meals
    assert total[7] == pytest.approx(12.5 * c.meals)
    assert "'=1+1" in [r[1] for r in body]  # shown as text, never run
    funding = [list(r) for r in wb["按经费类别"].iter_rows(values_only=True)]
    assert funding[-1][0] == "合计" and funding[-1][2] == c.meals
    assert sum(r[2] for r in funding[1:-1]) == c.meals
    detail = list(wb["就餐明细"].iter_rows(values_only=True))
    assert len(detail) - 1 == c.meals
    assert not any(isinstance(v, str) and v.startswith("=") for row in wb.worksheets for r in row.iter_rows(
        values_only=True) for v in r)
    log = AccessLog.objects.get()
    assert log.kind == AccessLog.Kind.EXPORT and log.actor == people.secretary and "就餐" in log.detail


# ---- cards, figures' periods ---------------------------------------------------------------------


def test_card_tokens_are_signed(school):
    token = cards.card_token(school.kids[0])
    assert cards.resident_pk(token) == school.kids[0].pk
    assert cards.resident_pk(f" {token}\n") == school.kids[0].pk  # a scanner gun's line end
    forged = token.replace(f"WZR{school.kids[0].pk}", f"WZR{school.kids[1].pk}")
    assert cards.resident_pk(forged) is None
    assert cards.resident_pk("") is None and cards.resident_pk("hello") is None


def test_figures_count_only_the_period(tree, make_household):
    last_year = timezone.localdate().replace(month=6, day=1) - dt.timedelta(days=365)
    services.activity_record(actor=None, area=tree.community, kind="training", title="市民培训",
                             starts_at=at(last_year), headcount=200)
    services.activity_record(actor=None, area=tree.community, kind="skill", title="电工技能培训",
                             starts_at=at(timezone.localdate() - dt.timedelta(days=1)), headcount=30)
    services.activity_record(actor=None, area=tree.community, kind="gratitude", title="我来为你唱首歌",
                             starts_at=at(timezone.localdate() - dt.timedelta(days=1)), headcount=450)
    scope = year_scope()
    # Last year's training is outside the period; an employment skills training is not a 德治 training.
    assert (figures.training_events(scope), figures.training_visits(scope)) == (0, 0)
    assert (figures.gratitude_events(scope), figures.gratitude_visits(scope)) == (1, 450)
    past = Scope(None, None, last_year.replace(month=1, day=1), last_year.replace(month=12, day=31))
    assert (figures.training_events(past), figures.training_visits(past)) == (1, 200)
    assert ActivityKind.SKILL != ActivityKind.TRAINING


def test_camp_counts_children_and_volunteers_as_people(tree, make_household):
    kids = [make_household(tree.dwellings[i], [(f"孩子{i}", {"birth": "20150101"})]).head for i in range(3)]
    camp = services.program_create(actor=None, area=tree.community, kind=ProgramKind.CAMP, name="夏令营",
                                   session_time=dt.time(9), session_minutes=420)
    campers = [services.enrol(actor=None, program=camp, role="camper", resident=r, from_on=dt.date(2020, 1, 1))
               for r in kids]
    helpers = [services.enrol(actor=None, program=camp, role="volunteer", name=n, organisation="四川农业大学",
                              from_on=dt.date(2020, 1, 1)) for n in ("张雨萱", "刘子涵")]
    for back in (3, 2, 1):
        day = services.session_open(actor=None, program=camp, day=timezone.localdate() - dt.timedelta(days=back))
        services.attendance_mark(actor=None, activity=day, enrolments=campers[: back])
        services.attendance_mark(actor=None, activity=day, enrolments=helpers, hours=7)
    scope = year_scope()
    assert figures.camp_children(scope) == 3  # people, though 6 人次
    assert figures.camp_volunteers(scope) == 2
