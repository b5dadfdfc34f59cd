"""Reliability of the alarm path with the real processes: Mosquitto, PostgreSQL, the MQTT consumer
and the dispatch worker as subprocesses on the test database, killed with SIGKILL mid-work.

These need PostgreSQL (several writers) and the mosquitto program; on SQLite they skip. The test
database is committed to (transaction=True) so the subprocesses see the rows."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from wuzhi.alarms import services
from wuzhi.alarms.models import Alarm, AlarmEvent, Device, Notification, Press, Resolution, TargetKind
from wuzhi.alarms.services import StepSpec, TargetSpec
from wuzhi.alarms.simulate import MqttCallers

from .support import (
    Broker,
    SmsStub,
    TcpProxy,
    end_other_sessions,
    kill9,
    require_postgres_and_mosquitto,
    start_command,
    subprocess_env,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_services():
    require_postgres_and_mosquitto()


@pytest.fixture
def procs():
    started: list = []
    yield started
    for p in started:
        kill9(p) if hasattr(p, "pid") else p.stop()
    end_other_sessions()


def make_devices(tree, n: int, *, steps: list[StepSpec] | None = None, repeat: int = 3600) -> list[Device]:
    grid = tree.grids[0]
    if steps:
        services.chain_create(actor=None, area=grid, name="测试通知链", is_default=True, steps=steps,
                              onsite_seconds=3600, repeat_seconds=repeat)
    units = [u for u in tree.units if u.path.startswith(grid.path)]
    return [services.device_register(actor=None, key=f"86{uuid.uuid4().int % 10**13:013d}", area=units[i % len(units)],
                                     secret=f"s{i}") for i in range(n)]


def consumer_args(broker: Broker, prefix: str) -> list[str]:
    return ["alarm_consumer", "--host", "127.0.0.1", "--port", str(broker.port), "--prefix", prefix,
            "--client-id", f"consumer-{prefix}", "--flush-ms", "200"]


def warm_up(sim: MqttCallers, device: Device, timeout: float = 30.0) -> None:
    """One press answered: the consumer is up and subscribed."""
    sim.press(device.community_code, device.key)
    assert sim.wait(timeout), "consumer did not answer the first press"


def assert_stored_once_and_answered(sim: MqttCallers) -> None:
    sent = dict(sim.sent)
    stored = dict(Press.objects.filter(event_id__in=list(sent)).values_list("event_id", "alarm_id"))
    assert Press.objects.filter(event_id__in=list(sent)).count() == len(sent) == len(stored)
    missing = [eid for eid, s in sent.items() if s.answered_at is None]
    assert not missing, f"{len(missing)} presses never answered"
    wrong = [eid for eid, s in sent.items() if not s.reply.get("ok") or s.reply.get("alarm") != stored[eid]]
    assert not wrong, f"replies that do not name the stored alarm: {wrong[:5]}"


def test_consumer_killed_mid_storm_every_press_stored_once_and_answered(tree, tmp_path, procs):
    """kill -9 the consumer in the middle of 1,000 presses and restart it."""
    broker = Broker(tmp_path).start()
    procs.append(broker)
    devices = make_devices(tree, 100)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = subprocess_env(WUZHI_MQTT_PREFIX=prefix)
    consumer = start_command(consumer_args(broker, prefix), env, tmp_path / "consumer.log")
    procs.append(consumer)
    sim = MqttCallers(port=broker.port, prefix=prefix, retry_s=2.0).start()
    procs.append(sim)
    warm_up(sim, devices[0])
    killed_at_answered = None
    for i in range(1000):
        d = devices[i % len(devices)]
        sim.press(d.community_code, d.key)
        if i == 400:
            kill9(consumer)
            killed_at_answered = sim.answered()
        if i == 700:
            consumer = start_command(consumer_args(broker, prefix), env, tmp_path / "consumer.log")
            procs.append(consumer)
        time.sleep(0.003)
    if not sim.wait(45):
        lost = sim.unanswered()
        stored = Press.objects.filter(event_id__in=lost).count()
        tries = sorted({sim.sent[e].tries for e in lost})
        pytest.fail(f"{len(lost)} presses unanswered ({stored} of them stored; tries {tries}; replies {sim.replies})")
    assert killed_at_answered is not None and killed_at_answered < 1001  # it really died mid-storm
    assert_stored_once_and_answered(sim)
    assert Press.objects.count() == 1001
    # one open alarm per device; the other presses joined it
    assert Alarm.objects.filter(kind="press").count() == len(devices)
    assert sum(Alarm.objects.values_list("press_count", flat=True)) == 1001


def test_worker_killed_mid_batch_nothing_lost_nothing_sent_twice(tree, tmp_path, procs):
    """kill -9 a dispatch worker while it waits on the SMS provider; two workers take over."""
    devices = make_devices(tree, 60, steps=[StepSpec(0, [TargetSpec(TargetKind.DUTY),
                                                         TargetSpec(TargetKind.PHONE, name="家属", phone="13912340000")])])
    for i, d in enumerate(devices):
        services.alarm_press(device=d, event_id=f"e{i}", via=Press.Via.HTTP)
    rows = Notification.objects.count()
    assert rows == 120
    stub = SmsStub(delay=0.005)
    stub.hold_at = 25
    env = subprocess_env(WUZHI_SMS_SENDER="wuzhi.alarms.gateway.HttpGatewaySender", WUZHI_SMS_GATEWAY_URL=stub.url,
                         WUZHI_ALARM_LEASE_SECONDS="2")
    worker = start_command(["alarm_worker", "--batch", "20", "--interval", "0.02"], env, tmp_path / "w1.log")
    procs.append(worker)
    try:
        assert stub.held.wait(30), "the worker never reached the SMS gateway"
        kill9(worker)  # the 25th SMS reached the provider; its worker died before recording it
        held_key = stub.requests[24]
        stub.release.set()
        sending = Notification.objects.filter(status="sending").count()
        assert sending >= 1  # claimed rows of the dead worker, leased
        for n in (2, 3):
            procs.append(start_command(["alarm_worker", "--batch", "20", "--interval", "0.02"], env,
                                       tmp_path / f"w{n}.log"))
        done = wait_until(lambda: not Notification.objects.exclude(status="sent").exists(), 40)
        if not done:
            from collections import Counter

            states = Counter(Notification.objects.values_list("status", "attempts"))
            repeats = Counter(Counter(stub.requests).values())
            pytest.fail(f"not all sent: {dict(states)}; {len(stub.requests)} gateway requests, "
                        f"repeat histogram {dict(repeats)}")
    finally:
        stub.close()
    sms_keys = set(Notification.objects.filter(channel="sms").values_list("key", flat=True))
    # nothing lost: every SMS reached the gateway and every row is marked sent
    assert set(stub.delivered) == sms_keys
    assert Notification.objects.filter(status="sent").count() == rows
    # nothing sent twice: the only repeated request is the one in flight when the worker died,
    # repeated with the same idempotency key, so the gateway delivered it once
    repeats = [k for k in set(stub.requests) if stub.requests.count(k) > 1]
    assert repeats == [held_key]
    assert stub.requests.count(held_key) == 2 and len(stub.delivered) == len(sms_keys)


def test_broker_restart_and_database_outage(tree, tmp_path, procs):
    """Presses are not answered until stored; after the broker restarts and the database comes
    back every press is stored once and answered."""
    broker = Broker(tmp_path).start()
    procs.append(broker)
    proxy = TcpProxy(int(connection.settings_dict.get("PORT") or 5432))
    proxy.restore()
    devices = make_devices(tree, 40)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = subprocess_env(db_port=proxy.port, WUZHI_MQTT_PREFIX=prefix)
    procs.append(start_command(consumer_args(broker, prefix), env, tmp_path / "consumer.log"))
    sim = MqttCallers(port=broker.port, prefix=prefix, retry_s=1.0).start()
    procs.append(sim)
    warm_up(sim, devices[0])
    for d in devices[:20]:
        sim.press(d.community_code, d.key)
    assert sim.wait(20)

    # 1. the broker dies (SIGKILL) and comes back on the same port
    broker.kill()
    during = [sim.press(d.community_code, d.key) for d in devices[20:]]
    time.sleep(1.0)
    broker = Broker(tmp_path, port=broker.port).start()
    procs.append(broker)
    assert sim.wait(30), f"{len(sim.unanswered())} unanswered after the broker restart"
    assert Press.objects.filter(event_id__in=during).count() == len(during)

    # 2. the database goes away for 3 seconds
    proxy.cut()
    outage = [sim.press(d.community_code, d.key, event="press") for d in devices[:30]]
    time.sleep(3.0)
    assert sim.unanswered() == outage or set(sim.unanswered()) == set(outage)
    assert not Press.objects.filter(event_id__in=outage).exists()  # nothing stored, nothing answered
    restored_at = time.monotonic()
    proxy.restore()
    assert sim.wait(30), f"{len(sim.unanswered())} unanswered after the database came back"
    assert all(sim.sent[eid].answered_at > restored_at for eid in outage)
    assert_stored_once_and_answered(sim)
    proxy.cut()


def test_acknowledged_or_resolved_alarm_never_notifies_again(tree, tmp_path, procs):
    """With a worker escalating every second, alarms are acknowledged or resolved at random
    moments: after that moment no notification of theirs is sent and no step fires."""
    steps = [StepSpec(0, [TargetSpec(TargetKind.DUTY), TargetSpec(TargetKind.PHONE, name="家属", phone="13912340001")]),
             StepSpec(1, [TargetSpec(TargetKind.PHONE, name="网格员", phone="13912340002")]),
             StepSpec(1, [TargetSpec(TargetKind.PHONE, name="民警", phone="13912340003")])]
    devices = make_devices(tree, 40, steps=steps, repeat=1)
    stub = SmsStub()
    env = subprocess_env(WUZHI_SMS_SENDER="wuzhi.alarms.gateway.HttpGatewaySender", WUZHI_SMS_GATEWAY_URL=stub.url)
    procs.append(start_command(["alarm_worker", "--interval", "0.02"], env, tmp_path / "w.log"))
    alarms = [services.alarm_press(device=d, event_id=f"e{i}", via=Press.Via.MQTT).alarm for i, d in enumerate(devices)]
    rng = random.Random(7)
    rng.shuffle(alarms)
    try:
        for i, alarm in enumerate(alarms):
            time.sleep(rng.uniform(0.0, 0.15))
            if i % 2:
                services.acknowledge(actor=None, alarm=alarm)
            else:
                services.resolve(actor=None, alarm=alarm, resolution=Resolution.TEST)
        time.sleep(3.0)  # stale timers and leftover rows get every chance to misfire
    finally:
        stub.close()
    sent_keys = set(stub.requests)
    escalated = 0
    for alarm in Alarm.objects.filter(pk__in=[a.pk for a in alarms]):
        stop = alarm.acknowledged_at or alarm.resolved_at
        assert stop is not None
        late = alarm.notifications.filter(purpose="alert", status="sent", sent_at__gt=stop)
        assert not late.exists(), f"alarm {alarm.pk} notified after it was taken"
        assert not alarm.notifications.filter(purpose="alert", created_at__gt=stop).exists()
        assert not alarm.events.filter(kind=AlarmEvent.Kind.ESCALATE, at__gt=stop).exists()
        cancelled = set(alarm.notifications.filter(status="cancelled").values_list("key", flat=True))
        assert not (cancelled & sent_keys), "a cancelled notification reached the provider"
        escalated += alarm.events.filter(kind=AlarmEvent.Kind.ESCALATE).count()
        assert alarm.next_step_at is None or alarm.state == "acknowledged"
    assert escalated > 0  # the worker really escalated some before they were taken
    # and a timer read before the change does nothing now
    from wuzhi.alarms import escalation

    a = alarms[0]
    a.refresh_from_db()
    assert escalation.fire(escalation.Timer(a.pk, a.epoch - 1, a.step_index), now=timezone.now()
                           + dt.timedelta(hours=1)) is False
