"""Bulk writes for the city generator and the fast import: PostgreSQL COPY, a plain
executemany elsewhere (SQLite in tests). Rows are tuples in the order of `columns`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write `rows` into `table`; returns how many. On PostgreSQL one COPY … FROM STDIN."""
    count = 0
    with connection.cursor() as cursor:
        if is_postgres():
            cols = ", ".join(f'"{c}"' for c in columns)
            with cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        cols = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        sql = f'INSERT INTO "{table}" ({cols}) VALUES ({marks})'
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")


def copy_line(values: Sequence[Any]) -> str:
    """One row in COPY's text format, so worker processes can format rows and the process that
    holds the connection only passes text on."""
    out = []
    for v in values:
        if v is None:
            out.append("\\N")
        elif isinstance(v, str):
            out.append(v.translate(_ESCAPES) if _SPECIAL.search(v) else v)
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, int | float):
            out.append(str(v))
        else:
            out.append(v.isoformat())  # dates and datetimes
    return "\t".join(out) + "\n"


def copy_text(table: str, columns: Sequence[str], blocks: Iterable[str]) -> None:
    """PostgreSQL only: COPY text made by copy_line, block by block."""
    cols = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for block in blocks:
            copy.write(block)


def model_columns(model: type[models.Model]) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def check_columns(model: type[models.Model], columns: Sequence[str]) -> None:
    """The generator lists every column by hand for speed; fail loudly when the model gains one."""
    missing = model_columns(model) - set(columns)
    extra = set(columns) - model_columns(model)
    if missing or extra:
        raise RuntimeError(f"{model._meta.label}: columns out of date (missing {sorted(missing)}, "
                           f"unknown {sorted(extra)})")


def next_id(model: type[models.Model]) -> int:
    """The first free primary key; callers hold the tables' write lock while they use explicit ids."""
    last = model._default_manager.order_by("-pk").values_list("pk", flat=True).first()
    return int(last or 0) + 1


def lock_tables(*models_: type[models.Model]) -> None:
    """Keep other writers out while explicit ids are handed out (readers go on)."""
    if is_postgres():
        names = ", ".join(f'"{m._meta.db_table}"' for m in models_)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")


def reset_sequences(*models_: type[models.Model]) -> None:
    """After explicit ids, move PostgreSQL's sequences past them (SQLite follows by itself)."""
    if not is_postgres():
        return
    with connection.cursor() as cursor:
        for m in models_:
            table, pk = m._meta.db_table, m._meta.pk.column  # type: ignore[union-attr]
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{pk}'), "
                f"COALESCE((SELECT MAX(\"{pk}\") FROM \"{table}\"), 0) + 1, false)"
            )
