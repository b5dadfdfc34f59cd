import contextlib
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection

from wuzhi.alarms import escalation, outbox, services


class Command(BaseCommand):
    help = "呼叫通知发送、升级计时和设备在线检查(可多进程同时运行;SQLite 下只运行一个)"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="只处理一轮当前到期的工作后退出")
        parser.add_argument("--interval", type=float, default=0.5,
                            help="检查升级计时和重试的间隔(秒);PostgreSQL 上新通知会立即唤醒")
        parser.add_argument("--poll", type=float, default=0.05,
                            help="没有唤醒通知的数据库(SQLite)空闲时查看发件箱的间隔(秒)")
        parser.add_argument("--batch", type=int, default=50, help="每次领取的通知条数")
        parser.add_argument("--escalation-batch", type=int, default=10,
                            help="每轮最多执行的升级步骤数(之间先发新通知)")
        parser.add_argument("--health-every", type=float, default=10.0, help="设备在线检查的间隔(秒)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            handled = outbox.drain()
            fired = escalation.run_due()
            handled += outbox.drain()
            offline = services.health_check()
            self.stdout.write(f"通知 {handled} 条,升级 {fired} 次,离线 {offline} 台")
            return
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        db = connection.settings_dict
        self.stdout.write(f"呼叫通知工作进程已启动(数据库 {connection.vendor} {db.get('NAME')})")
        self.stdout.flush()
        next_health = next_escalation = 0.0
        waker = outbox.Waker(poll=options["poll"])
        while not stopping:
            try:
                busy = outbox.dispatch_once(limit=options["batch"])
                # Escalation due-times are checked every `interval`, not on every wake-up, and a
                # round fires at most a few steps before the outbox is claimed again: in a storm
                # thousands of steps fall due a minute after thousands of presses, and a new
                # press's first notification must not wait behind them. A full round of steps
                # is followed at once by the next (after a claim), so escalation never starves.
                if time.monotonic() >= next_escalation:
                    fired = escalation.run_due(limit=options["escalation_batch"])
                    busy += fired
                    next_escalation = time.monotonic() + (
                        0 if fired >= options["escalation_batch"] else options["interval"])
                if time.monotonic() >= next_health:
                    services.health_check()
                    next_health = time.monotonic() + options["health_every"]
                    close_old_connections()
                if not busy:
                    waker.wait(options["interval"])
            except DatabaseError as exc:
                self.stderr.write(f"数据库不可用,稍后重试:{exc}")
                with contextlib.suppress(DatabaseError):
                    connection.close()
                time.sleep(1.0)
