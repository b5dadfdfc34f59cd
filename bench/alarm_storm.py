"""The earthquake storm: N devices press within T seconds while M devices heartbeat every 5 minutes.

Everything is real and on loopback: a private Mosquitto, PostgreSQL, the `alarm_consumer` and
`alarm_worker` commands as separate processes. The script builds a fresh database, runs the storm,
stops by itself and prints a Markdown table:

- press → committed and answered: from the device publishing the press to the device receiving
  its reply (the consumer replies only after the commit);
- press → first notification dispatched: from the publish to the moment the dispatch worker
  marked the alarm's first notification sent (wall clock, same machine);
- the MQTT publish → receive round trip through the same broker during the same run: the floor;
- lost (presses not stored or not answered) and duplicated (stored twice, or an alarm notified
  twice) must both be zero.

    .venv/bin/python bench/alarm_storm.py                # 10,000 presses in 100 s, 50,000 heartbeating
    .venv/bin/python bench/alarm_storm.py --quick        # a smoke run (the test suite runs this)

Needs PostgreSQL (--db, default postgres://postgres@127.0.0.1:5432/wuzhi_alarm_storm, dropped and
re-created) and the mosquitto program."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def backend_pids(dbname: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])
        return [row[0] for row in cur.fetchall()]


def recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(n_devices: int) -> tuple[list[tuple[str, str]], str]:
    """Areas, staff, a default chain per grid and `n_devices` callers (bulk inserted: the services
    would take minutes for 50,000; the press path under test is the real one)."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from wuzhi.alarms import services
    from wuzhi.alarms.models import Device, TargetKind
    from wuzhi.alarms.services import StepSpec, TargetSpec
    from wuzhi.core import crypto
    from wuzhi.core import services as cs
    from wuzhi.core.roles import Role

    county = cs.area_create(actor=None, parent=None, segment="530626", name="绥江县")
    town = cs.area_create(actor=None, parent=county, segment="100", name="中城镇")
    community = cs.area_create(actor=None, parent=town, segment="012", name="福兴社区")
    User = get_user_model()
    duty = User.objects.create(username="zhiban", first_name="值班员")
    cs.grant_role(actor=None, user=duty, role=Role.DUTY, area=community)
    units = []
    for g in range(1, 8):
        grid = cs.area_create(actor=None, parent=community, segment=f"{g:02d}", name=f"{g}网格")
        worker = User.objects.create(username=f"wgy{g}", first_name=f"网格员{g}")
        cs.grant_role(actor=None, user=worker, role=Role.GRID_WORKER, area=grid)
        services.chain_create(actor=None, area=grid, name=f"{g}网格默认通知链", is_default=True, steps=[
            StepSpec(0, [TargetSpec(TargetKind.FAMILY), TargetSpec(TargetKind.DUTY)]),
            StepSpec(60, [TargetSpec(TargetKind.ROLE, role=Role.GRID_WORKER)])])
        for b in range(1, 11):
            building = cs.area_create(actor=None, parent=grid, segment=f"{b:02d}", name=f"{b}栋")
            for u in range(1, 5):
                units.append(cs.area_create(actor=None, parent=building, segment=str(u), name=f"{u}单元"))
    secret = crypto.encrypt("bench-secret")
    now = timezone.now()
    rows = [Device(key=f"B{i:07d}", area=units[i % len(units)], area_path=units[i % len(units)].path,
                   community_code=community.code, secret_enc=secret, heartbeat_seconds=300, last_seen_at=now,
                   offline_at=now + dt.timedelta(seconds=900)) for i in range(n_devices)]
    Device.objects.bulk_create(rows, batch_size=5000)
    return [(community.code, r.key) for r in rows], community.code


