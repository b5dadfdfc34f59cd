"""The MQTT ingest: an MQTT v5 consumer with a persistent session that acknowledges a PUBLISH only
after the database committed it, then answers the device on its reply topic.

- Persistent session: a fixed client id, clean_start False on every connect and a session expiry,
  so presses published while the consumer is down, or delivered to it but not acknowledged before
  it died, are delivered again when it comes back (QoS 1 subscription).
- manual_ack: paho does not send PUBACK by itself. The network thread only queues messages;
  database threads take what is queued (up to `batch` presses), store it in ONE transaction (each
  press in its own savepoint, in device order so two threads never wait on each other's alarms)
  and, after the commit, send PUBACK and the replies. One commit (one fsync) per batch is what
  keeps latency flat in a storm. A database error leaves the messages unacknowledged and
  unanswered and is retried until it succeeds; a crash leaves them with the broker.
- Presses already committed by this process (a device retrying before it saw our reply) are
  answered from a small cache of recent outcomes without touching the database.
- A PUBACK carries the packet id of the connection that delivered the message: after a reconnect
  that id means something else, so acknowledgements of an older connection are not sent (the
  broker redelivers those messages; storing is idempotent on (device, event id) and the device
  gets its reply again).
- Heartbeats are buffered and stored with one bulk UPDATE every `flush_ms`, then acknowledged.

Topic scheme (ingest.topic): <prefix>/<community>/callers/<key>/<press|cancel|heartbeat>, reply on
<prefix>/<community>/callers/<key>/reply, payload JSON {"id": event id, "ts": unix time, ...}."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from django.db import DatabaseError, IntegrityError, close_old_connections, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from . import ingest, services
from .models import Press

log = logging.getLogger("wuzhi.alarms.mqtt")


def broker_address() -> tuple[str, int]:
    """WUZHI_MQTT_URL=mqtt://host:port (default the local Mosquitto)."""
    url = os.environ.get("WUZHI_MQTT_URL", "mqtt://127.0.0.1:1883")
    hostport = url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    return (host or hostport or "127.0.0.1"), int(port or 1883)


@dataclass
class Item:
    msg: mqtt.MQTTMessage
    generation: int


