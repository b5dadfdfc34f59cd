"""Audit trail written by services: field diffs (ChangeLog) and sensitive reads (AccessLog).

Services call `snapshot()` before a change and `log_change()` after it, inside the same
transaction, so a change and its diff are committed together or not at all. Sensitive fields
(ciphertexts, digests) are never copied into the log: their masked twin is diffed instead."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from typing import Any

from django.db import models

from .models import AccessLog, ChangeLog

# Columns that hold ciphertext or digests: diffs show the masked column instead.
HIDDEN_SUFFIXES = ("_enc", "_hash")
SKIPPED = {"version", "updated_at", "created_at", "name_pinyin", "name_initials", "search_text"}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time | decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The audited state of `obj`: its concrete fields plus the many-to-many fields the model
    lists in `audit_m2m` (as sorted names, one query each)."""
    data: dict[str, Any] = {}
    if obj.pk is not None:
        for name in getattr(obj, "audit_m2m", ()):
            data[name] = "、".join(sorted(str(x) for x in getattr(obj, name).all()))
    for field in obj._meta.concrete_fields:
        name = field.attname
        if name in SKIPPED or name.endswith(HIDDEN_SUFFIXES) or field.primary_key:
            continue
        data[field.name if field.is_relation else name] = _plain(getattr(obj, name))
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _area_path(obj: models.Model) -> str:
    area = getattr(obj, "area", None)
    return getattr(obj, "area_path", None) or getattr(obj, "path", None) or getattr(area, "path", "") or ""


def change_row(actor: Any, obj: models.Model, before: dict[str, Any] | None, note: str = "") -> ChangeLog | None:
    after = snapshot(obj)
    if before is None:
        op, changes = ChangeLog.Op.CREATE, {k: [None, v] for k, v in after.items() if v not in (None, "")}
    else:
        op, changes = ChangeLog.Op.UPDATE, diff(before, after)
        if not changes:
            return None
    return ChangeLog(
        model=obj._meta.label_lower, object_id=str(obj.pk), object_repr=str(obj)[:200], op=op,
        changes=changes, actor=actor if getattr(actor, "pk", None) else None, area_path=_area_path(obj), note=note,
    )


def log_change(actor: Any, obj: models.Model, before: dict[str, Any] | None, note: str = "") -> None:
    row = change_row(actor, obj, before, note)
    if row is not None:
        row.save()


def log_changes(rows: Iterable[ChangeLog | None]) -> None:
    ChangeLog.objects.bulk_create([r for r in rows if r is not None], batch_size=1000)


def log_access(*, actor: Any, kind: str, obj: models.Model | None = None, field: str = "",
               detail: str = "", area_path: str = "", ip: str | None = None) -> None:
    AccessLog.objects.create(
        kind=kind, actor=actor, field=field, detail=detail[:500], ip=ip,
        model=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        area_path=area_path or (_area_path(obj) if obj is not None else ""),
    )


def history(obj: models.Model) -> models.QuerySet[ChangeLog]:
    return ChangeLog.objects.filter(model=obj._meta.label_lower, object_id=str(obj.pk)).select_related("actor")
