import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from wuzhi.reports.statistics import Scope, figure

from .models import Activity, ActivityKind, Attendance, ProgramKind, Team, TeamKind, TeamMember
from .selectors import TAKES_PART, people_total, visits_total


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


# ---- 自治 and 德治 programs and events (the article's 四点半, 夏令营, 幸福餐厅, 法治文化园, 感恩教育,
# 文艺队, 宣讲培训). 场次 count activities; 人次 go through selectors.visits_total, the one rule.


def _activities(scope: Scope, **filters: Any) -> QuerySet[Activity]:
    return scope.in_period(scope.rows(Activity).filter(**filters), "starts_at")


def _program_attendance(scope: Scope, kind: str) -> QuerySet[Attendance]:
    return Attendance.objects.filter(activity__in=_activities(scope, program__kind=kind).values("pk"))


@figure("afterschool_child_visits", "四点半希望小课堂服务儿童人次", "自治")
def afterschool_child_visits(scope: Scope) -> int:
    return visits_total(_activities(scope, program__kind=ProgramKind.AFTERSCHOOL))


@figure("camp_children", "夏令营困境儿童", "自治")
def camp_children(scope: Scope) -> int:
    return people_total(_program_attendance(scope, ProgramKind.CAMP).filter(TAKES_PART))


@figure("camp_volunteers", "夏令营志愿者", "自治")
def camp_volunteers(scope: Scope) -> int:
    return people_total(_program_attendance(scope, ProgramKind.CAMP).exclude(TAKES_PART))


@figure("canteen_diners", "幸福餐厅就餐人数", "自治")
def canteen_diners(scope: Scope) -> int:
    return people_total(_program_attendance(scope, ProgramKind.CANTEEN).filter(TAKES_PART))


@figure("law_events", "普法宣传活动场次", "法治")
def law_events(scope: Scope) -> int:
    return _activities(scope, kind=ActivityKind.LAW).count()


@figure("law_event_visits", "普法宣传服务人次", "法治")
def law_event_visits(scope: Scope) -> int:
    return visits_total(_activities(scope, kind=ActivityKind.LAW))


@figure("gratitude_events", "感恩教育培训会场次", "德治")
def gratitude_events(scope: Scope) -> int:
    return _activities(scope, kind=ActivityKind.GRATITUDE).count()


@figure("gratitude_visits", "感恩教育受益人次", "德治")
def gratitude_visits(scope: Scope) -> int:
    return visits_total(_activities(scope, kind=ActivityKind.GRATITUDE))


def _art_members(scope: Scope) -> QuerySet[TeamMember]:
    """Members of the active art teams at some time in the period."""
    teams = scope.rows(Team).filter(kind=TeamKind.ART, active=True)
    return TeamMember.objects.filter(team__in=teams.values("pk"), joined_on__lte=scope.end).filter(
        Q(left_on__isnull=True) | Q(left_on__gte=scope.start))


@figure("art_teams", "文艺队伍", "德治")
def art_teams(scope: Scope) -> int:
    return _art_members(scope).values("team_id").distinct().count()


@figure("art_team_members", "文艺队员", "德治")
def art_team_members(scope: Scope) -> int:
    return _art_members(scope).count()


@figure("training_events", "市民培训、宣讲会等活动场次", "德治")
def training_events(scope: Scope) -> int:
    return _activities(scope, kind=ActivityKind.TRAINING).count()


@figure("training_visits", "市民培训、宣讲会等参加人次", "德治")
def training_visits(scope: Scope) -> int:
    return visits_total(_activities(scope, kind=ActivityKind.TRAINING))
