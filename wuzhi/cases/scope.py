"""Cases do not only follow the area tree: the members of a team see (and work on) the cases
routed to their team, and a person sees the cases assigned to them, wherever those are."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation


@relation("cases.case")
def routed_to_me(user: Any, action: str) -> Q | None:
    if not getattr(user, "is_authenticated", False) or action not in (Action.VIEW, Action.CHANGE):
        return None
    from wuzhi.activities.models import TeamMember

    teams = TeamMember.objects.filter(user_id=user.pk, left_on__isnull=True).values("team_id")
    return Q(assigned_team_id__in=teams) | Q(assigned_user_id=user.pk)
