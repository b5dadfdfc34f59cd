"""德治 figures from honour rows: the 80 户(人) honoured and the 5 文明楼栋 of the article, plus the
work behind them (nominations, objections)."""

from __future__ import annotations

from django.db.models import QuerySet

from wuzhi.reports.statistics import Scope, figure

from . import selectors
from .models import Nomination, Objection, Round, Subject

MORAL = "德治"


def _published(scope: Scope) -> QuerySet[Nomination]:
    # An honour belongs to the period in which its round was published, and to the place where
    # the honoured household, person or building is (so a grid's figure counts its own).
    rounds = scope.in_period(Round.objects.all(), "published_at")
    return scope.rows(Nomination).filter(pk__in=selectors.honours().filter(round__in=rounds).values("pk"))


@figure("honorees", "评选表彰的模范户和个人(户/人)", MORAL)
def honorees(scope: Scope) -> int:
    return selectors.honoured_people_and_households(_published(scope))


@figure("civilized_buildings", "文明楼栋(栋)", MORAL)
def civilized_buildings(scope: Scope) -> int:
    # Every category that honours a building is a 文明楼栋 award (renaming it keeps the figure).
    return _published(scope).filter(category__subject=Subject.BUILDING).values("building_id").distinct().count()


@figure("honour_rounds", "开展模范评选(轮)", MORAL)
def honour_rounds(scope: Scope) -> int:
    return scope.in_period(scope.rows(Round), "published_at").count()


@figure("honour_nominations", "模范评选提名(个)", MORAL)
def honour_nominations(scope: Scope) -> int:
    return scope.in_period(scope.rows(Nomination), "created_at").count()


@figure("honour_objections", "评选公示异议(条)", MORAL)
def honour_objections(scope: Scope) -> int:
    rounds = scope.rows(Round)
    return scope.in_period(Objection.objects.filter(round__in=rounds), "at").count()
