"""What both ingest paths (MQTT, signed HTTP) share: the topic scheme, the event vocabulary,
device lookup and the call into the services. Each function returns only after the commit."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from wuzhi.core import fastsql

from . import services
from .models import Device, Press

EVENTS = ("press", "cancel", "heartbeat")


def topic_prefix() -> str:
    return os.environ.get("WUZHI_MQTT_PREFIX", "wuzhi").strip("/")


def topic(community: str, key: str, event: str, prefix: str | None = None) -> str:
    """<prefix>/<community code>/callers/<device key>/<press|cancel|heartbeat|reply>"""
    return f"{prefix or topic_prefix()}/{community}/callers/{key}/{event}"


def parse_topic(name: str, prefix: str | None = None) -> tuple[str, str, str] | None:
    """(community, key, event) of an event topic, None for anything else."""
    head = (prefix or topic_prefix()) + "/"
    if not name.startswith(head):
        return None
    parts = name[len(head):].split("/")
    if len(parts) != 4 or parts[1] != "callers" or parts[3] not in EVENTS:
        return None
    return parts[0], parts[2], parts[3]


def no_delay(client: Any, userdata: Any, sock: Any) -> None:
    """paho's on_socket_open: send every packet at once. With Nagle's algorithm a small reply
    waits for the acknowledgement of the previous one, which the peer delays up to 40 ms: in a
    storm that added 20-80 ms to every answer. (The broker needs `set_tcp_nodelay true` for the
    same reason on its side.)"""
    import socket

    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class IngestError(Exception):
    """A message that can never be stored (unknown device, malformed): answered as refused."""


def when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


# The consumer keeps devices it has seen for a short while (a storm presses each device several
# times); 0, the default, reads the device every time.
DEVICE_CACHE_SECONDS = 0.0
_devices: dict[str, tuple[float, Device]] = {}


def device_by_key(key: str) -> Device:
    if DEVICE_CACHE_SECONDS:
        hit = _devices.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    device = (Device.objects.select_related("resident", "dwelling__unit").filter(key=key, active=True).first())
    if device is None:
        raise IngestError(f"未登记或已停用的呼叫器:{key}")
    if DEVICE_CACHE_SECONDS:
        _devices[key] = (time.monotonic() + DEVICE_CACHE_SECONDS, device)
    return device


def devices_by_keys(keys: set[str]) -> dict[str, Device]:
    """Many devices in one query (the consumer's batch), with the resident's name and the dwelling
    and unit that the alarm's person and address come from.

    One hand-written query instead of a select_related queryset: compiling that queryset costs
    about 1 ms of CPU per batch, the largest single cost of a press in a storm, where nearly every
    press comes from a device not seen before. The devices come back with only the columns the
    press path reads (any other field is loaded on access, as Django does for deferred fields)."""
    found: dict[str, Device] = {}
    now = time.monotonic()
    if DEVICE_CACHE_SECONDS:
        for key in keys:
            hit = _devices.get(key)
            if hit is not None and hit[0] > now:
                found[key] = hit[1]
    missing = sorted(keys - set(found))
    if missing:
        for device in _load_devices(missing):
            found[device.key] = device
            if DEVICE_CACHE_SECONDS:
                _devices[device.key] = (now + DEVICE_CACHE_SECONDS, device)
    return found


_DEVICE_FIELDS = {"id", "key", "area_id", "area_path", "community_code", "chain_id", "resident_id", "dwelling_id",
                  "active"}


def _load_devices(keys: list[str]) -> list[Device]:
    from wuzhi.core.models import Area
    from wuzhi.registry.models import Dwelling, Resident

    parts = {"d": fastsql.columns(Device, _DEVICE_FIELDS), "r": fastsql.columns(Resident, {"id", "name"}),
             "w": fastsql.columns(Dwelling, {"id", "number", "unit_id"}),
             "u": fastsql.columns(Area, {"id", "name", "full_name"})}
    select = ", ".join(f"{alias}.{connection.ops.quote_name(c)}" for alias, cols in parts.items() for c in cols)
    sql = (f"SELECT {select} FROM {fastsql.table(Device)} d "
           f"LEFT JOIN {fastsql.table(Resident)} r ON r.id = d.resident_id "
           f"LEFT JOIN {fastsql.table(Dwelling)} w ON w.id = d.dwelling_id "
           f"LEFT JOIN {fastsql.table(Area)} u ON u.id = w.unit_id "
           f"WHERE d.{connection.ops.quote_name('key')} IN ({fastsql.marks(keys)}) AND d.active")
    with connection.cursor() as cur:
        cur.execute(sql, keys)
        rows = cur.fetchall()
    sizes = [len(cols) for cols in parts.values()]
    ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]
    devices = []
    for row in rows:
        [device] = fastsql.load(Device, parts["d"], [row[:ends[0]]])
        [resident] = fastsql.load(Resident, parts["r"], [row[ends[0]:ends[1]]])
        [dwelling] = fastsql.load(Dwelling, parts["w"], [row[ends[1]:ends[2]]])
        [unit] = fastsql.load(Area, parts["u"], [row[ends[2]:ends[3]]])
        if device.resident_id is not None:
            Device.resident.field.set_cached_value(device, resident)
        if device.dwelling_id is not None:
            Dwelling.unit.field.set_cached_value(dwelling, unit)
            Device.dwelling.field.set_cached_value(device, dwelling)
        devices.append(device)
    return devices


@dataclass
class Outcome:
    event_id: str
    alarm_id: int | None = None
    duplicate: bool = False
    created: bool = False

    def reply(self) -> dict[str, Any]:
        return {"id": self.event_id, "ok": True, "alarm": self.alarm_id, "dup": self.duplicate}


def handle_press(*, key: str, event: str, data: dict[str, Any], via: str,
                 device: Device | None = None, batch: bool = False) -> Outcome:
    """Store a press or a cancel. Raises IngestError for what must be refused; database errors
    propagate (the caller does not answer the device and tries again)."""
    event_id = str(data.get("id") or data.get("event_id") or "").strip()
    if not event_id:
        raise IngestError("缺少事件编号 id")
    device = device or device_by_key(key)
    kind = Press.Kind.CANCEL if event == "cancel" else Press.Kind.PRESS
    result = services.alarm_press(device=device, event_id=event_id, via=via, pressed_at=when(data.get("ts")),
                                  kind=kind, savepoint=not batch)
    return Outcome(event_id, result.alarm.pk if result.alarm else None, result.duplicate, result.created)


def beat_of(key: str, data: dict[str, Any]) -> services.Beat:
    battery = data.get("battery")
    try:
        battery = max(0, min(100, int(battery))) if battery is not None else None
    except (TypeError, ValueError):
        battery = None
    tamper = data.get("tamper")
    return services.Beat(key=key, at=timezone.now(), battery=battery,
                         tamper=bool(tamper) if tamper is not None else None)
