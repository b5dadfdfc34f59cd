"""Simulated callers for the demo, the tests and the benchmark.

`MqttCallers` behaves like the devices: it publishes a press (QoS 1) with a fresh event id and
keeps publishing the same press every `retry_s` until the reply for that event id arrives, exactly
as a caller that "retries until it gets one". One MQTT connection carries many simulated devices
(like a gateway); replies come on the devices' reply topics. `HttpCallers` signs webhook calls."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from . import ingest
from .ingest_http import signed_headers


@dataclass
class Sent:
    community: str
    key: str
    event: str
    first_at: float
    last_at: float
    tries: int = 1
    answered_at: float | None = None
    reply: dict[str, Any] = field(default_factory=dict)


class MqttCallers:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 1883, prefix: str | None = None,
                 client_id: str | None = None, retry_s: float = 3.0) -> None:
        self.prefix = (prefix or ingest.topic_prefix()).strip("/")
        self.retry_s = retry_s
        self.sent: dict[str, Sent] = {}
        self.replies = 0
        self.waiting = 0  # presses not yet answered (counted, not scanned: a storm has thousands)
        self.lock = threading.Lock()
        self.all_answered = threading.Event()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"wuzhi-sim-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_socket_open = ingest.no_delay
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.host, self.port = host, port
        self._retrier = threading.Thread(target=self._retry_loop, daemon=True)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        client.subscribe(f"{self.prefix}/+/callers/+/reply", qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        with self.lock:
            self.replies += 1
            s = self.sent.get(str(body.get("id")))
            if s is not None and s.answered_at is None:
                s.answered_at, s.reply = now, body
                self.waiting -= 1
                if not self.waiting:
                    self.all_answered.set()

    def start(self, timeout: float = 10.0) -> MqttCallers:
        self.client.connect(self.host, self.port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(timeout):
            raise TimeoutError("模拟器连接 MQTT 失败")
        self._retrier.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _publish(self, s: Sent, event_id: str, extra: dict[str, Any] | None = None) -> None:
        payload = {"id": event_id, "ts": time.time(), **(extra or {})}
        self.client.publish(ingest.topic(s.community, s.key, s.event, self.prefix), json.dumps(payload), qos=1)

    def press(self, community: str, key: str, *, event: str = "press", event_id: str | None = None) -> str:
        event_id = event_id or uuid.uuid4().hex[:16]
        now = time.monotonic()
        s = Sent(community, key, event, now, now)
        with self.lock:
            self.sent[event_id] = s
            self.waiting += 1
            self.all_answered.clear()
        self._publish(s, event_id)
        return event_id

    def heartbeat(self, community: str, key: str, *, battery: int | None = None, qos: int = 0) -> None:
        payload: dict[str, Any] = {"id": uuid.uuid4().hex[:12], "ts": time.time()}
        if battery is not None:
            payload["battery"] = battery
        self.client.publish(ingest.topic(community, key, "heartbeat", self.prefix), json.dumps(payload), qos=qos)

    def _retry_loop(self) -> None:
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            with self.lock:
                # Back off like a device should (retry_s, 2×, 4× …, at most 4×): a storm of
                # retries must not bury the presses that are still waiting.
                due = [(eid, s) for eid, s in self.sent.items()
                       if s.answered_at is None and now - s.last_at >= self.retry_s * min(4, 2 ** (s.tries - 1))]
                for _eid, s in due:
                    s.last_at, s.tries = now, s.tries + 1
            if self.connected.is_set():
                for eid, s in due:
                    self._publish(s, eid)

    def wait(self, timeout: float) -> bool:
        return self.all_answered.wait(timeout) or not self.unanswered()

    def unanswered(self) -> list[str]:
        with self.lock:
            return [eid for eid, s in self.sent.items() if s.answered_at is None]

    def answered(self) -> int:
        with self.lock:
            return sum(1 for s in self.sent.values() if s.answered_at is not None)


class HttpCallers:
    """Signed webhook calls as a vendor cloud or a device with its own secret would send them."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.rstrip("/") + "/alarms/ingest/"

    def send(self, *, key: str, secret: str, body: dict[str, Any], request_id: str | None = None,
             timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode()
        headers = signed_headers(secret, key, request_id or uuid.uuid4().hex[:16], raw)
        request = urllib.request.Request(self.url, data=raw, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def press(self, *, key: str, secret: str, event: str = "press", event_id: str | None = None,
              retries: int = 5) -> tuple[int, dict[str, Any]]:
        """Press until a 2xx comes back (the device's rule), with the same event id each time."""
        event_id = event_id or uuid.uuid4().hex[:16]
        status, body = 0, dict[str, Any]()
        for attempt in range(retries):
            try:
                status, body = self.send(key=key, secret=secret, body={"event": event, "id": event_id, "ts": time.time()})
            except OSError:
                status = 0
            if 200 <= status < 300 or status in (400, 401, 403, 404):
                break
            time.sleep(min(2.0, 0.2 * 2 ** attempt))
        return status, body

    def heartbeat(self, *, key: str, secret: str, battery: int | None = None) -> int:
        body: dict[str, Any] = {"event": "heartbeat"}
        if battery is not None:
            body["battery"] = battery
        return self.send(key=key, secret=secret, body=body)[0]
