"""Fuzzing the REST API against its own OpenAPI document (schemathesis).

Every operation the schema documents, including those later apps add, is called with generated
requests, valid and invalid, as three users: the community secretary, a grid worker (one grid of
two) and a resident with no staff grant. A response must not be a server error, must carry a
documented status code and content type, its body must match the documented schema, and a request
that violates the schema must be refused. The app runs in-process (Django's WSGI handler inside
the test's transaction): no server, nothing outlives the test.

Generated ids are mostly random (404, or "does not exist" in a form); a share is replaced by ids of
rows that exist, so detail reads, updates, reveal, visits and the case flow also run on real
records. Generation is derandomized (a fixed seed per operation): CI sends the same requests every
run. The secretary, who may do everything, gets schemathesis' coverage phase as well (boundary
values and wrong types for every field); the other two get the generated examples only, which is
enough to walk every answer a refused user can get.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from wuzhi.activities import services as act
from wuzhi.activities.models import Team, TeamKind
from wuzhi.cases import services as case_services
from wuzhi.cases.models import Case, CaseKind, Category
from wuzhi.core.models import Area
from wuzhi.core.roles import Role
from wuzhi.registry.models import Dwelling, Household, Resident, Tag, Visit

from . import build_registry

pytestmark = pytest.mark.django_db

# Generated examples per operation and user. Together with the secretary's coverage phase this
# keeps the module near a minute on a small shared machine (measured in the README).
MAX_EXAMPLES = 12
SEED = 20261127


def _config(*, coverage: bool) -> Any:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "suppress-health-check": ["all"],
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": coverage}},
    })


# What counts as a failure: the server crashed, it answered something the schema does not document
# (status, content type, body), or it accepted a request the schema says is invalid.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@cache
def openapi_document() -> dict[str, Any]:
    """The document /api/schema/ serves, generated in-process once per run."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


# Ids of the rows of the running test, by what refers to them; filled before generation starts.
KNOWN: dict[str, list[Any]] = {}

# Body fields and query parameters that name another row → the pool their values come from.
REFERENCES = {
    "household": "households", "dwelling": "dwellings", "parent": "areas", "head": "residents",
    "category": "case-categories", "into": "cases", "team": "teams", "unit": "areas",
    "residents": "residents", "tag_ids": "tags", "tag": "tags", "visitors": "users",
}


