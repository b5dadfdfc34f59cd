"""A deployment of several processes on one PostgreSQL database: two gunicorn app processes on
two loopback ports, the alarm MQTT consumer, two alarm dispatch workers and a private Mosquitto,
all real subprocesses on the pytest-django test database (committed to, transaction=True).

A request may land on either app process, so nothing may live in one process's memory: a
session made by one is honoured by the other, a case reported on one is worked on the other,
and an alarm pressed over MQTT is stored once, notified once by one of the two workers and
acknowledged through the other app process, after which nobody is notified any more.

Needs PostgreSQL (several writers) and the mosquitto program; skips, saying why, without them."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from types import SimpleNamespace

import pytest
from alarms.support import (  # tests/ is on sys.path: tests/alarms and tests/scale are packages
    MOSQUITTO,
    ROOT,
    Broker,
    SmsStub,
    end_other_sessions,
    free_port,
    kill9,
    start_command,
    subprocess_env,
    wait_port,
    wait_until,
)
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone

from wuzhi.activities import services as act
from wuzhi.activities.models import TeamKind
from wuzhi.alarms import services as alarm_services
from wuzhi.alarms.models import Alarm, AlarmState, Notification, NotifyStatus, Press, TargetKind
from wuzhi.alarms.services import StepSpec, TargetSpec
from wuzhi.alarms.simulate import MqttCallers
from wuzhi.cases.models import Case, CaseKind, CaseState, Category
from wuzhi.core.roles import Role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "multi-process-pw-2026"
# The second step of the chain is due this long after the press; the test acknowledges well
# before, then waits past it to see that nothing more is sent.
STEP2_SECONDS = 8


class Browser:
    """A person at one browser: cookies kept across both app processes (cookies ignore the port,
    as in a real deployment behind one address), redirects not followed so they can be checked."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect())

    def cookie(self, name: str) -> str:
        return next((c.value or "" for c in self.jar if c.name == name), "")

    def get(self, url: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict[str, object]) -> tuple[int, str, str]:
        fields = {k: str(v) for k, v in data.items()}
        fields["csrfmiddlewaretoken"] = self.cookie("csrftoken")
        return self._open(urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(),
                                                 headers={"Referer": url}))

    def _open(self, req: urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers.get("Location", ""), r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")

    def login(self, base: str, username: str) -> None:
        self.get(base + "/login/")  # sets the CSRF cookie
        status, location, _ = self.post(base + "/login/", {"username": username, "password": PASSWORD})
        assert status == 302 and "login" not in location and self.cookie("sessionid"), (status, location)


def start_app(port: int, env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wuzhi.wsgi:application", "--chdir", str(ROOT), "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_app(proc: subprocess.Popen) -> None:
    """gunicorn's arbiter and its worker are one process group: end both, even if the arbiter
    already died and left its worker behind."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def cluster(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("多进程测试需要 PostgreSQL(设置 WUZHI_DATABASE_URL=postgres://…):SQLite 只允许一个写入者")
    if MOSQUITTO is None:
        pytest.skip("多进程测试需要 mosquitto 程序(Debian: apt install mosquitto)")
    apps: list[subprocess.Popen] = []
    logs = []
    commands: list[subprocess.Popen] = []
    broker = Broker(tmp_path)
    stub = SmsStub()
    try:
        broker.start()
        prefix = f"mp{uuid.uuid4().hex[:8]}"
        env = subprocess_env(WUZHI_MQTT_PREFIX=prefix, WUZHI_SMS_SENDER="wuzhi.alarms.gateway.HttpGatewaySender",
                             WUZHI_SMS_GATEWAY_URL=stub.url)
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            logs.append(open(tmp_path / f"app{i}.log", "ab"))  # noqa: SIM115 (closed below)
            apps.append(start_app(port, env, logs[-1]))
        commands.append(start_command(
            ["alarm_consumer", "--host", "127.0.0.1", "--port", str(broker.port), "--prefix", prefix,
             "--client-id", f"consumer-{prefix}", "--flush-ms", "200"], env, tmp_path / "consumer.log"))
        for i in (1, 2):
            commands.append(start_command(["alarm_worker", "--interval", "0.05"], env, tmp_path / f"worker{i}.log"))
        for port in ports:
            wait_port(port, timeout=30)
        yield SimpleNamespace(a=f"http://127.0.0.1:{ports[0]}", b=f"http://127.0.0.1:{ports[1]}", broker=broker,
                              prefix=prefix, stub=stub, apps=apps, commands=commands, logs=tmp_path)
    finally:
        for app in apps:
            stop_app(app)
        for proc in commands:
            kill9(proc)
        broker.stop()
        stub.close()
        for log in logs:
            log.close()
        end_other_sessions()


def staff(make_user, username: str, role: str | None = None, area=None, name: str = ""):
    """A user whose password the app processes can check: they run the production hashers, not
    the fast test hasher this process uses."""
    user = make_user(username, role, area, name=name or username)
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    return user


def log_tail(cluster, name: str) -> str:
    path = cluster.logs / name
    return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def test_case_flow_across_two_app_processes(cluster, tree, make_user):
    repairs = act.team_create(actor=None, area=tree.community, kind=TeamKind.PARTY_SERVICE, name="人居环境服务队")
    fixer = staff(make_user, "fixer", name="刘师傅")
    act.member_add(actor=None, team=repairs, user=fixer)
    staff(make_user, "secretary", Role.SECRETARY, tree.community, name="李书记")
    light = Category.objects.create(kind=CaseKind.REPORT, name="设施损坏", team=repairs, deadline_hours=48)
    unit = tree.units[0]

    # A resident scans the unit's QR code and reports on app process A (no login).
    resident = Browser()
    form_url = f"{cluster.a}/cases/p/u/{unit.code}/new/"
    assert resident.get(form_url)[0] == 200
    status, location, _ = resident.post(form_url, {"category": light.pk, "description": "2单元楼道灯坏了",
                                                   "reporter_phone": "13911112222"})
    assert status == 302, log_tail(cluster, "app0.log")
    case = Case.objects.get()
    assert location == f"/cases/p/c/{case.number}/" and case.channel == "qr"

    # The team member signs in on A; the session is honoured by B, where the case is worked.
    worker = Browser()
    worker.login(cluster.a, "fixer")
    status, _, page = worker.get(f"{cluster.b}/cases/{case.pk}/")
    assert status == 200 and case.number in page
    for to, note in ((CaseState.IN_PROGRESS, ""), (CaseState.RESOLVED, "已更换灯泡")):
        case.refresh_from_db()
        status, _, _ = worker.post(f"{cluster.b}/cases/{case.pk}/act/", {"to": to, "note": note,
                                                                          "version": case.version})
        assert status == 302
        case.refresh_from_db()
        assert case.state == to, log_tail(cluster, "app1.log")

    # The secretary (signed in on B) calls back and archives: the case is closed.
    secretary = Browser()
    secretary.login(cluster.b, "secretary")
    case.refresh_from_db()
    assert secretary.post(f"{cluster.b}/cases/{case.pk}/review/", {"satisfaction": "satisfied",
                                                                   "version": case.version})[0] == 302
    case.refresh_from_db()
    assert case.state == CaseState.REVIEWED
    assert secretary.post(f"{cluster.a}/cases/{case.pk}/act/", {"to": CaseState.ARCHIVED,
                                                                "version": case.version})[0] == 302
    case.refresh_from_db()
    assert case.state == CaseState.ARCHIVED

    # The timeline is complete: every step once, in order, by whom it was done.
    events = list(case.events.filter(kind="transition").values_list("to_state", "actor__username"))
    assert [to for to, _ in events][-4:] == [CaseState.IN_PROGRESS, CaseState.RESOLVED, CaseState.REVIEWED,
                                             CaseState.ARCHIVED]
    assert [who for _, who in events][-4:] == ["fixer", "fixer", "secretary", "secretary"]
    assert events[0][1] is None and case.events.first().actor_name == "居民"
    # The resident sees the outcome on A, on the page their report redirected to.
    status, _, page = resident.get(f"{cluster.a}/cases/p/c/{case.number}/")
    assert status == 200 and "已更换灯泡" in page


def test_alarm_across_consumer_two_workers_and_two_app_processes(cluster, tree, make_user):
    duty = staff(make_user, "zhiban", Role.DUTY, tree.community, name="值班员")
    make_user("worker1", Role.GRID_WORKER, tree.grids[0], name="王网格")
    alarm_services.chain_create(
        actor=None, area=tree.grids[0], name="1网格默认通知链", is_default=True, onsite_seconds=3600,
        repeat_seconds=3600,
        steps=[StepSpec(0, [TargetSpec(TargetKind.DUTY), TargetSpec(TargetKind.PHONE, name="家属", phone="13912340000")]),
               StepSpec(STEP2_SECONDS, [TargetSpec(TargetKind.ROLE, role=Role.GRID_WORKER)])])
    device = alarm_services.device_register(actor=None, key="860000000000777", area=tree.units[0], secret="s1")

    officer = Browser()
    officer.login(cluster.a, "zhiban")

    # The elder presses; the consumer stores it and answers the device.
    sim = MqttCallers(port=cluster.broker.port, prefix=cluster.prefix).start()
    try:
        event_id = sim.press(device.community_code, device.key)
        assert sim.wait(30), "no answer to the press: " + log_tail(cluster, "consumer.log")
        reply = sim.sent[event_id].reply
    finally:
        sim.stop()
    assert Press.objects.filter(event_id=event_id).count() == 1
    alarm = Alarm.objects.get()
    assert reply.get("ok") and reply.get("alarm") == alarm.pk

    # Step 1 (duty station on the console, the family by SMS) goes out once, by one of the workers.
    first = set(Notification.objects.filter(alarm=alarm).values_list("pk", flat=True))
    assert first, "the press made no notification"
    sent = wait_until(lambda: not Notification.objects.filter(alarm=alarm).exclude(status=NotifyStatus.SENT).exists(),
                      20)
    assert sent, (list(Notification.objects.values_list("channel", "status", "last_error")),
                  log_tail(cluster, "worker1.log"), log_tail(cluster, "worker2.log"))
    sms_keys = set(Notification.objects.filter(alarm=alarm, channel="sms").values_list("key", flat=True))
    assert sms_keys and set(cluster.stub.delivered) == sms_keys
    assert Counter(cluster.stub.requests) == Counter(dict.fromkeys(sms_keys, 1))

    # The duty officer (signed in on A before the press) acknowledges through B, before step 2 is due.
    status, _, _ = officer.post(f"{cluster.b}/alarms/{alarm.pk}/act/", {"action": "ack"})
    assert status == 302, log_tail(cluster, "app1.log")
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == duty
    step2_due = alarm.opened_at + dt.timedelta(seconds=STEP2_SECONDS)
    assert alarm.acknowledged_at < step2_due, "acknowledged too late to test that escalation stops"

    # Past the moment step 2 was due, nobody else was told and nothing was sent again.
    time.sleep(max(0.0, (step2_due - timezone.now()).total_seconds()) + 2.0)
    assert set(Notification.objects.filter(alarm=alarm).values_list("pk", flat=True)) == first
    assert not Notification.objects.filter(alarm=alarm, status__in=[NotifyStatus.PENDING, NotifyStatus.SENDING]).exists()
    assert Counter(cluster.stub.requests) == Counter(dict.fromkeys(sms_keys, 1))
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.step_index == 1
    # Every process is still up: nothing crashed along the way.
    assert all(p.poll() is None for p in [*cluster.apps, *cluster.commands])
    # The alarm's timeline: opened, notified, taken by the duty officer, each once.
    assert list(alarm.events.values_list("to_state", "actor__username")) == [
        (AlarmState.NEW, None), (AlarmState.NOTIFYING, None), (AlarmState.ACKNOWLEDGED, "zhiban")]

