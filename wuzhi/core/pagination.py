"""Keyset pagination: a page is "the next N rows after this key", so page 500 costs what page 1
costs and no list ever counts a whole table. Used by the HTML lists and the API alike."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.response import Response


@dataclass
class Page:
    rows: list[Any]
    next_token: str | None


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(token: str) -> list[Any] | None:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None


def _after_q(fields: list[str], values: list[Any]) -> Q:
    """(a, b, c) > (x, y, z) written with ORs so every database can use the index."""
    q = Q(pk__in=[])
    for i, field in enumerate(fields):
        name, desc = field.lstrip("-"), field.startswith("-")
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        for prev, value in zip(fields[:i], values[:i], strict=False):
            step &= Q(**{prev.lstrip("-"): value})
        q |= step
    return q


def keyset_page(qs: QuerySet[Any], ordering: list[str], after: str | None, size: int) -> Page:
    """`ordering` must end with a unique field (the primary key) so the key is total."""
    qs = qs.order_by(*ordering)
    values = _decode(after) if after else None
    if values and len(values) == len(ordering):
        qs = qs.filter(_after_q(ordering, values))
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    token = None
    if more and rows:
        last = rows[-1]
        token = _encode([getattr(last, f.lstrip("-").replace("__", ".")) for f in ordering])
    return Page(rows, token)


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        ordering = list(getattr(view, "keyset_ordering", ["pk"]))
        try:
            size = min(int(request.query_params.get("page_size", self.page_size)), self.max_page_size)
        except ValueError:
            size = self.page_size
        page = keyset_page(queryset, ordering, request.query_params.get("after"), max(size, 1))
        self.request = request
        self.next_token = page.next_token
        return page.rows

    def get_paginated_response(self, data: Any) -> Response:
        next_url = None
        if self.next_token:
            next_url = self.request.build_absolute_uri(
                self.request.path + "?" + _with(self.request.query_params, after=self.next_token)
            )
        return Response({"next": next_url, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": {"type": "string", "nullable": True, "format": "uri"}, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "after", "required": False, "in": "query", "description": "上一页返回的游标",
             "schema": {"type": "string"}},
            {"name": "page_size", "required": False, "in": "query", "schema": {"type": "integer"}},
        ]


def _with(params: Any, **changes: str) -> str:
    q = params.copy()
    for k, v in changes.items():
        q[k] = v
    return q.urlencode()