def _pool(key: str, value: Any) -> Any:
    """A strategy for a real value of `key` shaped like the generated `value`, or None."""
    if key == "version" and isinstance(value, int) and not isinstance(value, bool):
        return st.integers(1, 3)  # rows here are at version 1 or 2: some writes succeed, some are stale
    if key == "area" and isinstance(value, str):
        return st.sampled_from(KNOWN["area-codes"]) if KNOWN.get("area-codes") else None
    resource = "areas" if key == "area" else REFERENCES.get(key)
    ids = KNOWN.get(resource or "", [])
    if not ids:
        return None
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return st.lists(st.sampled_from(ids), max_size=3, unique=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return st.sampled_from(ids)
    return None


def _with_real_references(values: Any) -> Any:
    if not isinstance(values, dict):
        return st.just(values)
    choices = {key: st.one_of(st.just(value), pool) for key, value in values.items()
               if (pool := _pool(key, value)) is not None}
    if not choices:
        return st.just(values)
    return st.fixed_dictionaries(choices).map(lambda picked: {**values, **picked})


def flatmap_path_parameters(ctx: Any, path_parameters: dict[str, Any]) -> Any:
    match = re.match(r"/api/([^/]+)/\{id\}/", ctx.operation.path)
    ids = KNOWN.get(match.group(1), []) if match else []
    if not ids or "id" not in path_parameters:
        return st.just(path_parameters)
    return st.one_of(st.just(path_parameters), st.sampled_from(ids).map(lambda i: {**path_parameters, "id": i}))


def flatmap_body(ctx: Any, body: Any) -> Any:
    return _with_real_references(body)


def flatmap_query(ctx: Any, query: Any) -> Any:
    return _with_real_references(query)


def _schema(*, coverage: bool) -> Any:
    schema = schemathesis.openapi.from_dict(openapi_document(), config=_config(coverage=coverage))
    schema.app = get_wsgi_application()
    for hook in (flatmap_path_parameters, flatmap_body, flatmap_query):
        schema.hook(hook)
    return schema


thorough = _schema(coverage=True)
quick = _schema(coverage=False)


@pytest.fixture
def world(tree, people, make_user, make_household):
    """Both grids filled like the other API tests (households, residents with tags, visits), a
    team, case categories and a case in each grid, a resident user; then KNOWN is refilled."""
    data = build_registry(tree, people, make_household)
    resident_user = make_user("jumin", Role.RESIDENT, tree.units[0], name="居民甲")
    team = act.team_create(actor=None, area=tree.community, kind=TeamKind.PARTY_SERVICE, name="人居环境服务队")
    light = Category.objects.create(kind=CaseKind.REPORT, name="设施损坏", team=team, deadline_hours=48)
    Category.objects.create(kind=CaseKind.REQUEST, name="政策咨询", role=Role.GRID_WORKER, deadline_hours=24)
    Category.objects.create(kind=CaseKind.PROXY, name="高龄补贴", role=Role.GRID_WORKER, deadline_hours=72,
                            checklist=["身份证", "户口簿"])
    for unit, household in ((tree.units[0], data.h1), (tree.units[2], data.h2)):
        case_services.case_open(actor=None, category=light, channel="qr", area=unit, household=household,
                                description="楼道灯坏了,晚上看不见", reporter_phone="13900001111",
                                at=timezone.now() - dt.timedelta(days=3))
    # The coverage phase sends every body variant to the path id 0; the secretary's test sends
    # them to these rows in grid 1 instead, so the variants reach the services.
    target = {"areas": tree.units[0].pk, "dwellings": tree.dwellings[0].pk, "households": data.h1.pk,
              "residents": data.zhang.pk, "visits": data.v1.pk, "tags": data.tags.elderly.pk,
              "case-categories": light.pk, "cases": Case.objects.filter(household=data.h1).get().pk,
              "teams": team.pk, "users": people.worker1.pk}
    KNOWN.clear()
    KNOWN.update({
        "areas": list(Area.objects.values_list("pk", flat=True)),
        "area-codes": list(Area.objects.values_list("code", flat=True)),
        "dwellings": list(Dwelling.objects.values_list("pk", flat=True)),
        "tags": list(Tag.objects.values_list("pk", flat=True)),
        "households": list(Household.objects.values_list("pk", flat=True)),
        "residents": list(Resident.objects.values_list("pk", flat=True)),
        "visits": list(Visit.objects.values_list("pk", flat=True)),
        "cases": list(Case.objects.values_list("pk", flat=True)),
        "case-categories": list(Category.objects.values_list("pk", flat=True)),
        "teams": list(Team.objects.values_list("pk", flat=True)),
        "users": list(get_user_model().objects.values_list("pk", flat=True)),
    })
    return SimpleNamespace(users={"secretary": people.secretary, "worker1": people.worker1,
                                  "resident": resident_user}, data=data, target=target)


@pytest.fixture(autouse=True)
def _requests_keep_the_test_connection():
    """Django closes a connection at the start and end of each request when it is not in
    autocommit mode, which inside the test's transaction it never is; the test client switches
    that off, and so must a test driving the WSGI handler directly (else PostgreSQL answers every
    request after the first with "the connection is closed")."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _token(user: Any) -> dict[str, str]:
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def _aim_at_real_rows(case: Any, target: dict[str, int]) -> None:
    """The coverage phase puts 0 wherever an id goes (path and body); point those at real rows."""
    match = re.match(r"/api/([^/]+)/\{id\}/", case.path)
    if match and str(case.path_parameters.get("id")) == "0":
        case.path_parameters["id"] = target[match.group(1)]
    if isinstance(case.body, dict):
        for key, value in case.body.items():
            real = target.get("areas" if key == "area" else REFERENCES.get(key, ""))
            if real is None or isinstance(value, bool):
                continue
            if value == 0:
                case.body[key] = real
            elif value == [0]:
                case.body[key] = [real]


@thorough.parametrize()
def test_api_as_secretary(case, world):
    _aim_at_real_rows(case, world.target)
    case.call_and_validate(headers=_token(world.users["secretary"]), checks=CHECKS)


@pytest.mark.parametrize("role", ["worker1", "resident"])
@quick.parametrize()
def test_api_as_grid_worker_and_resident(case, role, world):
    case.call_and_validate(headers=_token(world.users[role]), checks=CHECKS)


def test_every_routed_endpoint_is_in_the_document():
    """The fuzz tests are generated from the document: an endpoint left out of it (a viewset with
    schema=None, say) would silently go untested."""
    from wuzhi.urls import router

    documented = set(openapi_document()["paths"])
    missing = [prefix for prefix, _viewset, _basename in router.registry
               if not {f"/api/{prefix}/", f"/api/{prefix}/{{id}}/"} & documented]
    assert missing == []


# ---- what the fuzzer found, pinned down ---------------------------------------------------------

def test_found_by_fuzzing_are_answered_as_documented(world):
    api = APIClient()
    api.credentials(**{"HTTP_" + k.upper(): v for k, v in _token(world.users["secretary"]).items()})
    zhang = world.data.zhang

    def field_error(response: Any, field: str) -> str:
        assert response.status_code == 400, response.content
        return response.json()[field][0]

    # An id beyond the database's integer range was a 500 (SQLite OverflowError).
    assert "9223372036854775807" in field_error(api.get("/api/areas/", {"parent": 2**70}), "parent")
    assert api.get("/api/residents/", {"household": 2**63 - 1}).json()["results"] == []
    # A blank filter listed everything although the schema requires a value there.
    assert "不能为空" in field_error(api.get("/api/areas/", {"kind": ""}), "kind")
    assert api.get("/api/residents/", {"status": ""}).status_code == 200  # documented: "" means all
    # page_size outside 1…500 was silently changed.
    assert "1 到 500" in field_error(api.get("/api/tags/", {"page_size": 501}), "page_size")
    assert "1 到 500" in field_error(api.get("/api/tags/", {"page_size": "x"}), "page_size")
    # A non-numeric id with a dot got Django's HTML 404 page instead of the API's JSON.
    response = api.get("/api/tags/1.5/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    # A number where the schema says text was stored as text ("0" as an area's name).
    unit = world.target["areas"]
    assert "文本" in field_error(api.patch(f"/api/areas/{unit}/", {"name": 0}, format="json"), "name")
    assert "整数" in field_error(api.patch(f"/api/residents/{zhang.pk}/", {"version": str(zhang.version)},
                                           format="json"), "version")
    assert "列表" in field_error(api.patch(f"/api/residents/{zhang.pk}/", {"version": zhang.version, "tag_ids": 1},
                                           format="json"), "tag_ids")
    # Form-encoded bodies cannot say [1] versus 1, or "" versus absent: JSON only.
    assert api.patch(f"/api/residents/{zhang.pk}/", {"version": zhang.version}).status_code == 415


def test_schema_documents_the_error_answers_and_blank_choices():
    paths = openapi_document()["paths"]
    assert set(paths["/api/tags/"]["get"]["responses"]) == {"200", "400", "401"}
    assert set(paths["/api/tags/{id}/"]["get"]["responses"]) == {"200", "401", "404"}
    assert set(paths["/api/residents/{id}/"]["patch"]["responses"]) == {"200", "400", "401", "403", "404", "409"}
    body = paths["/api/residents/{id}/"]["patch"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert body["required"] == ["detail"]
    assert set(paths["/api/residents/{id}/"]["patch"]["requestBody"]["content"]) == {"application/json"}
    role = openapi_document()["components"]["schemas"]["Category"]["properties"]["role"]
    assert {"$ref": "#/components/schemas/BlankEnum"} in role["oneOf"]  # a category without a role: ""
