"""The duty console, the responder page, devices and chains: scope, actions through the flow,
the feed after a cursor (constant queries), sensitive data (medical notes, phones)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wuzhi.alarms import escalation, services
from wuzhi.alarms.models import Alarm, AlarmEvent, AlarmState, Chain, Device, Notification, Press
from wuzhi.core.models import AccessLog

HX = {"HTTP_HX_REQUEST": "true"}


def press(device, **kw):
    return services.alarm_press(device=device, event_id=uuid.uuid4().hex, via=Press.Via.HTTP, **kw).alarm


@pytest.fixture
def far_device(tree, make_household, chain):
    """A caller in grid 2, which grid 1's worker must never see."""
    household = make_household(tree.dwellings[-1], [("李爷爷", {"birth": "19380101"})])
    return services.device_register(actor=None, key="860000000000099", resident=household.members.first(),
                                    medical_notes="糖尿病")


def feed(client, cursor, **params):
    response = client.get(reverse("alarms:feed"), {"cursor": cursor, **params})
    assert response.status_code == 200
    return response.json()


# ---- the console page ------------------------------------------------------------------------

def test_console_shows_the_person_room_medical_notes_and_masked_contacts(client, staff, device, elder):
    alarm = press(device)
    client.force_login(staff.duty)
    page = client.get(reverse("alarms:console")).content.decode()
    assert f'id="alarm-{alarm.pk}"' in page
    assert "王奶奶" in page and alarm.address in page and alarm.address.endswith("1单元101室")
    assert "高血压,服用氨氯地平" in page
    assert "139****5678" in page and "13912345678" not in page  # the son's phone, masked
    assert "确认接警" in page


def test_medical_notes_are_for_permitted_roles_only(client, staff, device):
    press(device)
    client.force_login(staff.head)  # 楼长: sees the alarm in the building, not yet notified
    page = client.get(reverse("alarms:console")).content.decode()
    assert "王奶奶" in page and "高血压" not in page and "健康信息仅" in page


def test_grid_worker_sees_only_alarms_of_their_grid(client, staff, device, far_device):
    near, far = press(device), press(far_device)
    client.force_login(staff.worker)
    page = client.get(reverse("alarms:console")).content.decode()
    assert f'id="alarm-{near.pk}"' in page and f'id="alarm-{far.pk}"' not in page
    assert {a["id"] for a in feed(client, 0)["alarms"]} == {near.pk}
    client.force_login(staff.outsider)
    assert {a["id"] for a in feed(client, 0)["alarms"]} == {far.pk}
    assert client.post(reverse("alarms:act", args=[near.pk]), {"action": "ack"}, **HX).status_code == 404


# ---- actions go through the flow ---------------------------------------------------------------

def test_acknowledge_then_illegal_actions_are_refused(client, staff, device):
    alarm = press(device)
    client.force_login(staff.duty)
    url = reverse("alarms:act", args=[alarm.pk])
    response = client.post(url, {"action": "ack"}, **HX)
    assert response.status_code == 200 and "已确认" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == staff.duty
    assert AlarmEvent.objects.filter(alarm=alarm, to_state=AlarmState.ACKNOWLEDGED, actor=staff.duty).exists()
    # Acknowledging twice is not an action the flow offers from 已确认.
    response = client.post(url, {"action": "ack"}, **HX)
    assert response.status_code == 409 and "不能执行" in response.content.decode()
    # Resolving needs a resolution, and a real emergency needs a note (the service says so).
    assert client.post(url, {"action": "resolve"}, **HX).status_code == 409
    response = client.post(url, {"action": "resolve", "resolution": "real"}, **HX)
    assert response.status_code == 409 and "处置情况" in response.content.decode()
    response = client.post(url, {"action": "resolve", "resolution": "real", "note": "摔倒,已送医",
                                 "version": Alarm.objects.get(pk=alarm.pk).version}, **HX)
    assert response.status_code == 200
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.RESOLVED and alarm.result_note == "摔倒,已送医"
    # Nothing is offered on a resolved alarm.
    for action in ("ack", "onsite", "depart", "resolve"):
        assert client.post(url, {"action": action, "resolution": "test"}, **HX).status_code == 409
    assert Alarm.objects.get(pk=alarm.pk).state == AlarmState.RESOLVED


def test_stale_version_is_refused_on_resolve(client, staff, device):
    alarm = press(device)
    old = Alarm.objects.get(pk=alarm.pk).version
    press(device)  # the elder presses again: the card the officer looks at is out of date
    client.force_login(staff.duty)
    response = client.post(reverse("alarms:act", args=[alarm.pk]),
                           {"action": "resolve", "resolution": "false_press", "version": old}, **HX)
    assert response.status_code == 409
    assert Alarm.objects.get(pk=alarm.pk).state != AlarmState.RESOLVED


