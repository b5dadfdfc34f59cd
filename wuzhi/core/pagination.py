"""Keyset pagination: a page is "the next N rows after this key", so page 500 costs what page 1
costs and no list ever counts a whole table. Used by the HTML lists and the API alike.

The key of a row is the tuple of its ordering fields; `ordering` may mix ascending and
descending fields ("-visited_at", "-id") and may follow relations ("household__address_key").
Ordering fields must be non-null: "greater than NULL" has no answer in SQL, so a row with a
NULL key would be skipped by the next page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response


class InvalidCursor(ValueError):
    """The `after` token was not made by this server for this ordering (tampered or stale)."""


@dataclass
class Page:
    rows: list[Any]
    next_token: str | None


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(token: str) -> list[Any] | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):  # also JSON and UTF-8 errors, both ValueErrors
        return None
    # Anything but a flat list of scalars did not come from _encode.
    if not isinstance(values, list) or any(isinstance(v, list | dict) for v in values):
        return None
    return values


def _after_q(fields: list[str], values: list[Any]) -> Q:
    """(a, b, c) > (x, y, z) written with ORs so every database can use the index; a descending
    field compares with "<" instead of ">"."""
    q = Q(pk__in=[])
    for i, field in enumerate(fields):
        name, desc = field.lstrip("-"), field.startswith("-")
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": values[i]})
        for prev, value in zip(fields[:i], values[:i], strict=True):
            step &= Q(**{prev.lstrip("-"): value})
        q |= step
    return q


def _key_of(row: Any, field: str) -> Any:
    """The value of an ordering field on a row, following `__` through related objects
    (getattr alone does not understand "household.address_key")."""
    value = row
    parts = field.lstrip("-").split("__")
    for i, part in enumerate(parts):
        try:
            model_field = value._meta.get_field(part)
        except (AttributeError, FieldDoesNotExist):  # "pk", properties
            model_field = None
        if i == len(parts) - 1 and model_field is not None and model_field.many_to_one:
            # Ordering by a foreign key orders by its id; reading the id costs no query.
            return getattr(value, model_field.attname)
        value = getattr(value, part)
    return value


def keyset_page(qs: QuerySet[Any], ordering: list[str], after: str | None, size: int, *,
                strict: bool = False, parts: list[QuerySet[Any]] | None = None,
                load: Callable[[list[Any]], dict[Any, Any]] | None = None) -> Page:
    """`ordering` must end with a unique field (the primary key) so the key is total.

    An `after` token that cannot be decoded or does not fit the ordering starts from the first
    page, or raises InvalidCursor when `strict` (the API prefers a 400 to a silent restart).

    `parts`: the rows are the union of these querysets (a search whose parts each use one
    index). The page's keys are then taken first — only the ordering columns, from each part,
    which covering indexes answer without reading the table — and `qs` (the display query,
    with its joins) reads just the rows of the page. Without it a search matching thousands
    of people across a city read every match and its household to keep thirty.

    `load`: reads the page's rows by primary key (pk → row) once their keys are known, from
    `qs` or from the parts; for a list whose rows the ORM builds too slowly (a resident search
    page). A row whose key changed between the two reads is not shown: it may have moved out of
    the scope the keys were read in."""
    after_q = None
    if after:
        values = _decode(after)
        if values is None or len(values) != len(ordering):
            if strict:
                raise InvalidCursor(after)
        else:
            try:
                # Field.get_prep_value runs here, so a value of the wrong type fails now, not
                # later while the page is read.
                after_q = _after_q(ordering, values)
                qs.filter(after_q)
            except (ValueError, TypeError, DjangoValidationError) as exc:
                after_q = None
                if strict:
                    raise InvalidCursor(after) from exc
    if parts is None and load is None:
        qs = qs.order_by(*ordering)
        rows = list((qs if after_q is None else qs.filter(after_q))[: size + 1])
    else:
        parts = [qs] if parts is None else parts
        rows = _rows_by_keys(ordering, size + 1, [p if after_q is None else p.filter(after_q) for p in parts],
                             load or qs.order_by().in_bulk)
    more = len(rows) > size
    rows = rows[:size]
    token = None
    if more and rows:
        token = _encode([_key_of(rows[-1], f) for f in ordering])
    return Page(rows, token)


def _rows_by_keys(ordering: list[str], limit: int, parts: list[QuerySet[Any]],
                  load: Callable[[list[Any]], dict[Any, Any]]) -> list[Any]:
    if not parts:
        return []
    names = [f.lstrip("-") for f in ordering]
    keyed = [p.order_by().values_list(*names) for p in parts]
    if len(keyed) > 1 and connection.features.supports_slicing_ordering_in_compound:
        # Each part's own first page (PostgreSQL): a common initial like "wl" matches tens of
        # thousands in a city, and the union would otherwise collect them all to remove doubles.
        keyed = [k.order_by(*ordering)[:limit] for k in keyed]
    first, *rest = keyed
    keys = list((first.union(*rest) if rest else first).order_by(*ordering)[:limit])
    by_pk = load([key[-1] for key in keys])
    # A row gone between the two reads (deleted, or no longer in scope) is simply not shown.
    return [row for key in keys if (row := by_pk.get(key[-1])) is not None
            and all(_key_of(row, f) == value for f, value in zip(ordering, key, strict=True))]


class KeysetPagination(BasePagination):
    page_size = 50
    max_page_size = 500

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        ordering = list(getattr(view, "keyset_ordering", ["pk"]))
        # Out of range or not a number is a 400, as the schema documents (1…max_page_size): a
        # client asking for 1000 rows must learn it gets at most 500, not assume it has them all.
        raw = request.query_params.get("page_size")
        size = self.page_size
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if not 1 <= size <= self.max_page_size:
                raise ValidationError(
                    {"page_size": [gettext("每页条数应为 1 到 %(max)d 之间的整数") % {"max": self.max_page_size}]}
                )
        try:
            page = keyset_page(queryset, ordering, request.query_params.get("after"), size, strict=True)
        except InvalidCursor:
            raise ValidationError({"after": ["分页游标无效,请从第一页重新读取"]}) from None
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
            {"name": "after", "required": False, "in": "query",
             "description": "上一页返回的游标(直接使用响应中的 next 链接即可)", "schema": {"type": "string"}},
            {"name": "page_size", "required": False, "in": "query",
             "description": f"每页条数,默认 {self.page_size},最多 {self.max_page_size}",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]


def _with(params: Any, **changes: str) -> str:
    q = params.copy()
    for k, v in changes.items():
        q[k] = v
    return q.urlencode()
