"""Coverage of the 三联系 chain: who has no helper, how loaded the helpers are, whose contact is overdue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from wuzhi.registry import choices as c
from wuzhi.registry.models import Household, Visit

from .models import Cadre, Department, Pairing, PartyMember

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


# ---- pages of the party app (views) ----------------------------------------------------------

def last_contact_of(pairing: Pairing) -> dt.datetime | None:
    """The contact that counts for one pairing annotated by `with_last_contact`: the helper's own
    visit when they can log in, otherwise the household's last visit by anyone (see there)."""
    helper = pairing.member or pairing.cadre
    if helper is not None and helper.user_id is not None:
        return getattr(pairing, "helper_contact", None)
    return getattr(pairing, "any_contact", None)


def helpers_of(household: Household) -> list[Pairing]:
    """The household's current helpers with the last time each was in touch, for the household
    page (`party/_household_helpers.html`). The caller has already found the household through
    the scope chokepoint; who serves a household is part of that household's record."""
    rows = list(with_last_contact(active_pairings().filter(household=household))
                .select_related("member__branch", "cadre__department").order_by("started_on", "id"))
    for row in rows:
        row.last_contact = last_contact_of(row)  # type: ignore[attr-defined]
    return rows


def visible_departments(user: Any) -> QuerySet[Department]:
    return Department.objects.visible_to(user)


def visible_cadres(user: Any) -> QuerySet[Cadre]:
    return Cadre.objects.visible_to(user)


def paired_households_count(pairings: QuerySet[Pairing], outer: str) -> Coalesce:
    """A subquery for `.annotate()`: distinct households in the active `pairings` whose `outer`
    field (e.g. "member", "member__branch") is the outer row. Counting through the caller's
    scoped pairings keeps a count from telling more than the list behind it would."""
    sub = (pairings.filter(ended_on__isnull=True, **{outer: OuterRef("pk")}).order_by()
           .values(outer).annotate(n=Count("household", distinct=True)).values("n"))
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


@dataclass(frozen=True)
class Candidate:
    """A person who can be assigned to a household, as the assign form offers them."""

    label: str
    kind: str  # "member" | "cadre"
    helper: PartyMember | Cadre
    load: int


def helper_candidates(user: Any, load_rows: list[dict[str, Any]], limit: int = 500) -> list[Candidate]:
    """Active party members and cadres the user sees, each with a unique readable label (what
    the searchable input submits) and their number of households from `load_rows` (the rows of
    helper_load, which the caller usually shows too). Two queries."""
    load = {("member", r["member_id"]) if "member_id" in r else ("cadre", r["cadre_id"]): r["households"]
            for r in load_rows}
    members = list(PartyMember.objects.visible_to(user).filter(active=True).select_related("branch")
                   .order_by("name", "id")[:limit])
    cadres = list(visible_cadres(user).filter(active=True).select_related("department")
                  .order_by("name", "id")[:limit])
    rows: list[Candidate] = []
    for m in members:
        rows.append(Candidate(f"{m.name}({m.branch.name})", "member", m, load.get(("member", m.pk), 0)))
    for cadre in cadres:
        rows.append(Candidate(f"{cadre.name}({cadre.department.name})", "cadre", cadre,
                              load.get(("cadre", cadre.pk), 0)))
    seen: dict[str, int] = {}
    for r in rows:
        seen[r.label] = seen.get(r.label, 0) + 1
    # Namesakes in one branch: the record number tells them apart.
    return [r if seen[r.label] == 1 else Candidate(f"{r.label}#{r.helper.pk}", r.kind, r.helper, r.load)
            for r in rows]
