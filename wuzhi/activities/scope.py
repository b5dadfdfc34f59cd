"""A team's own members see and take the roll of their team's activities wherever the team sits
in the area tree (a community-wide team's leader is often a resident with no area grant). Likewise
the teachers and volunteers on a program's list (a 四点半 tutor with a volunteer login) see the
program, its list and its sessions, and take the roll of those sessions."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, Value

from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation


def _memberships(user: Any) -> tuple[list[int], list[int]]:
    """The teams the user is an active member of (directly or as the resident behind their party
    member login) and the programs they serve in (an open teacher or volunteer enrolment under
    their login): one UNION query, read once per user object."""
    if not getattr(user, "is_authenticated", False):
        return [], []
    cached = getattr(user, "_wuzhi_memberships", None)
    if cached is None:
        from .models import Enrolment, TeamMember

        teams = (TeamMember.objects.filter(left_on__isnull=True)
                 .filter(Q(user_id=user.pk) | Q(resident__party_member__user_id=user.pk))
                 .order_by().values_list(Value("t"), "team_id"))
        programs = (Enrolment.objects.filter(user_id=user.pk, to_on__isnull=True)
                    .exclude(role__in=Enrolment.TAKING_PART).order_by().values_list(Value("p"), "program_id"))
        rows = set(teams.union(programs))
        cached = (sorted(pk for kind, pk in rows if kind == "t"), sorted(pk for kind, pk in rows if kind == "p"))
        user._wuzhi_memberships = cached
    return cached


def team_ids(user: Any) -> list[int]:
    return _memberships(user)[0]


def program_ids(user: Any) -> list[int]:
    return _memberships(user)[1]


@relation("activities.team")
def _teams(user: Any, action: str) -> Q | None:
    ids = team_ids(user) if action == Action.VIEW else []
    return Q(pk__in=ids) if ids else None


@relation("activities.activity")
def _activities(user: Any, action: str) -> Q | None:
    if action not in (Action.VIEW, Action.VISIT):
        return None
    teams, programs = team_ids(user), program_ids(user)
    q = Q(team_id__in=teams) if teams else None
    if programs:
        q = Q(program_id__in=programs) if q is None else q | Q(program_id__in=programs)
    return q


@relation("activities.program")
def _programs(user: Any, action: str) -> Q | None:
    ids = program_ids(user) if action == Action.VIEW else []
    return Q(pk__in=ids) if ids else None


@relation("activities.enrolment")
def _enrolments(user: Any, action: str) -> Q | None:
    ids = program_ids(user) if action == Action.VIEW else []
    return Q(program_id__in=ids) if ids else None
