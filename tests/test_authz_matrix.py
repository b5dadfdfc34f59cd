"""The authorization matrix, generated from the URL configuration (pages and API alike).

Every URL × every role (core.roles.Role) × two users of that role: one whose grant holds the
URL's record ("in") and one granted the sibling area at the same level ("out": another grid of
the same community, another community of the same town …) → allow or deny, derived from the
URL's rule in RULES:

  * `need`: the action of core.roles.ROLE_ACTIONS (or the set of roles) the user must hold;
  * `on`: the record the URL names (a key of the world below); the grant must lie over the
    record's place (`reach="below"`) or, for community records shown to the people who work
    under them (honour rounds, party branches), anywhere on the record's line (`reach="line"`).
    Without `on` a URL is not area-scoped (a list filters its rows by scope: tests/api).
  * `post`: the fields a POST sends, for actions that read their input before they check;
    `write`: the need of a valid POST to a page whose GET shows a form (area edit, grants …).
  * `then`: where an action checks its write permission only after validating the input (a
    flow table, a form), the service's check, which the app's own tests cover; the matrix
    then asserts the visibility the URL checks first.

"Deny" is 403 or 404 (outside one's area a record does not exist); "allow" is any other answer.
A URL without a rule fails test_every_url_has_a_rule; a wrong answer fails the role's test,
naming the URL, the side, the expectation and the status.

Anonymous visitors are sent to the login page from every URL that is not PUBLIC.

The world is minimal: one record of each kind, built through the services once for the module
and rolled back at its end; each request runs in a savepoint that is rolled back, so a write
made by one request never changes what the next one sees."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from wuzhi.core.roles import Action, Role, allows

A = Action


@dataclass(frozen=True)
class Rule:
    """Who may reach a URL. `need`: an Action, a set of roles, ANYONE (any signed-in account:
    the page shows only rows in scope, none to an account without grants) or NOBODY (of the
    roles below an installation administrator). `on`: the world key of the record the URL's
    first parameter names (or of the area the check is made against). `args`: the URL's other
    parameters (world keys, or "=literal"). `then`: the check the service makes after the
    input is validated, for the reader."""

    need: str | frozenset[str]
    on: str | None = None
    reach: str = "below"
    args: tuple[tuple[str, str], ...] = ()
    then: str = ""
    post: tuple[tuple[str, str], ...] = ()  # a POST's fields: world keys (their pk) or "=literal"
    # For a page whose form is validated before the service checks the write permission: what a
    # valid POST of `post` needs (the page itself answers to `need`).
    write: str | frozenset[str] | None = None


ANYONE, NOBODY = "anyone", "nobody"


def R(need: str | frozenset[str], on: str | None = None, reach: str = "below", then: str = "",
      post: dict[str, str] | None = None, write: str | frozenset[str] | None = None, **args: str) -> Rule:
    return Rule(need, on, reach, tuple(args.items()), then, tuple((post or {}).items()), write)


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


V, C, VISIT, REVEAL, EXPORT, IMPORT, GRANT, MANAGE = (A.VIEW, A.CHANGE, A.VISIT, A.REVEAL, A.EXPORT, A.IMPORT,
                                                      A.GRANT, A.MANAGE_AREAS)

RULES: dict[str, Rule] = {
    # ---- the account and the tree
    "home": R(ANYONE), "my_profile": R(ANYONE), "password_change": R(ANYONE), "totp_enrol": R(ANYONE),
    "totp_disable": R(ANYONE), "login_code": R(ANYONE),
    "core:area_tree": R(ANYONE),
    "core:area": R(V, "grid"),
    "core:area_grants": R(V, "grid", write=GRANT, post={"username": "=volunteer-out", "role": "=volunteer"}),
    "core:area_add_child": R(V, "grid", write=MANAGE, post={"segment": "=09", "name": "=9栋", "floors": "=3"}),
    "core:area_edit": R(V, "grid", write=MANAGE, post={"name": "=1网格", "sort": "=0", "version": "=1"}),
    "core:dwelling_add": R(V, "unit", write=MANAGE, post={"floor": "=1", "number": "=109", "occupancy": "=空置"}),
    # ---- registry
    "registry:household_list": R(ANYONE), "registry:resident_list": R(ANYONE), "registry:visit_list": R(ANYONE),
    "registry:overdue": R(ANYONE), "registry:import_template": R(ANYONE),
    "registry:import": R(ANYONE, then="IMPORT over the chosen area (registry.importer)"),
    "registry:household_create": R(C),
    "registry:household_detail": R(V, "household"), "registry:household_edit": R(C, "household"),
    "registry:resident_create": R(C, "household"), "registry:visit_create": R(VISIT, "household"),
    "registry:resident_detail": R(V, "elder"), "registry:resident_edit": R(C, "elder"),
    "registry:reveal": R(REVEAL, "elder", field="=phone"),
    "registry:resident_privacy_export": R(C, "elder"),
    "registry:access_log": R(GRANT),
    "registry:tag_confirm": R(C, "elder", tag_pk="tag"),
    "registry:building": R(V, "building"),
    "registry:import_job": R(V, "job"), "registry:import_job_status": R(V, "job"),
    "registry:import_errors": R(REVEAL, "job"),  # full ID numbers: the uploader or REVEAL holders
    "registry:export_residents": R(EXPORT), "registry:export_households": R(EXPORT),
    # ---- cases
    "cases:queue": R(ANYONE), "cases:board": R(ANYONE), "cases:stats": R(ANYONE), "cases:patrols": R(ANYONE),
    "cases:categories": R(ANYONE),
    "cases:new": R(ANYONE, then="VIEW over the place (cases.services.case_open)"),
    "cases:category_new": R(MANAGE), "cases:category_edit": R(MANAGE, pk="category"),
    "cases:detail": R(V, "case"),
    "cases:act": R(C, "case", post={"to": "=suspended", "note": "=当事人外出"}),
    **{f"cases:{n}": R(V, "case", then="CHANGE or being the handler, after the flow table (cases.services)")
       for n in ("review", "merge")},
    **{f"cases:{n}": R(V, "dispute_case", then="CHANGE or being the handler, after the input (cases.services)")
       for n in ("dispute_intake", "dispute_conclude")},
    "cases:mediation_add": R(C, "dispute_case", post={"held_at": "=2026-01-05T09:00", "notes": "=双方到场"}),
    "cases:followup_add": R(C, "dispute_case", post={"status": "=done"}),
    "cases:agreement": R(V, "dispute_case"),
    # ---- activities: community-level teams, activities and programs
    "activities:activity_list": R(ANYONE), "activities:week": R(ANYONE), "activities:team_list": R(ANYONE),
    "activities:volunteers": R(ANYONE), "activities:volunteer_detail": R(ANYONE), "activities:program_list": R(ANYONE),
    "activities:activity_create": R(VISIT), "activities:event_create": R(VISIT),
    "activities:team_create": R(C), "activities:program_create": R(C),
    "activities:volunteers_export": R(EXPORT),
    "activities:activity_detail": R(V, "activity"), "activities:attendance": R(V, "activity"),
    "activities:attendance_search": R(V, "activity"),
    "activities:attendance_mark": R(V, "activity", then="VISIT (activities.services.attendance_mark)"),
    "activities:attendance_headcount": R(VISIT, "activity", post={"headcount": "=5"}),
    "activities:attendance_unmark": R(VISIT, "activity"), "activities:attendance_copy": R(VISIT, "activity"),
    "activities:attendance_scan": R(VISIT, "activity"),
    "activities:team_detail": R(V, "team"), "activities:team_candidates": R(V, "team"),
    "activities:member_add": R(C, "team"), "activities:member_leave": R(C, "team", member_pk="member"),
    "activities:care_pair": R(C, "team", post={"member": "member", "resident": "elder"}), "activities:care_end": R(C, "team", pairing_pk="care"),
    "activities:program_detail": R(V, "program"), "activities:program_candidates": R(V, "program"),
    "activities:program_cards": R(V, "program"), "activities:canteen_statement": R(V, "program"),
    "activities:canteen_statement_export": R(EXPORT, "program"),
    "activities:program_enrol": R(C, "program"), "activities:enrolment_end": R(C, "program", enrolment_pk="enrolment"),
    "activities:session_start": R(VISIT, "program"),
    "activities:person_record": R(V, "elder"), "activities:resident_card": R(V, "elder"),
    # ---- reports
    "reports:dashboard": R(V), "reports:report_docx": R(EXPORT), "reports:report_pdf": R(EXPORT),
    "reports:tables_xlsx": R(EXPORT),
    # ---- party: branches and their members are shown to those who work under them
    "party:index": R(ANYONE), "party:resident_search": R(ANYONE), "party:coverage": R(ANYONE),
    "party:roster": R(ANYONE), "party:boards_pdf": R(ANYONE),
    "party:department_create": R(MANAGE, "county"), "party:cadre_create": R(MANAGE, "county"),
    "party:branch_create": R(MANAGE), "party:member_create": R(C, "branch"),
    "party:branch_detail": R(V, "branch", reach="line"), "party:branch_link": R(C, "branch"),
    "party:branch_secretary": R(C, "branch"),
    "party:member_detail": R(V, "party_member", reach="line"), "party:member_move": R(C, "party_member"),
    "party:assign": R(C, "household"), "party:pairing_confirm": R(C, "pairing"), "party:pairing_end": R(C, "pairing"),
    "party:board": R(V, "unit"),
    # ---- cameras
    "cameras:list": R(ANYONE), "cameras:public_areas": R(ANYONE),
    "cameras:new": R(C), "cameras:public_area_new": R(C),
    "cameras:detail": R(V, "camera"), "cameras:edit": R(C, "camera"),
    "cameras:consent_new": R(C, "home_camera"), "cameras:consent_withdraw": R(C, "consent"),
    "cameras:stream": R(roles(Role.SECRETARY, Role.GRID_WORKER, Role.POLICE, Role.DUTY), "camera"),
    # ---- deliberation
    "deliberation:list": R(ANYONE), "deliberation:bodies": R(ANYONE),
    "deliberation:new": R(VISIT), "deliberation:from_cases": R(VISIT), "deliberation:body_new": R(C),
    "deliberation:detail": R(V, "topic"), "deliberation:meeting": R(V, "meeting"),
    "deliberation:act": R(C, "topic", post={"to": "=declined", "note": "=居民意见不一致"}),
    "deliberation:publish": R(C, "topic", post={"kind": "=result", "text": "=已实施完成", "notice_days": "=7"}),
    "deliberation:merge": R(V, "topic", then="CHANGE, once the topic to merge into is found (deliberation.services)"),
    "deliberation:meeting_new": R(C, "topic"), "deliberation:households": R(C, "topic"),
    "deliberation:progress": R(C, "topic"),
    "deliberation:vote": R(V, "meeting", post={"topic": "topic"}, then="CHANGE (deliberation.services.vote_record)"), "deliberation:answer": R(C, "delib_objection"),
    "deliberation:body_edit": R(C, "body"),
    # ---- honours: a community's rounds are shown to the grid workers and 楼长 who nominate for them
    "honours:index": R(ANYONE),
    "honours:round": R(V, "rnd", reach="line"),
    "honours:advance": R(C, "rnd", post={"to": "=evaluating", "version": "=1"}),
    "honours:nominate": R(V, "rnd", reach="line", then="VISIT over the nominee (honours.services.nomination_add)"),
    "honours:nomination": R(V, "nomination"),
    "honours:answer": R(C, "honour_objection", post={"answer": "=经核查,情况属实"}),
    "honours:household_history": R(V, "household"), "honours:building_history": R(V, "building"),
    # ---- employment
    "employment:rates": R(ANYONE), "employment:people": R(ANYONE), "employment:person": R(V, "worker_age"),
    # ---- alarms: the console shows each role the calls in its scope
    "alarms:console": R(ANYONE), "alarms:feed": R(ANYONE), "alarms:health": R(ANYONE), "alarms:responder": R(ANYONE),
    "alarms:devices": R(ANYONE), "alarms:chains": R(ANYONE), "alarms:chain_new": R(C),
    "alarms:act": R(V, "alarm", then="the duty roles (alarms.services.may_act)"),
    "alarms:reveal": R(roles(Role.SECRETARY, Role.GRID_WORKER, Role.POLICE, Role.DUTY), "alarm", ref="=self"),
    "alarms:device": R(V, "device"), "alarms:chain_edit": R(C, "chain"),
    # ---- the API (lists are scoped row by row: tests/api/test_scope.py)
    "api-root": R(ANYONE),
    **{n: R(ANYONE) for n in ("area-list", "dwelling-list", "tag-list", "household-list", "resident-list", "visit-list",
                              "case-category-list", "case-list")},
    "area-detail": R(V, "grid"), "dwelling-detail": R(V, "dwelling"), "household-detail": R(V, "household"),
    "resident-detail": R(V, "elder"), "resident-reveal": R(REVEAL, "elder"), "visit-detail": R(V, "visit"),
    "tag-detail": R(V, pk="tag"), "case-category-detail": R(V, pk="category"),  # code lists, for any staff
    "case-detail": R(V, "case"), "case-review": R(V, "case"), "case-transition": R(V, "case"),
}


# ---- the URL configuration -----------------------------------------------------------------------

# Reachable without logging in, each for a reason.
PUBLIC = {
    "login": "the login page",
    "logout": "logging out",
    "set_language": "choosing the interface language",
    "api-schema": "the OpenAPI description (no data)",
    "api-docs": "the API documentation page (no data)",
    "portal:unit": "the unit board's QR page: public by design, no personal data",
    "cases:portal_report": "residents report a problem from the unit QR page",
    "cases:portal_track": "residents look up their case by number and phone",
    "cases:portal_case": "a case's status, shown only with the matching phone in the session",
    "cases:portal_rate": "the reporter rates the handling (same check)",
}
# URL-name prefixes of public families (the resident portal and signed device ingest).
PUBLIC_PREFIXES = ("delib_portal:", "honours_public:", "alarms_ingest:")


def _walk(patterns: list[Any], prefix: str = "", ns: str = "") -> Iterator[tuple[str, str | None]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns + (f"{p.namespace}:" if p.namespace else ""))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), (ns + p.name) if p.name else None


def urls() -> list[tuple[str, str]]:
    """(route, name) of every URL but Django's admin and DRF's format-suffix twins."""
    return [(route, name or route) for route, name in _walk(get_resolver().url_patterns)
            if not route.startswith("admin/") and "(?P<format>" not in route and "<drf_format_suffix" not in route]


def is_public(name: str) -> bool:
    return name in PUBLIC or name.startswith(PUBLIC_PREFIXES)


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def fill(route: str, values: dict[str, Any]) -> str:
    """A concrete path for `route`: named parameters from `values`, others a harmless dummy."""
    def one(m: re.Match[str]) -> str:
        conv, name = m.group(1), m.group(2) or m.group(3)
        if name in values:
            return str(values[name])
        return {"uuid": str(uuid.uuid4()), "int": "999999999"}.get(conv or "", "x0")

    path = _PARAM.sub(one, route).replace("^", "").replace("$", "")
    return "/" + path.replace("\\", "")


def params(route: str) -> list[str]:
    return [m.group(2) or m.group(3) for m in _PARAM.finditer(route)]


def protected() -> list[tuple[str, str]]:
    return [(route, name) for route, name in urls() if not is_public(name)]


def test_every_url_has_a_rule():
    missing = [name for _route, name in protected() if name not in RULES]
    assert missing == [], "add a rule to RULES for each (who may reach it, and which record it names)"
    gone = sorted(set(RULES) - {name for _route, name in protected()})
    assert gone == [], "rules for URLs that no longer exist"
    unnamed = [name for route, name in protected()
               if set(params(route)[:1] if RULES[name].on else params(route)) - {k for k, _v in RULES[name].args}
               and not RULES[name].on]
    assert unnamed == [], "a URL with a parameter must name its record (`on`, or the parameter in args)"


# ---- the world -------------------------------------------------------------------------------------

# Where each role's grant sits in the tree (the level it is normally given at).
LEVEL = {
    Role.COUNTY_CADRE: "county", Role.TOWN_CADRE: "town", Role.SECRETARY: "community", Role.GRID_WORKER: "grid",
    Role.BUILDING_HEAD: "building", Role.PARTY_MEMBER: "grid", Role.VOLUNTEER: "grid", Role.POLICE: "community",
    Role.DOCTOR: "community", Role.DEPT_HELPER: "grid", Role.DUTY: "community", Role.RESIDENT: "unit",
}
ALL_ROLES = list(Role)


def located(obj: Any) -> str:
    """The tree path a record sits at."""
    from wuzhi.core.models import Area

    if isinstance(obj, Area):
        return obj.path
    path = getattr(obj, "area_path", None)
    for parent in ("round", "disclosure", "team"):
        if path is None and hasattr(obj, parent):
            path = getattr(obj, parent).area_path
    assert path, f"{type(obj).__name__} has no place in the tree"
    return path


# ---- the records ------------------------------------------------------------------------------------

def build_world() -> dict[str, Any]:
    """One record of every kind a URL names, in county → town → community → grid → building →
    unit, built through the services (a few rows that need a whole workflow first are written
    directly: an objection needs a round in 公示 or a published decision). Returns every local
    name, so a rule names a record by its variable here."""
    from conftest import make_id_number

    from wuzhi.activities import services as act
    from wuzhi.activities.models import TeamKind
    from wuzhi.alarms import services as alarms
    from wuzhi.alarms.models import TargetKind
    from wuzhi.alarms.services import StepSpec, TargetSpec
    from wuzhi.cameras import services as cams
    from wuzhi.cameras.models import PRINCIPLES
    from wuzhi.cases import services as cases
    from wuzhi.cases.models import CaseKind, Category
    from wuzhi.core import services as core
    from wuzhi.deliberation import services as delib
    from wuzhi.deliberation.models import BodyKind, Disclosure, Level, Source
    from wuzhi.deliberation.models import Objection as DelibObjection
    from wuzhi.honours import services as hon
    from wuzhi.honours.models import Objection as HonObjection
    from wuzhi.honours.models import Subject
    from wuzhi.party import services as party
    from wuzhi.registry import services as reg
    from wuzhi.registry.models import ImportJob, Tag

    now = timezone.now()
    county = core.area_create(actor=None, parent=None, segment="530626", name="绥江县")
    town = core.area_create(actor=None, parent=county, segment="100", name="中城镇")
    community = core.area_create(actor=None, parent=town, segment="012", name="福兴社区")
    grid = core.area_create(actor=None, parent=community, segment="01", name="1网格")
    building = core.area_create(actor=None, parent=grid, segment="01", name="1栋", floors=2)
    unit = core.area_create(actor=None, parent=building, segment="1", name="1单元")
    dwelling = reg.dwelling_create(actor=None, unit=unit, floor=1, number="101")
    household = reg.household_create(actor=None, dwelling=dwelling)
    elder = reg.resident_create(actor=None, household=household, name="王奶奶", relation="户主",
                                id_number=make_id_number("19400302", male=False), phone="13912345678")
    worker_age = reg.resident_create(actor=None, household=household, name="王小明", relation="子",
                                     id_number=make_id_number("19900101"))
    tag, _ = Tag.objects.get_or_create(name="独居老人")
    visit = reg.visit_record(actor=None, household=household, findings="身体尚好")
    job = ImportJob.objects.create(area=community, area_path=community.path, filename="居民.xlsx",
                                   errors=[{"row": 2, "column": "身份证号", "value": "1", "message": "身份证号位数不对"}])
    _upload(job)

    category = Category.objects.create(kind=CaseKind.REPORT, name="设施损坏", role="grid_worker", deadline_hours=48)
    neighbours = Category.objects.create(kind=CaseKind.DISPUTE, name="邻里纠纷", role="grid_worker",
                                         deadline_hours=360)
    case = cases.case_open(actor=None, category=category, channel="grid", area=unit, description="楼道灯坏了")
    dispute = cases.dispute_open(actor=None, category=neighbours, channel="walk_in", area=unit,
                                 dispute_type="neighbour", situation="楼上漏水",
                                 parties=[{"role": "applicant", "name": "张三"}, {"role": "respondent", "name": "李四"}])

    team = act.team_create(actor=None, area=community, kind=TeamKind.WATCH, name="邻里守望服务队")
    member = act.member_add(actor=None, team=team, name="王志愿")
    care = act.care_pair(actor=None, member=member, resident=elder)
    activity = act.activity_record(actor=None, area=community, kind="festival", title="重阳节活动",
                                   starts_at=now - dt.timedelta(hours=1))
    program = act.program_create(actor=None, area=community, kind="class", name="四点半课堂")
    enrolment = act.enrol(actor=None, program=program, role="volunteer", name="小明", organisation="县一中")

    branch = party.branch_create(actor=None, area=community, name="第一网格党支部")
    party_member = party.member_create(actor=None, branch=branch, name="马建林")
    pairing = party.pairing_create(actor=None, household=household, member=party_member)

    camera = cams.camera_register(actor=None, kind="public", location="1栋门口", area=building,
                                  stream_url="rtsp://127.0.0.1:8554/gate")
    home_camera = cams.camera_register(actor=None, kind="household", location="客厅", household=household)
    consent = cams.consent_record(actor=None, camera=home_camera, signed_by="王小明", purpose="照看老人",
                                  viewer_roles=["grid_worker"], principles=PRINCIPLES)

    body = delib.body_save(actor=None, area=community, name="居民代表会议", kind=BodyKind.REPRESENTATIVES)
    delib.members_add(actor=None, body=body, people=[{"name": "代表甲", "role": "成员"}], on=dt.date(2000, 1, 1))
    topic = delib.topic_propose(actor=None, title="1栋楼道灯改造", description="楼道灯坏了很久", level=Level.COMMUNITY,
                                area=community, source=Source.GRID)
    delib.topic_transition(actor=None, topic=topic, to="consulting", at=now - dt.timedelta(days=1))
    meeting = delib.meeting_record(actor=None, body=body, topics=[topic], held_at=now - dt.timedelta(hours=2),
                                   place="议事厅", minutes="讨论方案", attendance={})
    disclosure = Disclosure.objects.create(topic=topic, kind="decision", community_path=community.path,
                                           area_path=topic.area_path, title="决议公开", text="同意实施",
                                           published_at=now)
    delib_objection = DelibObjection.objects.create(disclosure=disclosure, text="有意见")

    honour_category = hon.category_save(actor=None, name="文明卫生示范户", subject=Subject.HOUSEHOLD,
                                        criteria=[{"name": "室内整洁", "max": 100}], pass_score=80, needs_vote=False,
                                        sort=0)
    rnd = hon.round_open(actor=None, area=community, year=2026, quarter=1)
    nomination = hon.nomination_add(actor=None, round=rnd, category=honour_category, household=household,
                                    reason="家中常年干净整洁,带动邻居")
    honour_objection = HonObjection.objects.create(round=rnd, nomination=nomination, content="情况不属实")

    chain = alarms.chain_create(actor=None, area=grid, name="1网格默认通知链", is_default=True,
                                steps=[StepSpec(0, [TargetSpec(TargetKind.DUTY)])])
    device = alarms.device_register(actor=None, key="860000000000001", resident=elder, sim="13700000001",
                                    secret="device-secret")
    alarm = alarms.alarm_press(device=device, event_id="e1", via="http").alarm
    dispute_case = dispute.case
    return locals()


def _upload(job: Any) -> None:
    """The kept upload of an import job (the blank template), for its error report."""
    from wuzhi.registry import exporter, importer

    path = importer.stored_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(exporter.build_template())


@dataclass
class World:
    records: dict[str, Any]
    users: dict[tuple[str, str], Any]  # (role, "in" | "out") → user
    grants: dict[tuple[str, str], str]  # (role, side) → the path of the user's grant

    def path_of(self, key: str) -> str:
        return located(self.records[key])


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The records, and per role a user whose grant holds them ("in") and one granted the
    sibling area at the same level ("out": another grid of the community, another community of
    the town …, another county for the county cadre)."""
    from django.contrib.auth import get_user_model
    from django.test import override_settings

    from wuzhi.core import services as core

    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    with django_db_blocker.unblock(), media, transaction.atomic():
        records = build_world()
        siblings = {"county": core.area_create(actor=None, parent=None, segment="530627", name="外县")}
        for level, parent, segment in (("town", "county", "200"), ("community", "town", "013"),
                                       ("grid", "community", "02"), ("building", "grid", "02"),
                                       ("unit", "building", "2")):
            siblings[level] = core.area_create(actor=None, parent=records[parent], segment=segment,
                                               name=f"另一{segment}", floors=2 if level == "building" else None)
        users, grants = {}, {}
        for role in ALL_ROLES:
            for side, area in (("in", records[LEVEL[role]]), ("out", siblings[LEVEL[role]])):
                user = get_user_model().objects.create_user(f"{role}-{side}", password="x")
                core.grant_role(actor=None, user=user, role=role, area=area)
                users[role, side], grants[role, side] = user, area.path
        yield World(records, users, grants)
        transaction.set_rollback(True)


