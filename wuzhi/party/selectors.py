"""Coverage of the 三联系 chain: who has no helper, how loaded the helpers are, whose contact is overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from wuzhi.registry import choices as c
from wuzhi.registry.models import Household, Visit

from .models import Pairing

CONTACT_INTERVAL_DAYS = 90  # a helper should have seen their household at least once a quarter


def active_pairings() -> QuerySet[Pairing]:
    return Pairing.objects.filter(ended_on__isnull=True)


def households_without_helper(households: QuerySet[Household]) -> QuerySet[Household]:
    return households.filter(status=c.HouseholdStatus.PRESENT).exclude(
        Exists(active_pairings().filter(household=OuterRef("pk")))
    )


def helper_load(pairings: QuerySet[Pairing]) -> list[dict[str, Any]]:
    """Households per helper, heaviest first: [{name, kind, branch_or_department, households}]."""
    rows = []
    for row in (pairings.filter(member__isnull=False).values("member_id", "member__name", "member__branch__name")
                .annotate(n=Count("household", distinct=True)).order_by("-n", "member__name")):
        rows.append({"name": row["member__name"], "kind": "党员", "unit": row["member__branch__name"],
                     "households": row["n"], "member_id": row["member_id"]})
    for row in (pairings.filter(cadre__isnull=False).values("cadre_id", "cadre__name", "cadre__department__name")
                .annotate(n=Count("household", distinct=True)).order_by("-n", "cadre__name")):
        rows.append({"name": row["cadre__name"], "kind": "帮扶干部", "unit": row["cadre__department__name"],
                     "households": row["n"], "cadre_id": row["cadre_id"]})
    return sorted(rows, key=lambda r: (-r["households"], r["name"]))


def with_last_contact(pairings: QuerySet[Pairing]) -> QuerySet[Pairing]:
    """Annotate each pairing with the last visit its helper made to its household; a helper who
    has no login cannot log visits, so their household's last visit by anyone counts instead."""
    by_helper = (Visit.objects.filter(household=OuterRef("household"))
                 .filter(Q(visitors=OuterRef("member__user")) | Q(visitors=OuterRef("cadre__user")))
                 .order_by("-visited_at").values("visited_at")[:1])
    return pairings.annotate(
        helper_contact=Subquery(by_helper),
        any_contact=Max("household__last_visited_at"),
    )


def overdue_pairings(pairings: QuerySet[Pairing], now: dt.datetime | None = None,
                     days: int = CONTACT_INTERVAL_DAYS) -> QuerySet[Pairing]:
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    qs = with_last_contact(pairings)
    no_user = Q(member__user__isnull=True, cadre__user__isnull=True)
    return qs.filter(
        (~no_user & (Q(helper_contact__isnull=True) | Q(helper_contact__lt=cutoff)))
        | (no_user & (Q(household__last_visited_at__isnull=True) | Q(household__last_visited_at__lt=cutoff)))
    )
