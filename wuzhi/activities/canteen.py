"""The 幸福餐厅's monthly statement: per diner and per funding category, from the meal rows.

A meal is a participant's attendance at a session (kind meal) of the canteen program, so the
statement and the 人次 figures count the same rows. Each diner's funding category comes from
their enrolment; someone served without one (a walk-in marked by name) is "未登记"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Activity, Attendance, Funding, Program
from .selectors import TAKES_PART, in_days

UNREGISTERED = "未登记"


@dataclass
class DinerLine:
    name: str
    address: str
    funding: str
    days: int
    meals: int
    amount: Decimal
    resident_id: int | None = None


@dataclass
class FundingLine:
    funding: str
    diners: int = 0
    meals: int = 0
    amount: Decimal = Decimal("0")


@dataclass
class Statement:
    program: Program
    first: dt.date
    last: dt.date
    diners: list[DinerLine] = field(default_factory=list)
    by_funding: list[FundingLine] = field(default_factory=list)
    meals: int = 0
    amount: Decimal = Decimal("0")


def month_span(month: str) -> tuple[dt.date, dt.date] | None:
    """"2026-05" → (1 May, 31 May)."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except (TypeError, ValueError):
        return None
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def meal_rows(program: Program, sessions: QuerySet[Activity], first: dt.date, last: dt.date) -> QuerySet[Attendance]:
    """The meals of the month: participants at the program's sessions (already scoped by the caller)."""
    month = in_days(sessions.filter(program=program), first, last + dt.timedelta(days=1))
    return Attendance.objects.filter(TAKES_PART, activity__in=month.values("pk"))


def statement(program: Program, sessions: QuerySet[Activity], first: dt.date, last: dt.date) -> Statement:
    """One grouped query over the meal rows; the funding totals are sums of the diner lines."""
    price = program.meal_price
    labels = {value: str(label) for value, label in Funding.choices}  # plain str: openpyxl refuses lazy labels
    rows = (meal_rows(program, sessions, first, last).order_by()
            .values("resident_id", "enrolment_id", "name", "enrolment__funding", "resident__household__address")
            .annotate(meals=Count("id"),
                      days=Count(TruncDate("activity__starts_at", tzinfo=timezone.get_current_timezone()),
                                 distinct=True)))
    out = Statement(program=program, first=first, last=last)
    per: dict[str, FundingLine] = {}
    for r in rows:
        funding = labels.get(r["enrolment__funding"] or "", UNREGISTERED)
        line = DinerLine(name=r["name"], address=r["resident__household__address"] or "", funding=funding,
                         days=r["days"], meals=r["meals"], amount=price * r["meals"], resident_id=r["resident_id"])
        out.diners.append(line)
        group = per.setdefault(funding, FundingLine(funding))
        group.diners += 1
        group.meals += line.meals
        group.amount += line.amount
    order = [str(label) for _v, label in Funding.choices] + [UNREGISTERED]
    out.diners.sort(key=lambda d: (order.index(d.funding), d.name))
    out.by_funding = sorted(per.values(), key=lambda g: order.index(g.funding))
    out.meals = sum(d.meals for d in out.diners)
    out.amount = sum((d.amount for d in out.diners), Decimal("0"))
    return out


def detail_rows(program: Program, sessions: QuerySet[Activity], first: dt.date, last: dt.date) -> Any:
    """Every meal of the month, in date order, for the workbook's detail sheet."""
    return (meal_rows(program, sessions, first, last).select_related("activity", "enrolment")
            .order_by("activity__starts_at", "activity_id", "name", "id"))
