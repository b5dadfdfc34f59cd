"""The OpenAPI document: valid, free of generator warnings for the registry views, documenting the
filters and never the encrypted columns; Swagger UI served from the vendored sidecar (government
intranets have no internet, so a CDN link would be a blank page)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS

from wuzhi.registry import api as registry_api

pytestmark = pytest.mark.django_db

MY_VIEWS = [name for name in dir(registry_api) if name.endswith("ViewSet") and name != "ScopedViewSet"]


def test_schema_is_valid_and_registry_views_raise_no_warnings(tmp_path):
    GENERATOR_STATS.reset()  # the collector is process-wide; earlier tests may have filled it
    out = tmp_path / "schema.json"
    # --validate checks the whole document against the OpenAPI 3 meta-schema and raises if invalid.
    call_command("spectacular", "--validate", "--format", "openapi-json", "--file", str(out), stderr=io.StringIO())
    messages = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    # Each message carries its breadcrumb "[ResidentViewSet > …]"; views of other apps are theirs.
    mine = [m for m in messages if any(f"[{view}" in m for view in MY_VIEWS)]
    assert mine == []
    assert not [m for m in messages if "enum naming" in m and any(f'"{f}"' in m for f in ("status", "kind"))]
    assert len(MY_VIEWS) == 6
    schema = json.loads(out.read_text())
    assert "/api/residents/{id}/reveal/" in schema["paths"]


def test_schema_endpoint_documents_the_api(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for resource in ("areas", "dwellings", "tags", "households", "residents", "visits"):
        assert f"/api/{resource}/" in paths and f"/api/{resource}/{{id}}/" in paths
    assert set(paths["/api/residents/{id}/reveal/"]) == {"post"}
    assert "post" not in paths["/api/tags/"] and "patch" not in paths["/api/dwellings/{id}/"]
    assert "patch" in paths["/api/residents/{id}/"] and "patch" not in paths["/api/visits/{id}/"]

    def params(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    assert params("/api/residents/") >= {"q", "area", "tag", "age_min", "age_max", "status", "sex", "household",
                                         "after", "page_size"}
    assert params("/api/households/") >= {"q", "area", "status", "tag"}
    assert params("/api/visits/") >= {"household", "area"}
    tag_param = next(p for p in paths["/api/residents/"]["get"]["parameters"] if p["name"] == "tag")
    assert tag_param["schema"]["type"] == "array"

    components = schema["components"]["schemas"]
    resident = components["Resident"]["properties"]
    assert {"id_number_masked", "phone_masked", "age", "tags", "household", "area_path"} <= set(resident)
    leaked = [f for c in components.values() for f in c.get("properties", {}) if f.endswith(("_enc", "_hash"))]
    assert leaked == []
    assert "version" in components["ResidentUpdate"]["required"]
    assert "409" in paths["/api/residents/{id}/"]["patch"]["responses"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    # Models with a `status` of their own choices get their own enum (no naming collision).
    assert components["ResidentStatusEnum"]["enum"] != components["HouseholdStatusEnum"]["enum"]


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode().lower()
    for cdn in ("cdn", "jsdelivr", "unpkg", "cloudflare", "googleapis"):
        assert cdn not in html, cdn
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/schema/" in html
    # ...and the vendored asset itself is there to be served.
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
