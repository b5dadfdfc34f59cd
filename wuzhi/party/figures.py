from django.db.models import Count, Exists, OuterRef, Q

from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.roles import Role
from wuzhi.reports.series import household_counts
from wuzhi.reports.statistics import Scope, figure

from . import roster
from .models import Branch, PartyMember


def branch_counts(scope: Scope) -> dict[str, int]:
    """Community branches and the distinct county departments paired with them: one query."""
    def run() -> dict[str, int]:
        return scope.rows(Branch).filter(kind=Branch.Kind.COMMUNITY).aggregate(
            branches=Count("id"), departments=Count("linked_department", distinct=True))

    return scope.shared("party.branches", run)


@figure("party_branches", "党支部", "政治引领")
def party_branches(scope: Scope) -> int:
    return branch_counts(scope)["branches"]


@figure("party_members", "党员", "政治引领")
def party_members(scope: Scope) -> int:
    return scope.rows(PartyMember).filter(active=True, branch__kind=Branch.Kind.COMMUNITY).count()


@figure("paired_departments", "结对县直机关", "政治引领")
def paired_departments(scope: Scope) -> int:
    return branch_counts(scope)["departments"]


@figure("households_without_helper", "无联系人的户", "政治引领")
def households_without_helper_count(scope: Scope) -> int:
    counts = household_counts(scope)
    return counts["households"] - counts["covered"]


def roster_gaps(scope: Scope) -> dict[str, int]:
    """Buildings where one of the building roles (roster.BUILDING_ROLES) is held by nobody on the
    building itself, and grids with no 专职网格员 of their own: the rule of roster.holders, asked
    as existence tests in one query rather than by loading every grant with its holder."""
    def run() -> dict[str, int]:
        def held(role: str) -> Q:
            return Q(Exists(Grant.objects.active().filter(area=OuterRef("pk"), role=role)))

        every_role = Q()
        for role in roster.BUILDING_ROLES:
            every_role &= held(role)
        return scope.rows(Area, "path").filter(kind__in=[AreaKind.BUILDING, AreaKind.GRID]).aggregate(
            buildings=Count("id", filter=Q(kind=AreaKind.BUILDING) & ~every_role),
            grids=Count("id", filter=Q(kind=AreaKind.GRID) & ~held(Role.GRID_WORKER)))

    return scope.shared("party.roster", run)


@figure("buildings_missing_a_role", "五员不全的楼栋", "政治引领")
def buildings_missing_a_role(scope: Scope) -> int:
    return roster_gaps(scope)["buildings"]


@figure("grids_without_grid_worker", "未配专职网格员的网格", "政治引领")
def grids_without_grid_worker(scope: Scope) -> int:
    return roster_gaps(scope)["grids"]
