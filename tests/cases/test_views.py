"""Pages: scope (grid 1 does not see grid 2; a team sees what is routed to it; a resident only
their own case), the queue's query count, acting from the detail page, the portal."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from docx import Document

from wuzhi.cases import services
from wuzhi.cases.models import Case, CaseState, Outcome

S = CaseState


def login(client, user):
    client.force_login(user)
    return client


def test_grid_worker_sees_only_their_grid(client, open_case, tree, people):
    mine = open_case(area=tree.units[0])
    theirs = open_case(area=tree.units[2], description="2网格的问题")
    login(client, people.worker1)
    page = client.get("/cases/").content.decode()
    assert mine.number in page and theirs.number not in page
    assert client.get(f"/cases/{theirs.pk}/").status_code == 404
    assert client.get(f"/cases/{mine.pk}/").status_code == 200


def test_team_member_sees_what_is_routed_to_their_team(client, open_case, categories, teams):
    repair = open_case()
    dispute = open_case(categories.neighbour, description="楼上漏水到楼下")
    login(client, teams.fixer)
    page = client.get("/cases/").content.decode()
    assert repair.number in page and dispute.number not in page
    assert client.get(f"/cases/{dispute.pk}/").status_code == 404
    # The team member works the case from its page.
    detail = client.get(f"/cases/{repair.pk}/").content.decode()
    assert "开始办理" in detail and "自办自结" not in detail
    r = client.post(f"/cases/{repair.pk}/act/", {"to": S.IN_PROGRESS, "version": repair.version})
    assert r.status_code == 302
    repair.refresh_from_db()
    assert repair.state == S.IN_PROGRESS
    # A stale version is refused with a message, not applied.
    client.post(f"/cases/{repair.pk}/act/", {"to": S.RESOLVED, "note": "好了", "version": 1})
    repair.refresh_from_db()
    assert repair.state == S.IN_PROGRESS


def test_detail_offers_only_the_allowed_actions(client, open_case, categories, people):
    case = open_case(categories.unrouted)
    login(client, people.worker1)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    for label in ("分派", "自办自结", "挂起"):
        assert f">{label}</button>" in html
    for label in ("办结", "归档", "开始办理"):
        assert f">{label}</button>" not in html
    # Refused by the table even when posted by hand.
    client.post(f"/cases/{case.pk}/act/", {"to": S.ARCHIVED})
    case.refresh_from_db()
    assert case.state == S.ACCEPTED


def test_queue_query_count_is_bounded(client, open_case, categories, people, tree):
    login(client, people.secretary)
    client.get("/cases/")
    for i in range(5):
        open_case(categories.light if i % 2 else categories.policy, area=tree.units[i % 4])
    with CaptureQueriesContext(connection) as few:
        client.get("/cases/")
    for i in range(20):
        open_case(categories.light if i % 2 else categories.policy, area=tree.units[i % 4])
    with CaptureQueriesContext(connection) as many:
        assert client.get("/cases/").status_code == 200
    assert len(many) == len(few) and len(many) <= 12


def test_open_a_case_on_behalf_of_a_resident(client, categories, people, tree):
    login(client, people.worker1)
    r = client.post("/cases/new/", {"category": categories.proxy.pk, "area": tree.units[0].pk,
                                    "description": "帮张大爷申请高龄补贴", "reporter_name": "张大爷",
                                    "reporter_phone": "13800001234", "channel": "grid", "documents": "身份证、户口簿"})
    case = Case.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/cases/{case.pk}/"
    assert case.documents == ["身份证", "户口簿"] and case.assigned_user == people.worker1
    # Outside their grid the unit is not even offered.
    r = client.post("/cases/new/", {"category": categories.proxy.pk, "area": tree.units[2].pk,
                                    "description": "x", "channel": "grid"})
    assert r.status_code == 400 and Case.objects.count() == 1


def test_resident_reports_tracks_and_rates(client, categories, teams, tree):
    unit = tree.units[0]
    r = client.post(f"/cases/p/u/{unit.code}/new/", {"category": categories.light.pk,
                                                    "description": "楼道灯坏了", "reporter_phone": "13911112222"})
    case = Case.objects.get()
    assert r.status_code == 302 and case.area == unit and case.channel == "qr"
    assert r["Location"] == f"/cases/p/c/{case.number}/"
    services.case_transition(actor=teams.fixer, case=case, to=S.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=case, to=S.RESOLVED, note="已更换灯泡")

    other = client.__class__()  # another phone: must verify with number and phone
    assert other.get(f"/cases/p/c/{case.number}/").status_code == 302
    assert other.post("/cases/p/track/", {"number": case.number, "phone": "13900000000"}).status_code == 400
    r = other.post("/cases/p/track/", {"number": case.number, "phone": "139 1111 2222"})
    assert r.status_code == 302
    page = other.get(f"/cases/p/c/{case.number}/").content.decode()
    assert "已更换灯泡" in page and "刘师傅" not in page  # staff names stay internal
    other.post(f"/cases/p/c/{case.number}/rate/", {"satisfaction": "satisfied"})
    case.refresh_from_db()
    assert case.state == S.REVIEWED and case.satisfaction == "satisfied"
    assert case.events.last().actor_name == "居民"


def test_portal_requires_a_phone(client, categories, tree):
    r = client.post(f"/cases/p/u/{tree.units[0].code}/new/", {"category": categories.light.pk, "description": "x"})
    assert r.status_code == 400 and not Case.objects.exists()
    assert client.get("/cases/p/u/000/new/").status_code == 404


def test_dispute_pages_and_agreement_docx(client, open_case, categories, teams, people, tree):
    case = open_case(categories.neighbour, description="楼上卫生间漏水,楼下天花板受损", area=tree.units[0])
    login(client, teams.mediator)
    r = client.post(f"/cases/{case.pk}/dispute/", {
        "dispute_type": "neighbour", "risk": "medium", "situation": "楼上卫生间漏水,楼下天花板受损",
        "cause": "防水层老化", "p0_role": "applicant", "p0_name": "王大妈", "p0_needs": "希望被尊重",
        "p0_interests": "修复天花板", "p1_role": "respondent", "p1_name": "李师傅", "p1_interests": "维修费用合理",
        "p2_role": "third"})
    assert r.status_code == 302
    client.post(f"/cases/{case.pk}/dispute/mediation/", {"held_at": "2026-03-01T19:30", "committee": "张黎、夏红燕",
                                                         "notes": "双方同意修复"})
    client.post(f"/cases/{case.pk}/dispute/conclude/", {
        "outcome": Outcome.SUCCESS, "terms": "李师傅于3月10日前修复防水层\n李师傅赔偿王大妈粉刷费800元",
        "performance": "一次性付清"})
    case.refresh_from_db()
    assert case.state == S.RESOLVED and case.result.startswith("调解成功")
    r = client.get(f"/cases/{case.pk}/dispute/agreement.docx")
    assert r.status_code == 200
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    for needle in ("人民调解协议书", "申请人:王大妈", "被申请人:李师傅", "赔偿王大妈粉刷费800元",
                   "福兴社区人民调解委员会", case.number):
        assert needle in text
    client.post(f"/cases/{case.pk}/dispute/follow-up/", {"status": "done", "note": "已修好"})
    assert case.dispute.fulfilment == "done"


def test_failed_mediation_needs_a_referral(open_case, categories, teams):
    case = open_case(categories.neighbour)
    dispute = services.dispute_intake(actor=teams.mediator, case=case, dispute_type="family", situation="赡养老人",
                                      parties=[{"name": "甲", "role": "applicant"}, {"name": "乙", "role": "respondent"}])
    services.mediation_record(actor=teams.mediator, dispute=dispute, notes="分歧较大")
    with pytest.raises(Exception, match="引导途径"):
        services.dispute_conclude(actor=teams.mediator, dispute=dispute, outcome=Outcome.FAILED)
    services.dispute_conclude(actor=teams.mediator, dispute=dispute, outcome=Outcome.FAILED, referral="litigation")
    case.refresh_from_db()
    assert case.result == "调解不成,已引导诉讼"


def test_board_shows_overdue_levels(client, open_case, people):
    case = open_case()
    services.escalate_overdue(now=case.due_at + (case.due_at - case.opened_at) * 3)
    login(client, people.secretary)
    html = client.get("/cases/board/").content.decode()
    assert case.number in html and 'id="count-red">1<' in html


def _cells(html: str, label: str) -> list[str]:
    """The numbers of the table row whose first cell is `label`."""
    import re

    row = re.search(rf"<td>{re.escape(label)}</td>(.*?)</tr>", html, re.S)
    assert row, f"no row {label}"
    return re.findall(r'<td class="text-end">(\d+(?:/\d+)?)</td>', row.group(1))


def test_stats_by_period_area_category_and_team(client, tree, open_case, teams, people, categories,
                                                django_assert_max_num_queries):
    done = open_case()
    services.case_transition(actor=teams.fixer, case=done, to=S.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=done, to=S.RESOLVED, note="好了")
    services.case_review(actor=people.worker1, case=done, satisfaction="satisfied")
    open_case(area=tree.units[-1], category=categories.policy)
    last_year = open_case(at=timezone.now() - dt.timedelta(days=400))
    login(client, people.secretary)
    with django_assert_max_num_queries(20):
        html = client.get("/cases/stats/").content.decode()
    assert 'id="t-received">2<' in html and 'id="t-resolved">1<' in html
    assert _cells(html, "设施损坏") == ["1", "1", "1", "1/1"]
    assert _cells(html, "人居环境服务队") == ["1", "1", "1", "1/1"]
    # By the community's grids: one case in each.
    assert _cells(html, tree.grids[0].short_name) == ["1", "1", "1", "1/1"]
    assert _cells(html, tree.grids[1].short_name) == ["1", "0", "0", "0/0"]
    # Another period and a grid: only what was received there and then.
    day = last_year.opened_at.date().isoformat()
    html = client.get("/cases/stats/", {"start": day, "end": day, "area": tree.grids[0].code}).content.decode()
    assert 'id="t-received">1<' in html and 'id="t-resolved">0<' in html
    bad = client.get("/cases/stats/", {"start": "2026-05-01", "end": "2026-01-01"}).content.decode()
    assert "开始日期不能晚于结束日期" in bad
    # A grid worker's statistics stop at their grid.
    login(client, people.worker1)
    html = client.get("/cases/stats/").content.decode()
    assert 'id="t-received">1<' in html and tree.grids[1].short_name not in html


def test_secretary_edits_routing_and_deadline(client, categories, teams, people, open_case):
    login(client, people.worker1)
    assert client.post(f"/cases/categories/{categories.unrouted.pk}/", {
        "kind": "request", "name": "意见建议", "team": teams.repairs.pk, "deadline_hours": 12, "sort": 0,
        "active": "on"}).status_code == 403
    login(client, people.secretary)
    r = client.post(f"/cases/categories/{categories.unrouted.pk}/", {
        "kind": "request", "name": "意见建议", "team": teams.repairs.pk, "deadline_hours": 12, "sort": 0,
        "active": "on", "checklist": "身份证\n\n户口簿"})
    assert r.status_code == 302
    categories.unrouted.refresh_from_db()
    assert categories.unrouted.checklist == ["身份证", "户口簿"]
    case = open_case(categories.unrouted)
    assert case.assigned_team == teams.repairs and case.due_at - case.opened_at == dt.timedelta(hours=12)
    assert "意见建议" in client.get("/cases/categories/").content.decode()


def test_patrol_finding_opens_a_case_in_one_tap(client, tree, people, categories):
    from wuzhi.activities import services as act
    from wuzhi.activities.models import TeamKind
    from wuzhi.cases import services as cs

    team = act.team_create(actor=None, area=tree.community, kind=TeamKind.PATROL, name="巡防队")
    member = act.member_add(actor=None, team=team, name="唐伟")
    patrol = cs.patrol_record(actor=None, team=team, area=tree.grids[0], starts_at=timezone.now(),
                              ends_at=timezone.now(), route="主干道", members=[member], findings="消防通道被占")
    login(client, people.worker1)
    assert "发现问题,上报" in client.get("/cases/patrols/").content.decode()
    form = client.get(f"/cases/new/?patrol={patrol.pk}").content.decode()
    assert "消防通道被占" in form
    client.post(f"/cases/new/?patrol={patrol.pk}", {"category": categories.light.pk, "area": tree.units[0].pk,
                                                     "description": "消防通道被占", "channel": "patrol"})
    case = Case.objects.get()
    assert case.patrol == patrol and case.channel == "patrol"


def test_portal_accepts_a_photo_and_refuses_other_files(client, categories, tree, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    url = f"/cases/p/u/{tree.units[0].code}/new/"
    data = {"category": categories.light.pk, "description": "路灯坏了", "reporter_phone": "13911112222"}
    bad = client.post(url, {**data, "photo": SimpleUploadedFile("x.exe", b"MZ")})
    assert bad.status_code == 400 and not Case.objects.exists()
    client.post(url, {**data, "photo": SimpleUploadedFile("light.jpg", b"\xff\xd8\xff", content_type="image/jpeg")})
    photo = Case.objects.get().photos.get()
    assert photo.file.name.startswith("cases/") and (tmp_path / photo.file.name).exists()


def test_breakdown_counts_on_time_and_satisfied(open_case, teams, people):
    from wuzhi.cases import selectors

    case = open_case()
    services.case_transition(actor=teams.fixer, case=case, to=S.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=case, to=S.RESOLVED, note="好了")
    services.case_review(actor=people.worker1, case=case, satisfaction="basic")
    open_case()
    [row] = selectors.breakdown(Case.objects.all(), "assigned_team__name")
    assert row == {"assigned_team__name": "人居环境服务队", "received": 2, "resolved": 1, "on_time": 1, "rated": 1,
                   "satisfied": 1}
