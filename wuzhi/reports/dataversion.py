"""A data version for caching statistics: a counter that every committed write bumps, so a cached
dashboard is reused only while no row of the database has changed since it was computed.

How: after `migrate`, triggers are (re)installed on every table (AFTER INSERT/UPDATE/DELETE →
`UPDATE reports_data_version SET n = n + 1`). Triggers see everything the ORM's signals miss:
bulk_create, queryset.update(), raw SQL, another process. The counter changes in the same
transaction as the data, so reading the version *before* computing is safe: a write committed
after that read changes the version, and whatever was computed is filed under the old one.
`epoch` is random per database, so two databases (a test database, a rebuilt demo) never share
cache entries.

Only on SQLite, the embedded default the demo runs on: there writes are serialised anyway and a
one-row counter costs nothing. On PostgreSQL such a counter row would serialise every writing
transaction (alarms, imports) behind each other, so there is no version and nothing is cached;
statistics at city scale are the rollups' job."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import DatabaseError, connections

TABLE = "reports_data_version"
# Writes that do not change any figure: sessions, the access log (each download writes one),
# Django's bookkeeping. Leaving them out keeps a download from invalidating the dashboard.
SKIP = {TABLE, "django_session", "django_migrations", "django_admin_log", "core_accesslog"}


def supported(using: str = "default") -> bool:
    return connections[using].vendor == "sqlite"


def install(using: str = "default", **_kwargs: Any) -> int:
    """Create the counter and a trigger per table and operation; idempotent. Returns the number
    of tables watched (0 where versions are not supported)."""
    if not supported(using):
        return 0
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} "
                       "(id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, n INTEGER NOT NULL)")
        cursor.execute(f"INSERT OR IGNORE INTO {TABLE} (id, epoch, n) VALUES (1, %s, 0)", [uuid.uuid4().hex])
        tables = [t for t in connection.introspection.table_names(cursor) if t not in SKIP
                  and not t.startswith("sqlite_")]
        for table in tables:
            for op in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(f'CREATE TRIGGER IF NOT EXISTS "wz_dv_{table}_{op.lower()}" AFTER {op} ON "{table}" '
                               f"BEGIN UPDATE {TABLE} SET n = n + 1 WHERE id = 1; END")
    return len(tables)


def current(using: str = "default") -> str | None:
    """"epoch:n", or None when there is no version (not SQLite, or not installed): don't cache."""
    if not supported(using):
        return None
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT epoch, n FROM {TABLE} WHERE id = 1")
            row = cursor.fetchone()
    except DatabaseError:
        return None
    return f"{row[0]}:{row[1]}" if row else None


def cached(name: str, scope: Any, compute: Any, timeout: int = 120) -> Any:
    """`compute()` for `scope`, reused while the data version is unchanged. The key holds what
    the result depends on besides the rows: the area, the period, the clock, whose eyes
    (everyone who sees the whole area sees the same numbers; otherwise the user), and the
    language of the labels. The clock is taken to the minute: a few figures change with time
    alone, without any write (a caller that stopped sending heartbeats turns offline, a case
    becomes overdue), so no entry serves for more than a minute."""
    from django.core.cache import cache
    from django.utils import timezone
    from django.utils.translation import get_language

    version = current()
    if version is None:
        return compute()
    viewer = "all" if scope.user is None or scope.whole_area_visible else f"u{scope.user.pk}"
    area = scope.area.path if scope.area is not None else "*"
    minute = timezone.localtime().strftime("%Y%m%d%H%M")
    key = f"wuzhi:reports:{name}:{version}:{area}:{scope.start}:{scope.end}:{minute}:{viewer}:{get_language()}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    value = compute()
    cache.set(key, value, timeout)
    return value
