"""人次 and 场次 from the activity rows: named attendance plus counted headcount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Activity, Attendance, TeamMember

# 人次, the one rule: the people marked by name who took part (volunteers, tutors and staff serve
# and are counted in hours instead) plus the headcount counted when names were not taken.
# `visits_expr` is that rule in SQL; `totals` is the same rule over rows already in memory.
TAKES_PART = Q(role=Attendance.Role.PARTICIPANT)


def named_expr() -> Combinable:
    """Per activity row: how many took part by name (a correlated subquery, so it can be summed
    and grouped, which a join-and-count annotation cannot)."""
    named = (Attendance.objects.filter(TAKES_PART, activity=OuterRef("pk")).order_by()
             .values("activity").annotate(n=Count("id")).values("n"))
    return Coalesce(Subquery(named, output_field=IntegerField()), Value(0))


def visits_expr() -> Combinable:
    """Per activity row: 人次 = named participants + headcount."""
    return named_expr() + Coalesce(F("headcount"), Value(0))


def with_visits(activities: QuerySet[Activity]) -> QuerySet[Activity]:
    """Annotate `named` and `visits` (人次) on each activity."""
    return activities.annotate(named=named_expr()).annotate(visits=F("named") + Coalesce(F("headcount"), Value(0)))


def visits_total(activities: QuerySet[Activity]) -> int:
    """人次 of a set of activities, in one aggregate query."""
    return activities.order_by().aggregate(n=Sum(visits_expr(), output_field=IntegerField()))["n"] or 0


def people_total(attendance: QuerySet[Attendance]) -> int:
    """Distinct people among attendance rows (名 rather than 人次): residents by their record,
    outsiders on a program's list by their enrolment, team members by membership, and names
    typed in at a roll call by the name."""
    return people_totals(attendance, {"people": Q()})["people"]


def people_totals(attendance: QuerySet[Attendance], subsets: dict[str, Q]) -> dict[str, int]:
    """people_total of each subset (a condition) of the attendance rows, in one query."""
    no_resident = Q(resident__isnull=True)
    aggregates: dict[str, Count] = {}
    for name, within in subsets.items():
        aggregates |= {
            f"{name}__residents": Count("resident", distinct=True, filter=within),
            f"{name}__enrolled": Count("enrolment", distinct=True, filter=within & no_resident),
            f"{name}__members": Count("member", distinct=True,
                                      filter=within & no_resident & Q(enrolment__isnull=True)),
            f"{name}__named": Count("name", distinct=True, filter=within & no_resident & Q(
                enrolment__isnull=True, member__isnull=True)),
        }
    row = attendance.order_by().aggregate(**aggregates)
    return {name: sum(row[f"{name}__{part}"] for part in ("residents", "enrolled", "members", "named"))
            for name in subsets}


def volunteer_hours(attendance: QuerySet[Attendance]) -> list[dict[str, Any]]:
    """Per volunteer: activities and hours, most hours first."""
    return list(
        attendance.exclude(role=Attendance.Role.PARTICIPANT)
        .values("name", "member_id", "resident_id")
        .annotate(activities=Count("activity", distinct=True), hours=Sum("hours"),
                  listed_organisation=Max("enrolment__organisation"))
        .order_by("-hours", "name")
    )


# ---- helpers of the activity pages ------------------------------------------------------------


def day_start(day: dt.date) -> dt.datetime:
    """Local midnight of `day` as an aware datetime (activities are stored in UTC)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """Monday of the week holding `day`, and the Monday after it."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=7)


def in_days(activities: QuerySet[Activity], first: dt.date, after_last: dt.date) -> QuerySet[Activity]:
    """Activities starting on local days first … after_last - 1 (an index range, not __date)."""
    return activities.filter(starts_at__gte=day_start(first), starts_at__lt=day_start(after_last))


def attendance_totals(activity: Activity) -> dict[str, Any]:
    """The roll call's running figures in one aggregate query: 人次 is the participants marked by
    name plus the counted headcount; volunteers (and staff, tutors) serve and are not 人次."""
    row = activity.attendance.aggregate(
        named=Count("id", filter=TAKES_PART), helpers=Count("id", filter=~TAKES_PART),
        hours=Sum("hours", filter=~TAKES_PART),
    )
    return totals(row["named"], activity.headcount, row["helpers"], row["hours"])


def totals(named: int, headcount: int, helpers: int, hours: Decimal | None) -> dict[str, Any]:
    return {"named": named, "headcount": headcount, "visits": named + headcount,
            "helpers": helpers, "hours": hours or Decimal("0")}


def previous_session(activity: Activity, candidates: QuerySet[Activity]) -> Activity | None:
    """The last earlier session of a recurring activity that has a roll call to copy: the same
    program's, the same team's, or otherwise the same title at the same place."""
    qs = candidates.filter(starts_at__lt=activity.starts_at).exclude(pk=activity.pk)
    if activity.program_id:
        qs = qs.filter(program_id=activity.program_id)
    elif activity.team_id:
        qs = qs.filter(team_id=activity.team_id)
    else:
        qs = qs.filter(team__isnull=True, title=activity.title, area_id=activity.area_id)
    has_rows = Exists(Attendance.objects.filter(activity=OuterRef("pk")))
    return qs.filter(has_rows).order_by("-starts_at", "-id").first()


def team_figures(activities: QuerySet[Activity]) -> dict[int, dict[str, Any]]:
    """Per team of the given (scoped, period-filtered) activities: 场次, 人次, volunteer hours, in
    two grouped queries whatever the number of teams."""
    out: dict[int, dict[str, Any]] = {}
    for team_id, n, visits in (activities.filter(team__isnull=False).order_by().values_list("team_id")
                               .annotate(n=Count("id"), visits=Sum(visits_expr(), output_field=IntegerField()))
                               .values_list("team_id", "n", "visits")):
        out[team_id] = {"activities": n, "visits": visits or 0, "hours": Decimal("0")}
    rows = (Attendance.objects.filter(activity__in=activities.filter(team__isnull=False).values("pk"))
            .exclude(TAKES_PART).order_by().values_list("activity__team_id")
            .annotate(hours=Sum("hours")).values_list("activity__team_id", "hours"))
    for team_id, hours in rows:
        figures = out.setdefault(team_id, {"activities": 0, "visits": 0, "hours": Decimal("0")})
        figures["hours"] = hours or Decimal("0")
    return out


def describe_volunteers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of volunteer_hours with what a reader needs beside the name: the member's organisation,
    team and role in it (one query for the members among the rows)."""
    members = {m.pk: m for m in TeamMember.objects.filter(pk__in=[r["member_id"] for r in rows if r["member_id"]])
               .select_related("team")}
    for r in rows:
        member = members.get(r["member_id"])
        # An outside volunteer on a program's list (四川农业大学) has their organisation there.
        r["organisation"] = member.organisation if member else (r.get("listed_organisation") or "")
        r["team"] = member.team.name if member else ""
        r["member_role"] = member.role if member else ""
    return rows


def care_unpaired(residents: QuerySet[Any]) -> QuerySet[Any]:
    """Present residents carrying a 邻里守望 care tag whom no team member looks after."""
    from wuzhi.registry.models import ResidentTag

    from .models import CarePairing
    from .services import CARE_TAGS

    return residents.filter(status="在住").filter(
        Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag__name__in=CARE_TAGS))
    ).exclude(Exists(CarePairing.objects.filter(resident=OuterRef("pk"), ended_on__isnull=True)))
