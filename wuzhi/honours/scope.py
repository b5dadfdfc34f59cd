"""A round belongs to a community, but the grid workers and building heads who nominate for it
hold grants on a grid or a building below it: they see (only) the rounds of the communities
they work in. Nominations keep following the area tree (a grid worker sees their grid's)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from wuzhi.core.roles import Action, allows
from wuzhi.core.scoping import grants_of, relation


@relation("honours.round")
def rounds_above_my_area(user: Any, action: str) -> Q | None:
    if action != Action.VIEW:
        return None
    ancestors: set[str] = set()
    for role, path in grants_of(user):
        if allows(role, Action.VIEW):
            parts = path.strip("/").split("/")
            ancestors.update("/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts)))
    return Q(area_path__in=sorted(ancestors)) if ancestors else None
