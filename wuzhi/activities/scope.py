"""A team's own members see and take the roll of their team's activities wherever the team sits
in the area tree (a community-wide team's leader is often a resident with no area grant)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation


def team_ids(user: Any) -> list[int]:
    """Teams the user is an active member of, directly or as the resident behind their party
    member login; read once per user object."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_wuzhi_teams", None)
    if cached is None:
        from .models import TeamMember

        cached = list(
            TeamMember.objects.filter(left_on__isnull=True)
            .filter(Q(user_id=user.pk) | Q(resident__party_member__user_id=user.pk))
            .values_list("team_id", flat=True).distinct()
        )
        user._wuzhi_teams = cached
    return cached


@relation("activities.team")
def _teams(user: Any, action: str) -> Q | None:
    ids = team_ids(user) if action == Action.VIEW else []
    return Q(pk__in=ids) if ids else None


@relation("activities.activity")
def _activities(user: Any, action: str) -> Q | None:
    ids = team_ids(user) if action in (Action.VIEW, Action.VISIT) else []
    return Q(team_id__in=ids) if ids else None
