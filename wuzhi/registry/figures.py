from wuzhi.core.models import AreaKind
from wuzhi.reports.statistics import Scope, figure

from . import choices as c
from .models import Household, Resident


@figure("households", "户数", "基础")
def households(scope: Scope) -> int:
    return scope.rows(Household).filter(status=c.HouseholdStatus.PRESENT).count()


@figure("residents", "人口数", "基础")
def residents(scope: Scope) -> int:
    return scope.rows(Resident).filter(status=c.PersonStatus.PRESENT).count()


@figure("unit_service_boards", "单元楼管理服务牌", "政治引领")
def unit_service_boards(scope: Scope) -> int:
    # One board per unit; the party issue replaces this with the boards themselves.
    from wuzhi.core.models import Area

    return scope.rows(Area, "path").filter(kind=AreaKind.UNIT).count()
