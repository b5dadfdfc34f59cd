"""One statistics module: every figure the dashboards and reports show is computed here, from
rows, through the scope chokepoint, for an area subtree and a period.

Each app declares its figures in its own `figures.py` with the `@figure` decorator; the key is
the one of seed/figures.json where the article states that figure. A figure function receives a
`Scope` and returns a number."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from wuzhi.core.models import Area

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
        return qs.filter(**{f"{field}__date__gte": self.start, f"{field}__date__lte": self.end})

    def in_period_dates(self, qs: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
        return qs.filter(**{f"{field}__gte": self.start, f"{field}__lte": self.end})

    def in_period_fast(self, qs: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
        """`in_period` as a range on the column (an index can serve it; `__date` cannot)."""
        start = timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))
        after = timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))
        return qs.filter(**{f"{field}__gte": start, f"{field}__lt": after})

    @property
    def reference_day(self) -> dt.date:
        """The day "now" means for this period: its last day, or today while it is still running
        (ages, coverage and open cases are as of that day)."""
        return min(self.end, timezone.localdate())


def year_scope(user: Any, area: Area | None, year: int) -> Scope:
    return Scope(user, area, dt.date(year, 1, 1), dt.date(year, 12, 31))


def load_figures() -> dict[str, Figure]:
    autodiscover_modules("figures")
    return FIGURES


def compute(scope: Scope, keys: list[str] | None = None) -> dict[str, int | float]:
    """The figures `keys` (all when None) for `scope`. A key no app has registered yet is left
    out rather than failing: reports are written from whatever figures exist."""
    load_figures()
    return {key: FIGURES[key].func(scope) for key in (keys or list(FIGURES)) if key in FIGURES}
