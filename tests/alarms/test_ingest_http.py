"""The signed webhook: HMAC over id, timestamp and body, 5-minute window, 2xx only after commit."""

from __future__ import annotations

import json
import time

import pytest

from wuzhi.alarms import services
from wuzhi.alarms.ingest_http import signed_headers
from wuzhi.alarms.models import Alarm, Press

pytestmark = pytest.mark.django_db

URL = "/alarms/ingest/"


def post(client, body: dict, *, secret="device-secret", key="860000000000001", rid="r1", ts=None, tamper=None):
    raw = json.dumps(body).encode()
    headers = signed_headers(secret, key, rid, raw, ts)
    if tamper:
        headers.update(tamper)
    return client.post(URL, raw, content_type="application/json",
                       headers={k: v for k, v in headers.items()})


def test_signed_press_is_stored_then_answered(client, device):
    r = post(client, {"event": "press", "id": "p1"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["ok"] and body["results"][0]["alarm"] == Alarm.objects.get().pk
    again = post(client, {"event": "press", "id": "p1"}, rid="r2")
    assert again.json()["results"][0]["dup"] is True
    assert Press.objects.filter(via="http").count() == 1


def test_bad_signature_old_timestamp_and_missing_headers_refused(client, device):
    assert post(client, {"id": "p1"}, secret="wrong").status_code == 401
    assert post(client, {"id": "p1"}, ts=int(time.time()) - 301).status_code == 401
    assert post(client, {"id": "p1"}, ts=int(time.time()) + 301).status_code == 401
    assert client.post(URL, b"{}", content_type="application/json").status_code == 401
    # a signature over another body does not verify
    raw = json.dumps({"id": "p1"}).encode()
    headers = signed_headers("device-secret", device.key, "r1", raw)
    r = client.post(URL, json.dumps({"id": "p2"}), content_type="application/json", headers=headers)
    assert r.status_code == 401
    assert not Press.objects.exists()


def test_device_key_cannot_speak_for_another_device(client, device, tree):
    other = services.device_register(actor=None, key="860000000000002", area=tree.units[1], secret="s2")
    r = post(client, {"device": other.key, "event": "press", "id": "x"})
    assert r.status_code == 403


def test_vendor_batch_with_heartbeats(client, device, tree):
    vendor = services.vendor_create(actor=None, code="acme", name="某厂商", secret="vendor-secret")
    services.device_update(actor=None, device=device, version=device.version, vendor=vendor)
    body = {"events": [{"device": device.key, "event": "heartbeat", "battery": 12},
                       {"device": device.key, "event": "press", "id": "v1"}]}
    r = post(client, body, secret="vendor-secret", key="vendor:acme")
    assert r.status_code == 200, r.content
    device.refresh_from_db()
    assert device.battery == 12 and device.low_battery
    assert Alarm.objects.filter(kind="press").count() == 1
    assert Alarm.objects.filter(kind="low_battery").count() == 1


def test_get_not_allowed(client):
    assert client.get(URL).status_code == 405
