"""Who is signed in, read with hand-written SQL (core.fastsql): every signed-in request loads its
session and its user, and building those two queries with the ORM cost more CPU than the rest of
a cached page (core.pagecache). Behaviour is Django's own: database sessions, the model backend."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from . import fastsql
from .scoping import ACTIVE_GRANT, grant_tables, relation_tests


class SessionStore(db.SessionStore):
    """Django's database sessions, read with one hand-written statement. (Not cached_db: with its
    cache down, signing in fails, and a failing cache must only cost speed.)"""

    def _get_session_from_db(self) -> Any:
        with connection.cursor() as cursor:
            cursor.execute(_session_sql(self.model), [self.session_key, fastsql.when(timezone.now())])
            rows = cursor.fetchall()
        if not rows:
            self._session_key = None
            return None
        return fastsql.load(self.model, list(_SESSION_FIELDS), rows)[0]


_SESSION_FIELDS = ("session_key", "session_data", "expire_date")


@functools.cache
def _session_sql(model: Any) -> str:
    return (f"SELECT {', '.join(_SESSION_FIELDS)} FROM {fastsql.table(model)} "
            "WHERE session_key = %s AND expire_date > %s")


class UserBackend(ModelBackend):
    """The user, their active grants (core.scoping.grants_of) and whether relation rules could
    find anything for them (core.scoping.relation_test) in one statement: every page asks."""

    def get_user(self, user_id: Any) -> Any:
        User = get_user_model()
        fields = [f.attname for f in User._meta.concrete_fields]
        try:
            pk = User._meta.pk.to_python(user_id)  # type: ignore[union-attr]
        except Exception:
            return None
        today = timezone.localdate()
        with connection.cursor() as cursor:
            cursor.execute(_user_sql(User), [today, today, pk])
            rows = cursor.fetchall()
        if not rows:
            return None
        n, tests = len(fields), relation_tests()
        user = fastsql.load(User, fields, [row[:n] for row in rows[:1]])[0]
        for (attr, _, empty), found in zip(tests, rows[0][n:n + len(tests)], strict=True):
            if not found:
                setattr(user, attr, empty())
        user._wuzhi_grants = [(row[-2], row[-1]) for row in rows if row[-2] is not None]  # type: ignore[attr-defined]
        return user if self.user_can_authenticate(user) else None


@functools.cache
def _user_sql(model: Any) -> str:
    from .models import Grant

    names = ", ".join(f"u.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    tests = "".join(f"CASE WHEN {sql()} THEN 1 ELSE 0 END, " for _, sql, _ in relation_tests())
    grant, area = grant_tables(Grant)
    return (f"SELECT {names}, {tests}g.role, a.path FROM {fastsql.table(model)} u "
            f"LEFT JOIN {grant} g ON g.user_id = u.{pk} AND {ACTIVE_GRANT} "
            f"LEFT JOIN {area} a ON a.id = g.area_id WHERE u.{pk} = %s")
