"""Reads worth naming: the queue, the 督办 board, the resident's tracking lookup."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import Area
from wuzhi.core.validators import normalize_phone

from .models import DONE_STATES, OPEN_STATES, Case, CaseState, Satisfaction, Supervision


def queue(user: Any, *, state: str = "", kind: str = "", category: str = "", level: str = "",
          mine: bool = False) -> QuerySet[Case]:
    """Open cases the user can see (their area, their team's, their own), filtered."""
    qs = Case.objects.visible_to(user).select_related("category", "area", "assigned_team", "assigned_user")
    if state:
        qs = qs.filter(state=state)
    else:
        qs = qs.filter(state__in=(*OPEN_STATES, CaseState.SUSPENDED, CaseState.RESOLVED))
    if kind:
        qs = qs.filter(kind=kind)
    if category.isdigit():
        qs = qs.filter(category_id=int(category))
    if level:
        qs = qs.filter(supervision=level)
    if mine:
        from wuzhi.activities.models import TeamMember

        teams = TeamMember.objects.filter(user_id=user.pk, left_on__isnull=True).values("team_id")
        qs = qs.filter(Q(assigned_team_id__in=teams) | Q(assigned_user_id=user.pk))
    return qs


def overdue(qs: QuerySet[Case], now: dt.datetime | None = None) -> QuerySet[Case]:
    return qs.filter(state__in=OPEN_STATES, due_at__lt=now or timezone.now())


def supervision_board(user: Any) -> dict[str, Any]:
    """The secretary's 督办 board: red and yellow cases first, then what falls due within a day."""
    now = timezone.now()
    open_qs = Case.objects.visible_to(user).filter(state__in=OPEN_STATES).select_related(
        "category", "assigned_team", "assigned_user")
    counts = dict(open_qs.values_list("supervision").annotate(n=Count("id")).values_list("supervision", "n"))
    return {
        "red": list(open_qs.filter(supervision=Supervision.RED).order_by("due_at", "id")[:100]),
        "yellow": list(open_qs.filter(supervision=Supervision.YELLOW).order_by("due_at", "id")[:100]),
        "soon": list(open_qs.filter(supervision=Supervision.NORMAL, due_at__lt=now + dt.timedelta(days=1))
                     .order_by("due_at", "id")[:100]),
        "counts": counts,
        "open_total": sum(counts.values()),
        "by_team": list(open_qs.values("assigned_team__name").annotate(n=Count("id"), late=Count(
            "id", filter=Q(due_at__lt=now))).order_by("-late", "-n")[:20]),
    }


def track(number: str, phone: str) -> Case | None:
    """The resident's lookup: the case number and the phone given when reporting must both match."""
    try:
        phone = normalize_phone(phone)
    except ValidationError:  # a malformed number simply finds nothing
        return None
    digest = crypto.blind_index(phone, "phone")
    if not number.strip() or not digest:
        return None
    return Case.objects.filter(number=number.strip(), reporter_phone_hash=digest).first()


def _measures(within: Q | None = None) -> dict[str, Count]:
    """The figures every case statistic shows, as aggregates; `within` narrows them all (used to
    count several areas in one query)."""
    base = within or Q()
    done = base & Q(state__in=DONE_STATES)
    return {
        "received": Count("id", filter=base) if within is not None else Count("id"),
        "resolved": Count("id", filter=done),
        "on_time": Count("id", filter=done & Q(resolved_at__lte=F("due_at"))),
        "rated": Count("id", filter=base & ~Q(satisfaction="")),
        "satisfied": Count("id", filter=base & Q(satisfaction__in=(Satisfaction.SATISFIED, Satisfaction.BASIC))),
    }


def breakdown(qs: QuerySet[Case], field: str) -> list[dict[str, Any]]:
    """Received, resolved, on time and satisfied counts grouped by `field` (category__name,
    assigned_team__name …), one grouped query; merged duplicates count once, with their main."""
    return list(qs.exclude(state=CaseState.MERGED).values(field).annotate(**_measures()).order_by("-received", field))


def by_area(qs: QuerySet[Case], areas: list[Area]) -> list[dict[str, Any]]:
    """The same figures for each of `areas` (a level of the tree, each with its subtree), in one
    query of conditional aggregates rather than one query per area."""
    if not areas:
        return []
    aggregates: dict[str, Count] = {}
    for i, area in enumerate(areas):
        for name, agg in _measures(Q(area_path__startswith=area.path)).items():
            aggregates[f"{name}_{i}"] = agg
    row = qs.exclude(state=CaseState.MERGED).aggregate(**aggregates)
    return [{"area": area, **{name: row[f"{name}_{i}"] for name in ("received", "resolved", "on_time", "rated",
                                                                     "satisfied")}}
            for i, area in enumerate(areas)]


def period_stats(qs: QuerySet[Case], start: dt.date, end: dt.date) -> dict[str, Any]:
    """Totals of the cases received in [start, end], and how many of those are still open and late."""
    received = qs.filter(opened_at__date__gte=start, opened_at__date__lte=end)
    totals = received.exclude(state=CaseState.MERGED).aggregate(**_measures())
    totals["overdue_open"] = overdue(received).count()
    totals["merged"] = received.filter(state=CaseState.MERGED).count()
    return totals
