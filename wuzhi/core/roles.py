"""Who may do what: one table. A grant gives a role over an area subtree; the scope chokepoint
(wuzhi.core.scoping) turns grants plus this table into query filters."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    COUNTY_CADRE = "county_cadre", "县级干部"
    TOWN_CADRE = "town_cadre", "乡镇干部"
    SECRETARY = "secretary", "社区书记/网格长"
    GRID_WORKER = "grid_worker", "专职网格员"
    BUILDING_HEAD = "building_head", "楼长"
    PARTY_MEMBER = "party_member", "党员"
    VOLUNTEER = "volunteer", "志愿者"
    POLICE = "police", "民警/警务长"
    DOCTOR = "doctor", "家庭医生"
    DEPT_HELPER = "dept_helper", "部门帮扶干部"
    DUTY = "duty", "值班员"
    RESIDENT = "resident", "居民"


class Action(models.TextChoices):
    VIEW = "view", "查看"
    CHANGE = "change", "修改"
    VISIT = "visit", "记录走访"
    REVEAL = "reveal", "查看完整证件号和电话"
    EXPORT = "export", "导出"
    IMPORT = "import", "导入"
    GRANT = "grant", "授权"
    MANAGE_AREAS = "manage_areas", "维护区域和房屋"


A = Action
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.COUNTY_CADRE: frozenset({A.VIEW, A.EXPORT}),
    Role.TOWN_CADRE: frozenset({A.VIEW, A.EXPORT}),
    Role.SECRETARY: frozenset(
        {A.VIEW, A.CHANGE, A.VISIT, A.REVEAL, A.EXPORT, A.IMPORT, A.GRANT, A.MANAGE_AREAS}
    ),
    Role.GRID_WORKER: frozenset({A.VIEW, A.CHANGE, A.VISIT, A.REVEAL, A.EXPORT, A.IMPORT}),
    Role.BUILDING_HEAD: frozenset({A.VIEW, A.VISIT}),
    Role.PARTY_MEMBER: frozenset({A.VIEW, A.VISIT}),
    Role.VOLUNTEER: frozenset({A.VIEW}),
    Role.POLICE: frozenset({A.VIEW, A.REVEAL}),
    Role.DOCTOR: frozenset({A.VIEW, A.VISIT}),
    Role.DEPT_HELPER: frozenset({A.VIEW, A.VISIT}),
    Role.DUTY: frozenset({A.VIEW}),
    # Residents reach their own records through the portal, never the registry.
    Role.RESIDENT: frozenset(),
}

# Roles a holder of GRANT may hand out (always only inside their own subtree).
GRANTABLE: dict[str, frozenset[str]] = {
    Role.SECRETARY: frozenset(set(Role) - {Role.COUNTY_CADRE, Role.TOWN_CADRE}),
}

# Roles that appear at a level of the tree when workers pick one; used by forms only.
STAFF_ROLES = [r for r in Role if r != Role.RESIDENT]


def allows(role: str, action: str) -> bool:
    return action in ROLE_ACTIONS.get(role, frozenset())
