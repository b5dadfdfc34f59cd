"""One statistics module: every figure the dashboards and reports show is computed here, from
rows, through the scope chokepoint, for an area subtree and a period.

Each app declares its figures in its own `figures.py` with the `@figure` decorator; the key is
the one of seed/figures.json where the article states that figure. A figure function receives a
`Scope` and returns a number. Figures over the same rows take their numbers from one grouped
query (`Scope.shared`), so a page costs a fixed number of queries, not one per figure."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from wuzhi.core.models import Area

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

# The reporting lens, in the order dashboards and the work report present it (基础 = population).
GOVERNANCES = ["基础", "政治引领", "自治", "法治", "德治", "智治"]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    governance: str  # 政治引领 / 自治 / 法治 / 德治 / 智治 / 基础
    func: Callable[[Scope], int | float]
    # Optional presentation hints. Apps may pass them; where they don't, wuzhi.reports.catalog
    # supplies them per key (unit 户/人/场, the list page behind the figure).
    unit: str = ""
    rows: str = ""  # URL name of the list page holding the rows counted, e.g. "registry:household_list"
    rows_query: str = ""  # its query string, e.g. "kind=dispute"


FIGURES: dict[str, Figure] = {}


def figure(key: str, label: str, governance: str, *, unit: str = "", rows: str = "", rows_query: str = ""
           ) -> Callable[[Callable[[Scope], Any]], Callable[[Scope], Any]]:
    def register(func: Callable[[Scope], Any]) -> Callable[[Scope], Any]:
        FIGURES[key] = Figure(key, label, governance, func, unit, rows, rows_query)
        return func

    return register


@dataclass(frozen=True)
class Scope:
    """Whose eyes (user; None is the system), which subtree (area; None is everything) and
    which period (inclusive dates)."""

    user: Any
    area: Area | None
    start: dt.date
    end: dt.date

    def rows(self, model: type[models.Model], path_field: str = "area_path") -> models.QuerySet[Any]:
        qs = model.objects.all()  # type: ignore[attr-defined]
        # When one of the user's grants covers the whole area, every row of the subtree is
        # visible to them and the chokepoint's filter (with its relation-rule subqueries) would
        # only repeat the area filter below, at a cost; otherwise it applies as everywhere.
        if self.user is not None and not (self.whole_area_visible
                                          and path_field == getattr(model, "scope_path_field", "area_path")):
            qs = qs.visible_to(self.user)
        if self.area is not None:
            qs = qs.filter(**{f"{path_field}__startswith": self.area.path})
        return qs

    @functools.cached_property
    def whole_area_visible(self) -> bool:
        from wuzhi.core.scoping import scope_paths

        paths = scope_paths(self.user, "view")
        return paths is None or (self.area is not None and any(self.area.path.startswith(p) for p in paths))

    def in_period(self, qs: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
        """Rows whose datetime `field` falls on a local day of the period. Written as a range on
        the column rather than `__date`: the same rows, but an index can serve it, and SQLite
        does not call a Python function per row to convert each value to a local date."""
        return qs.filter(self.period_q(field))

    def period_q(self, field: str) -> Q:
        """`in_period` as a condition, for a conditional aggregate (Count(…, filter=…))."""
        return self.days_q(field, self.start, self.end)

    @staticmethod
    def days_q(field: str, first: dt.date, last: dt.date) -> Q:
        """`field` (a datetime) on a local day from `first` to `last`, inclusive."""
        start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
        after = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min))
        return Q(**{f"{field}__gte": start, f"{field}__lt": after})

    def shared(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()`, once while counting (see `counting`). Several figures read one aggregate
        query (every count of the period's cases in one pass, say) and each takes its number
        from it; the dashboard's charts and drill-down reuse or supply the same results. Outside
        `counting` every call counts afresh."""
        memo: dict[str, Any] | None = self.__dict__.get("_shared")
        if memo is None:
            return compute()
        if name not in memo:
            memo[name] = compute()
        return memo[name]  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def counting(self) -> Iterator[Scope]:
        """While inside, `shared` results are kept: one page, one report, one compute() counts
        each set of rows once. On leaving they are dropped, so the same Scope asked again after
        a write counts the new rows. Nested use keeps the outer one's results."""
        outer = "_shared" in self.__dict__
        if not outer:
            self.__dict__["_shared"] = {}
        try:
            yield self
        finally:
            if not outer:
                del self.__dict__["_shared"]

    @property
    def reference_day(self) -> dt.date:
        """The day "now" means for this period: its last day, or today while it is still running
        (ages, coverage and open cases are as of that day)."""
        return min(self.end, timezone.localdate())


def year_scope(user: Any, area: Area | None, year: int) -> Scope:
    return Scope(user, area, dt.date(year, 1, 1), dt.date(year, 12, 31))


@functools.cache
def _discover() -> None:
    # Once per process: looking for a `figures` module in every app searches the file system for
    # the apps that have none, at every request otherwise.
    autodiscover_modules("figures")


def load_figures() -> dict[str, Figure]:
    _discover()
    return FIGURES


def sharing(func: Callable[Concatenate[Scope, P], R]) -> Callable[Concatenate[Scope, P], R]:
    """Run `func(scope, …)` inside `scope.counting()`: its figures and charts share queries."""
    @functools.wraps(func)
    def run(scope: Scope, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with scope.counting():
            return func(scope, *args, **kwargs)

    return run


@sharing
def compute(scope: Scope, keys: list[str] | None = None) -> dict[str, int | float]:
    """The figures `keys` (all when None) for `scope`. A key no app has registered yet is left
    out rather than failing: reports are written from whatever figures exist."""
    load_figures()
    return {key: FIGURES[key].func(scope) for key in (keys or list(FIGURES)) if key in FIGURES}
