"""What the 三联系 pairings let people see beyond their area grants (DESIGN §2's chokepoint):
a party member sees the households paired with them; a department's helper cadre sees every
household paired with their department; a branch secretary sees the branch and its members.
Pairings give VIEW and VISIT, never CHANGE or REVEAL."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation, scope_paths

RELATION_ACTIONS = {Action.VIEW, Action.VISIT}


def paired_household_ids(user: Any) -> list[int]:
    """Read once per user object (per request), like the grants."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_wuzhi_paired", None)
    if cached is None:
        from .models import Cadre, Pairing

        # Two indexed lookups in a UNION: an OR across the two join paths made every household
        # page scan all open pairings (2–5 ms of PostgreSQL time for a user with none).
        open_pairings = Pairing.objects.filter(ended_on__isnull=True).order_by()
        departments = Cadre.objects.filter(user_id=user.pk).values("department_id")
        cached = sorted(set(
            open_pairings.filter(member__user_id=user.pk).values_list("household_id", flat=True)
            .union(open_pairings.filter(cadre__department__in=departments).values_list("household_id", flat=True))
        ))
        user._wuzhi_paired = cached
    return cached


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
