from wuzhi.core.models import AreaKind
from wuzhi.core.roles import Role
from wuzhi.registry.models import Household
from wuzhi.reports.statistics import Scope, figure

from . import roster
from .models import Branch, PartyMember
from .selectors import households_without_helper


@figure("party_branches", "党支部", "政治引领")
def party_branches(scope: Scope) -> int:
    return scope.rows(Branch).filter(kind=Branch.Kind.COMMUNITY).count()


@figure("party_members", "党员", "政治引领")
def party_members(scope: Scope) -> int:
    return scope.rows(PartyMember).filter(active=True, branch__kind=Branch.Kind.COMMUNITY).count()


@figure("paired_departments", "结对县直机关", "政治引领")
def paired_departments(scope: Scope) -> int:
    return (scope.rows(Branch).filter(kind=Branch.Kind.COMMUNITY, linked_department__isnull=False)
            .values("linked_department").distinct().count())


@figure("households_without_helper", "无联系人的户", "政治引领")
def households_without_helper_count(scope: Scope) -> int:
    return households_without_helper(scope.rows(Household)).count()


@figure("buildings_missing_a_role", "五员不全的楼栋", "政治引领")
def buildings_missing_a_role(scope: Scope) -> int:
    return sum(1 for gaps in roster.building_gaps(scope).values() if gaps)


@figure("grids_without_grid_worker", "未配专职网格员的网格", "政治引领")
def grids_without_grid_worker(scope: Scope) -> int:
    return sum(1 for holders in roster.holders(scope, AreaKind.GRID, [Role.GRID_WORKER]).values()
               if not holders[Role.GRID_WORKER])
