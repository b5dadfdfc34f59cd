"""A 四点半 tutor takes the roll on their phone: from the program page one tap opens today's
class, one tap per child marks them (no page load), and back on the program page the year's
child-visit count has risen by the children marked. The tutor holds only a volunteer login:
their place on the class's list is what lets them take its roll."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuzhi.activities import services
from wuzhi.activities.models import Activity, Attendance, ProgramKind
from wuzhi.core.roles import Role

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect

CHILDREN = ["张小雨", "王小明", "李小红", "赵小军"]


def test_tutor_takes_the_roll_of_a_friday_class_on_the_phone(live_server, transactional_db, tree, make_user,
                                                            make_household, phone_page):
    tutor = make_user("tutor", Role.VOLUNTEER, tree.community, name="胡佳欣")
    program = services.program_create(actor=None, area=tree.community, kind=ProgramKind.AFTERSCHOOL,
                                      name="四点半希望小课堂", schedule="每周五 16:30–18:30",
                                      session_time=dt.time(16, 30), session_minutes=120, venue="新时代文明实践站")
    learners = [services.enrol(actor=None, program=program, role="learner", from_on=dt.date(2020, 1, 1),
                               resident=make_household(tree.dwellings[i], [(name, {"birth": "20160301"})]).head)
                for i, name in enumerate(CHILDREN)]
    services.enrol(actor=None, program=program, role="teacher", user=tutor, from_on=dt.date(2020, 1, 1))
    last_friday = timezone.localdate() - dt.timedelta(days=(timezone.localdate().weekday() - 4) % 7 or 7)
    earlier = services.session_open(actor=None, program=program, day=last_friday)
    services.attendance_mark(actor=None, activity=earlier, enrolments=learners[:2])
    page = phone_page

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("tutor")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/activities/programs/{program.pk}/")
    expect(page.locator("#program-visits")).to_have_text("2")
    page.get_by_role("button", name="开始今天的课堂").tap()
    page.wait_for_url("**/attendance/")
    session = Activity.objects.filter(program=program).latest("starts_at")
    assert timezone.localtime(session.starts_at).date() == timezone.localdate()

    total = page.locator("#rc-visits")
    expect(total).to_have_text("0")
    for i, name in enumerate(CHILDREN[:3], 1):
        page.locator(".rc-row", has_text=name).get_by_role("button").tap()
        expect(page.locator(".rc-row.is-marked", has_text=name)).to_have_count(1)
        expect(total).to_have_text(str(i))
    assert sorted(Attendance.objects.filter(activity=session).values_list("name", flat=True)) == sorted(CHILDREN[:3])

    page.get_by_role("link", name="四点半希望小课堂").first.tap()
    expect(page.locator("#program-visits")).to_have_text("5")
