"""`wuzhi rotate_keys`: re-encrypt every ID, phone and other encrypted value with the current key.

Rotate by prepending a new key to WUZHI_FIELD_KEYS ("k2:…,k1:…"), running this command, then
removing the old key. `--new-key` does the first step for keys kept in WUZHI_HOME/secrets.json."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from wuzhi.core import backup, crypto


class Command(BaseCommand):
    help = "用当前密钥重新加密所有加密字段(证件号、电话等)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--new-key", action="store_true",
                            help="先生成新密钥并写入 WUZHI_HOME/secrets.json(仅适用于未用环境变量配置密钥时)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self._prepend_new_key()
        changed = backup.rotate_keys()
        total = sum(changed.values())
        for label, n in changed.items():
            if n:
                self.stdout.write(f"  {label}:{n}")
        self.stdout.write(f"已用密钥 {crypto.current_key_id()} 重新加密 {total} 个值。")

    def _prepend_new_key(self) -> None:
        path = settings.HOME / "secrets.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        if data.get("field_keys") != settings.FIELD_KEYS:
            raise CommandError("密钥由环境变量 WUZHI_FIELD_KEYS 配置:请在其最前面加入新密钥后再运行本命令")
        ids = backup.key_ids()
        kid = f"k{max((int(k[1:]) for k in ids if k[1:].isdigit()), default=0) + 1}"
        material = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        data["field_keys"] = f"{kid}:{material},{settings.FIELD_KEYS}"
        path.write_text(json.dumps(data))
        settings.FIELD_KEYS = data["field_keys"]
        self.stdout.write(f"已生成新密钥 {kid}。")
