import random
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from wuzhi.alarms.ingest_mqtt import broker_address
from wuzhi.alarms.models import Device
from wuzhi.alarms.simulate import HttpCallers, MqttCallers


class Command(BaseCommand):
    help = "模拟呼叫器:经 MQTT 或签名 HTTP 发送按键和心跳(演示和测试用),等待每次按键的回复"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--presses", type=int, default=1, help="按键次数(每次随机选一台已登记的呼叫器)")
        parser.add_argument("--heartbeats", action="store_true", help="同时给所有呼叫器发一次心跳")
        parser.add_argument("--cancel", action="store_true", help="发送“取消”而不是按键")
        parser.add_argument("--device", action="append", default=[], help="指定设备号(可重复)")
        parser.add_argument("--via", choices=["mqtt", "http"], default="mqtt")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="HTTP 方式时 wuzhi 的地址")
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--prefix", default=None)
        parser.add_argument("--battery", type=int, default=None, help="心跳里报告的电量")
        parser.add_argument("--rate", type=float, default=0.0, help="每秒按键数(0 为尽快)")
        parser.add_argument("--timeout", type=float, default=30.0, help="等待全部回复的秒数")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        qs = Device.objects.filter(active=True)
        if options["device"]:
            qs = qs.filter(key__in=options["device"])
        devices = list(qs.order_by("key"))
        if not devices:
            raise CommandError("没有已登记的呼叫器(先运行 wuzhi demo,或指定 --device)")
        rng = random.Random(options["seed"])
        event = "cancel" if options["cancel"] else "press"
        chosen = devices if options["device"] else [rng.choice(devices) for _ in range(options["presses"])]
        if options["device"]:
            chosen = [d for _ in range(options["presses"]) for d in devices]
        if options["via"] == "http":
            web = HttpCallers(options["url"])
            if options["heartbeats"]:
                for d in devices:
                    web.heartbeat(key=d.key, secret=d.secret, battery=options["battery"])
                self.stdout.write(f"HTTP 心跳 {len(devices)} 台")
            for d in chosen:
                status, body = web.press(key=d.key, secret=d.secret, event=event)
                self.stdout.write(f"{d.key} → HTTP {status} {body}")
            return
        host, port = broker_address()
        sim = MqttCallers(host=options["host"] or host, port=options["port"] or port, prefix=options["prefix"])
        sim.start()
        try:
            if options["heartbeats"]:
                for d in devices:
                    sim.heartbeat(d.community_code, d.key, battery=options["battery"], qos=1)
                self.stdout.write(f"MQTT 心跳 {len(devices)} 台")
            started = time.monotonic()
            for d in chosen:
                sim.press(d.community_code, d.key, event=event)
                if options["rate"]:
                    time.sleep(1.0 / options["rate"])
            if chosen and not sim.wait(options["timeout"]):
                raise CommandError(f"{len(sim.unanswered())} 次按键在 {options['timeout']:.0f} 秒内没有收到回复"
                                   "(alarm_consumer 是否在运行?)")
            for eid, s in sim.sent.items():
                ms = ((s.answered_at or 0) - s.first_at) * 1000
                self.stdout.write(f"{s.key} {s.event} {eid} → 呼叫 {s.reply.get('alarm')} 回复用时 {ms:.0f} ms")
            if chosen:
                self.stdout.write(f"共 {len(chosen)} 次,全部已入库并回复,用时 {time.monotonic() - started:.1f} 秒")
            else:
                time.sleep(0.5)  # let QoS 1 heartbeats leave
        finally:
            sim.stop()
