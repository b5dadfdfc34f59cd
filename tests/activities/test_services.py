"""人次 and the roll-call services: named participants plus counted headcount, volunteers apart,
nobody marked twice, unmark, copying last session's list, and the week and team figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from wuzhi.activities import selectors, services
from wuzhi.activities.models import Activity, Attendance

from . import at, build


@pytest.fixture
def data(tree, make_household):
    return build(tree, make_household, members=5)


def test_visits_are_named_participants_plus_headcount_and_volunteers_do_not_count(data, people):
    a = data.activity
    services.attendance_mark(actor=people.worker1, activity=a, residents=data.residents[:3])
    services.attendance_mark(actor=people.worker1, activity=a, members=data.crew[3:5] + [data.student],
                             role=Attendance.Role.VOLUNTEER, hours=1.5)
    services.headcount_set(actor=people.worker1, activity=a, headcount=40)

    annotated = selectors.with_visits(Activity.objects.filter(pk=a.pk)).get()
    assert annotated.visits == 43
    assert selectors.visits_total(Activity.objects.filter(pk__in=[a.pk, data.far.pk])) == 43
    totals = selectors.attendance_totals(a)
    assert totals == {"named": 3, "headcount": 40, "visits": 43, "helpers": 3, "hours": Decimal("4.5")}


def test_a_person_cannot_be_marked_twice_in_one_session(data, people):
    a, zhang = data.activity, data.crew[0]
    services.attendance_mark(actor=people.worker1, activity=a, members=[zhang])
    with pytest.raises(ValidationError, match="张黎已签到,不能重复登记"):
        services.attendance_mark(actor=people.worker1, activity=a, members=[zhang])
    # The same person found by the resident search instead of the team list is still the same person.
    with pytest.raises(ValidationError, match="已签到"):
        services.attendance_mark(actor=people.worker1, activity=a, residents=[zhang.resident])
    assert a.attendance.count() == 1


def test_unmark_removes_the_mark_and_the_person_can_be_marked_again(data, people):
    a = data.activity
    [row] = services.attendance_mark(actor=people.worker1, activity=a, members=[data.crew[1]])
    services.attendance_unmark(actor=people.worker1, attendance=row)
    assert not a.attendance.exists()
    services.attendance_mark(actor=people.worker1, activity=a, members=[data.crew[1]])
    assert a.attendance.count() == 1


def test_copy_keeps_roles_and_hours_and_skips_the_marked_and_those_who_left(data, people):
    last = data.activity
    services.attendance_mark(actor=people.worker1, activity=last, members=data.crew[:3], role="volunteer", hours=2)
    services.attendance_mark(actor=people.worker1, activity=last, residents=[data.residents[3]])
    services.attendance_mark(actor=people.worker1, activity=last, names=["路人甲"])
    today = services.activity_record(actor=people.worker1, area=data.team.area, kind="team", team=data.team,
                                     title="惠民政策入户宣讲", starts_at=at(data.day + dt.timedelta(days=1), 9))
    services.member_leave(actor=people.worker1, member=data.crew[2], on=data.day)
    services.attendance_mark(actor=people.worker1, activity=today, members=[data.crew[0]])

    assert selectors.previous_session(today, Activity.objects.all()) == last
    created = services.attendance_copy(actor=people.worker1, activity=today, source=last)
    assert sorted(a.name for a in created) == ["王芳", "赵雪", "路人甲"]
    rows = {a.name: a for a in today.attendance.all()}
    assert rows["王芳"].role == "volunteer" and rows["王芳"].hours == Decimal("2")
    assert rows["赵雪"].role == "participant" and rows["赵雪"].hours == 0
    assert "李明" not in rows  # left the team before this session
    # Copying again adds nobody.
    assert services.attendance_copy(actor=people.worker1, activity=today, source=last) == []


def test_previous_session_needs_a_roll_call_and_the_same_team(data, people):
    later = services.activity_record(actor=None, area=data.team.area, kind="team", team=data.team, title="再次宣讲",
                                     starts_at=at(data.day + dt.timedelta(days=2), 9))
    assert selectors.previous_session(later, Activity.objects.all()) is None  # yesterday's has no attendance
    services.headcount_set(actor=None, activity=data.activity, headcount=5)
    assert selectors.previous_session(later, Activity.objects.all()) is None  # a headcount has no names to copy
    services.attendance_mark(actor=None, activity=data.activity, members=[data.crew[0]])
    assert selectors.previous_session(later, Activity.objects.all()) == data.activity
    assert selectors.previous_session(data.far, Activity.objects.all()) is None


def test_week_runs_monday_to_sunday_in_local_time(data):
    wednesday = dt.date(2026, 11, 25)
    monday, next_monday = selectors.week_of(wednesday)
    assert (monday, next_monday) == (dt.date(2026, 11, 23), dt.date(2026, 11, 30))
    late_sunday = services.activity_record(actor=None, area=data.team.area, kind="patrol", title="夜间巡逻",
                                           starts_at=at(dt.date(2026, 11, 29), 23, 30))
    early_monday = services.activity_record(actor=None, area=data.team.area, kind="patrol", title="夜间巡逻",
                                            starts_at=at(dt.date(2026, 11, 30), 0, 30))
    week = selectors.in_days(Activity.objects.all(), monday, next_monday)
    assert late_sunday in week and early_monday not in week


def test_team_figures_count_sessions_visits_and_hours(data, people):
    services.attendance_mark(actor=None, activity=data.activity, residents=[data.far_resident])
    services.attendance_mark(actor=None, activity=data.activity, members=data.crew[:2], role="volunteer", hours=1.5)
    services.headcount_set(actor=None, activity=data.activity, headcount=10)
    figures = selectors.team_figures(Activity.objects.all())
    assert figures == {data.team.pk: {"activities": 1, "visits": 11, "hours": Decimal("3.0")}}


def test_only_visit_roles_mark_attendance(data, people):
    from wuzhi.core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.attendance_mark(actor=people.county, activity=data.activity, members=[data.crew[0]])
    with pytest.raises(NotAllowed):
        services.attendance_mark(actor=people.worker2, activity=data.activity, members=[data.crew[0]])


def test_team_members_see_and_mark_their_team_activities_outside_their_grants(tree, people, make_user, make_household):
    """A community-wide team's member with no grant there still takes the roll of their team."""
    import datetime as dt

    from django.utils import timezone

    from wuzhi.activities import services as act
    from wuzhi.activities.models import Activity

    leader = make_user("leader")  # no grant at all
    team = act.team_create(actor=None, area=tree.community, kind="care", name="敬老之心爱心服务队")
    act.member_add(actor=None, team=team, user=leader, role="队长")
    other = act.team_create(actor=None, area=tree.community, kind="care", name="慈爱之心爱心服务队")
    when = timezone.now() - dt.timedelta(hours=2)
    mine = act.activity_record(actor=None, area=tree.community, kind="team", team=team, title="敬老", starts_at=when)
    act.activity_record(actor=None, area=tree.community, kind="team", team=other, title="别队", starts_at=when)
    assert list(Activity.objects.visible_to(leader)) == [mine]
    h = make_household(tree.dwellings[0])
    act.attendance_mark(actor=leader, activity=mine, residents=[h.head])
    assert mine.attendance.count() == 1
