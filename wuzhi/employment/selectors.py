"""Reads: who is of working age, the employment rate by area, and one resident's record
(trainings read from activities attendance, never copied)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from wuzhi.activities.models import ActivityKind, Attendance
from wuzhi.core.models import Area
from wuzhi.registry import choices as rc
from wuzhi.registry.models import Resident

from .models import EMPLOYED_STATES, OUTSIDE_LABOUR_FORCE, WORKING_AGE


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def working_age(qs: QuerySet[Resident], on: dt.date | None = None) -> QuerySet[Resident]:
    """Residents aged 16 to 59 on `on`, living here, of resettled households (a tenant's
    household has no relocation batch)."""
    on = on or timezone.localdate()
    lo, hi = WORKING_AGE
    youngest = _years_before(on, lo)  # born on or before: already 16
    oldest = _years_before(on, hi + 1)  # born after: not yet 60
    return qs.filter(birth_date__lte=youngest, birth_date__gt=oldest, status=rc.PersonStatus.PRESENT,
                     household__status=rc.HouseholdStatus.PRESENT).exclude(household__relocation_batch="")


@dataclass
class Rate:
    area: Area | None
    working_age: int = 0
    labour_force: int = 0
    employed: int = 0
    unregistered: int = 0

    @property
    def percent(self) -> float:
        return round(100 * self.employed / self.labour_force, 1) if self.labour_force else 0.0


def rate_of(qs: QuerySet[Resident], on: dt.date | None = None) -> Rate:
    rows = working_age(qs, on).values_list("employment_profile__status", flat=True)
    r = Rate(area=None)
    for status in rows:
        _count(r, status)
    return r


def _count(r: Rate, status: str | None) -> None:
    r.working_age += 1
    if status in OUTSIDE_LABOUR_FORCE:
        return
    r.labour_force += 1
    if status in EMPLOYED_STATES:
        r.employed += 1
    elif status is None:
        r.unregistered += 1


def rates_by_area(qs: QuerySet[Resident], parent: Area, on: dt.date | None = None) -> tuple[Rate, list[Rate]]:
    """The rate of `parent` and of each child area (grids of a community, buildings of a grid),
    from one query over the visible residents."""
    children = list(parent.children.order_by("sort", "path"))
    total = Rate(area=parent)
    by_child = {c.path: Rate(area=c) for c in children}
    rows = (working_age(qs.filter(area_path__startswith=parent.path), on)
            .values_list("area_path", "employment_profile__status"))
    depth = parent.path.count("/")
    for path, status in rows:
        _count(total, status)
        child_path = "/".join(path.split("/")[:depth + 1]) + "/"
        if child_path in by_child:
            _count(by_child[child_path], status)
    return total, [by_child[c.path] for c in children]


def trainings_of(resident: Resident) -> QuerySet[Attendance]:
    return (Attendance.objects.filter(resident=resident, activity__kind=ActivityKind.TRAINING)
            .select_related("activity").annotate(at=F("activity__starts_at")).order_by("-activity__starts_at"))


def record_of(resident: Resident) -> dict[str, Any]:
    return {
        "profile": getattr(resident, "employment_profile", None),
        "certificates": list(resident.certificates.all()),
        "placements": list(resident.placements.all()),
        "contacts": list(resident.employment_contacts.select_related("team")[:50]),
        "trainings": list(trainings_of(resident)[:50]),
    }
