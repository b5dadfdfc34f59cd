"""The alarm engine on whatever database the suite runs (SQLite by default): presses, the chain
snapshot, the transactional outbox, escalation and the alarm's life."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from wuzhi.alarms import escalation, outbox, selectors, services
from wuzhi.alarms.models import (
    Alarm,
    AlarmEvent,
    AlarmState,
    Notification,
    NotifyStatus,
    Press,
    Resolution,
)
from wuzhi.core.errors import NotAllowed

pytestmark = pytest.mark.django_db


def press(device, event_id="e1", **kw):
    return services.alarm_press(device=device, event_id=event_id, via=Press.Via.MQTT, **kw)


def test_press_opens_alarm_with_timeline_snapshot_and_first_step_in_one_go(device, staff):
    result = press(device)
    alarm = result.alarm
    assert result.created and not result.duplicate
    assert alarm.state == AlarmState.NEW and alarm.person_name == "王奶奶"
    assert alarm.address.endswith("101室")
    # first timeline row
    assert list(alarm.events.values_list("label", "to_state")) == [("一键呼叫", "new")]
    # the chain was copied with its people resolved
    steps = alarm.chain_snapshot["steps"]
    assert [len(s["targets"]) for s in steps] == [2, 2, 3]
    assert {t["name"] for t in steps[0]["targets"]} == {"王小明", "值班室"}
    assert {t["name"] for t in steps[1]["targets"]} == {"王网格", "楼长甲"}
    # step 1's outbox rows exist already: SMS to the son, console to the duty station
    rows = list(alarm.notifications.order_by("channel"))
    assert [(n.channel, n.name, n.to_duty) for n in rows] == [("console", "值班室", True), ("sms", "王小明", False)]
    assert rows[1].phone_masked == "139****5678"
    assert alarm.next_step_at == alarm.opened_at + dt.timedelta(seconds=60)


def test_same_event_is_stored_once_and_further_presses_join(device):
    first = press(device, "e1")
    again = press(device, "e1")
    assert again.duplicate and again.alarm.pk == first.alarm.pk
    joined = press(device, "e2")
    assert not joined.created and joined.alarm.pk == first.alarm.pk
    alarm = Alarm.objects.get()
    assert alarm.press_count == 2
    assert Press.objects.count() == 2
    assert alarm.events.filter(kind=AlarmEvent.Kind.PRESS).count() == 1


def test_chain_edits_after_open_do_not_touch_a_running_alarm(device, chain, staff):
    alarm = press(device).alarm
    services.chain_update(actor=None, chain=chain, version=chain.version, name="改过的链", onsite_seconds=60,
                          repeat_seconds=60, steps=[services.StepSpec(0, [services.TargetSpec("duty")])])
    staff.worker.delete()
    now = alarm.next_step_at
    assert escalation.run_due(now=now) == 1
    step2 = Notification.objects.filter(alarm=alarm, step=1)
    assert {n.name for n in step2} == {"王网格", "楼长甲"}


def test_dispatch_marks_notifying_and_first_notified(device):
    alarm = press(device).alarm
    assert outbox.drain() == 2
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.NOTIFYING and alarm.first_notified_at is not None
    assert set(alarm.notifications.values_list("status", flat=True)) == {NotifyStatus.SENT}
    assert alarm.notifications.get(channel="sms").provider_id.startswith("log-")


def test_escalation_steps_then_repeats_until_acknowledged(device):
    alarm = press(device).alarm
    t0 = alarm.opened_at
    assert escalation.run_due(now=t0 + dt.timedelta(seconds=59)) == 0
    assert escalation.run_due(now=t0 + dt.timedelta(seconds=60)) == 1
    assert escalation.run_due(now=t0 + dt.timedelta(seconds=61)) == 0
    assert escalation.run_due(now=t0 + dt.timedelta(seconds=180)) == 1
    alarm.refresh_from_db()
    assert alarm.step_index == 3
    assert alarm.next_step_at == t0 + dt.timedelta(seconds=180 + 300)
    assert escalation.run_due(now=t0 + dt.timedelta(seconds=480)) == 1  # repeat of the last step
    assert alarm.events.filter(kind=AlarmEvent.Kind.ESCALATE).count() == 3


def test_acknowledge_stops_pending_and_stale_timer_does_nothing(device, staff):
    alarm = press(device).alarm
    timer = escalation.due(now=alarm.next_step_at)[0]
    services.acknowledge(actor=staff.duty, alarm=alarm)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == staff.duty
    assert set(alarm.notifications.values_list("status", flat=True)) == {NotifyStatus.CANCELLED}
    # the timer read before the acknowledgement is stale
    assert escalation.fire(timer, now=alarm.opened_at + dt.timedelta(hours=1)) is False
    assert alarm.notifications.count() == 2
    assert outbox.drain() == 0


def test_claimed_row_is_not_sent_after_acknowledgement(device, staff):
    alarm = press(device).alarm
    claimed = outbox.claim()
    assert claimed.delivered == 1 and len(claimed.ids) == 1  # the console row went out in the claim
    services.acknowledge(actor=staff.duty, alarm=alarm)
    assert outbox.deliver(claimed.ids[0]) == NotifyStatus.CANCELLED
    assert list(alarm.notifications.filter(status=NotifyStatus.SENT).values_list("channel", flat=True)) == ["console"]


def test_acknowledged_but_nobody_on_site_escalates_again(device, staff):
    alarm = press(device).alarm
    now = alarm.opened_at + dt.timedelta(seconds=5)
    services.acknowledge(actor=staff.duty, alarm=alarm, now=now)
    alarm.refresh_from_db()
    assert alarm.next_step_at == now + dt.timedelta(seconds=600)
    assert escalation.run_due(now=now + dt.timedelta(seconds=601)) == 1
    rows = alarm.notifications.filter(status=NotifyStatus.PENDING)
    assert {n.name for n in rows} >= {"值班室", "王网格"}
    assert alarm.events.filter(label="确认后无人到场,再次升级").exists()
    services.on_site(actor=staff.worker, alarm=alarm)
    assert escalation.run_due(now=now + dt.timedelta(hours=2)) == 0
    assert outbox.drain() == 0  # the re-escalation rows went stale when somebody arrived


def test_full_life_with_timeline(device, staff):
    alarm = press(device).alarm
    services.acknowledge(actor=staff.duty, alarm=alarm)
    services.depart(actor=staff.worker, alarm=alarm, note="5分钟到")
    services.on_site(actor=staff.worker, alarm=alarm)
    with pytest.raises(ValidationError):
        services.resolve(actor=staff.worker, alarm=alarm, resolution=Resolution.REAL)
    services.resolve(actor=staff.worker, alarm=alarm, resolution=Resolution.REAL, note="摔倒,已送医")
    alarm.refresh_from_db()
    labels = list(alarm.events.values_list("label", flat=True))
    assert labels == ["一键呼叫", "确认接警", "我已出发", "已到达现场", "处置完毕"]
    assert alarm.resolution == Resolution.REAL and alarm.next_step_at is None
    # a new press after resolution opens a new alarm
    assert press(device, "e9").created


def test_elder_cancel_resolves_and_still_tells_the_duty_station(device):
    alarm = press(device).alarm
    services.cancel(device=device, event_id="c1", via=Press.Via.MQTT)
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED and alarm.resolution == Resolution.CANCELLED
    assert outbox.drain() == 1
    sent = alarm.notifications.get(status=NotifyStatus.SENT)
    assert sent.to_duty and "取消" in sent.text


def test_outsider_cannot_handle_alarm(device, staff):
    alarm = press(device).alarm
    with pytest.raises(NotAllowed):
        services.acknowledge(actor=staff.outsider, alarm=alarm)


def test_notified_responder_from_elsewhere_may_act(device, staff, make_user):
    alarm = press(device).alarm
    stranger = make_user("helper", name="外来志愿者")
    Notification.objects.filter(alarm=alarm).update(user=stranger)
    services.acknowledge(actor=stranger, alarm=alarm)
    assert selectors.my_alarms(stranger).count() == 1


def test_alarms_since_follows_changes(device, staff):
    cursor = selectors.current_cursor()
    alarm = press(device).alarm
    rows, cursor2 = selectors.alarms_since(staff.duty, cursor)
    assert [a.pk for a in rows] == [alarm.pk] and cursor2 > cursor
    assert selectors.alarms_since(staff.duty, cursor2)[0] == []
    services.acknowledge(actor=staff.duty, alarm=alarm)
    rows, cursor3 = selectors.alarms_since(staff.duty, cursor2)
    assert [a.state for a in rows] == [AlarmState.ACKNOWLEDGED]
    assert selectors.alarms_since(staff.outsider, cursor)[0] == []


def test_heartbeats_batch_offline_once_and_back_online(device, staff, django_assert_max_num_queries):
    t0 = timezone.now()
    beats = [services.Beat(key=device.key, at=t0, battery=80)]
    with django_assert_max_num_queries(6):
        services.heartbeat_flush(beats)
    device.refresh_from_db()
    assert device.offline_at == t0 + dt.timedelta(seconds=900)
    assert services.health_check(now=t0 + dt.timedelta(seconds=899)) == 0
    assert services.health_check(now=t0 + dt.timedelta(seconds=901)) == 1
    assert services.health_check(now=t0 + dt.timedelta(seconds=2000)) == 0  # once per transition
    offline = Alarm.objects.get(kind="offline")
    assert offline.severity == "warning" and offline.state == AlarmState.NEW
    assert {n.name for n in offline.notifications.all()} == {"王网格"}
    services.heartbeat_flush([services.Beat(key=device.key, at=t0 + dt.timedelta(seconds=2100))])
    offline.refresh_from_db()
    assert offline.state == AlarmState.RESOLVED and offline.resolution == Resolution.RECOVERED


def test_low_battery_and_tamper_alarms(device):
    now = timezone.now()
    services.heartbeat_flush([services.Beat(key=device.key, at=now, battery=15)])
    services.heartbeat_flush([services.Beat(key=device.key, at=now + dt.timedelta(seconds=1), battery=25)])
    assert Alarm.objects.filter(kind="low_battery", state__in=["new"]).count() == 1  # hysteresis: still low
    services.heartbeat_flush([services.Beat(key=device.key, at=now + dt.timedelta(seconds=2), battery=90,
                                            tamper=True)])
    assert Alarm.objects.get(kind="low_battery").state == AlarmState.RESOLVED
    assert Alarm.objects.get(kind="tamper").state == AlarmState.NEW


class FlakySender:
    """Refuses the first `fail` calls (a provider timeout), then accepts; records every call."""

    calls: list[str] = []
    fail = 0

    def send(self, message):
        from wuzhi.core.sms import SmsError

        FlakySender.calls.append(message.key)
        if len(FlakySender.calls) <= FlakySender.fail:
            raise SmsError("网关超时")
        return f"ok-{message.key}"


@pytest.fixture
def flaky(settings):
    settings.WUZHI_SMS_SENDER = f"{__name__}.FlakySender"
    FlakySender.calls, FlakySender.fail = [], 0
    outbox.reset_channels()
    yield FlakySender
    outbox.reset_channels()


def test_sms_retries_with_backoff_same_key(device, flaky):
    flaky.fail = 1
    alarm = press(device).alarm
    outbox.drain()
    sms = alarm.notifications.get(channel="sms")
    assert sms.status == NotifyStatus.PENDING and sms.attempts == 1 and sms.last_error == "网关超时"
    assert sms.due_at > timezone.now() + dt.timedelta(seconds=3)
    outbox.dispatch_once(now=sms.due_at + dt.timedelta(seconds=1))
    sms.refresh_from_db()
    assert sms.status == NotifyStatus.SENT and flaky.calls == [sms.key, sms.key]


def test_sms_gives_up_after_max_attempts_and_tells_duty(device, flaky):
    flaky.fail = 100
    alarm = press(device).alarm
    now = timezone.now()
    for _ in range(outbox.MAX_ATTEMPTS + 1):
        outbox.dispatch_once(now=now)
        now += dt.timedelta(minutes=10)
    sms = alarm.notifications.get(channel="sms", purpose="alert")
    assert sms.status == NotifyStatus.FAILED and len(flaky.calls) == outbox.MAX_ATTEMPTS
    assert alarm.events.filter(label="通知发送失败").exists()
    assert alarm.notifications.filter(purpose="info", to_duty=True).exists()


def test_expired_lease_is_taken_again(device):
    alarm = press(device).alarm
    ids = outbox.claim().ids
    assert len(outbox.claim()) == 0  # leased
    later = timezone.now() + outbox.LEASE + dt.timedelta(seconds=1)
    assert outbox.claim(now=later).ids == ids  # the worker that held them died
    for pk in ids:
        outbox.deliver(pk)
    assert alarm.notifications.filter(status=NotifyStatus.SENT).count() == 2


def test_consumer_cache_gives_the_same_snapshot(device, monkeypatch, django_assert_max_num_queries):
    plain = services.chain_snapshot(device)
    monkeypatch.setattr(services, "SNAPSHOT_CACHE_SECONDS", 5.0)
    services._cache.clear()
    services._snapshot_cache.clear()
    cached = services.chain_snapshot(device)

    def clear(snapshot):  # phone ciphertexts differ by their random nonce: compare the numbers
        from wuzhi.core import crypto

        return [[{**t, "phone_enc": crypto.decrypt(t["phone_enc"])} for t in st["targets"]] for st in snapshot["steps"]]

    assert clear(cached) == clear(plain)
    with django_assert_max_num_queries(2):  # only the family lookup (and nothing else) per alarm
        assert clear(services.chain_snapshot(device)) == clear(plain)
    services._cache.clear()
    services._snapshot_cache.clear()


def test_batch_press_matches_the_single_path(device, tree, staff):
    other = services.device_register(actor=None, key="860000000000009", area=tree.units[0], secret="x")
    first = press(device, "a1")  # already open before the batch
    ins = [services.PressIn(device, "a1", "mqtt"), services.PressIn(device, "a2", "mqtt"),
           services.PressIn(other, "b1", "mqtt"), services.PressIn(other, "b2", "mqtt")]
    with services.alarm_txn():
        results = services.alarm_press_batch(ins)
    assert [r.duplicate for r in results] == [True, False, False, False]
    assert [r.created for r in results] == [False, False, True, False]
    assert results[1].alarm.pk == first.alarm.pk and results[3].alarm.pk == results[2].alarm.pk
    a, b = Alarm.objects.get(pk=first.alarm.pk), Alarm.objects.get(pk=results[2].alarm.pk)
    assert (a.press_count, b.press_count) == (2, 2)
    assert list(b.events.values_list("label", flat=True)) == ["一键呼叫", "再次按键(第2次)"]
    assert b.notifications.filter(step=0).count() == 1 and b.feed_seq > a.feed_seq > 0
    assert Press.objects.count() == 4


def test_batch_devices_come_with_person_and_address_in_one_query(device, django_assert_num_queries):
    from wuzhi.alarms import ingest

    with django_assert_num_queries(1):
        found = ingest.devices_by_keys({device.key, "no-such-device"})
        assert set(found) == {device.key}
        loaded = found[device.key]
        # what the press path reads, without another query
        assert loaded.resident.name == "王奶奶" and services._address(loaded) == services._address(device)
        assert (loaded.area_path, loaded.chain_id, loaded.community_code) == (device.area_path, device.chain_id,
                                                                               device.community_code)
    assert loaded.secret_enc == device.secret_enc  # any other field still loads (on access)


def test_a_batch_press_has_a_fixed_number_of_statements(device, tree, django_assert_max_num_queries):
    others = [services.device_register(actor=None, key=f"86000000000010{i}", area=tree.units[0], secret="x")
              for i in range(5)]
    services.SNAPSHOT_CACHE_SECONDS = 5.0
    try:
        with services.alarm_txn():
            services.alarm_press_batch([services.PressIn(others[0], "warm", "mqtt")])  # fills the caches
        # whatever the batch size: two reads, four inserts, the feed (2), the wake-up (PostgreSQL),
        # and here the savepoint pair of the test's own transaction
        with django_assert_max_num_queries(11), services.alarm_txn():
            results = services.alarm_press_batch([services.PressIn(d, "x", "mqtt") for d in others[1:]])
    finally:
        services.SNAPSHOT_CACHE_SECONDS = 0.0
        services._cache.clear()
        services._snapshot_cache.clear()
    assert all(r.created for r in results) and Notification.objects.filter(alarm__device__in=others[1:]).count() == 4


def test_a_claim_delivers_console_rows_when_due_in_one_transaction(device, staff, django_assert_max_num_queries):
    alarm = press(device).alarm
    console = alarm.notifications.get(channel="console")
    # not yet due (the datetime comparison must hold on SQLite's text timestamps too)
    assert len(outbox.claim(now=console.due_at - dt.timedelta(seconds=1))) == 0
    # rows, alarms, lease, sent, the alarm's step and its timeline row, the feed (2)
    with django_assert_max_num_queries(10):
        claimed = outbox.claim(now=console.due_at + dt.timedelta(seconds=1))
    console.refresh_from_db()
    alarm.refresh_from_db()
    assert claimed.delivered == 1 and console.status == NotifyStatus.SENT and console.attempts == 0  # no lease
    assert alarm.state == AlarmState.NOTIFYING and alarm.first_notified_at == console.sent_at
    assert alarm.events.filter(to_state=AlarmState.NOTIFYING, label="开始通知").count() == 1
    # the SMS row was leased to this worker
    assert [Notification.objects.get(pk=pk).status for pk in claimed.ids] == [NotifyStatus.SENDING]


def test_console_row_of_an_acknowledged_alarm_is_cancelled_not_sent(device, staff):
    alarm = press(device).alarm
    info = services._duty_info  # an INFO row is sent whatever the state
    with services.alarm_txn():
        info(Alarm.objects.get(pk=alarm.pk), "测试信息", tag="t")
    # the alarm moved on to a later epoch after its rows were decided (as when taken concurrently)
    Alarm.objects.filter(pk=alarm.pk).update(epoch=alarm.epoch + 1)
    assert outbox.claim().delivered == 2
    rows = dict(alarm.notifications.filter(channel="console").values_list("purpose", "status"))
    assert rows == {"alert": NotifyStatus.CANCELLED, "info": NotifyStatus.SENT}
