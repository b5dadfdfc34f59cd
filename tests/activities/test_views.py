"""The team and activity pages: the roll call (tap, refuse a second mark, unmark, headcount,
names, search, copy), scope (another grid's activity does not exist), the read-only county
cadre, creating teams, members and activities, the week view, and bounded query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.activities import services
from wuzhi.activities.models import Activity, Attendance, Team, TeamMember

from . import at, build

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def data(tree, make_household):
    return build(tree, make_household, members=3)


def login(client, user):
    client.force_login(user)
    return client


def mark(client, activity, **fields):
    return client.post(reverse("activities:attendance_mark", args=[activity.pk]), fields, **HTMX)


def visits_shown(response) -> int:
    match = re.search(r'id="rc-visits"[^>]*>(\d+)<', response.content.decode())
    assert match, "the 人次 total is missing"
    return int(match[1])


# ---- roll call -----------------------------------------------------------------------------------


def test_roll_call_lists_the_team_and_tapping_marks_a_member(client, data, people):
    login(client, people.worker1)
    page = client.get(reverse("activities:attendance", args=[data.activity.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("张黎", "王芳", "李明", "周同学"):
        assert name in html
    assert "从上次活动复制名单" not in html  # no earlier session

    response = mark(client, data.activity, member=data.crew[0].pk, role="participant")
    assert response.status_code == 200
    body = response.content.decode()
    assert "is-marked" in body and 'hx-swap-oob="true"' in body
    assert visits_shown(response) == 1
    row = Attendance.objects.get()
    assert (row.member, row.role, row.hours) == (data.crew[0], "participant", 0)


def test_volunteers_get_hours_and_do_not_count_as_visits(client, data, people):
    login(client, people.worker1)
    response = mark(client, data.activity, member=data.student.pk, role="volunteer", hours="")
    assert visits_shown(response) == 0
    assert "志愿者 1 人 · 1.5 小时" in response.content.decode()  # the activity ran 09:00–10:30
    response = mark(client, data.activity, member=data.crew[1].pk, role="volunteer", hours="3")
    assert Attendance.objects.get(member=data.crew[1]).hours == 3
    # A service team's activity starts the roll call in volunteer mode (the team serves).
    page = client.get(reverse("activities:attendance", args=[data.activity.pk]))
    assert re.search(r'id="rc-role-volunteer" value="volunteer" autocomplete="off" checked', page.content.decode())


def test_a_second_mark_is_refused_with_the_services_message(client, data, people):
    login(client, people.worker1)
    mark(client, data.activity, member=data.crew[0].pk, role="participant")
    again = mark(client, data.activity, member=data.crew[0].pk, role="participant")
    assert again.status_code == 200
    body = again.content.decode()
    assert "张黎已签到,不能重复登记" in body and "is-marked" in body
    # … also when the same person is tapped in the resident search.
    again = mark(client, data.activity, resident=data.residents[0].pk, source="search")
    assert "已签到,不能重复登记" in again.content.decode()
    assert Attendance.objects.count() == 1
    assert visits_shown(again) == 1
    # Without htmx the refusal comes back as a message on the page.
    client.post(reverse("activities:attendance_mark", args=[data.activity.pk]), {"member": data.crew[0].pk})
    page = client.get(reverse("activities:attendance", args=[data.activity.pk]))
    assert "张黎已签到,不能重复登记" in page.content.decode()


def test_tapping_a_marked_row_unmarks_it(client, data, people):
    login(client, people.worker1)
    mark(client, data.activity, member=data.crew[0].pk, role="participant")
    row = Attendance.objects.get()
    url = reverse("activities:attendance_unmark", args=[data.activity.pk])
    response = client.post(url, {"attendance": row.pk, "member": data.crew[0].pk}, **HTMX)
    assert response.status_code == 200
    assert not Attendance.objects.exists()
    assert "is-marked" not in response.content.decode().split("rc-total")[0]
    assert visits_shown(response) == 0
    # A second tap on a stale row (already unmarked on another phone) is harmless.
    again = client.post(url, {"attendance": row.pk, "member": data.crew[0].pk}, **HTMX)
    assert again.status_code == 200


def test_headcount_and_names_add_to_the_total(client, data, people):
    login(client, people.worker1)
    mark(client, data.activity, member=data.crew[0].pk, role="participant")
    mark(client, data.activity, member=data.crew[1].pk, role="participant")
    response = mark(client, data.activity, name="路人甲", source="name", role="participant")
    assert "路人甲" in response.content.decode() and visits_shown(response) == 3
    response = client.post(reverse("activities:attendance_headcount", args=[data.activity.pk]), {"headcount": 40},
                           **HTMX)
    assert visits_shown(response) == 43
    data.activity.refresh_from_db()
    assert data.activity.headcount == 40
    bad = client.post(reverse("activities:attendance_headcount", args=[data.activity.pk]), {"headcount": -1}, **HTMX)
    assert "is-invalid" in bad.content.decode()
    empty_name = mark(client, data.activity, name="", source="name")
    assert "is-invalid" in empty_name.content.decode()


def test_activity_without_team_marks_residents_found_by_pinyin_initials(client, data, people, make_household):
    login(client, people.worker2)
    page = client.get(reverse("activities:attendance", args=[data.far.pk]))
    assert "查找居民签到" in page.content.decode()
    found = client.get(reverse("activities:attendance_search", args=[data.far.pk]), {"q": "sl"}, **HTMX)
    assert "孙丽" in found.content.decode()
    # worker2 cannot find grid 1's residents: the search goes through the scope chokepoint.
    assert "张黎" not in client.get(reverse("activities:attendance_search", args=[data.far.pk]), {"q": "zl"}).content.decode()
    response = mark(client, data.far, resident=data.far_resident.pk, source="search")
    body = response.content.decode()
    assert 'id="rc-others" hx-swap-oob="true"' in body and visits_shown(response) == 1
    assert client.post(reverse("activities:attendance_mark", args=[data.far.pk]),
                       {"resident": data.residents[0].pk}, **HTMX).status_code == 404


def test_copy_the_previous_sessions_list(client, data, people):
    services.attendance_mark(actor=None, activity=data.activity, members=data.crew[:2], role="volunteer", hours=2)
    today = services.activity_record(actor=None, area=data.team.area, kind="team", team=data.team, title="入户宣讲",
                                     starts_at=at(timezone.localdate(), 9))
    login(client, people.worker1)
    assert "从上次活动复制名单" in client.get(reverse("activities:attendance", args=[today.pk])).content.decode()
    response = client.post(reverse("activities:attendance_copy", args=[today.pk]), follow=True)
    assert "复制2人" in response.content.decode()
    assert sorted(today.attendance.values_list("name", flat=True)) == ["张黎", "王芳"]


# ---- scope and read-only ---------------------------------------------------------------------------


def test_a_grid_worker_cannot_see_or_mark_another_grids_activity(client, data, people):
    login(client, people.worker1)
    assert client.get(reverse("activities:attendance", args=[data.far.pk])).status_code == 404
    assert mark(client, data.far, resident=data.far_resident.pk).status_code == 404
    assert client.post(reverse("activities:attendance_headcount", args=[data.far.pk]), {"headcount": 9}).status_code == 404
    assert not Attendance.objects.exists()
    listing = client.get(reverse("activities:activity_list")).content.decode()
    assert "惠民政策入户宣讲" in listing and "四点半课堂" not in listing
    week = client.get(reverse("activities:week"), {"date": data.day.isoformat()}).content.decode()
    assert "惠民政策入户宣讲" in week and "四点半课堂" not in week


def test_county_cadre_reads_but_cannot_mark_or_create(client, data, people):
    login(client, people.county)
    page = client.get(reverse("activities:attendance", args=[data.activity.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "只有查看权限" in html and "hx-post" not in html and 'id="rc-mode"' not in html
    assert mark(client, data.activity, member=data.crew[0].pk).status_code == 403
    unmark = client.post(reverse("activities:attendance_unmark", args=[data.activity.pk]), {"attendance": 999})
    assert unmark.status_code == 403
    assert client.post(reverse("activities:attendance_headcount", args=[data.activity.pk]),
                       {"headcount": 5}).status_code == 403
    assert client.get(reverse("activities:activity_create")).status_code == 403
    assert client.get(reverse("activities:team_create")).status_code == 403
    assert client.post(reverse("activities:member_add", args=[data.team.pk]),
                       {"source": "outside", "name": "某某", "role": "队员"}).status_code == 403
    assert not Attendance.objects.exists()
    for name in ("activity_list", "team_list", "week", "volunteers"):
        assert client.get(reverse(f"activities:{name}")).status_code == 200
    assert client.get(reverse("activities:team_detail", args=[data.team.pk])).status_code == 200


# ---- activities and teams ----------------------------------------------------------------------------


def test_record_an_activity_with_the_governance_from_its_kind(client, data, people):
    login(client, people.worker1)
    assert client.get(reverse("activities:activity_create") + f"?team={data.team.pk}").status_code == 200
    response = client.post(reverse("activities:activity_create"), {
        "kind": "law", "title": "法律进社区", "team": data.team.pk, "governance": "", "area": "",
        "venue": "法治文化园", "starts_at": "2026-11-20T09:00", "ends_at": "", "partner": "县司法局", "note": "",
    })
    activity = Activity.objects.get(title="法律进社区")
    assert response.status_code == 302 and response["Location"] == reverse("activities:attendance", args=[activity.pk])
    assert (activity.governance, activity.area, activity.partner) == ("law", data.team.area, "县司法局")

    bad = client.post(reverse("activities:activity_create"), {
        "kind": "class", "title": "课堂", "area": people.worker1.grants.get().area.pk,
        "starts_at": "2026-11-20T09:00", "ends_at": "2026-11-20T08:00",
    })
    assert bad.status_code == 400
    assert bad.context["form"].errors["ends_at"] == ["结束时间不能早于开始时间"]


def test_create_a_team_and_manage_its_members(client, data, people, tree):
    login(client, people.secretary)
    response = client.post(reverse("activities:team_create"), {
        "kind": "art", "name": "彩虹文艺队", "area": tree.community.pk, "governance": "", "description": "广场舞"})
    team = Team.objects.get(name="彩虹文艺队")
    assert response.status_code == 302 and team.governance == "moral"
    dup = client.post(reverse("activities:team_create"), {"kind": "art", "name": "彩虹文艺队", "area": tree.community.pk})
    assert dup.status_code == 400 and dup.context["form"].errors["name"] == ["该区域已有同名的服务队"]

    add = reverse("activities:member_add", args=[team.pk])
    candidates = client.get(reverse("activities:team_candidates", args=[team.pk]), {"q": "zl"}, **HTMX)
    assert "张黎" in candidates.content.decode()
    assert client.post(add, {"source": "resident", "resident": data.residents[0].pk, "role": "队长"}).status_code == 302
    again = client.post(add, {"source": "resident", "resident": data.residents[0].pk, "role": "队员"})
    assert again.status_code == 400 and "张黎已是彩虹文艺队队员" in again.content.decode()
    missing = client.post(add, {"source": "resident", "role": "队员"})
    assert missing.context["member_form"].errors["resident"] == ["请先查找并选择一位居民"]
    client.post(add, {"source": "outside", "name": "钱同学", "organisation": "昭通学院", "role": "队员"})
    client.post(add, {"source": "user", "user": people.worker1.pk, "role": "联络员"})
    members = {m.name: m for m in team.members.all()}
    assert members["钱同学"].organisation == "昭通学院" and members["王网格"].user == people.worker1

    leave = client.post(reverse("activities:member_leave", args=[team.pk, members["钱同学"].pk]))
    assert leave.status_code == 302
    assert TeamMember.objects.get(name="钱同学").left_on == timezone.localdate()
    detail = client.get(reverse("activities:team_detail", args=[team.pk])).content.decode()
    assert "已退出 1 人" in detail


def test_team_list_groups_by_kind_with_this_years_figures(client, data, people):
    services.attendance_mark(actor=None, activity=data.activity, members=data.crew[:2], role="volunteer", hours=1.5)
    services.team_create(actor=None, area=data.team.area, kind="care", name="敬老之心爱心服务队")
    login(client, people.worker1)
    response = client.get(reverse("activities:team_list"))
    groups = response.context["groups"]
    assert [g["label"] for g in groups] == ["党员服务队", "爱心服务队"]
    party = groups[0]["teams"][0]
    assert (party.member_count, party.figures["activities"], party.figures["hours"]) == (4, 1, 3)


def test_activity_list_filters_and_shows_visits(client, data, people):
    services.attendance_mark(actor=None, activity=data.activity, residents=data.residents[:2])
    services.headcount_set(actor=None, activity=data.activity, headcount=10)
    login(client, people.secretary)
    response = client.get(reverse("activities:activity_list"))
    rows = {a.title: a.visits for a in response.context["page"].rows}
    assert rows == {"惠民政策入户宣讲": 12, "四点半课堂": 0}
    assert [a.title for a in client.get(reverse("activities:activity_list"), {"kind": "class"}).context["page"].rows] == ["四点半课堂"]
    assert [a.title for a in client.get(reverse("activities:activity_list"), {"team": data.team.pk}).context["page"].rows] == ["惠民政策入户宣讲"]
    month = client.get(reverse("activities:activity_list"), {"month": data.day.strftime("%Y-%m")})
    assert month.context["summary"] == {"activities": 2, "visits": 12}
    assert client.get(reverse("activities:activity_list"), {"governance": "law"}).context["page"].rows == []


def test_week_view_groups_by_day_and_counts_against_the_target(client, data, people, tree):
    monday = dt.date(2025, 3, 3)
    for offset, hour in ((0, 9), (0, 14), (2, 19)):
        services.activity_record(actor=None, area=tree.grids[0], kind="team", team=data.team, title=f"第{offset}天{hour}点",
                                 starts_at=at(monday + dt.timedelta(days=offset), hour))
    login(client, people.secretary)
    response = client.get(reverse("activities:week"), {"date": "2025-03-06"})
    days = response.context["days"]
    assert [d["date"] for d in days] == [monday + dt.timedelta(days=i) for i in range(7)]
    assert [[a.title for a in d["items"]] for d in days][:3] == [["第0天9点", "第0天14点"], [], ["第2天19点"]]
    assert (response.context["party"], response.context["target"]) == (3, 28)
    html = response.content.decode()
    assert "?date=2025-02-24" in html and "?date=2025-03-10" in html
    wednesday = html.split('data-date="2025-03-05"')[1].split("</section>")[0]
    assert "第2天19点" in wednesday and "第0天9点" not in wednesday
    # A grid worker sees no community, so no community's target.
    login(client, people.worker1)
    assert client.get(reverse("activities:week"), {"date": "2025-03-06"}).context["target"] == 0


# ---- bounded queries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 12])
def test_pages_run_a_bounded_number_of_queries(client, tree, make_household, people, n, django_assert_max_num_queries):
    data = build(tree, make_household, members=n)
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    for i in range(n):
        a = services.activity_record(actor=None, area=tree.grids[0], kind="team", team=data.team, title=f"活动{i}",
                                     starts_at=at(monday + dt.timedelta(days=i % 7), 8 + i % 10))
        services.attendance_mark(actor=None, activity=a, members=data.crew[: i + 1], role="volunteer", hours=1)
        services.attendance_mark(actor=None, activity=a, names=[f"群众{i}"])
    services.attendance_mark(actor=None, activity=data.activity, members=data.crew[: n // 2])
    services.attendance_mark(actor=None, activity=data.activity, residents=[data.far_resident])
    login(client, people.secretary)
    client.get(reverse("activities:activity_list"))  # warm the session
    # Each bound includes one lookup of the user's teams and programs (the team-member and program-staff
    # relation rules, one query).
    pages = {
        # session, user, grants, then the page's own queries
        reverse("activities:activity_list"): 7,
        reverse("activities:activity_list") + f"?team={data.team.pk}&month={monday:%Y-%m}": 10,
        reverse("activities:team_list"): 7,
        reverse("activities:team_detail", args=[data.team.pk]): 13,
        reverse("activities:attendance", args=[data.activity.pk]): 8,
        reverse("activities:attendance", args=[data.activity.pk]) + "?q=zl": 11,
        reverse("activities:week"): 6,
        reverse("activities:volunteers"): 7,
        reverse("activities:volunteer_detail") + f"?member={data.crew[0].pk}": 7,
    }
    for url, bound in pages.items():
        with django_assert_max_num_queries(bound, info=url):
            response = client.get(url)
        assert response.status_code == 200, url
    roll = client.get(reverse("activities:attendance", args=[data.activity.pk]))
    assert len(roll.context["members"]) == n + 1
    # session, user, grants, teams, activity, member, the service (checks, insert, savepoints), row, totals
    with django_assert_max_num_queries(16):
        response = mark(client, data.activity, member=data.crew[-1].pk, role="participant")
    assert response.status_code == 200
