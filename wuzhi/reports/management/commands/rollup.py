"""`wuzhi rollup [--area CODE]`: recount the dashboard rollups (wuzhi.reports.rollup) from rows,
for the whole platform or one county, town or community subtree (its ancestors are corrected).

Run it from cron; the town, county and city dashboards show the time of the rebuild they read.
Every night is the intended cadence (e.g. `15 2 * * * wuzhi rollup`), plus `--area` for a
community whose figures were just corrected."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wuzhi.core.models import Area
from wuzhi.reports import rollup


class Command(BaseCommand):
    help = "从业务数据重建乡镇、县区和全市统计看板的汇总表"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--area", help="只重建该区域(县区、乡镇或社区)及其下级,上级随之更正")

    def handle(self, *args: Any, **options: Any) -> None:
        area = None
        if options["area"]:
            area = Area.objects.filter(code=options["area"]).first()
            if area is None:
                raise CommandError(f"没有区域代码 {options['area']}")
        started = time.monotonic()
        try:
            written = rollup.rebuild(area)
        except ValueError as exc:
            raise CommandError("只能重建社区及以上的区域") from exc
        self.stdout.write(f"汇总完成:{written} 行,用时 {time.monotonic() - started:.1f} 秒")
