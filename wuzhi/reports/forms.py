from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PeriodForm(forms.Form):
    """A year, or a span of dates (either end may be left out: the other's year fills it in)."""

    year = forms.IntegerField(label=_("年度"), required=False, min_value=2000, max_value=2100)
    date_from = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        if data is not None:
            data = {"year": data.get("year"), "date_from": data.get("from"), "date_to": data.get("to")}
        super().__init__(data, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("开始日期晚于结束日期"))
        return data

    def period(self) -> tuple[dt.date, dt.date]:
        """The chosen period; the current year when nothing (valid) was chosen."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        start, end = data.get("date_from"), data.get("date_to")
        if start or end:
            start = start or dt.date(end.year, 1, 1)  # type: ignore[union-attr]
            end = end or dt.date(start.year, 12, 31)
            return start, end
        year = data.get("year") or timezone.localdate().year
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
