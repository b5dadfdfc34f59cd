import datetime as dt

from django.utils import timezone

from wuzhi.reports.statistics import Scope, figure

from .models import Activity, Team, TeamKind


def _full_weeks(scope: Scope) -> list[tuple[dt.date, dt.date]]:
    """Monday–Sunday weeks wholly inside the period and already over."""
    last = min(scope.end, timezone.localdate() - dt.timedelta(days=1))
    monday = scope.start + dt.timedelta(days=(7 - scope.start.weekday()) % 7)
    weeks = []
    while monday + dt.timedelta(days=6) <= last:
        weeks.append((monday, monday + dt.timedelta(days=6)))
        monday += dt.timedelta(days=7)
    return weeks


@figure("party_service_teams", "党员服务队", "政治引领")
def party_service_teams(scope: Scope) -> int:
    return scope.rows(Team).filter(kind=TeamKind.PARTY_SERVICE, active=True).count()


@figure("party_team_activities_per_week", "党员服务队每周活动场次", "政治引领")
def party_team_activities_per_week(scope: Scope) -> float:
    """Average over the full weeks of the period (the article's "每周开展28场")."""
    weeks = _full_weeks(scope)
    if not weeks:
        return 0
    qs = scope.rows(Activity).filter(team__kind=TeamKind.PARTY_SERVICE)
    total = qs.filter(starts_at__date__gte=weeks[0][0], starts_at__date__lte=weeks[-1][1]).count()
    return round(total / len(weeks), 1)


@figure("care_service_teams", "爱心服务队", "政治引领")
def care_service_teams(scope: Scope) -> int:
    return scope.rows(Team).filter(kind=TeamKind.CARE, active=True).count()


@figure("care_team_activities", "关爱一老一小志愿服务活动", "政治引领")
def care_team_activities(scope: Scope) -> int:
    return scope.in_period(scope.rows(Activity).filter(team__kind=TeamKind.CARE), "starts_at").count()


@figure("care_people_without_watch", "无邻里守望结对的关爱对象", "自治")
def care_people_without_watch(scope: Scope) -> int:
    from wuzhi.registry.models import Resident

    from .selectors import care_unpaired

    return care_unpaired(scope.rows(Resident)).count()
