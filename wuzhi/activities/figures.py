import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from wuzhi.reports.statistics import Scope, figure

from .models import Activity, ActivityKind, Attendance, ProgramKind, Team, TeamKind, TeamMember
from .selectors import TAKES_PART, people_totals, visits_expr


def _full_weeks(scope: Scope) -> list[tuple[dt.date, dt.date]]:
    """Monday–Sunday weeks wholly inside the period and already over."""
    last = min(scope.end, timezone.localdate() - dt.timedelta(days=1))
    monday = scope.start + dt.timedelta(days=(7 - scope.start.weekday()) % 7)
    weeks = []
    while monday + dt.timedelta(days=6) <= last:
        weeks.append((monday, monday + dt.timedelta(days=6)))
        monday += dt.timedelta(days=7)
    return weeks


GROUP_FIELDS = ("governance", "kind", "program__kind", "team__kind", "month")
GROUP_SUMS = ("n", "headcount", "visits", "in_weeks")


def activity_groups(scope: Scope) -> list[dict[str, Any]]:
    """The period's activities counted once for every figure and chart of 场次 and 人次: grouped
    by governance, kind, program kind, team kind and month (the index into
    wuzhi.reports.series.months, None after the period's reference month), each group with its
    场次 (`n`), counted headcount (`headcount`), 人次 by the one rule (`visits`, named
    participants plus headcount, selectors.visits_expr) and 场次 in the period's full weeks
    (`in_weeks`). The dashboard's drill-down runs the same query per child area and hands the
    sums over to this one (wuzhi.reports.series.child_table)."""
    return scope.shared("activities.groups", lambda: activity_group_rows(scope))


def activity_group_rows(scope: Scope, **by: Any) -> list[dict[str, Any]]:
    """The query of activity_groups, grouped further by the expressions `by`."""
    from wuzhi.reports.series import month_index

    weeks = _full_weeks(scope)
    in_weeks = Count("id", filter=Scope.days_q("starts_at", weeks[0][0], weeks[-1][1])) if weeks else Value(0)
    month = month_index(scope, "starts_at")
    rows = (_activities(scope).annotate(_visits=visits_expr(), **by)
            .values(*by, "governance", "kind", "program__kind", "team__kind", month=month)
            .annotate(n=Count("id"), headcount=Coalesce(Sum("headcount"), 0),
                      visits=Coalesce(Sum("_visits", output_field=IntegerField()), 0), in_weeks=in_weeks))
    return list(rows.order_by())


def _sum(scope: Scope, field: str, **match: str) -> int:
    return sum(g[field] for g in activity_groups(scope) if all(g[k] == v for k, v in match.items()))


def _teams(scope: Scope) -> dict[str, int]:
    def run() -> dict[str, int]:
        active = scope.rows(Team).filter(active=True)
        return active.aggregate(party=Count("id", filter=Q(kind=TeamKind.PARTY_SERVICE)),
                                care=Count("id", filter=Q(kind=TeamKind.CARE)))

    return scope.shared("activities.teams", run)


def team_members(scope: Scope) -> dict[str, int]:
    """Members of the active art teams at some time in the period (and their teams), and the
    current members of the active patrol teams, in one query."""
    def run() -> dict[str, int]:
        teams = scope.rows(Team).filter(kind__in=[TeamKind.ART, TeamKind.PATROL], active=True)
        art = Q(team__kind=TeamKind.ART, joined_on__lte=scope.end) & (
            Q(left_on__isnull=True) | Q(left_on__gte=scope.start))
        patrol = Q(team__kind=TeamKind.PATROL, left_on__isnull=True)
        return TeamMember.objects.filter(team__in=teams.values("pk")).aggregate(
            art_teams=Count("team", distinct=True, filter=art), art_members=Count("id", filter=art),
            patrol_members=Count("id", filter=patrol))

    return scope.shared("activities.members", run)


@figure("party_service_teams", "党员服务队", "政治引领")
def party_service_teams(scope: Scope) -> int:
    return _teams(scope)["party"]


@figure("party_team_activities_per_week", "党员服务队每周活动场次", "政治引领")
def party_team_activities_per_week(scope: Scope) -> float:
    """Average over the full weeks of the period (the article's "每周开展28场")."""
    weeks = _full_weeks(scope)
    if not weeks:
        return 0
    return round(_sum(scope, "in_weeks", team__kind=TeamKind.PARTY_SERVICE) / len(weeks), 1)


