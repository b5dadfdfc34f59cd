"""The program pages: a session's roll call lists the enrolment (one tap each, a second mark
refused), the resident-card scan, the program page and its one-tap session, adding to the list,
the quick event page, the canteen statement page and export, a child's record, the cards, scope
(404 outside the area) and query counts that do not grow with the list."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from wuzhi.activities import cards, services
from wuzhi.activities.models import Activity, Attendance, Enrolment, ProgramKind
from wuzhi.core.models import AccessLog

HTMX = {"HTTP_HX_REQUEST": "true"}


def make_class(tree, make_household, n: int):
    kids = []
    for i in range(n):
        dwelling = tree.dwellings[i % 8]
        kids.append(make_household(dwelling, [(f"学生{i:02d}", {"birth": "20160301"})]).head)
    program = services.program_create(actor=None, area=tree.grids[0], kind=ProgramKind.AFTERSCHOOL,
                                      name="四点半希望小课堂", session_time=dt.time(16, 30), session_minutes=120)
    learners = [services.enrol(actor=None, program=program, role="learner", resident=r, from_on=dt.date(2020, 1, 1))
                for r in kids]
    teacher = services.enrol(actor=None, program=program, role="teacher", name="罗老师", organisation="县第二小学",
                             from_on=dt.date(2020, 1, 1))
    session = services.session_open(actor=None, program=program, day=timezone.localdate())
    return program, kids, learners, teacher, session


@pytest.fixture
def school(tree, make_household):
    return make_class(tree, make_household, 4)


def visits_shown(response) -> int:
    match = re.search(r'id="rc-visits"[^>]*>(\d+)<', response.content.decode())
    assert match, "the 人次 total is missing"
    return int(match[1])


def test_session_roll_call_lists_the_enrolment_and_one_tap_marks(client, people, school):
    program, kids, learners, teacher, session = school
    client.force_login(people.worker1)
    page = client.get(reverse("activities:attendance", args=[session.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "四点半希望小课堂" in html and "老师和志愿者" in html and "罗老师" in html
    assert [e.name for e in page.context["learners"]] == [r.name for r in kids]
    url = reverse("activities:attendance_mark", args=[session.pk])
    response = client.post(url, {"enrolment": learners[0].pk, "role": "participant"}, **HTMX)
    assert visits_shown(response) == 1 and "is-marked" in response.content.decode()
    assert f'id="rc-p-e{learners[0].pk}"' in response.content.decode()
    again = client.post(url, {"enrolment": learners[0].pk, "role": "participant"}, **HTMX)
    assert "已签到,不能重复登记" in again.content.decode() and visits_shown(again) == 1
    # The teacher serves whatever the toggle says: hours, not 人次.
    response = client.post(url, {"enrolment": teacher.pk, "role": "participant"}, **HTMX)
    assert visits_shown(response) == 1
    row = Attendance.objects.get(enrolment=teacher)
    assert (row.role, row.hours) == ("tutor", 2)
    # Untap: the mark goes, the row stays on the list.
    unmark = client.post(reverse("activities:attendance_unmark", args=[session.pk]),
                         {"attendance": Attendance.objects.get(enrolment=learners[0]).pk,
                          "enrolment": learners[0].pk}, **HTMX)
    assert visits_shown(unmark) == 0 and "is-marked" not in unmark.content.decode().split("rc-total")[0]


def test_another_programs_enrolment_is_not_on_this_roll_call(client, people, tree, make_household, school):
    other = services.program_create(actor=None, area=tree.grids[0], kind=ProgramKind.CANTEEN, name="幸福餐厅")
    diner = services.enrol(actor=None, program=other, role="diner", resident=school[1][0])
    client.force_login(people.worker1)
    response = client.post(reverse("activities:attendance_mark", args=[school[4].pk]), {"enrolment": diner.pk}, **HTMX)
    assert response.status_code == 404


def test_scanning_a_resident_card_marks_them(client, people, tree, make_household, school):
    program, kids, learners, teacher, session = school
    client.force_login(people.worker1)
    url = reverse("activities:attendance_scan", args=[session.pk])
    response = client.post(url, {"token": cards.card_token(kids[1]) + "\n"}, **HTMX)
    body = response.content.decode()
    assert "学生01 已签到" in body and visits_shown(response) == 1
    assert f'id="rc-p-e{learners[1].pk}"' in body and 'hx-swap-oob="true"' in body
    assert Attendance.objects.get().enrolment == learners[1]
    assert "已签到,不能重复登记" in client.post(url, {"token": cards.card_token(kids[1])}, **HTMX).content.decode()
    forged = cards.card_token(kids[1]).replace(f"WZR{kids[1].pk}", f"WZR{kids[2].pk}")
    assert "无法识别" in client.post(url, {"token": forged}, **HTMX).content.decode()
    # A genuine card of someone outside the worker's area.
    stranger = make_household(tree.dwellings[9], [("外网格居民", {})]).head
    assert "不在您的管辖范围内" in client.post(url, {"token": cards.card_token(stranger)}, **HTMX).content.decode()
    assert Attendance.objects.count() == 1


def test_program_page_shows_visits_and_starts_todays_session_once(client, people, school):
    program, kids, learners, teacher, session = school
    services.attendance_mark(actor=None, activity=session, enrolments=learners[:3])
    services.headcount_set(actor=None, activity=session, headcount=2)
    client.force_login(people.worker1)
    page = client.get(reverse("activities:program_detail", args=[program.pk]))
    assert page.status_code == 200
    assert re.search(r'id="program-visits">5<', page.content.decode())
    assert page.context["figures"] == {"sessions": 1, "visits": 5, "people": 3}
    start = client.post(reverse("activities:session_start", args=[program.pk]))
    assert start.status_code == 302 and start["Location"] == reverse("activities:attendance", args=[session.pk])
    Activity.objects.filter(pk=session.pk).update(starts_at=session.starts_at - dt.timedelta(days=7))
    start = client.post(reverse("activities:session_start", args=[program.pk]))
    new = Activity.objects.filter(program=program).latest("starts_at")
    assert new.pk != session.pk and new.kind == "class" and start["Location"].endswith(f"/{new.pk}/attendance/")
    assert timezone.localtime(new.starts_at).time() == dt.time(16, 30)


def test_adding_to_the_list(client, people, tree, make_household, school):
    program = school[0]
    newcomer = make_household(tree.dwellings[6], [("新同学", {"birth": "20170101"})]).head
    client.force_login(people.worker1)
    url = reverse("activities:program_enrol", args=[program.pk])
    assert client.post(url, {"source": "resident", "resident": newcomer.pk, "role": "learner"}).status_code == 302
    assert Enrolment.objects.filter(program=program, resident=newcomer, role="learner").exists()
    again = client.post(url, {"source": "resident", "resident": newcomer.pk, "role": "learner"})
    assert again.status_code == 400 and "已在“四点半希望小课堂”名单中" in again.content.decode()
    outsider = client.post(url, {"source": "outside", "name": "张雨萱", "organisation": "四川农业大学",
                                 "role": "volunteer"})
    assert outsider.status_code == 302
    assert Enrolment.objects.get(name="张雨萱").organisation == "四川农业大学"
    wrong = client.post(url, {"source": "outside", "name": "某人", "role": "learner"})
    assert wrong.status_code == 400 and "须从居民中选择" in wrong.content.decode()
    # Read-only and out-of-area users.
    client.force_login(people.worker2)
    assert client.get(reverse("activities:program_detail", args=[program.pk])).status_code == 404
    client.force_login(people.county)
    assert client.post(url, {"source": "outside", "name": "某人", "role": "volunteer"}).status_code == 403


def test_quick_event_records_a_law_event_with_a_headcount(client, people, tree):
    client.force_login(people.worker1)
    page = client.get(reverse("activities:event_create"))
    assert page.status_code == 200 and "法治长廊" in page.content.decode()
    now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    form = {"kind": "law", "title": "禁毒宣传", "venue": "普法知识站", "partner": "县禁毒办", "headcount": "180",
            "starts_at": now, "area": tree.grids[0].pk}
    response = client.post(reverse("activities:event_create"), form)
    event = Activity.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{event.pk}/attendance/")
    assert (event.kind, event.governance, event.venue, event.headcount, event.partner) == (
        "law", "law", "普法知识站", 180, "县禁毒办")
    elsewhere = client.post(reverse("activities:event_create"), {**form, "venue": "菜市场"})
    assert elsewhere.status_code == 400 and "普法知识站、法治长廊或法治园梯" in elsewhere.content.decode()
    song = client.post(reverse("activities:event_create"), {**form, "kind": "gratitude", "title": "我来为你唱首歌",
                                                            "venue": "社区广场", "headcount": "460"})
    assert song.status_code == 302 and Activity.objects.get(kind="gratitude").governance == "moral"
    outside = client.post(reverse("activities:event_create"), {**form, "area": tree.grids[1].pk})
    assert outside.status_code == 400  # grid 2 is not among worker1's places


def test_canteen_statement_page_and_export(client, people, tree, make_household):
    diners = [make_household(tree.dwellings[i], [(n, {"birth": "19450101"})]).head
              for i, n in enumerate(["王奶奶", "李爷爷"])]
    program = services.program_create(actor=None, area=tree.grids[0], kind=ProgramKind.CANTEEN, name="新时代幸福餐厅",
                                      session_time=dt.time(11, 30), meal_price=12)
    listed = [services.enrol(actor=None, program=program, role="diner", resident=r, funding=f,
                             from_on=dt.date(2020, 1, 1)) for r, f in zip(diners, ["welfare", "self"], strict=True)]
    today = timezone.localdate()
    for back in range(3):
        meal = services.session_open(actor=None, program=program, day=today.replace(day=1) + dt.timedelta(days=back))
        services.attendance_mark(actor=None, activity=meal, enrolments=listed[: back + 1][:2])
    client.force_login(people.worker1)
    page = client.get(reverse("activities:canteen_statement", args=[program.pk]), {"month": f"{today:%Y-%m}"})
    st = page.context["st"]
    assert st.meals == 5 == Attendance.objects.count() and float(st.amount) == 60
    assert [(d.name, d.meals) for d in st.diners] == [("王奶奶", 3), ("李爷爷", 2)]
    export = client.get(reverse("activities:canteen_statement_export", args=[program.pk]), {"month": f"{today:%Y-%m}"})
    assert export.status_code == 200 and "filename*=utf-8''" in export["Content-Disposition"]
    wb = load_workbook(io.BytesIO(export.content))
    assert [r[5] for r in wb["按就餐者"].iter_rows(min_row=2, values_only=True)] == [3, 2, 5]
    assert AccessLog.objects.filter(kind="export", actor=people.worker1).count() == 1
    client.force_login(people.head)  # a building head may view but not export
    assert client.get(reverse("activities:canteen_statement_export", args=[program.pk])).status_code in (403, 404)
    client.force_login(people.worker2)
    assert client.get(reverse("activities:canteen_statement", args=[program.pk])).status_code == 404


def test_child_record_and_cards(client, people, school):
    program, kids, learners, teacher, session = school
    services.attendance_mark(actor=None, activity=session, enrolments=[learners[0]])
    earlier = services.session_open(actor=None, program=program, day=timezone.localdate() - dt.timedelta(days=7))
    services.attendance_mark(actor=None, activity=earlier, enrolments=[learners[0]])
    client.force_login(people.worker1)
    record = client.get(reverse("activities:person_record", args=[kids[0].pk]))
    assert record.status_code == 200
    assert record.context["per_program"][0]["n"] == 2 and len(record.context["page"].rows) == 2
    card = client.get(reverse("activities:resident_card", args=[kids[0].pk]))
    assert card.status_code == 200 and "<svg" in card.content.decode()
    assert cards.card_token(kids[0]) in card.content.decode()  # the QR's label carries the token
    all_cards = client.get(reverse("activities:program_cards", args=[program.pk]))
    assert all_cards.content.decode().count("<svg") == 4
    client.force_login(people.worker2)
    assert client.get(reverse("activities:person_record", args=[kids[0].pk])).status_code == 404


@pytest.mark.parametrize("n", [3, 24])
def test_program_pages_run_a_bounded_number_of_queries(client, tree, make_household, people, n,
                                                       django_assert_max_num_queries):
    program, kids, learners, teacher, session = make_class(tree, make_household, n)
    for back in range(1, 4):
        past = services.session_open(actor=None, program=program, day=timezone.localdate() - dt.timedelta(days=7 * back))
        services.attendance_mark(actor=None, activity=past, enrolments=learners)
    services.attendance_mark(actor=None, activity=session, enrolments=learners[: n // 2])
    client.force_login(people.secretary)
    client.get(reverse("activities:program_list"))  # warm the session
    pages = {
        # session, user, grants, memberships, then the page's own queries
        reverse("activities:attendance", args=[session.pk]): 10,
        reverse("activities:program_list"): 7,
        reverse("activities:program_detail", args=[program.pk]): 16,
        reverse("activities:person_record", args=[kids[0].pk]): 10,
        reverse("activities:program_cards", args=[program.pk]): 6,
    }
    for url, bound in pages.items():
        with django_assert_max_num_queries(bound, info=url):
            response = client.get(url)
        assert response.status_code == 200, url
    # One tap costs the same whatever the size of the list.
    with django_assert_max_num_queries(17):
        client.post(reverse("activities:attendance_mark", args=[session.pk]), {"enrolment": learners[-1].pk}, **HTMX)


def test_copying_last_sessions_list_and_outside_volunteers_hours(client, people, school):
    program, kids, learners, teacher, session = school
    earlier = services.session_open(actor=None, program=program, day=timezone.localdate() - dt.timedelta(days=7))
    services.attendance_mark(actor=None, activity=earlier, enrolments=learners[:3])
    services.attendance_mark(actor=None, activity=earlier, enrolments=[teacher], hours=2)
    services.enrolment_end(actor=None, enrolment=learners[2], on=timezone.localdate() - dt.timedelta(days=1))
    client.force_login(people.worker1)
    client.post(reverse("activities:attendance_copy", args=[session.pk]))
    # The two children still on the list and the teacher; the child who left is not copied.
    assert sorted(session.attendance.values_list("name", flat=True)) == sorted([kids[0].name, kids[1].name, "罗老师"])
    again = client.post(reverse("activities:attendance_copy", args=[session.pk]))
    assert again.status_code == 302 and session.attendance.count() == 3
    rows = client.get(reverse("activities:volunteers")).context["rows"]
    assert [(r["name"], r["organisation"], float(r["hours"])) for r in rows] == [("罗老师", "县第二小学", 4)]


def test_a_child_found_by_search_is_ticked_on_the_list_too(client, people, school):
    program, kids, learners, teacher, session = school
    client.force_login(people.worker1)
    response = client.post(reverse("activities:attendance_mark", args=[session.pk]),
                           {"resident": kids[3].pk, "source": "search"}, **HTMX)
    body = response.content.decode()
    assert f'id="rc-p-e{learners[3].pk}"' in body and body.count("is-marked") == 2  # search row + list row
    assert Attendance.objects.get().enrolment == learners[3]