class Consumer:
    def __init__(self, *, host: str | None = None, port: int | None = None, prefix: str | None = None,
                 client_id: str = "wuzhi-alarm-consumer", session_expiry: int = 7 * 24 * 3600,
                 flush_ms: int = 500, keepalive: int = 30, threads: int = 2, batch: int = 100) -> None:
        default_host, default_port = broker_address()
        self.host, self.port = host or default_host, port or default_port
        self.prefix = (prefix or ingest.topic_prefix()).strip("/")
        self.client_id, self.session_expiry, self.keepalive = client_id, session_expiry, keepalive
        self.flush_s = flush_ms / 1000
        self.threads, self.batch = max(1, threads), max(1, batch)
        self.presses: queue.Queue[Item] = queue.Queue()
        self.beats: list[tuple[Item, services.Beat]] = []
        self.beats_lock = threading.Lock()
        self.generation = 0
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.ack_lock = threading.Lock()
        self.recent: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self.recent_lock = threading.Lock()
        self.stored = 0
        self.received = 0
        self.debug = os.environ.get("WUZHI_ALARM_DEBUG") == "1"
        services.SNAPSHOT_CACHE_SECONDS = 5.0
        ingest.DEVICE_CACHE_SECONDS = 30.0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_socket_open = ingest.no_delay
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        # Replies are QoS 1: let many be in flight during a storm.
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)

    # -- network thread -------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            log.error("MQTT 连接被拒绝: %s", reason_code)
            return
        topics = [(f"{self.prefix}/+/callers/+/{event}", SubscribeOptions(qos=1)) for event in ingest.EVENTS]
        client.subscribe(topics)
        self.connected.set()
        log.warning("MQTT 已连接 %s:%s (session present: %s)", self.host, self.port,
                    getattr(flags, "session_present", "?"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        with self.ack_lock:
            self.generation += 1
        self.connected.clear()
        if not self.stopping.is_set():
            log.warning("MQTT 连接断开 (%s),自动重连", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self.received += 1
        item = Item(msg, self.generation)
        parsed = ingest.parse_topic(msg.topic, self.prefix)
        if parsed is not None and parsed[2] == "heartbeat":
            try:
                data = json.loads(msg.payload or b"{}")
            except ValueError:
                data = {}
            with self.beats_lock:
                self.beats.append((item, ingest.beat_of(parsed[1], data if isinstance(data, dict) else {})))
        else:
            self.presses.put(item)

    # -- answering ------------------------------------------------------------------------------

    def _ack(self, item: Item) -> None:
        if item.msg.qos == 0:
            return
        with self.ack_lock:
            if item.generation == self.generation:
                self.client.ack(item.msg.mid, item.msg.qos)

    def _reply(self, community: str, key: str, body: dict[str, Any]) -> None:
        self.client.publish(ingest.topic(community, key, "reply", self.prefix), json.dumps(body), qos=1)

    def _remember(self, key: tuple[str, str], reply: dict[str, Any]) -> None:
        with self.recent_lock:
            self.recent[key] = reply
            while len(self.recent) > 50000:
                self.recent.popitem(last=False)

    def _with_db_retry(self, fn: Any) -> Any:
        """Run `fn` until the database takes it. Nothing is acknowledged meanwhile."""
        delay = 0.1
        while True:
            try:
                return fn()
            except DatabaseError as exc:
                if self.stopping.is_set():
                    raise
                log.warning("数据库不可用,稍后重试: %s", exc)
                with contextlib.suppress(DatabaseError):
                    connection.close()
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- database threads -----------------------------------------------------------------------

    def _store_batch(self, items: list[Item]) -> None:
        todo: dict[tuple[str, str], tuple[str, str, str, dict[str, Any]]] = {}
        waiting: list[tuple[Item, str, str, tuple[str, str]]] = []
        for item in items:
            parsed = ingest.parse_topic(item.msg.topic, self.prefix)
            if parsed is None:
                self._ack(item)
                continue
            community, key, event = parsed
            try:
                data = json.loads(item.msg.payload or b"{}")
            except ValueError:
                data = None
            if not isinstance(data, dict) or not str(data.get("id") or "").strip():
                # Never storable: acknowledge so the broker stops redelivering, and tell the device.
                self._ack(item)
                self._reply(community, key, {"id": "", "ok": False, "error": "消息格式错误或缺少事件编号 id"})
                continue
            ident = (key, str(data["id"]).strip()[:64])
            with self.recent_lock:
                cached = self.recent.get(ident)
            if cached is not None:
                self._ack(item)
                self._reply(community, key, {**cached, "dup": True})
                continue
            todo.setdefault(ident, (community, key, event, data))
            waiting.append((item, community, key, ident))
        if not todo:
            return

        def store(idents: list[tuple[str, str]], batch: bool) -> dict[tuple[str, str], dict[str, Any]]:
            replies: dict[tuple[str, str], dict[str, Any]] = {}
            with services.alarm_txn():
                for ident in idents:
                    _community, key, event, data = todo[ident]
                    try:
                        replies[ident] = ingest.handle_press(key=key, event=event, data=data,
                                                             via=Press.Via.MQTT, batch=batch).reply()
                    except ingest.IngestError as exc:
                        replies[ident] = {"id": ident[1], "ok": False, "error": str(exc)}
            return replies

        def store_bulk(idents: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
            replies: dict[tuple[str, str], dict[str, Any]] = {}
            with services.alarm_txn():
                devices = ingest.devices_by_keys({key for key, _eid in idents})
                bulk: list[tuple[tuple[str, str], services.PressIn]] = []
                singles: list[tuple[str, str]] = []
                for ident in idents:
                    _community, key, event, data = todo[ident]
                    device = devices.get(key)
                    if device is None:
                        replies[ident] = {"id": ident[1], "ok": False, "error": f"未登记或已停用的呼叫器:{key}"}
                    elif event == "press":
                        bulk.append((ident, services.PressIn(device, ident[1], Press.Via.MQTT,
                                                             ingest.when(data.get("ts")))))
                    else:
                        singles.append(ident)
                results = services.alarm_press_batch([p for _i, p in bulk])
                for (ident, _p), r in zip(bulk, results, strict=True):
                    replies[ident] = ingest.Outcome(ident[1], r.alarm.pk if r.alarm else None, r.duplicate,
                                                    r.created).reply()
                for ident in singles:  # the elder's cancel: rare, through the one-press path
                    _community, key, event, data = todo[ident]
                    replies[ident] = ingest.handle_press(key=key, event=event, data=data, via=Press.Via.MQTT,
                                                         device=devices[key], batch=True).reply()
            return replies

        def work() -> dict[tuple[str, str], dict[str, Any]]:
            # One transaction and a fixed number of statements for the batch. A race with another
            # thread or process on the same device (IntegrityError) rolls the batch back; then each
            # press goes alone, where alarm_press settles the race by reading the winner's row.
            idents = sorted(todo)
            try:
                return store_bulk(idents)
            except IntegrityError:
                replies: dict[tuple[str, str], dict[str, Any]] = {}
                for ident in idents:
                    replies.update(store([ident], batch=False))
                return replies

        began = time.perf_counter()
        replies = self._with_db_retry(work)
        if self.debug:
            log.warning("batch %d presses (%d messages) stored in %.1f ms", len(todo), len(waiting),
                        (time.perf_counter() - began) * 1000)
        # Committed: now, and only now, the broker and the devices hear about it.
        self.stored += len(replies)
        for ident, reply in replies.items():
            if reply.get("ok"):
                self._remember(ident, reply)
        for item, community, key, ident in waiting:
            self._ack(item)
            self._reply(community, key, replies[ident])

    def _press_loop(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    first = self.presses.get(timeout=0.2)
                except queue.Empty:
                    continue
                items = [first]
                while len(items) < self.batch:
                    try:
                        items.append(self.presses.get_nowait())
                    except queue.Empty:
                        break
                self._store_batch(items)
        finally:
            connection.close()

    def _beat_loop(self) -> None:
        next_report = 0.0
        try:
            while not self.stopping.wait(self.flush_s):
                with self.beats_lock:
                    beats, self.beats = self.beats, []
                if beats:
                    self._with_db_retry(lambda b=beats: services.heartbeat_flush([x for _, x in b]))
                    for item, _ in beats:
                        self._ack(item)
                if self.debug and time.monotonic() >= next_report:
                    log.warning("received %s stored %s queued %s generation %s", self.received, self.stored,
                                self.presses.qsize(), self.generation)
                    next_report = time.monotonic() + 2
                close_old_connections()
        finally:
            connection.close()

    def start(self) -> None:
        # The network thread must get the interpreter quickly to acknowledge and reply while a
        # database thread runs Python: switch threads every 0.5 ms instead of every 5 ms.
        sys.setswitchinterval(0.0005)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        # How many unacknowledged presses the broker may have in flight to us.
        props.ReceiveMaximum = 1000
        self.workers = [threading.Thread(target=self._press_loop, name=f"press-{i}", daemon=True)
                        for i in range(self.threads)]
        self.workers.append(threading.Thread(target=self._beat_loop, name="heartbeats", daemon=True))
        for t in self.workers:
            t.start()
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        for t in getattr(self, "workers", []):
            t.join(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    def run_forever(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.start()
        try:
            while not self.stopping.wait(0.5):
                pass
        finally:
            self.stop()