@figure("care_service_teams", "爱心服务队", "政治引领")
def care_service_teams(scope: Scope) -> int:
    return _teams(scope)["care"]


@figure("care_team_activities", "关爱一老一小志愿服务活动", "政治引领")
def care_team_activities(scope: Scope) -> int:
    return _sum(scope, "n", team__kind=TeamKind.CARE)


@figure("care_people_without_watch", "无邻里守望结对的关爱对象", "自治")
def care_people_without_watch(scope: Scope) -> int:
    from wuzhi.registry.models import Resident, ResidentTag

    from .selectors import care_unpaired
    from .services import CARE_TAGS

    # Narrowed first to the residents carrying a care tag (the rule is care_unpaired's): the
    # database then looks up those few instead of testing every resident of the area.
    tagged = ResidentTag.objects.filter(tag__name__in=CARE_TAGS).values("resident_id")
    return care_unpaired(scope.rows(Resident).filter(pk__in=tagged)).count()


# ---- 自治 and 德治 programs and events (the article's 四点半, 夏令营, 幸福餐厅, 法治文化园, 感恩教育,
# 文艺队, 宣讲培训). 场次 and 人次 come from activity_groups (人次 by selectors.visits_expr, the one rule);
# 名 (distinct people) from selectors.people_totals.


def _activities(scope: Scope, **filters: Any) -> QuerySet[Activity]:
    return scope.in_period(scope.rows(Activity).filter(**filters), "starts_at")


def _program_people(scope: Scope) -> dict[str, int]:
    """名 of the period's 夏令营 (children, volunteers) and 幸福餐厅 (diners), in one query."""
    def run() -> dict[str, int]:
        kinds = [ProgramKind.CAMP, ProgramKind.CANTEEN]
        attendance = Attendance.objects.filter(activity__in=_activities(scope, program__kind__in=kinds).values("pk"))
        camp, canteen = Q(activity__program__kind=ProgramKind.CAMP), Q(activity__program__kind=ProgramKind.CANTEEN)
        return people_totals(attendance, {"camp_children": camp & TAKES_PART, "camp_volunteers": camp & ~TAKES_PART,
                                          "canteen_diners": canteen & TAKES_PART})

    return scope.shared("activities.program_people", run)


@figure("afterschool_child_visits", "四点半希望小课堂服务儿童人次", "自治")
def afterschool_child_visits(scope: Scope) -> int:
    return _sum(scope, "visits", program__kind=ProgramKind.AFTERSCHOOL)


@figure("camp_children", "夏令营困境儿童", "自治")
def camp_children(scope: Scope) -> int:
    return _program_people(scope)["camp_children"]


@figure("camp_volunteers", "夏令营志愿者", "自治")
def camp_volunteers(scope: Scope) -> int:
    return _program_people(scope)["camp_volunteers"]


@figure("canteen_diners", "幸福餐厅就餐人数", "自治")
def canteen_diners(scope: Scope) -> int:
    return _program_people(scope)["canteen_diners"]


@figure("law_events", "普法宣传活动场次", "法治")
def law_events(scope: Scope) -> int:
    return _sum(scope, "n", kind=ActivityKind.LAW)


@figure("law_event_visits", "普法宣传服务人次", "法治")
def law_event_visits(scope: Scope) -> int:
    return _sum(scope, "visits", kind=ActivityKind.LAW)


@figure("gratitude_events", "感恩教育培训会场次", "德治")
def gratitude_events(scope: Scope) -> int:
    return _sum(scope, "n", kind=ActivityKind.GRATITUDE)


@figure("gratitude_visits", "感恩教育受益人次", "德治")
def gratitude_visits(scope: Scope) -> int:
    return _sum(scope, "visits", kind=ActivityKind.GRATITUDE)


@figure("art_teams", "文艺队伍", "德治")
def art_teams(scope: Scope) -> int:
    return team_members(scope)["art_teams"]


@figure("art_team_members", "文艺队员", "德治")
def art_team_members(scope: Scope) -> int:
    return team_members(scope)["art_members"]


@figure("training_events", "市民培训、宣讲会等活动场次", "德治")
def training_events(scope: Scope) -> int:
    return _sum(scope, "n", kind=ActivityKind.TRAINING)


@figure("training_visits", "市民培训、宣讲会等参加人次", "德治")
def training_visits(scope: Scope) -> int:
    return _sum(scope, "visits", kind=ActivityKind.TRAINING)
