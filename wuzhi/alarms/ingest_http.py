"""The signed webhook for vendor clouds and gateways.

POST /alarms/ingest/ with a JSON body {"device": key, "event": "press|cancel|heartbeat", "id": event id,
"ts": unix time, "battery": 0-100, "tamper": bool}, or {"events": [ ... ]} for a batch, and headers

    X-Wuzhi-Key        the device key, or "vendor:<code>" for a vendor cloud signing for its devices
    X-Wuzhi-Id         the request id
    X-Wuzhi-Timestamp  unix seconds
    X-Wuzhi-Signature  hex HMAC-SHA256(secret, id + "\\n" + timestamp + "\\n" + body)

The signature is compared in constant time (hmac.compare_digest) and the timestamp must lie within
5 minutes of the server clock. The answer is 2xx only after every event of the request was
committed; on a database failure it is 503 and the sender retries (presses dedupe on their id)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import ingest, services
from .models import Device, Press, Vendor

SKEW_SECONDS = 300
MAX_BODY = 256 * 1024


def signature(secret: str, request_id: str, timestamp: str, body: bytes) -> str:
    message = request_id.encode() + b"\n" + timestamp.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, key: str, request_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender attaches (used by the simulator and the tests)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Wuzhi-Key": key, "X-Wuzhi-Id": request_id, "X-Wuzhi-Timestamp": ts,
            "X-Wuzhi-Signature": signature(secret, request_id, ts, body)}


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
def receive(request: HttpRequest) -> JsonResponse:
    key = request.headers.get("X-Wuzhi-Key", "")
    request_id = request.headers.get("X-Wuzhi-Id", "")
    timestamp = request.headers.get("X-Wuzhi-Timestamp", "")
    given = request.headers.get("X-Wuzhi-Signature", "").removeprefix("sha256=")
    body = request.body
    if not (key and request_id and timestamp and given):
        return _refuse(401, "缺少签名头")
    if len(body) > MAX_BODY:
        return _refuse(413, "请求过大")
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return _refuse(401, "时间戳无效")
    if skew > SKEW_SECONDS:
        return _refuse(401, "时间戳超出允许的5分钟误差")
    try:
        vendor: Vendor | None = None
        device: Device | None = None
        if key.startswith("vendor:"):
            vendor = Vendor.objects.filter(code=key[7:], active=True).first()
            secret = vendor.secret if vendor else ""
        else:
            device = Device.objects.select_related("resident", "dwelling__unit").filter(key=key, active=True).first()
            secret = device.secret if device else ""
    except DatabaseError:
        return _refuse(503, "数据库暂不可用,请重试")
    # Compare even when the sender is unknown, so timing does not tell which keys exist.
    expected = signature(secret or "-", request_id, timestamp, body)
    if not hmac.compare_digest(expected, given) or not secret:
        return _refuse(401, "签名无效")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return _refuse(400, "请求体不是有效的 JSON")
    events: Any = data.get("events") if isinstance(data, dict) and "events" in data else [data]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return _refuse(400, "events 必须是对象列表")
    results: list[dict[str, Any]] = []
    beats: list[services.Beat] = []
    try:
        for event in events:
            dev_key = str(event.get("device") or (device.key if device else ""))
            kind = str(event.get("event") or "press")
            if kind not in ingest.EVENTS:
                return _refuse(400, f"未知事件类型:{kind}")
            target = device if device is not None and dev_key == device.key else None
            if target is None:
                if vendor is None:
                    return _refuse(403, "设备密钥只能提交本设备的事件")
                target = ingest.device_by_key(dev_key)
                if target.vendor_id != vendor.pk:
                    return _refuse(403, f"设备{dev_key}不属于该厂商")
            if kind == "heartbeat":
                beats.append(ingest.beat_of(target.key, event))
                results.append({"device": target.key, "ok": True})
                continue
            if "id" not in event and "event_id" not in event and len(events) == 1:
                event = {**event, "id": request_id}
            outcome = ingest.handle_press(key=target.key, event=kind, data=event, via=Press.Via.HTTP, device=target)
            results.append(outcome.reply())
        if beats:
            services.heartbeat_flush(beats)
    except ingest.IngestError as exc:
        return _refuse(404, str(exc))
    except DatabaseError:
        return _refuse(503, "数据库暂不可用,请重试")
    return JsonResponse({"ok": True, "results": results})
