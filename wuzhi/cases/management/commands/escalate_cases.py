from typing import Any

from django.core.management.base import BaseCommand

from wuzhi.cases.services import escalate_overdue


class Command(BaseCommand):
    help = "督办:逾期事项升为黄牌,逾期超过一个办理时限升为红牌(可重复运行,结果不变)"

    def handle(self, *args: Any, **options: Any) -> None:
        raised = escalate_overdue()
        self.stdout.write(f"督办升级 {raised} 件")