def start_broker(workdir: Path) -> tuple[subprocess.Popen, int]:
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 0\nmax_inflight_messages 0\nlog_dest none\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 presses in 10 s, 2,000 heartbeating devices")
    parser.add_argument("--presses", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=100.0)
    parser.add_argument("--devices", type=int, default=50000, help="devices sending heartbeats every 5 minutes")
    parser.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/wuzhi_alarm_storm")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--threads", type=int, default=2, help="consumer database threads")
    parser.add_argument("--workers", type=int, default=2, help="dispatch worker processes (they share the outbox)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    if args.quick:
        args.presses, args.seconds, args.devices = 300, 10.0, 2000
    args.devices = max(args.devices, args.presses)
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        print("mosquitto not found", file=sys.stderr)
        return 2

    os.environ["WUZHI_DATABASE_URL"] = args.db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    workdir = Path(tempfile.mkdtemp(prefix="wuzhi-storm-"))
    os.environ.setdefault("WUZHI_HOME", str(workdir))
    recreate_database(args.db)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run([sys.executable, "-m", "wuzhi.cli", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from wuzhi.alarms.models import Alarm, Device, Notification, Press
    from wuzhi.alarms.simulate import MqttCallers

    env.update({"WUZHI_FIELD_KEYS": settings.FIELD_KEYS, "WUZHI_INDEX_KEY": settings.INDEX_KEY,
                "WUZHI_SECRET_KEY": settings.SECRET_KEY})
    t0 = time.monotonic()
    devices, community = setup(args.devices)
    setup_done = timezone.now()
    connection.close()
    print(f"setup: {len(devices)} devices in {time.monotonic() - t0:.0f} s", file=sys.stderr)

    broker, port = start_broker(workdir)
    prefix = f"storm{uuid.uuid4().hex[:6]}"
    env["WUZHI_MQTT_PREFIX"] = prefix
    logs = workdir / "processes.log"
    out = open(logs, "ab")  # noqa: SIM115
    consumer = subprocess.Popen([sys.executable, "-m", "wuzhi.cli", "alarm_consumer", "--host", "127.0.0.1",
                                 "--port", str(port), "--prefix", prefix, "--client-id", f"c-{prefix}",
                                 "--threads", str(args.threads)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    workers = [subprocess.Popen([sys.executable, "-m", "wuzhi.cli", "alarm_worker",
                                 "--batch", "100", "--health-every", "3600"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT) for _ in range(args.workers)]
    procs = [consumer, *workers, broker]
    try:
        sim = MqttCallers(port=port, prefix=prefix, retry_s=5.0).start()
        beats = MqttCallers(port=port, prefix=prefix).start()
        # The floor: publish → receive through the same broker, QoS 1, during the run.
        probe_times: dict[str, float] = {}
        floor: list[float] = []
        import paho.mqtt.client as mqtt

        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{prefix}", protocol=mqtt.MQTTv5)

        def on_probe(client, userdata, msg):  # noqa: ANN001
            sent = probe_times.pop(msg.payload.decode(), None)
            if sent is not None:
                floor.append((time.monotonic() - sent) * 1000)

        probe.on_message = on_probe
        probe.connect("127.0.0.1", port)
        probe.subscribe(f"{prefix}/probe", qos=1)
        probe.loop_start()

        # Warm up: the consumer and worker are up when one press is answered.
        warm_key = devices[-1][1]
        sim.press(community, warm_key)
        if not sim.wait(60):
            raise SystemExit("the consumer did not answer within 60 s; see " + str(logs))
        sim.sent.clear()

        # CPU used during the storm by each part (the machine has 2 cores; the rest of the run is
        # set-up): how much of the machine the storm needed, whatever else was running on it.
        pg_pids = backend_pids(args.db.rpartition("/")[2])
        parts = {"consumer": [consumer.pid], "dispatch workers": [w.pid for w in workers],
                 "PostgreSQL backends": pg_pids, "mosquitto": [broker.pid]}
        cpu_before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in parts.items()}
        self_before = time.process_time()
        rng = random.Random(2026)
        pressers = devices[: args.presses]
        press_at = sorted((rng.uniform(0, args.seconds), key) for _c, key in pressers)
        beat_every = 300.0 * (args.seconds / 100.0 if args.quick else 1.0)
        beat_rate = args.devices / beat_every  # heartbeats per second
        wall: dict[str, float] = {}
        start = time.monotonic()
        next_beat = 0
        beat_keys = [k for _c, k in devices]
        rng.shuffle(beat_keys)
        next_probe = 0.0
        i = 0
        while i < len(press_at) or time.monotonic() - start < args.seconds:
            now = time.monotonic() - start
            while i < len(press_at) and press_at[i][0] <= now:
                eid = sim.press(community, press_at[i][1])
                wall[eid] = time.time()
                i += 1
            due_beats = int(now * beat_rate)
            while next_beat < due_beats:
                beats.heartbeat(community, beat_keys[next_beat % len(beat_keys)], battery=80, qos=1)
                next_beat += 1
            if now >= next_probe:
                tag = uuid.uuid4().hex[:8]
                probe_times[tag] = time.monotonic()
                probe.publish(f"{prefix}/probe", tag, qos=1)
                next_probe = now + 0.2
            time.sleep(0.002)
        published = time.monotonic() - start
        answered_all = sim.wait(120)
        storm_wall = time.monotonic() - start
        cpu = {name: sum(cpu_seconds(p) for p in pids) - cpu_before[name] for name, pids in parts.items()}
        cpu["simulator (this script)"] = time.process_time() - self_before
        # first notifications: wait until every alarm has one dispatched (or give up after 60 s)
        deadline = time.monotonic() + 60
        ids = list(wall)
        while time.monotonic() < deadline:
            pending = Alarm.objects.filter(presses__event_id__in=ids, first_notified_at__isnull=True).count()
            if not pending:
                break
            time.sleep(0.5)
        time.sleep(1.0)  # heartbeats in flight
        connection.close()

        answered = [((s.answered_at or 0) - s.first_at) * 1000 for s in sim.sent.values() if s.answered_at]
        stored = dict(Press.objects.filter(event_id__in=ids).values_list("event_id", "alarm_id"))
        firsts = dict(Alarm.objects.filter(pk__in=set(stored.values())).values_list("pk", "first_notified_at"))
        notify = [(firsts[stored[e]].timestamp() - wall[e]) * 1000 for e in ids
                  if e in stored and firsts.get(stored[e])]
        lost = len(ids) - len(stored) + sum(1 for s in sim.sent.values() if s.answered_at is None)
        dup_presses = Press.objects.filter(event_id__in=ids).count() - len(stored)
        dup_alarms = len(ids) - len(set(stored.values()))
        console_rows = Notification.objects.filter(alarm_id__in=set(stored.values()), channel="console", step=0,
                                                   purpose="alert")
        dup_notify = console_rows.count() - console_rows.values("alarm_id").distinct().count()
        unsent = console_rows.exclude(status="sent").count()
        beats_seen = Device.objects.filter(last_seen_at__gt=setup_done).count()
        retries = sum(s.tries - 1 for s in sim.sent.values())
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for c in ("sim", "beats", "probe"):
            obj = locals().get(c)
            if obj is not None:
                with contextlib.suppress(Exception):  # best effort at shutdown
                    obj.stop() if hasattr(obj, "stop") else (obj.loop_stop(), obj.disconnect())
        connection.close()
        if not args.keep:
            drop_database(args.db)

    load = os.getloadavg()
    result = {
        "presses": len(ids), "seconds": round(published, 1), "heartbeat_devices": args.devices,
        "heartbeats_sent": next_beat, "devices_seen": beats_seen,
        "answered_p50": pct(answered, 50), "answered_p99": pct(answered, 99), "answered_max": max(answered or [0]),
        "notified_p50": pct(notify, 50), "notified_p99": pct(notify, 99), "notified_max": max(notify or [0]),
        "floor_p50": pct(floor, 50), "floor_p99": pct(floor, 99), "floor_max": max(floor or [0]),
        "lost": lost, "duplicated": dup_presses + dup_alarms + dup_notify, "unsent_first_notifications": unsent,
        "device_retries": retries, "load_average": [round(x, 1) for x in load], "cpus": os.cpu_count(),
        "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()}, "storm_seconds": round(storm_wall, 1),
    }
    print(f"\n### 孝心呼叫器 earthquake storm: {len(ids):,} presses in {args.seconds:.0f} s, "
          f"{args.devices:,} devices heartbeating every {beat_every:.0f} s "
          f"(1 consumer × {args.threads} threads, {args.workers} dispatch workers)\n")
    print("| measure | p50 (ms) | p99 (ms) | max (ms) | target p99 |")
    print("|---|---:|---:|---:|---:|")
    print(f"| MQTT publish → receive (floor) | {result['floor_p50']:.1f} | {result['floor_p99']:.1f} | "
          f"{result['floor_max']:.1f} | |")
    print(f"| press → committed and answered | {result['answered_p50']:.1f} | {result['answered_p99']:.1f} | "
          f"{result['answered_max']:.1f} | ≤ 50 |")
    print(f"| press → first notification dispatched | {result['notified_p50']:.1f} | {result['notified_p99']:.1f} | "
          f"{result['notified_max']:.1f} | ≤ 100 |")
    print(f"\nlost {lost}, duplicated {result['duplicated']}, first notifications not sent {unsent}; "
          f"{next_beat:,} heartbeats from {beats_seen:,} devices stored in batches; device retries {retries}; "
          f"load average during the run {result['load_average']} on {os.cpu_count()} CPUs.")
    used = sum(cpu.values())
    print(f"CPU used during the storm ({storm_wall:.0f} s): " + ", ".join(f"{k} {v:.1f} s" for k, v in cpu.items())
          + f"; {used / storm_wall / (os.cpu_count() or 1):.0%} of the machine, "
          f"{used / max(1, len(ids)) * 1000:.1f} ms per press all parts together.")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    ok = answered_all and lost == 0 and result["duplicated"] == 0 and unsent == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