def test_dispatch_sends_a_responder_who_then_works_it_on_the_phone(client, staff, device):
    alarm = press(device)
    client.force_login(staff.duty)
    response = client.post(reverse("alarms:act", args=[alarm.pk]),
                           {"action": "dispatch", "responder": str(staff.worker.pk)}, **HX)
    assert response.status_code == 200
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED
    # A dispatch row on the timeline, and an INFO notice to the responder that the acknowledgement
    # (which stops the chain's alerts) does not drop.
    sent = AlarmEvent.objects.get(alarm=alarm, kind=AlarmEvent.Kind.DISPATCH)
    assert sent.label == "派人前往" and "前往" in sent.note
    notice = Notification.objects.get(alarm=alarm, user=staff.worker, purpose=Notification.Purpose.INFO)
    assert notice.status == "pending" and "值班室派您前往" in notice.text

    client.force_login(staff.worker)
    page = client.get(reverse("alarms:responder")).content.decode()
    assert f'id="alarm-{alarm.pk}"' in page and "我已出发" in page
    url = reverse("alarms:act", args=[alarm.pk])
    assert client.post(url, {"action": "depart", "view": "responder"}, **HX).status_code == 200
    response = client.post(url, {"action": "onsite", "view": "responder"}, **HX)
    assert response.status_code == 200 and "已到达</button>" not in response.content.decode()  # button gone
    response = client.post(url, {"action": "resolve", "resolution": "real", "note": "老人头晕,已陪同就医",
                                 "view": "responder", "version": Alarm.objects.get(pk=alarm.pk).version}, **HX)
    assert response.status_code == 200
    labels = list(AlarmEvent.objects.filter(alarm=alarm).values_list("label", flat=True))
    assert labels[-3:] == ["我已出发", "已到达现场", "处置完毕"]


def test_responder_page_lists_alarms_the_chain_notified_me_of(client, staff, device):
    alarm = press(device)
    client.force_login(staff.doctor)
    assert f'id="alarm-{alarm.pk}"' not in client.get(reverse("alarms:responder")).content.decode()
    # Nobody acknowledged: steps 2 and 3 reach the grid worker, the 楼长, then the doctor.
    start = alarm.opened_at
    escalation.run_due(now=start + dt.timedelta(seconds=61))
    escalation.run_due(now=start + dt.timedelta(seconds=182))
    assert f'id="alarm-{alarm.pk}"' in client.get(reverse("alarms:responder")).content.decode()


# ---- contacts ---------------------------------------------------------------------------------

def test_contact_reveal_is_permitted_and_logged(client, staff, device):
    alarm = press(device)
    son = next(i for i, t in enumerate(alarm.chain_snapshot["steps"][0]["targets"]) if t["kind"] == "family")
    url = reverse("alarms:reveal", args=[alarm.pk, f"0.{son}"])
    client.force_login(staff.duty)
    response = client.post(url)
    assert response.status_code == 200 and "13912345678" in response.content.decode()
    log = AccessLog.objects.get(model="alarms.alarm", object_id=str(alarm.pk))
    assert log.actor == staff.duty and log.kind == AccessLog.Kind.REVEAL
    client.force_login(staff.head)
    assert client.post(url).status_code == 403
    client.force_login(staff.duty)
    assert client.post(reverse("alarms:reveal", args=[alarm.pk, "9.9"])).status_code == 404
    assert AccessLog.objects.filter(model="alarms.alarm").count() == 1


# ---- the feed ------------------------------------------------------------------------------------

def test_feed_returns_alarms_after_the_cursor_only(client, staff, device, far_device):
    client.force_login(staff.secretary)
    start = feed(client, 0)["cursor"]
    first = press(device)
    data = feed(client, start)
    assert [a["id"] for a in data["alarms"]] == [first.pk]
    assert data["alarms"][0]["state"] == "new" and data["alarms"][0]["open"] is True
    assert 'id="alarm-' in data["alarms"][0]["html"]
    cursor = data["cursor"]
    assert cursor > start and feed(client, cursor)["alarms"] == []
    services.acknowledge(actor=staff.duty, alarm=first)
    second = press(far_device)
    data = feed(client, cursor)
    assert [a["id"] for a in data["alarms"]] == [first.pk, second.pk]  # in commit order
    assert data["alarms"][0]["state"] == "acknowledged"


