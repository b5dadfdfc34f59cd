"""Reads worth naming: published honours (the 光荣榜), and the honour history of a household, a
person or a building. Other pages (the household page, the building page) call
`history_for_household` / `history_for_building` and include `honours/_history.html`."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from wuzhi.core.models import Area

from .models import Nomination, Objection, Result, Round, RoundState, Subject

PUBLIC_STATES = (RoundState.PUBLISHED, RoundState.ARCHIVED)


def honours() -> QuerySet[Nomination]:
    """Every honour: a selected nomination of a published (or archived) round."""
    return Nomination.objects.filter(result=Result.SELECTED, round__state__in=PUBLIC_STATES)


def honour_board(community: Area) -> list[dict[str, Any]]:
    """The public 光荣榜 of one community: published rounds, newest first, each with its honours
    grouped by category. Reads only the public label, never a registry row (two queries)."""
    rounds = list(Round.objects.filter(area=community, state__in=PUBLIC_STATES).order_by("-published_at", "-id"))
    rows = (honours().filter(round__in=rounds).select_related("category")
            .only("id", "round_id", "public_label", "reason", "category__name", "category__sort",
                  "category__subject").order_by("category__sort", "category_id", "public_label", "id"))
    by_round: dict[int, dict[str, list[Nomination]]] = {r.pk: {} for r in rounds}
    for n in rows:
        by_round[n.round_id].setdefault(n.category.name, []).append(n)
    return [{"round": r, "groups": list(by_round[r.pk].items()),
             "total": sum(len(v) for v in by_round[r.pk].values())} for r in rounds]


def notice_rows(rnd: Round) -> list[tuple[str, list[Nomination]]]:
    """The 公示 (or the 光荣榜 of one round): selected nominations grouped by category."""
    rows = (rnd.nominations.filter(result=Result.SELECTED).select_related("category")
            .order_by("category__sort", "category_id", "public_label", "id"))
    groups: dict[str, list[Nomination]] = {}
    for n in rows:
        groups.setdefault(n.category.name, []).append(n)
    return list(groups.items())


def history_for_household(household: Any) -> QuerySet[Nomination]:
    """Honours of the household itself and of its members, oldest first."""
    return (honours().filter(Q(household=household) | Q(resident__household=household))
            .select_related("round", "category", "resident").order_by("round__published_at", "id"))


def history_for_building(building: Area) -> QuerySet[Nomination]:
    """The building's own honours (文明楼栋) and those of the households and people living in it."""
    return (honours().filter(Q(building=building) | Q(area_path__startswith=building.path))
            .select_related("round", "category").order_by("round__published_at", "id"))


def round_counts(qs: QuerySet[Round]) -> QuerySet[Round]:
    """A round list with its counts in the same query (no query per row)."""
    return qs.annotate(
        n_nominations=Count("nominations", distinct=True),
        n_selected=Count("nominations", filter=Q(nominations__result=Result.SELECTED), distinct=True),
        n_objections=Count("objections", distinct=True),
        n_open_objections=Count("objections", filter=Q(objections__answered_at__isnull=True), distinct=True),
    )


def honoured_people_and_households(qs: QuerySet[Nomination]) -> int:
    """Distinct honoured households plus distinct honoured persons (buildings are counted apart)."""
    households = qs.filter(category__subject=Subject.HOUSEHOLD).values("household_id").distinct().count()
    persons = qs.filter(category__subject=Subject.PERSON).values("resident_id").distinct().count()
    return households + persons


def open_objections(rnd: Round) -> QuerySet[Objection]:
    return rnd.objections.filter(answered_at__isnull=True)
