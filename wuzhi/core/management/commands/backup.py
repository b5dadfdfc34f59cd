"""`wuzhi backup [--out FILE]`: a consistent snapshot of the database and uploaded files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from wuzhi.core.backup import BackupError, backup


class Command(BaseCommand):
    help = "备份数据库和上传的文件(不含加密密钥)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", help="备份文件路径(默认 WUZHI_HOME/backups/wuzhi-时间.tar.gz)")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"] or Path(settings.HOME) / "backups" /
                   f"wuzhi-{timezone.localtime():%Y%m%d-%H%M%S}.tar.gz")
        try:
            manifest = backup(out)
        except (BackupError, OSError) as exc:
            raise CommandError(f"备份失败:{exc}") from exc
        rows = sum(manifest["counts"].values())
        self.stdout.write(f"已备份到 {out}:{len(manifest['counts'])} 张表 {rows} 条记录,"
                          f"加密数据需要密钥 {', '.join(manifest['field_key_ids']) or '(无)'}。"
                          "请把密钥另行妥善保管,备份文件中不含密钥。")
