"""`wuzhi restore FILE [--to DATABASE_URL]`: bring a backup back and check its row counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from wuzhi.core.backup import BackupError, read_manifest, restore


class Command(BaseCommand):
    help = "从备份恢复数据库(覆盖现有数据)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("archive", help="wuzhi backup 生成的 .tar.gz 文件")
        parser.add_argument("--to", help="恢复到另一个数据库(URL),默认当前配置的数据库")
        parser.add_argument("--yes", action="store_true", help="不再确认,直接覆盖")

    def handle(self, *args: Any, **options: Any) -> None:
        archive = Path(options["archive"])
        try:
            manifest = read_manifest(archive)
            if not options["yes"] and not options["to"]:
                answer = input(f"将用 {manifest['created_at']} 的备份覆盖当前数据库,确定吗?输入 yes 继续:")
                if answer.strip() != "yes":
                    raise CommandError("已取消")
            counts = restore(archive, to_url=options["to"])
        except BackupError as exc:
            raise CommandError(f"恢复失败:{exc}") from exc
        self.stdout.write(f"已恢复 {len(counts)} 张表 {sum(counts.values())} 条记录,与备份一致。")