def test_feed_queries_do_not_grow_with_alarms(client, staff, tree, make_household, chain):
    devices = []
    for i, dwelling in enumerate(tree.dwellings[1:7]):
        household = make_household(dwelling, [(f"老人{i}", {"birth": "19400101"}), (f"子女{i}", {"phone": f"1391111000{i}"})])
        devices.append(services.device_register(actor=None, key=f"8600000000010{i:02d}",
                                                resident=household.members.order_by("id").first()))
    client.force_login(staff.duty)
    cursor = feed(client, 0)["cursor"]
    press(devices[0])
    with CaptureQueriesContext(connection) as one:
        data = feed(client, cursor)
    assert len(data["alarms"]) == 1
    cursor = data["cursor"]
    for d in devices[1:]:
        press(d)
    with CaptureQueriesContext(connection) as five:
        data = feed(client, cursor)
    assert len(data["alarms"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)
    with CaptureQueriesContext(connection) as page:
        client.get(reverse("alarms:console"))
    assert len(page.captured_queries) <= 20


def test_feed_is_json_and_never_cached(client, staff):
    client.force_login(staff.duty)
    response = client.get(reverse("alarms:feed"), {"cursor": "not-a-number"})
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["alarms"] == []


# ---- devices and chains ----------------------------------------------------------------------------

def test_device_list_is_scoped_and_flags_health(client, staff, device, far_device, django_assert_max_num_queries):
    services.device_health_change(device_id=device.pk, low_battery=True)
    client.force_login(staff.worker)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("alarms:devices")).content.decode()
    assert device.key in page and far_device.key not in page and "电量低" in page
    page = client.get(reverse("alarms:devices"), {"status": "low_battery"}).content.decode()
    assert device.key in page


def test_chain_is_edited_through_the_service(client, staff, chain, tree, device):
    client.force_login(staff.secretary)
    url = reverse("alarms:chain_edit", args=[chain.pk])
    assert client.get(url).status_code == 200
    data = {"name": "1网格夜间通知链", "onsite_seconds": 300, "repeat_seconds": 120, "is_default": "on",
            "version": chain.version, "s1_wait": 0, "s1_duty": "on", "s1_family": "on",
            "s2_wait": 30, "s2_roles": ["grid_worker", "police"], "s2_phones": "物业值班 13900001111"}
    response = client.post(url, data)
    assert response.status_code == 302
    chain.refresh_from_db()
    assert chain.name == "1网格夜间通知链" and chain.onsite_seconds == 300
    steps = list(chain.steps.prefetch_related("targets"))
    assert [s.wait_seconds for s in steps] == [0, 30]
    assert sorted(t.kind for t in steps[1].targets.all()) == ["phone", "role", "role"]
    # The stored phone is kept (shown masked) when the chain is saved again.
    page = client.get(url).content.decode()
    assert "139****1111" in page and "13900001111" not in page
    kept = str(next(t.pk for t in steps[1].targets.all() if t.kind == "phone"))
    data.update(version=chain.version, s2_phones="", s2_keep=[kept])
    assert client.post(url, data).status_code == 302
    assert Chain.objects.get(pk=chain.pk).steps.get(order=2).targets.filter(kind="phone").count() == 1
    # A concurrent edit (old version) is refused.
    data.pop("s2_keep")
    response = client.post(url, {**data, "s2_phones": "物业值班 13900001111", "version": 1})
    assert response.status_code == 400 and "已被其他人修改" in response.content.decode()


def test_device_gets_its_own_chain(client, staff, chain, tree, device):
    own = services.chain_create(actor=None, area=tree.grids[0], name="王奶奶专用", steps=[
        services.StepSpec(0, [services.TargetSpec("duty")])])
    client.force_login(staff.worker)
    url = reverse("alarms:device", args=[device.pk])
    response = client.post(url, {"chain": own.pk, "version": device.version, "medical_notes": "高血压"})
    assert response.status_code == 302
    assert Device.objects.get(pk=device.pk).chain == own
    assert "王奶奶专用" in client.get(url).content.decode()


def test_nav_shows_the_console_to_duty_and_secretary(client, staff):
    client.force_login(staff.duty)
    link = f'href="{reverse("alarms:console")}"'
    assert link in client.get(reverse("alarms:responder")).content.decode()
    client.force_login(staff.head)
    assert link not in client.get(reverse("alarms:responder")).content.decode()


def test_elapsed_is_ticking_from_the_commit_time(client, staff, device):
    alarm = press(device, now=timezone.now() - dt.timedelta(minutes=3))
    client.force_login(staff.duty)
    page = client.get(reverse("alarms:console")).content.decode()
    assert f'data-since="{alarm.opened_at.isoformat()}"' in page


def test_what_is_saved_stays_chinese_when_the_officer_reads_english(staff, device):
    from django.utils import translation

    alarm = press(device)
    with translation.override("en"):
        services.resolve(actor=staff.duty, alarm=alarm, resolution="false_press", note="老人按错了")
    last = AlarmEvent.objects.filter(alarm=alarm).order_by("at", "id").last()
    assert last.note == "误按:老人按错了"
