"""The scope chokepoint: every list, detail, export, API response and statistic filters its rows
through `Model.objects.visible_to(user, action)`.

A user's grants are (role, area subtree, validity). An action is allowed on a row when some
active grant's role allows the action (core.roles.ROLE_ACTIONS) and the row's materialised path
lies inside the grant's area. Each scoped model names its path column in `scope_path_field`.
Outside the subtree a row simply does not exist for that user: views answer 404."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from . import fastsql
from .roles import allows

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def grants_of(user: AbstractBaseUser | AnonymousUser) -> list[tuple[str, str]]:
    """Active (role, area path) pairs, read once per user object (one query per request)."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_wuzhi_grants", None)
    if cached is None:
        from .models import Grant

        # Every signed-in request asks this; as hand-written SQL it costs a tenth of what
        # building the same query with the ORM does (GrantQuerySet.active is the same rule).
        today = timezone.localdate()
        with connection.cursor() as cursor:
            grant, area = grant_tables(Grant)
            cursor.execute(f"SELECT g.role, a.path FROM {grant} g JOIN {area} a ON a.id = g.area_id "
                           f"WHERE g.user_id = %s AND {ACTIVE_GRANT}", [user.pk or 0, today, today])
            cached = [(role, path) for role, path in cursor.fetchall()]
        user._wuzhi_grants = cached  # type: ignore[union-attr]
    return cached


# A grant `g` in force (GrantQuerySet.active's rule); takes today twice. Also used by
# core.sessions, which reads the signed-in user and their grants in one round trip.
ACTIVE_GRANT = "g.valid_from <= %s AND (g.valid_to IS NULL OR g.valid_to >= %s)"


@functools.cache
def grant_tables(grant: Any) -> tuple[str, str]:
    """The quoted tables of grants and of their areas."""
    return fastsql.table(grant), fastsql.table(grant._meta.get_field("area").related_model)


def forget_grants(user: Any) -> None:
    if hasattr(user, "_wuzhi_grants"):
        del user._wuzhi_grants


def scope_paths(user: Any, action: str) -> list[str] | None:
    """The area paths where `user` may do `action`; None means everywhere (superuser)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return None
    paths = sorted({path for role, path in grants_of(user) if allows(role, action)})
    # A path inside another adds nothing to the filter.
    return [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]


def can(user: Any, action: str, path: str) -> bool:
    """May `user` do `action` on something located at `path` (by their area grants)?"""
    paths = scope_paths(user, action)
    return paths is None or any(path.startswith(p) for p in paths)


# Access that does not follow the area tree: a party member sees the households paired with
# them wherever those live. Apps register, per model label, a function (user, action) → Q or
# None; the chokepoint ORs it into the area filter, so lists, details, exports and the API all
# see the same rows.
RelationRule = Callable[[Any, str], Q | None]
_RELATIONS: dict[str, list[RelationRule]] = {}


def relation(model_label: str) -> Callable[[RelationRule], RelationRule]:
    def register(rule: RelationRule) -> RelationRule:
        if rule not in _RELATIONS.setdefault(model_label, []):
            _RELATIONS[model_label].append(rule)
        return rule

    return register


# Almost no user has such relations, yet asking costs every request a query. An app may give,
# with `relation_test`, SQL that is true when its rules could find anything for the user row
# `u`; core.sessions evaluates it in the statement that loads the user and, where it is false,
# sets `attr` on the user to `empty()`, the cached answer the app's rules then read.
_USER_TESTS: dict[str, tuple[Callable[[], str], Callable[[], Any]]] = {}


def relation_test(attr: str, sql: Callable[[], str], empty: Callable[[], Any]) -> None:
    _USER_TESTS[attr] = (sql, empty)


def relation_tests() -> list[tuple[str, Callable[[], str], Callable[[], Any]]]:
    return [(attr, sql, empty) for attr, (sql, empty) in sorted(_USER_TESTS.items())]


def can_on(user: Any, action: str, obj: Any) -> bool:
    """`can` for one object, including relation rules (one query only when they matter)."""
    path = getattr(obj, getattr(type(obj), "scope_path_field", "area_path"))
    if can(user, action, path):
        return True
    if not _RELATIONS.get(obj._meta.label_lower):
        return False
    return type(obj).objects.visible_to(user, action).filter(pk=obj.pk).exists()


def has_relation_access(user: Any, model_label: str, action: str = "view") -> bool:
    """Does `user` reach rows of `model_label` through a relation rule, beyond their areas?"""
    return any(rule(user, action) is not None for rule in _RELATIONS.get(model_label, ()))


def roles_of(user: Any) -> set[str]:
    return {role for role, _ in grants_of(user)}


class ScopedQuerySet(models.QuerySet):
    def scope_q(self, user: Any, action: str) -> Q | None:
        paths = scope_paths(user, action)
        if paths is None:
            return None
        field = getattr(self.model, "scope_path_field", "area_path")
        q = Q(pk__in=[])
        for path in paths:
            q |= Q(**{f"{field}__startswith": path})
        for rule in _RELATIONS.get(self.model._meta.label_lower, ()):
            extra = rule(user, action)
            if extra is not None:
                q |= extra
        return q

    def visible_to(self, user: Any, action: str = "view") -> ScopedQuerySet:
        q = self.scope_q(user, action)
        return self if q is None else self.filter(q)
