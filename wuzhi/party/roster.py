"""The duty roster is the role grants on grids and buildings: per grid a 网格长 (the community
secretary, inherited from the community) and one 专职网格员; per building 楼长, 党员, 志愿者,
警务长 and 家庭医生. Reading it is two queries whatever the number of buildings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.roles import Role
from wuzhi.reports.statistics import Scope

BUILDING_ROLES = [Role.BUILDING_HEAD, Role.PARTY_MEMBER, Role.VOLUNTEER, Role.POLICE, Role.DOCTOR]
GRID_ROLES = [Role.SECRETARY, Role.GRID_WORKER]


def holders(scope: Scope, kind: str, roles: Sequence[str]) -> dict[Area, dict[str, list[Any]]]:
    """For each area of `kind` in scope: role → users holding it on that area or an ancestor
    (a community secretary is the 网格长 of every grid of the community)."""
    areas = list(scope.rows(Area, "path").filter(kind=kind).order_by("path"))
    result: dict[Area, dict[str, list[Any]]] = {a: {r: [] for r in roles} for a in areas}
    if not areas:
        return result
    ancestors = {p for a in areas for p in a.ancestor_paths()}
    grants = (Grant.objects.active().filter(role__in=roles, area__path__in=ancestors)
              .select_related("user", "user__staff_profile", "area").order_by("area__path", "id"))
    by_path: dict[str, list[Grant]] = defaultdict(list)
    for g in grants:
        by_path[g.area.path].append(g)
    for area in areas:
        for path in area.ancestor_paths():
            for g in by_path.get(path, []):
                # Building roles count only when held on the building itself or below the grid.
                if kind == AreaKind.BUILDING and path != area.path:
                    continue
                if kind == AreaKind.GRID and g.role == Role.GRID_WORKER and path != area.path:
                    continue
                if g.user not in result[area][g.role]:
                    result[area][g.role].append(g.user)
    return result


def building_gaps(scope: Scope) -> dict[Area, list[str]]:
    """Building → labels of the roles nobody holds there."""
    return {b: [Role(r).label for r, users in roles.items() if not users]
            for b, roles in holders(scope, AreaKind.BUILDING, BUILDING_ROLES).items()}

