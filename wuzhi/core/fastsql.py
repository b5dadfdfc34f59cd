"""Hand-written SQL for the few statements that run so often their ORM compilation would dominate:
what an emergency-caller storm runs for every press, and what every signed-in request asks
(its session, user, grants and pairings).

Compiling a queryset costs 0.3–1 ms of CPU in Django, more than PostgreSQL needs to run the
statement; a storm of 100 presses a second on two cores cannot afford it on the path from a press
to its first notification (ingest.devices_by_keys, services.alarm_press_batch, outbox.claim,
services.heartbeat_flush). These helpers keep that SQL portable (PostgreSQL and SQLite, the
`%s` placeholders of Django's cursor) and the rows turned into model instances the rest of the code
uses as usual. Everything else stays on the ORM."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

M = TypeVar("M", bound=models.Model)


def marks(values: Sequence[Any]) -> str:
    """The placeholders of an IN (...) list."""
    return ", ".join(["%s"] * len(values))


def when(value: dt.datetime) -> Any:
    """A datetime as a parameter of hand-written SQL, converted as the ORM converts it (SQLite
    stores naive UTC text: comparing with an aware datetime's text would compare wrongly)."""
    return connection.ops.adapt_datetimefield_value(value)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[models.Model], wanted: set[str]) -> list[str]:
    """`wanted` attribute names in the model's field order: Model.from_db takes a partial row in
    that order (the other fields load on access, like deferred fields)."""
    return [f.attname for f in model._meta.concrete_fields if f.attname in wanted]


def _db() -> Any:
    """This thread's connection itself: every `django.db.connection.x` goes through a proxy and a
    thread-local lookup, and a row of a few dozen fields reaches the connection hundreds of times."""
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def _converters(model: type[models.Model], fields: tuple[str, ...], vendor: str) -> list[tuple[Any, list[Any]]]:
    db = _db()
    by_name = {f.attname: f for f in model._meta.concrete_fields}
    out = []
    for name in fields:
        col = by_name[name].get_col(model._meta.db_table)
        # what the SQL compiler applies: the backend's converters, then the field's
        out.append((col, [*db.ops.get_db_converters(col), *col.get_db_converters(db)]))
    return out


def load(model: type[M], fields: list[str], rows: Iterable[Sequence[Any]]) -> list[M]:
    """Instances from rows of `fields` (a `columns()` list), with the conversions the ORM applies
    to values read (SQLite returns naive datetimes and 0/1 for booleans, for instance)."""
    db = _db()
    converters = _converters(model, tuple(fields), db.vendor)
    out = []
    for row in rows:
        values = list(row)
        for i, (expression, funcs) in enumerate(converters):
            for func in funcs:
                values[i] = func(values[i], expression, db)
        out.append(model.from_db(db.alias, fields, values))
    return out


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[list[Any], str, str]:
    db = _db()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    pk = model._meta.pk
    assert pk is not None
    head = f"INSERT INTO {table(model)} ({', '.join(db.ops.quote_name(f.column) for f in fields)}) VALUES "
    return fields, head, f" RETURNING {db.ops.quote_name(pk.column)}"


def insert(objs: Sequence[models.Model]) -> None:
    """INSERT new instances of one model in one statement and set their primary keys, like
    bulk_create (field defaults, pre_save and database conversion as Django does them), without
    its per-call compiling. Both databases return the ids (PostgreSQL; SQLite 3.35+)."""
    if not objs:
        return
    db = _db()
    fields, head, tail = _insert_sql(type(objs[0]), db.vendor)
    row = f"({marks(fields)})"
    per_statement = max(1, 30000 // len(fields))  # under SQLite's limit of bound parameters
    for start in range(0, len(objs), per_statement):
        chunk = objs[start:start + per_statement]
        params = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for obj in chunk for f in fields]
        with db.cursor() as cur:
            cur.execute(head + ", ".join([row] * len(chunk)) + tail, params)
            ids = [r[0] for r in cur.fetchall()]
        for obj, pk_value in zip(chunk, ids, strict=True):
            obj.pk = pk_value
            obj._state.adding = False
            obj._state.db = db.alias
