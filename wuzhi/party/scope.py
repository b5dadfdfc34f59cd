"""What the 三联系 pairings let people see beyond their area grants (DESIGN §2's chokepoint):
a party member sees the households paired with them; a department's helper cadre sees every
household paired with their department; a branch secretary sees the branch and its members.
Pairings give VIEW and VISIT, never CHANGE or REVEAL."""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.db.models import Q

from wuzhi.core import fastsql
from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation, relation_test, scope_paths

RELATION_ACTIONS = {Action.VIEW, Action.VISIT}


def paired_household_ids(user: Any) -> list[int]:
    """Read once per user object (per request), like the grants."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_wuzhi_paired", None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(_paired_sql(), [user.pk, user.pk])
            cached = sorted({pk for (pk,) in cursor.fetchall()})
        user._wuzhi_paired = cached
    return cached


@functools.cache
def _paired_sql() -> str:
    """The open pairings of the user as a party member, or of any cadre of their department.
    Two indexed lookups in a UNION: an OR across the two join paths made every household page
    scan all open pairings (2–5 ms of PostgreSQL time for a user with none). Hand-written, since
    every household page of every user asks it and the ORM took 2 ms to build it."""
    from .models import Cadre, Pairing, PartyMember

    pairing, member, cadre = (fastsql.table(m) for m in (Pairing, PartyMember, Cadre))
    return (f"SELECT p.household_id FROM {pairing} p JOIN {member} m ON m.id = p.member_id "
            "WHERE p.ended_on IS NULL AND m.user_id = %s "
            f"UNION SELECT p.household_id FROM {pairing} p JOIN {cadre} c ON c.id = p.cadre_id "
            f"WHERE p.ended_on IS NULL AND c.department_id IN (SELECT department_id FROM {cadre} WHERE user_id = %s)")


def _paired_test() -> str:
    """`_paired_sql`'s question for the user row `u`, asked in the user's own statement
    (core.scoping.relation_test)."""
    return f"EXISTS ({_paired_sql().replace('%s', 'u.id')})"


relation_test("_wuzhi_paired", _paired_test, list)


@relation("registry.household")
def _households(user: Any, action: str) -> Q | None:
    ids = paired_household_ids(user) if action in RELATION_ACTIONS else []
    return Q(pk__in=ids) if ids else None


@relation("registry.resident")
def _residents(user: Any, action: str) -> Q | None:
    ids = paired_household_ids(user) if action in RELATION_ACTIONS else []
    return Q(household_id__in=ids) if ids else None


@relation("registry.visit")
def _visits(user: Any, action: str) -> Q | None:
    ids = paired_household_ids(user) if action in RELATION_ACTIONS else []
    return Q(household_id__in=ids) if ids else None


@relation("party.pairing")
def _pairings(user: Any, action: str) -> Q | None:
    if action not in RELATION_ACTIONS or not getattr(user, "is_authenticated", False):
        return None
    return Q(member__user_id=user.pk) | Q(cadre__department__cadres__user_id=user.pk)


def _above(user: Any) -> Q | None:
    """The party organisation sits higher in the tree than most of the people it serves:
    branches and members on the community, departments and their cadres on the county. Whoever
    may view any part of a community sees (by name) the organisation above it, to read the
    三联系 chain and to assign helpers."""
    paths = scope_paths(user, Action.VIEW)
    if not paths:  # None: a superuser sees everything anyway; []: nothing to widen
        return None
    above = {"/" + "/".join(p.strip("/").split("/")[:i]) + "/" for p in paths for i in range(1, p.count("/"))}
    return Q(area_path__in=above)


@relation("party.department")
def _departments(user: Any, action: str) -> Q | None:
    return _above(user) if action == Action.VIEW else None


@relation("party.cadre")
def _cadres(user: Any, action: str) -> Q | None:
    return _above(user) if action == Action.VIEW else None


@relation("party.branch")
def _branches(user: Any, action: str) -> Q | None:
    if action != Action.VIEW or not getattr(user, "is_authenticated", False):
        return None
    above = _above(user)
    mine = Q(secretary__user_id=user.pk)
    return mine if above is None else mine | above


@relation("party.partymember")
def _members(user: Any, action: str) -> Q | None:
    if action != Action.VIEW or not getattr(user, "is_authenticated", False):
        return None
    above = _above(user)
    mine = Q(branch__secretary__user_id=user.pk) | Q(user_id=user.pk)
    return mine if above is None else mine | above
