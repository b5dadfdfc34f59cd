"""人次 and 场次 from the activity rows: named attendance plus counted headcount."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from .models import Activity, Attendance


def with_visits(activities: QuerySet[Activity]) -> QuerySet[Activity]:
    """Annotate `visits`: participants marked by name plus the counted headcount."""
    return activities.annotate(
        named=Count("attendance", filter=Q(attendance__role=Attendance.Role.PARTICIPANT)),
    ).annotate(visits=Coalesce("named", Value(0), output_field=IntegerField()) + Coalesce("headcount", Value(0)))


def visits_total(activities: QuerySet[Activity]) -> int:
    """人次 of a set of activities, in two aggregate queries."""
    named = Attendance.objects.filter(activity__in=activities.values("pk"), role=Attendance.Role.PARTICIPANT).count()
    counted = activities.aggregate(n=Sum("headcount"))["n"] or 0
    return named + counted


def volunteer_hours(attendance: QuerySet[Attendance]) -> list[dict[str, Any]]:
    """Per volunteer: activities and hours, most hours first."""
    return list(
        attendance.exclude(role=Attendance.Role.PARTICIPANT)
        .values("name", "member_id", "resident_id")
        .annotate(activities=Count("activity", distinct=True), hours=Sum("hours"))
        .order_by("-hours", "name")
    )