def expected(w: World, rule: Rule, role: str, side: str) -> bool:
    if rule.need == ANYONE:
        return True
    if rule.need == NOBODY:
        return False
    held = allows(role, rule.need) if isinstance(rule.need, str) else role in rule.need
    if not held or rule.on is None:
        return held
    grant, place = w.grants[role, side], w.path_of(rule.on)
    return place.startswith(grant) or (rule.reach == "line" and grant.startswith(place))


def path_for(w: World, route: str, rule: Rule) -> str:
    values: dict[str, Any] = {}
    names = params(route)
    if names and rule.on is not None:
        values[names[0]] = w.records[rule.on].pk
    for name, value in rule.args:
        values[name] = value[1:] if value.startswith("=") else w.records[value].pk
    return fill(route, values)


def answer(client: Any, path: str, data: dict[str, Any] | None = None) -> Any:
    """The response to a GET (a POST where the URL only takes POST), its writes undone."""
    with transaction.atomic():
        response = client.get(path)
        if response.status_code == 405:
            response = client.post(path, data or {})
        transaction.set_rollback(True)
    return response


def posted(client: Any, path: str, data: dict[str, Any]) -> int:
    with transaction.atomic():
        status = client.post(path, data).status_code
        transaction.set_rollback(True)
    return status


