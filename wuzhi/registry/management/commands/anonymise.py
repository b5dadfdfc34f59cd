"""`wuzhi anonymise [--days N] [--dry-run]`: anonymise people who moved out, died or were
cancelled and whose record has not changed for the retention period (WUZHI_RETENTION_DAYS)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from wuzhi.registry import privacy


class Command(BaseCommand):
    help = "对迁出、死亡、注销且超过保存期限的人员进行匿名化处理"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, help="保存期限(天),默认取 WUZHI_RETENTION_DAYS")
        parser.add_argument("--dry-run", action="store_true", help="只统计,不修改")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"]:
            n = privacy.due_for_anonymisation(days=options["days"]).count()
            self.stdout.write(f"到期待匿名化 {n} 人(未修改)。")
            return
        n = privacy.anonymise_due(days=options["days"])
        self.stdout.write(f"已匿名化 {n} 人。")
