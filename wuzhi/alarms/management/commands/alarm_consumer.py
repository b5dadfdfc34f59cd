from typing import Any

from django.core.management.base import BaseCommand

from wuzhi.alarms.ingest_mqtt import Consumer


class Command(BaseCommand):
    help = "接收呼叫器的 MQTT 消息(按键、取消、心跳):入库提交后才确认并回复设备"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=None, help="MQTT 服务器,默认取 WUZHI_MQTT_URL")
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--prefix", default=None, help="主题前缀,默认取 WUZHI_MQTT_PREFIX 或 wuzhi")
        parser.add_argument("--client-id", default="wuzhi-alarm-consumer",
                            help="固定的客户端编号:持久会话靠它在重启后取回未确认的消息")
        parser.add_argument("--flush-ms", type=int, default=500, help="心跳批量写入的间隔(毫秒)")
        parser.add_argument("--threads", type=int, default=2,
                            help="写库线程数(每批一个事务;线程多了只会争用解释器锁)")
        parser.add_argument("--batch", type=int, default=100, help="一次事务最多写入的按键数")

    def handle(self, *args: Any, **options: Any) -> None:
        consumer = Consumer(host=options["host"], port=options["port"], prefix=options["prefix"],
                            client_id=options["client_id"], flush_ms=options["flush_ms"],
                            threads=options["threads"], batch=options["batch"])
        self.stdout.write(f"呼叫器消息接收已启动:{consumer.host}:{consumer.port} 主题前缀 {consumer.prefix}")
        self.stdout.flush()
        consumer.run_forever()