def allowed(status: int) -> bool:
    return status not in (403, 404, 401)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_url_answers_each_role_as_its_rule_says(role, world, client, db):
    wrong = []
    for route, name in protected():
        rule = RULES[name]
        path = path_for(world, route, rule)
        # Without a record the answer does not depend on the area (a list shows what is in scope).
        for side in ("in", "out") if rule.on else ("in",):
            client.force_login(world.users[role, side])
            data = {k: v[1:] if v.startswith("=") else world.records[v].pk for k, v in rule.post}
            checks = [("", answer(client, path, data).status_code, expected(world, rule, role, side))]
            if rule.write is not None:
                checks.append(("POST ", posted(client, path, data),
                               expected(world, replace(rule, need=rule.write), role, side)))
            for how, status, want in checks:
                if allowed(status) != want:
                    wrong.append(f"{name} [{side}] {how}{path}: expected {'allow' if want else 'deny'}, got {status}")
    assert wrong == [], f"{Role(role).label}: " + "\n".join(wrong)


def test_every_url_is_public_by_decision_or_needs_a_login(world, client, db):
    leaks = []
    for route, name in protected():
        response = answer(client, path_for(world, route, RULES[name]) if name in RULES else fill(route, {}))
        to_login = response.status_code == 302 and "/login/" in response.get("Location", "")
        if not (to_login or response.status_code in (401, 403)):
            leaks.append((name, response.status_code))
    assert leaks == [], "reachable without login (add a login requirement, or a reason to PUBLIC):"
