"""A team leader takes attendance on their phone: open the roll call, tap three members (one tap
each, no page load), see the 人次 total reach 3; a second tap takes a mark back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuzhi.activities import services
from wuzhi.activities.models import Attendance, TeamKind
from wuzhi.core.roles import Role

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect


def test_team_leader_marks_three_members_on_the_phone(live_server, transactional_db, tree, make_user,
                                                      make_household, phone_page):
    # The leader of the 彩虹 art team holds a 楼长 grant on building 1: may view and record there.
    make_user("leader", Role.BUILDING_HEAD, tree.buildings[0], name="彩虹队长")
    names = ["张黎", "王芳", "李明", "赵雪"]
    team = services.team_create(actor=None, area=tree.buildings[0], kind=TeamKind.ART, name="彩虹文艺队")
    for i, name in enumerate(names):
        resident = make_household(tree.dwellings[i], [(name, {})]).head
        services.member_add(actor=None, team=team, resident=resident)
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(19, 30)))
    activity = services.activity_record(actor=None, area=tree.buildings[0], kind="art", team=team,
                                        title="广场舞排练", starts_at=start, venue="社区广场")
    page = phone_page

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("leader")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/activities/{activity.pk}/attendance/")
    total = page.locator("#rc-visits")
    expect(total).to_have_text("0")
    # At a rehearsal the people on the list take part: the toggle starts on 参与.
    expect(page.locator("#rc-role-participant")).to_be_checked()

    for i, name in enumerate(names[:3], 1):
        page.locator(".rc-row", has_text=name).get_by_role("button").tap()
        expect(page.locator(".rc-row.is-marked", has_text=name)).to_have_count(1)
        expect(total).to_have_text(str(i))
    assert sorted(Attendance.objects.values_list("name", flat=True)) == sorted(names[:3])
    expect(page.locator(".rc-row.is-marked")).to_have_count(3)

    # Tapping a marked row again takes the mark back.
    page.locator(".rc-row", has_text="王芳").get_by_role("button").tap()
    expect(total).to_have_text("2")
    expect(page.locator(".rc-row.is-marked")).to_have_count(2)
    assert Attendance.objects.count() == 2
