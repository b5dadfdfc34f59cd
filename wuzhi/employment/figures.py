"""能致富 figures: the employment rate of the working-age resettled population, and placements."""

from __future__ import annotations

from django.db.models import Count, F, Q
from django.utils import timezone

from wuzhi.registry.models import Resident
from wuzhi.reports.statistics import Scope, figure

from . import selectors
from .models import EMPLOYED_STATES, OUTSIDE_LABOUR_FORCE, Placement, PlacementKind

# The article files 就业 under 政治引领: the 三联系 and the 就业创业 party service team see to it.
POLITICAL = "政治引领"


@figure("employment_rate", "劳动年龄搬迁人口就业率(%)", POLITICAL)
def employment_rate(scope: Scope) -> float:
    """selectors.rate_of, counted by the database rather than row by row here: of the working-age
    residents (on the period's last day, or today for the running year), those outside the
    labour force (students, unable) leave it, and the employed count among the rest (a resident
    with no employment record is in the labour force, not employed)."""
    on = min(scope.end, timezone.localdate())
    row = (selectors.working_age(scope.rows(Resident), on).annotate(_status=F("employment_profile__status"))
           .aggregate(working_age=Count("id"), outside=Count("id", filter=Q(_status__in=OUTSIDE_LABOUR_FORCE)),
                      employed=Count("id", filter=Q(_status__in=EMPLOYED_STATES))))
    return selectors.Rate(area=None, working_age=row["working_age"], labour_force=row["working_age"] - row["outside"],
                          employed=row["employed"]).percent


def _placements(scope: Scope) -> dict[str, int]:
    """Placements started in the period, and the residents working away (外出务工) at its end: one query."""
    def run() -> dict[str, int]:
        away = Q(kind=PlacementKind.MIGRANT, started_on__lte=scope.end) & (
            Q(ended_on__isnull=True) | Q(ended_on__gte=scope.end))
        return scope.rows(Placement).aggregate(
            started=Count("id", filter=Q(started_on__gte=scope.start, started_on__lte=scope.end)),
            migrants=Count("resident", distinct=True, filter=away))

    return scope.shared("employment.placements", run)


@figure("employment_placements", "就业安置(人次)", POLITICAL)
def employment_placements(scope: Scope) -> int:
    return _placements(scope)["started"]


@figure("migrant_workers", "外出务工(人)", POLITICAL)
def migrant_workers(scope: Scope) -> int:
    return _placements(scope)["migrants"]
