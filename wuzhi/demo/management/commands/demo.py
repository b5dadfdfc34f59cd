"""`wuzhi demo`: migrate, build the 福兴 demo community when it is missing, print the logins and
serve at http://127.0.0.1:8000."""

from __future__ import annotations

import os
import unicodedata
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from wuzhi.demo.generator import DemoLogin, build_demo


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def logins_table(logins: list[DemoLogin]) -> str:
    rows = [("角色", "用户名", "姓名", "范围")] + [(x.role, x.username, x.name, x.scope) for x in logins]
    widths = [max(_width(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Command(BaseCommand):
    help = "建立福兴社区演示数据(首次运行时)并启动演示服务 http://127.0.0.1:8000"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="只迁移和生成数据,不启动服务")
        parser.add_argument("--seed", type=int, default=2026, help="随机种子(默认 2026);同一种子生成同样的社区")
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="服务地址和端口(默认 127.0.0.1:8000)")

    def handle(self, *args: Any, **options: Any) -> None:
        # The login page shows the demo hint (accounts and password) when this is set.
        os.environ.setdefault("WUZHI_DEMO", "1")
        verbosity = options["verbosity"]
        call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1), stdout=self.stdout)
        result = build_demo(seed=options["seed"], stdout=self.stdout if verbosity else None)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"演示账号(密码均为 {result.password}):"))
        self.stdout.write(logins_table(result.logins))
        self.stdout.write("")
        if options["no_serve"]:
            return
        addrport = options["addrport"]
        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write(self.style.SUCCESS(f"演示地址:http://{host}/  (Ctrl+C 停止)"))
        # No autoreloader: it would start a second process that runs this command (and the build
        # check) again, and a code change mid-demo should not restart the server.
        call_command("runserver", addrport, use_reloader=False)
