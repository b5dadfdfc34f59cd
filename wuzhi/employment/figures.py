"""能致富 figures: the employment rate of the working-age resettled population, and placements."""

from __future__ import annotations

from django.utils import timezone

from wuzhi.registry.models import Resident
from wuzhi.reports.statistics import Scope, figure

from . import selectors
from .models import Placement, PlacementKind

# The article files 就业 under 政治引领: the 三联系 and the 就业创业 party service team see to it.
POLITICAL = "政治引领"


@figure("employment_rate", "劳动年龄搬迁人口就业率(%)", POLITICAL)
def employment_rate(scope: Scope) -> float:
    # Working age is taken on the period's last day (or today, for the running year).
    return selectors.rate_of(scope.rows(Resident), on=min(scope.end, timezone.localdate())).percent


@figure("employment_placements", "就业安置(人次)", POLITICAL)
def employment_placements(scope: Scope) -> int:
    return scope.in_period_dates(scope.rows(Placement), "started_on").count()


@figure("migrant_workers", "外出务工(人)", POLITICAL)
def migrant_workers(scope: Scope) -> int:
    on_end = scope.rows(Placement).filter(kind=PlacementKind.MIGRANT, started_on__lte=scope.end)
    return on_end.exclude(ended_on__lt=scope.end).values("resident_id").distinct().count()
