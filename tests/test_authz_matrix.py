"""The authorization matrix, generated from the URL configuration (pages and API alike).

1. Anonymous: every URL that is not in PUBLIC sends a visitor to the login page (pages) or
   answers 401/403 (API). A new URL that is neither public nor protected fails here.
2. Outside the area: for every URL that names a record, a grid worker of another grid (with no
   team membership or pairing that would legitimately widen their view) gets 403 or 404 for a
   record of grid 1, and someone responsible for it does not. Records kept at community level
   (honour rounds, deliberation bodies …) are asked for by a grid worker of another community. Every URL with a parameter must
   have a rule in OBJECT_RULES or a reason in NOT_AN_AREA_RECORD; a new one without fails.

It runs on the built demo community, which has a record of every kind in every grid."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.roles import Role
from wuzhi.demo.testing import shared_demo

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


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    yield from shared_demo(request, django_db_blocker)


def test_every_url_is_public_by_decision_or_needs_a_login(fuxing, client, db):
    leaks = []
    for route, name in urls():
        if is_public(name):
            continue
        path = fill(route, {})
        response = client.get(path)
        if response.status_code == 405:
            response = client.post(path)
        login_redirect = response.status_code == 302 and "/login/" in response.get("Location", "")
        if not (login_redirect or response.status_code in (401, 403)):
            leaks.append((name, path, response.status_code))
    assert leaks == [], "reachable without login (add a login requirement, or a reason to PUBLIC):"


# ---- records outside the area ------------------------------------------------------------------

Finder = Callable[["Demo"], dict[str, Any]]


class Demo:
    """Records of grid 1 (or of the community, for community-wide records) to ask for."""

    def __init__(self) -> None:
        worker = Grant.objects.filter(user__username="wgy1", role=Role.GRID_WORKER).select_related("area").get()
        self.grid = worker.area
        self.community = self.grid.parent
        self.path = self.grid.path

    def first(self, model: Any, **filters: Any) -> Any:
        obj = model.objects.filter(**filters).order_by("pk").first()
        assert obj is not None, f"the demo has no {model.__name__} matching {filters}"
        return obj

    def in_grid(self, model: Any, field: str = "area_path", **filters: Any) -> Any:
        return self.first(model, **{f"{field}__startswith": self.path}, **filters)


def _registry(d: Demo) -> dict[str, Any]:
    from wuzhi.registry.models import Household, Resident, ResidentTag

    household = d.in_grid(Household)
    resident = d.in_grid(Resident, status="在住")
    tag = ResidentTag.objects.filter(resident=resident).values_list("tag_id", flat=True).first() or 1
    building = d.first(Area, kind=AreaKind.BUILDING, path__startswith=d.path)
    return {"household": household.pk, "resident": resident.pk, "tag_pk": tag, "area_pk": building.pk}


def _case(d: Demo) -> dict[str, Any]:
    from wuzhi.cases.models import Case, CaseKind

    # 13 disputes a year: not every grid has one, so the dispute is asked for from another community.
    return {"case": d.in_grid(Case).pk,
            "dispute": d.first(Case, kind=CaseKind.DISPUTE, area_path__startswith=d.community.path).pk}


def _honours(d: Demo) -> dict[str, Any]:
    from wuzhi.honours.models import Nomination, Objection, Round

    return {"round": d.first(Round, area=d.community).pk, "nomination": d.in_grid(Nomination).pk,
            "objection": d.first(Objection, round__area=d.community).pk}


def _cameras(d: Demo) -> dict[str, Any]:
    from wuzhi.cameras.models import Camera, Consent

    return {"camera": d.in_grid(Camera).pk, "household_camera": d.in_grid(Camera, household__isnull=False).pk,
            "consent": d.first(Consent, household__area_path__startswith=d.path).pk}


def _deliberation(d: Demo) -> dict[str, Any]:
    from wuzhi.deliberation.models import Body, Meeting, Objection, Topic

    within = {"area_path__startswith": d.community.path}
    return {"topic": d.first(Topic, **within).pk, "meeting": d.first(Meeting, **within).pk,
            "objection": d.first(Objection, disclosure__area_path__startswith=d.community.path).pk,
            "body": d.first(Body, **within).pk}


def _alarms(d: Demo) -> dict[str, Any]:
    from wuzhi.alarms.models import Alarm, Chain, Device

    return {"alarm": d.first(Alarm, area_path__startswith=d.community.path).pk, "device": d.in_grid(Device).pk,
            "chain": d.in_grid(Chain).pk}


# url name → (how to find its record's pk in grid 1 or the community, the key in that dict,
# whether the insider check applies: False where the URL needs a sub-record or a POST body).
# Names listed in COMMUNITY_LEVEL are community records: the outsider comes from another community.
Rule = tuple[Callable[[Demo], dict[str, Any]], str, bool]
OBJECT_RULES: dict[str, Rule] = {
    "core:area": (lambda d: {"pk": d.grid.pk}, "pk", True),
    "core:area_add_child": (lambda d: {"pk": d.grid.pk}, "pk", True),
    "core:area_edit": (lambda d: {"pk": d.grid.pk}, "pk", True),
    "core:dwelling_add": (lambda d: {"pk": d.grid.pk}, "pk", False),
    "core:area_grants": (lambda d: {"pk": d.grid.pk}, "pk", True),
    "registry:household_detail": (_registry, "household", True),
    "registry:household_edit": (_registry, "household", True),
    "registry:resident_create": (_registry, "household", True),
    "registry:visit_create": (_registry, "household", True),
    "registry:resident_detail": (_registry, "resident", True),
    "registry:resident_edit": (_registry, "resident", True),
    "registry:reveal": (_registry, "resident", False),
    "registry:resident_privacy_export": (_registry, "resident", False),
    "registry:tag_confirm": (_registry, "resident", False),
    "registry:building": (_registry, "area_pk", True),
    "cases:detail": (_case, "case", True),
    "cases:act": (_case, "case", False),
    "cases:review": (_case, "case", False),
    "cases:merge": (_case, "case", False),
    "cases:dispute_intake": (_case, "dispute", False),
    "cases:mediation_add": (_case, "dispute", False),
    "cases:dispute_conclude": (_case, "dispute", False),
    "cases:followup_add": (_case, "dispute", False),
    "cases:agreement": (_case, "dispute", False),
    "activities:person_record": (_registry, "resident", True),
    "activities:resident_card": (_registry, "resident", True),
    "party:assign": (_registry, "household", False),
    "party:board": (lambda d: {"unit_pk": d.first(Area, kind=AreaKind.UNIT, path__startswith=d.path).pk},
                    "unit_pk", True),
    "household-detail": (_registry, "household", True),
    "resident-detail": (_registry, "resident", True),
    "resident-reveal": (_registry, "resident", False),
    "case-detail": (_case, "case", True),
    "case-transition": (_case, "case", False),
    "case-review": (_case, "case", False),
    "honours:round": (_honours, "round", True),
    "honours:advance": (_honours, "round", False),
    "honours:nominate": (_honours, "round", True),
    "honours:nomination": (_honours, "nomination", True),
    "honours:answer": (_honours, "objection", False),
    "honours:household_history": (_registry, "household", True),
    "honours:building_history": (_registry, "area_pk", True),
    "employment:person": (_registry, "resident", True),
    "deliberation:detail": (_deliberation, "topic", True),
    "deliberation:act": (_deliberation, "topic", False),
    "deliberation:merge": (_deliberation, "topic", False),
    "deliberation:meeting_new": (_deliberation, "topic", True),
    "deliberation:progress": (_deliberation, "topic", False),
    "deliberation:households": (_deliberation, "topic", True),
    "deliberation:publish": (_deliberation, "topic", False),
    "deliberation:meeting": (_deliberation, "meeting", True),
    "deliberation:vote": (_deliberation, "meeting", False),
    "deliberation:answer": (_deliberation, "objection", False),
    "deliberation:body_edit": (_deliberation, "body", True),
    "alarms:act": (_alarms, "alarm", False),
    "alarms:reveal": (_alarms, "alarm", False),
    "alarms:device": (_alarms, "device", True),
    "alarms:chain_edit": (_alarms, "chain", True),
    "cameras:detail": (_cameras, "camera", True),
    "cameras:edit": (_cameras, "camera", True),
    "cameras:consent_new": (_cameras, "household_camera", True),
    "cameras:stream": (_cameras, "camera", False),
    "cameras:consent_withdraw": (_cameras, "consent", False),
}
COMMUNITY_LEVEL = {
    *(name for name in OBJECT_RULES if name.startswith("deliberation:")),
    "honours:round", "honours:advance", "honours:nominate", "honours:answer", "alarms:act", "alarms:reveal",
    "cases:dispute_intake", "cases:mediation_add", "cases:dispute_conclude", "cases:followup_add", "cases:agreement",
}

# URLs with a parameter that is not a record of an area, or whose area rule another test owns.
NOT_AN_AREA_RECORD = {
    "registry:import_job": "an import job belongs to its uploader (tests/registry/test_import.py)",
    "registry:import_job_status": "same",
    "registry:import_errors": "same",
    "cases:category_edit": "case categories are the installation's code list; only the secretary edits them",
    "case-category-detail": "same, read-only in the API",
    "tag-detail": "tags are a code list readable by all staff",
    "area-detail": "tested through core:area and tests/api/test_scope.py",
    "dwelling-detail": "tests/api/test_scope.py",
    "visit-detail": "tests/api/test_scope.py",
    "activities:activity_detail": "activities follow the team relation rule: tests/activities/test_views.py",
    "activities:attendance": "same",
    "activities:attendance_mark": "same",
    "activities:attendance_unmark": "same",
    "activities:attendance_search": "same",
    "activities:attendance_headcount": "same",
    "activities:attendance_copy": "same",
    "activities:attendance_scan": "same",
    "activities:team_detail": "teams are community-wide and visible to their members: tests/activities",
    "activities:team_candidates": "same",
    "activities:member_add": "same",
    "activities:member_leave": "same",
    "activities:care_pair": "same",
    "activities:care_end": "same",
    "activities:program_detail": "programs: tutors on the list see them; tests/activities/test_programs.py",
    "activities:program_candidates": "same",
    "activities:program_enrol": "same",
    "activities:enrolment_end": "same",
    "activities:session_start": "same",
    "activities:program_cards": "same",
    "activities:canteen_statement": "same",
    "activities:canteen_statement_export": "same",
    "party:branch_detail": "branches are community-level: tests/party/test_scope.py",
    "party:branch_link": "same",
    "party:branch_secretary": "same",
    "party:member_detail": "party members: tests/party/test_scope.py",
    "party:member_move": "same",
    "party:pairing_confirm": "pairings: tests/party/test_coverage.py",
    "party:pairing_end": "same",
    "api-root": "the API's index",
}


def test_every_url_with_a_parameter_has_a_rule():
    missing = [name for route, name in urls()
               if params(route) and not is_public(name) and name not in OBJECT_RULES and name not in NOT_AN_AREA_RECORD]
    assert missing == [], "add each to OBJECT_RULES (or a reason to NOT_AN_AREA_RECORD)"


def _request(client: Any, path: str) -> int:
    response = client.get(path)
    if response.status_code == 405:
        response = client.post(path)
    return response.status_code


def test_records_of_another_area_do_not_exist_for_its_workers(fuxing, client, db, django_user_model):
    from wuzhi.core import services as core_services

    d = Demo()
    other_grid = Area.objects.filter(parent=d.community, kind=AreaKind.GRID).exclude(pk=d.grid.pk).order_by("path")[0]
    elsewhere = core_services.area_create(actor=None, parent=d.community.parent, segment="899", name="外社区")
    elsewhere_grid = core_services.area_create(actor=None, parent=elsewhere, segment="01", name="1网格")
    outsiders = {}
    for key, area in (("grid", other_grid), ("community", elsewhere_grid)):
        outsiders[key] = django_user_model.objects.create_user(f"outsider-{key}", password="x")
        core_services.grant_role(actor=None, user=outsiders[key], role=Role.GRID_WORKER, area=area)
    insider = django_user_model.objects.get(username="wgy1")
    secretary = django_user_model.objects.get(username="shuji")
    found: dict[Callable[[Demo], dict[str, Any]], dict[str, Any]] = {}
    wrong = []
    for route, name in urls():
        if name not in OBJECT_RULES:
            continue
        finder, key, check_insider = OBJECT_RULES[name]
        values = found.setdefault(finder, finder(d))
        path = fill(route, {p: values[key] if p in ("pk", key) else values.get(p, "x0") for p in params(route)})
        client.force_login(outsiders["community" if name in COMMUNITY_LEVEL else "grid"])
        status = _request(client, path)
        if status not in (403, 404):
            wrong.append((name, path, "outsider", status))
        if check_insider:
            client.force_login(secretary if name.startswith("core:area") or name in COMMUNITY_LEVEL else insider)
            status = _request(client, path)
            if status in (403, 404):
                wrong.append((name, path, "insider", status))
    assert wrong == []
