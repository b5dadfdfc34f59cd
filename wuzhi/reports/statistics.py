"""One statistics module: every figure the dashboards and reports show is computed here, from
rows, through the scope chokepoint, for an area subtree and a period.

Each app declares its figures in its own `figures.py` with the `@figure` decorator; the key is
the one of seed/figures.json where the article states that figure. A figure function receives a
`Scope` and returns a number."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.module_loading import autodiscover_modules

from wuzhi.core.models import Area


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    governance: str  # 政治引领 / 自治 / 法治 / 德治 / 智治 / 基础
    func: Callable[[Scope], int | float]


FIGURES: dict[str, Figure] = {}


def figure(key: str, label: str, governance: str) -> Callable[[Callable[[Scope], Any]], Callable[[Scope], Any]]:
    def register(func: Callable[[Scope], Any]) -> Callable[[Scope], Any]:
        FIGURES[key] = Figure(key, label, governance, func)
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
        if self.user is not None:
            qs = qs.visible_to(self.user)
        if self.area is not None:
            qs = qs.filter(**{f"{path_field}__startswith": self.area.path})
        return qs

    def in_period(self, qs: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
        return qs.filter(**{f"{field}__date__gte": self.start, f"{field}__date__lte": self.end})

    def in_period_dates(self, qs: models.QuerySet[Any], field: str) -> models.QuerySet[Any]:
        return qs.filter(**{f"{field}__gte": self.start, f"{field}__lte": self.end})


def year_scope(user: Any, area: Area | None, year: int) -> Scope:
    return Scope(user, area, dt.date(year, 1, 1), dt.date(year, 12, 31))


def compute(scope: Scope, keys: list[str] | None = None) -> dict[str, int | float]:
    autodiscover_modules("figures")
    return {key: FIGURES[key].func(scope) for key in (keys or list(FIGURES))}
