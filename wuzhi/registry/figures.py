from wuzhi.core.models import AreaKind
from wuzhi.reports.series import household_counts, resident_counts
from wuzhi.reports.statistics import Scope, figure


@figure("households", "户数", "基础")
def households(scope: Scope) -> int:
    return household_counts(scope)["households"]


@figure("residents", "人口数", "基础")
def residents(scope: Scope) -> int:
    # Summed over the age bands and sexes, so the pyramid and this figure cannot disagree.
    return sum(resident_counts(scope).values())


@figure("unit_service_boards", "单元楼管理服务牌", "政治引领")
def unit_service_boards(scope: Scope) -> int:
    # One board per unit; the party issue replaces this with the boards themselves.
    from wuzhi.core.models import Area

    return scope.rows(Area, "path").filter(kind=AreaKind.UNIT).count()
