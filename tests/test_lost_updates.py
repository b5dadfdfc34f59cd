"""Lost updates (issue 10, item 3): two people open the same edit page, both save. The first save
wins; the second is refused with the Chinese "somebody changed it" message and overwrites
nothing. The version each save carries is read from the page's own HTML (the hidden input), so
a page that forgets to send it fails here too.

Every POST action of the URL configuration is classified below (VERSIONED, ONE_SHOT,
CREATES_ONLY, NO_SHARED_RECORD); a new one fails until it is, and each small versioned action is
exercised by one parametrised test (a stale version is refused, nothing changes, the reloaded
page's version goes through)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from honours.conftest import honours, new_round  # noqa: F401  (fixtures)
from party.conftest import org  # noqa: F401  (fixtures)
from rest_framework.test import APIClient

from wuzhi.cases.models import CaseKind, Category
from wuzhi.core.roles import Role
from wuzhi.honours.models import Nomination, Result

pytestmark = pytest.mark.django_db

STALE = "已被其他人修改,您的修改未保存"


def version_on_page(html: str, action: str | None = None) -> str:
    """The hidden version of the form posting to `action` (the first form with one if None)."""
    start = html.index(f'action="{action}"') if action else 0
    match = re.search(r'name="version" value="(\d+)"|value="(\d+)" name="version"', html[start:])
    assert match, f"no hidden version in the form {action or ''}"
    return match.group(1) or match.group(2)


@pytest.fixture
def two(make_user, tree, people):
    """Two secretaries of the same community, each in their own browser."""
    other = make_user("secretary2", Role.SECRETARY, tree.community, name="张副书记")
    a, b = Client(), Client()
    a.force_login(people.secretary)
    b.force_login(other)
    return a, b


def test_area_edit_second_save_from_the_same_page_is_refused(two, tree):
    a, b = two
    grid = tree.grids[0]
    page = reverse("core:area", args=[grid.pk])
    action = reverse("core:area_edit", args=[grid.pk])
    seen_a = version_on_page(a.get(page).content.decode(), action)
    seen_b = version_on_page(b.get(page).content.decode(), action)
    assert a.post(action, {"name": "第一网格", "sort": 1, "note": "", "version": seen_a}).status_code == 302
    refused = b.post(action, {"name": "一网格(旧名)", "sort": 9, "note": "覆盖", "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    grid.refresh_from_db()
    assert (grid.name, grid.sort, grid.note) == ("第一网格", 1, "")
    # Reloaded, the page carries the new version and the save goes through.
    fresh = version_on_page(b.get(page).content.decode(), action)
    assert b.post(action, {"name": "第一网格", "sort": 2, "note": "", "version": fresh}).status_code == 302


def test_area_api_update_needs_the_current_version(tree, people):
    api = APIClient()
    api.force_login(people.secretary)
    url = f"/api/areas/{tree.grids[0].pk}/"
    version = api.get(url).json()["version"]
    assert api.patch(url, {"note": "没有版本"}, format="json").status_code == 400
    assert api.patch(url, {"version": version, "note": "甲的备注"}, format="json").status_code == 200
    stale = api.patch(url, {"version": version, "note": "乙的备注"}, format="json")
    assert stale.status_code == 409 and STALE in stale.json()["detail"]
    tree.grids[0].refresh_from_db()
    assert tree.grids[0].note == "甲的备注"


def test_case_category_edit_second_save_is_refused(two):
    a, b = two
    category = Category.objects.create(kind=CaseKind.REQUEST, name="政策咨询", role="grid_worker", deadline_hours=24)
    url = reverse("cases:category_edit", args=[category.pk])
    seen_a = version_on_page(a.get(url).content.decode())
    seen_b = version_on_page(b.get(url).content.decode())
    form = {"kind": CaseKind.REQUEST, "name": "政策咨询", "role": "grid_worker", "deadline_hours": 48, "sort": 0,
            "active": "on", "checklist": ""}
    assert a.post(url, {**form, "version": seen_a}).status_code == 302
    refused = b.post(url, {**form, "deadline_hours": 12, "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    category.refresh_from_db()
    assert category.deadline_hours == 48 and category.version == 2


def test_branch_secretary_and_link_second_save_is_refused(two, org):  # noqa: F811
    a, b = two
    page = reverse("party:branch_detail", args=[org.b1.pk])
    sec_action = reverse("party:branch_secretary", args=[org.b1.pk])
    link_action = reverse("party:branch_link", args=[org.b1.pk])
    html_a, html_b = a.get(page).content.decode(), b.get(page).content.decode()
    assert a.post(sec_action, {"member": org.ma.pk, "version": version_on_page(html_a, sec_action)}).status_code == 302
    # B's page is older than A's save: both of its forms are stale now.
    refused = b.post(link_action, {"department": org.finance.pk, "version": version_on_page(html_b, link_action)})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    refused = b.post(sec_action, {"member": "", "version": version_on_page(html_b, sec_action)})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    org.b1.refresh_from_db()
    assert org.b1.secretary_id == org.ma.pk and org.b1.linked_department_id == org.civil.pk


def test_party_member_move_second_save_is_refused(two, org, tree):  # noqa: F811
    from wuzhi.party import services as party

    b3 = party.branch_create(actor=None, area=tree.community, name="第三网格党支部")
    a, b = two
    page = reverse("party:member_detail", args=[org.ma.pk])
    action = reverse("party:member_move", args=[org.ma.pk])
    seen_a = version_on_page(a.get(page).content.decode(), action)
    seen_b = version_on_page(b.get(page).content.decode(), action)
    assert a.post(action, {"branch": org.b2.pk, "version": seen_a}).status_code == 302
    refused = b.post(action, {"branch": b3.pk, "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    org.ma.refresh_from_db()
    assert org.ma.branch_id == org.b2.pk


def test_nomination_decline_from_a_stale_page_is_refused(two, honours, new_round, people):  # noqa: F811
    from wuzhi.honours import services as hs

    a, b = two
    rnd = new_round()
    n = hs.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.hygiene, household=honours.h1,
                          reason="家中常年干净整洁,带动邻居清理楼道")
    url = reverse("honours:nomination", args=[n.pk])
    html_b = b.get(url).content.decode()  # B opens the page and hesitates
    seen_a = version_on_page(a.get(url).content.decode())
    assert a.post(url, {"action": "decline", "note": "非本社区居民", "version": seen_a}).status_code == 302
    n.refresh_from_db()
    assert n.result == Result.NOT_SELECTED
    before = n.version
    response = b.post(url, {"action": "decline", "note": "重复提名", "version": version_on_page(html_b)}, follow=True)
    assert STALE in response.content.decode()
    n = Nomination.objects.get(pk=n.pk)
    assert n.version == before


def test_topic_households_second_save_is_refused(two, tree, people, make_household):
    from wuzhi.deliberation import services as ds
    from wuzhi.deliberation.models import Level, Source

    h1 = make_household(tree.dwellings[0], [("张黎", {})])
    h2 = make_household(tree.dwellings[4], [("李明", {})])  # the building's second unit
    topic = ds.topic_propose(actor=people.secretary, title="1栋楼道灯改造", description="楼道灯坏了很久,晚上看不见",
                             level=Level.BUILDING, area=tree.buildings[0], source=Source.GRID)
    a, b = two
    url = reverse("deliberation:households", args=[topic.pk])
    seen_a = version_on_page(a.get(url).content.decode())
    seen_b = version_on_page(b.get(url).content.decode())
    assert a.post(url, {"affected": [tree.units[0].pk], "version": seen_a}).status_code == 302
    # B's page still shows nothing ticked; saving it would silently drop A's households.
    refused = b.post(url, {"benefited": [tree.units[1].pk], "version": seen_b}, follow=True)
    assert STALE in refused.content.decode()
    topic.refresh_from_db()
    assert list(topic.households_affected.all()) == [h1]
    assert not topic.households_benefited.exists() and h2.pk


# ---- every state-changing page action, classified ----------------------------------------------
#
# Each POST a page (or the API) can make is listed here with why it cannot lose an edit. A new
# one fails test_every_state_changing_action_is_classified until somebody decides. "versioned"
# ones carry the version the page showed; the small ones are exercised by SMALL_ACTIONS below,
# the bigger forms by the named tests above (or in their app's tests).

VERSIONED = {
    "core:area_edit": "test_area_edit_second_save_from_the_same_page_is_refused",
    "area-detail": "test_area_api_update_needs_the_current_version",
    "registry:household_edit": "tests/registry (household_update refuses a stale version)",
    "registry:resident_edit": "tests/registry (resident_update refuses a stale version)",
    "household-detail": "the API's update requires `version` (wuzhi/registry/api.py)",
    "resident-detail": "same",
    "registry:tag_confirm": "SMALL_ACTIONS",
    "cases:category_edit": "test_case_category_edit_second_save_is_refused",
    "cases:act": "SMALL_ACTIONS",
    "cases:review": "SMALL_ACTIONS",
    "case-transition": "the API's transition requires `version` (wuzhi/cases/api.py)",
    "case-review": "same",
    "cases:dispute_intake": "SMALL_ACTIONS",
    "cases:dispute_conclude": "SMALL_ACTIONS",
    "cases:followup_add": "SMALL_ACTIONS",
    "activities:attendance_headcount": "SMALL_ACTIONS",
    "activities:member_leave": "SMALL_ACTIONS",
    "activities:care_end": "SMALL_ACTIONS",
    "activities:enrolment_end": "SMALL_ACTIONS",
    "party:branch_link": "test_branch_secretary_and_link_second_save_is_refused",
    "party:branch_secretary": "same",
    "party:member_move": "test_party_member_move_second_save_is_refused",
    "party:pairing_confirm": "SMALL_ACTIONS",
    "party:pairing_end": "SMALL_ACTIONS",
    "cameras:edit": "tests/cameras (camera_update refuses a stale version)",
    "deliberation:act": "tests/deliberation (topic_transition refuses a stale version)",
    "deliberation:households": "test_topic_households_second_save_is_refused",
    "deliberation:body_edit": "tests/deliberation (body_update refuses a stale version)",
    "honours:advance": "tests/honours (round_advance refuses a stale version)",
    "honours:nomination": "test_nomination_decline_from_a_stale_page_is_refused",
    "employment:person": "profile (tests/employment) and 离岗 (SMALL_ACTIONS); the other forms add records",
    "alarms:act": "tests/alarms (alarm actions refuse a stale version)",
    "alarms:device": "tests/alarms",
    "alarms:chain_edit": "tests/alarms",
}
# Changes made once, under a row lock, refused with a clear message when already made: a second
# person acting on a stale page cannot overwrite the first.
ONE_SHOT = {
    "cases:merge": "a merged case is closed; merging it again is refused by the flow table",
    "deliberation:merge": "same for topics",
    "deliberation:answer": "an objection is answered once (该异议已经答复)",
    "honours:answer": "same (该异议已经答复)",
    "cameras:consent_withdraw": "a consent is withdrawn once (该授权已撤回)",
}
CREATES_ONLY = {
    "core:area_add_child", "core:dwelling_add", "core:area_grants", "area-list",
    "registry:household_create", "registry:resident_create", "registry:visit_create", "registry:import",
    "household-list", "resident-list", "visit-list",
    "cases:new", "cases:category_new", "cases:mediation_add", "case-list",
    "activities:activity_create", "activities:team_create", "activities:member_add", "activities:care_pair",
    "activities:program_create", "activities:program_enrol", "activities:session_start", "activities:event_create",
    # Attendance rows: marking adds a row (a duplicate is refused), unmarking deletes that row,
    # copying adds the missing ones; no field of an existing record is overwritten.
    "activities:attendance_mark", "activities:attendance_unmark", "activities:attendance_copy",
    "activities:attendance_scan",
    "party:department_create", "party:cadre_create", "party:branch_create", "party:member_create", "party:assign",
    "cameras:new", "cameras:public_area_new", "cameras:consent_new",
    "deliberation:new", "deliberation:from_cases", "deliberation:meeting_new", "deliberation:progress",
    "deliberation:publish", "deliberation:vote", "deliberation:body_new",
    "honours:index", "honours:nominate", "alarms:chain_new",
    # The public portals only ever file new reports, proposals, nominations and objections.
    "cases:portal_report", "cases:portal_rate", "delib_portal:propose", "delib_portal:object",
    "honours_public:nominate", "honours_public:object", "alarms_ingest:receive",
}
# POSTs that change no shared record: reading (and logging the read), looking up, the user's own
# account, the session.
NO_SHARED_RECORD = {
    "registry:reveal", "resident-reveal", "registry:resident_privacy_export", "cameras:stream", "alarms:reveal",
    "cases:portal_track", "delib_portal:track",
    "my_profile", "password_change", "totp_enrol", "totp_disable", "login", "login_code", "logout", "set_language",
}


def _posting_views() -> set[str]:
    """Every URL whose view accepts a state-changing request: DRF routes with write methods,
    class-based views with a post handler, and function views that read POST."""
    import inspect

    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, ns=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, ns + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                yield ns + p.name, p.callback

    found = set()
    for name, view in walk(get_resolver().url_patterns):
        if name.startswith("admin:"):
            continue
        actions = getattr(view, "actions", None)
        if actions is not None:
            if set(actions) - {"get", "head", "options"}:
                found.add(name)
        elif hasattr(view, "view_class"):
            if hasattr(view.view_class, "post") and name not in ("api-root", "api-schema", "api-docs"):
                found.add(name)
        elif "POST" in inspect.getsource(inspect.unwrap(view)):
            found.add(name)
    return found


def test_every_state_changing_action_is_classified():
    classified = set(VERSIONED) | set(ONE_SHOT) | CREATES_ONLY | NO_SHARED_RECORD
    assert sorted(_posting_views() - classified) == [], (
        "classify each new POST action: VERSIONED (and test it), ONE_SHOT, CREATES_ONLY or NO_SHARED_RECORD")
    assert sorted(classified - _posting_views()) == [], "a classified action no longer exists"


def test_every_versioned_small_action_is_exercised():
    small = {name for name, where in VERSIONED.items() if "SMALL_ACTIONS" in where}
    assert small == {s.split("[")[0] for s in SMALL_ACTIONS}


# ---- the small actions: a stale version is refused, nothing changes, a fresh one goes through ----

def version_near(html: str, marker: str) -> str:
    """The hidden version of the form that contains `marker` (an action URL or a hidden field)."""
    start = html.index(marker)
    form_start = html.rfind("<form", 0, start)
    form_end = html.index("</form>", start)
    match = re.search(r'name="version" value="(\d+)"', html[form_start:form_end])
    assert match, f"no hidden version in the form with {marker}"
    return match.group(1)


def _row(obj) -> dict:
    from django.forms.models import model_to_dict

    return model_to_dict(type(obj).objects.get(pk=obj.pk))


@pytest.fixture
def world(tree, people, make_household, make_user):
    """One record for each small action, all in grid 1, all changeable by the secretary."""
    import datetime as dt
    from types import SimpleNamespace

    from django.utils import timezone

    from wuzhi.activities import services as act
    from wuzhi.activities.models import TeamKind
    from wuzhi.cases import services as cs
    from wuzhi.cases.models import Outcome
    from wuzhi.employment import services as emp
    from wuzhi.party import services as ps
    from wuzhi.registry.models import Tag

    w = SimpleNamespace()
    w.elder = make_household(tree.dwellings[0], [("张黎", {"birth": "19480312"})]).head
    w.worker_age = make_household(tree.dwellings[1], [("李明", {"birth": "19900101"})]).head
    w.tag, _ = Tag.objects.get_or_create(name="独居老人")
    neighbours = Category.objects.create(kind=CaseKind.DISPUTE, name="邻里纠纷", role="grid_worker",
                                         deadline_hours=15 * 24)
    parties = [{"role": "applicant", "name": "张三"}, {"role": "respondent", "name": "李四"}]

    def dispute(stage: str):
        d = cs.dispute_open(actor=None, category=neighbours, channel="walk_in", area=tree.units[0],
                            dispute_type="neighbour", situation="楼上漏水到楼下,双方争执", parties=parties)
        if stage in ("mediated", "concluded"):
            if d.case.state == "new":  # the category routes it to the grid's worker, usually at once
                cs.case_transition(actor=None, case=d.case, to="assigned", user=people.worker1)
            cs.mediation_record(actor=None, dispute=d, notes="双方到场,各自陈述")
        if stage == "concluded":
            cs.dispute_conclude(actor=None, dispute=d, outcome=Outcome.SUCCESS, terms="楼上负责修好防水层")
        d.case.refresh_from_db()
        return d

    w.bare_case = cs.case_open(actor=None, category=neighbours, channel="walk_in", area=tree.units[0],
                               description="两户因停车位争吵")
    w.mediated, w.concluded = dispute("mediated"), dispute("concluded")
    w.resolved = dispute("concluded").case  # 已办结, waiting for the 回访
    w.team = act.team_create(actor=None, area=tree.community, kind=TeamKind.WATCH, name="邻里守望服务队")
    w.member = act.member_add(actor=None, team=w.team, name="王志愿")
    carer = act.member_add(actor=None, team=w.team, name="赵志愿")
    w.care = act.care_pair(actor=None, member=carer, resident=w.elder)
    w.activity = act.activity_record(actor=None, area=tree.community, kind="festival", title="重阳节活动",
                                     starts_at=timezone.now() - dt.timedelta(hours=1))
    w.program = act.program_create(actor=None, area=tree.community, kind="class", name="四点半课堂")
    w.enrolment = act.enrol(actor=None, program=w.program, role="volunteer", name="小明", organisation="县一中")
    w.placement = emp.placement_add(actor=None, resident=w.worker_age, kind="local", employer="县城帮扶车间",
                                    started_on=timezone.localdate() - dt.timedelta(days=90))
    helper = make_household(tree.dwellings[2], [("马建林", {"birth": "19700101"})]).head
    branch = ps.branch_create(actor=None, area=tree.community, name="第一网格党支部")
    member = ps.member_create(actor=None, branch=branch, resident=helper)
    w.pairing = ps.pairing_create(actor=None, household=w.elder.household, member=member)
    Pairing = type(w.pairing)
    Pairing.objects.filter(pk=w.pairing.pk).update(flag="党员已转入其他支部,请确认是否继续联系")
    w.today = timezone.localdate().isoformat()
    return w


# name → (the record whose version the page shows, the page, the form's marker (its action
# URL, or a hidden field for pages whose forms post to themselves), the action, the data, what
# the refused save must leave untouched).
def _small_actions(w):
    from wuzhi.cases.models import Dispute
    from wuzhi.registry.models import ResidentTag

    def detail(case):
        return reverse("cases:detail", args=[case.pk])

    def rows(*objs):
        return lambda: [_row(o) for o in objs]

    intake = reverse("cases:dispute_intake", args=[w.bare_case.pk])
    yield "cases:dispute_intake", (w.bare_case, intake, 'name="situation"', intake, {
        "dispute_type": "neighbour", "risk": "low", "situation": "两户因停车位争吵", "cause": "",
        "p0_role": "applicant", "p0_name": "张三", "p1_role": "respondent", "p1_name": "李四", "p2_role": "third"},
        lambda: Dispute.objects.filter(case=w.bare_case).count())
    conclude = reverse("cases:dispute_conclude", args=[w.mediated.case.pk])
    yield "cases:dispute_conclude", (w.mediated.case, detail(w.mediated.case), conclude, conclude,
                                     {"outcome": "success", "terms": "楼上负责修好防水层"},
                                     rows(w.mediated, w.mediated.case))
    followup = reverse("cases:followup_add", args=[w.concluded.case.pk])
    yield "cases:followup_add", (w.concluded.case, detail(w.concluded.case), followup, followup,
                                 {"status": "done", "note": "已修好"},
                                 lambda: [_row(w.concluded), w.concluded.follow_ups.count()])
    act_url = reverse("cases:act", args=[w.mediated.case.pk])
    yield "cases:act", (w.mediated.case, detail(w.mediated.case), act_url, act_url,
                        {"to": "suspended", "note": "当事人外出"}, rows(w.mediated.case))
    review = reverse("cases:review", args=[w.resolved.pk])
    yield "cases:review", (w.resolved, detail(w.resolved), review, review,
                           {"satisfaction": "satisfied", "note": "满意"}, rows(w.resolved))
    confirm = reverse("party:pairing_confirm", args=[w.pairing.pk])
    yield "party:pairing_confirm", (w.pairing, reverse("party:coverage"), confirm, confirm, {}, rows(w.pairing))
    end = reverse("party:pairing_end", args=[w.pairing.pk])
    yield "party:pairing_end", (w.pairing, end, 'name="reason"', end, {"reason": "党员外出务工"}, rows(w.pairing))
    tag = reverse("registry:tag_confirm", args=[w.elder.pk, w.tag.pk])
    yield "registry:tag_confirm", (w.elder, reverse("home"), tag, tag, {},
                                   lambda: [_row(w.elder), ResidentTag.objects.filter(resident=w.elder).count()])
    head = reverse("activities:attendance_headcount", args=[w.activity.pk])
    yield "activities:attendance_headcount", (w.activity, reverse("activities:attendance", args=[w.activity.pk]),
                                              head, head, {"headcount": 12}, rows(w.activity))
    team = reverse("activities:team_detail", args=[w.team.pk])
    leave = reverse("activities:member_leave", args=[w.team.pk, w.member.pk])
    yield "activities:member_leave", (w.member, team, leave, leave, {}, rows(w.member))
    care = reverse("activities:care_end", args=[w.team.pk, w.care.pk])
    yield "activities:care_end", (w.care, team, care, care, {}, rows(w.care))
    unenrol = reverse("activities:enrolment_end", args=[w.program.pk, w.enrolment.pk])
    yield "activities:enrolment_end", (w.enrolment, reverse("activities:program_detail", args=[w.program.pk]),
                                       unenrol, unenrol, {}, rows(w.enrolment))
    person = reverse("employment:person", args=[w.worker_age.pk])
    yield "employment:person[离岗]", (w.placement, person, f'name="placement" value="{w.placement.pk}"', person,
                                     {"action": "end", "placement": w.placement.pk, "ended_on": w.today,
                                      "end_reason": "车间停工"}, rows(w.placement))


SMALL_ACTIONS = [
    "cases:dispute_intake", "cases:dispute_conclude", "cases:followup_add", "cases:act", "cases:review",
    "party:pairing_confirm", "party:pairing_end", "registry:tag_confirm", "activities:attendance_headcount",
    "activities:member_leave", "activities:care_end", "activities:enrolment_end", "employment:person[离岗]",
]


@pytest.mark.parametrize("name", SMALL_ACTIONS)
def test_small_action_from_a_stale_page_is_refused(name, world, client, people):
    from django.db.models import F

    record, page, marker, action, data, unchanged = dict(_small_actions(world))[name]
    client.force_login(people.secretary)
    seen = version_near(client.get(page).content.decode(), marker)
    assert int(seen) == type(record).objects.get(pk=record.pk).version
    # Somebody else saves the record meanwhile: that is all a save does to the version.
    type(record).objects.filter(pk=record.pk).update(version=F("version") + 1)
    before = unchanged()
    refused = client.post(action, {**data, "version": seen}, follow=True)
    assert STALE in refused.content.decode(), re.findall(r'(?:alert|invalid-feedback)[^>]*>([^<]+<[^<]*)', refused.content.decode())
    assert unchanged() == before
    # Reloaded, the page carries the new version and the same action goes through.
    fresh = version_near(client.get(page).content.decode(), marker)
    assert fresh != seen
    client.post(action, {**data, "version": fresh}, follow=True)
    assert unchanged() != before
