"""`wuzhi stats [--area CODE] [--year YYYY | --from D --to D] [--json]`: the figures of
wuzhi.reports.statistics for an area subtree and a period, as the system sees them (user None).

JSON keys follow the order of the article's figures (figures.json), then any other figure in
the order the apps registered them, so two runs diff cleanly."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from wuzhi.core.models import Area
from wuzhi.reports.statistics import FIGURES, Scope, compute

# A copy of seed/figures.json ships with the demo app; only the key order is used here.
FIGURES_JSON = Path(__file__).resolve().parents[3] / "demo" / "figures.json"


def article_key_order() -> list[str]:
    try:
        return list(json.loads(FIGURES_JSON.read_text(encoding="utf-8"))["figures"])
    except (OSError, ValueError, KeyError):
        return []


def ordered(values: dict[str, int | float]) -> dict[str, int | float]:
    article = [k for k in article_key_order() if k in values]
    rest = [k for k in values if k not in article]
    return {k: values[k] for k in article + rest}


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} 的日期格式应为 YYYY-MM-DD,收到“{value}”", returncode=2) from None


def period(options: dict[str, Any]) -> tuple[dt.date, dt.date]:
    """--year, or --from/--to (either may be omitted: the other's calendar year fills in), or
    the current year."""
    start_raw, end_raw, year = options.get("date_from"), options.get("date_to"), options.get("year")
    if year is not None and (start_raw or end_raw):
        raise CommandError("--year 不能与 --from/--to 同时使用", returncode=2)
    if start_raw or end_raw:
        start = _date(start_raw, "--from") if start_raw else None
        end = _date(end_raw, "--to") if end_raw else None
        start = start or dt.date(end.year, 1, 1)  # type: ignore[union-attr]
        end = end or dt.date(start.year, 12, 31)
        if start > end:
            raise CommandError(f"开始日期 {start} 晚于结束日期 {end}", returncode=2)
        return start, end
    year = year or timezone.localdate().year
    if not 1900 <= year <= 9999:
        raise CommandError(f"年份 {year} 不合理", returncode=2)
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class Command(BaseCommand):
    help = "按区域和时段输出统计指标(与看板、报表同一口径)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", metavar="CODE", help="区域代码,如 530626100012(福兴社区);省略则为全部区域")
        parser.add_argument("--year", type=int, help="统计年度(默认今年)")
        parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="开始日期(含)")
        parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="结束日期(含)")
        parser.add_argument("--json", action="store_true", help="输出 JSON(键名与 figures.json 一致)")

    def handle(self, *args: Any, **options: Any) -> None:
        area = None
        code = (options.get("area") or "").strip()
        if code:
            area = Area.objects.filter(code=code).first()
            if area is None:
                raise CommandError(f"区域代码 {code} 不存在。区域代码是各级编码连写,如福兴社区为 530626100012",
                                   returncode=2)
        start, end = period(options)
        # user None: the system's view of the subtree, not filtered by anyone's grants.
        values = ordered(compute(Scope(user=None, area=area, start=start, end=end)))
        if options["json"]:
            self.stdout.write(json.dumps(values, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{area.full_name if area else '全部区域'}  {start} 至 {end}")
        rows = [(FIGURES[k].governance if k in FIGURES else "", FIGURES[k].label if k in FIGURES else k, v)
                for k, v in values.items()]
        head = ("分类", "指标", "数值")
        w0 = max([_width(head[0])] + [_width(r[0]) for r in rows])
        w1 = max([_width(head[1])] + [_width(r[1]) for r in rows])
        self.stdout.write(f"{head[0]}{' ' * (w0 - _width(head[0]))}  {head[1]}{' ' * (w1 - _width(head[1]))}  {head[2]}")
        for gov, label, value in rows:
            shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
            self.stdout.write(f"{gov}{' ' * (w0 - _width(gov))}  {label}{' ' * (w1 - _width(label))}  {shown}")
