"""Real processes for the reliability tests: a private Mosquitto with a persistence file on its own
loopback port, the consumer and worker as subprocesses on the pytest-django test database, a TCP
proxy in front of PostgreSQL that the test can cut, and an SMS gateway stub that records every
request with its idempotency key."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def require_postgres_and_mosquitto() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("可靠性测试需要 PostgreSQL(设置 WUZHI_DATABASE_URL=postgres://…);SQLite 只允许一个写入者")
    if MOSQUITTO is None:
        pytest.skip("可靠性测试需要 mosquitto 程序(Debian: apt install mosquitto)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Broker:
    """A private Mosquitto: unlimited queues for offline persistent sessions, persistence on disk."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nautosave_interval 1\nmax_queued_messages 0\n"
            "max_inflight_messages 0\nlog_dest none\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        assert MOSQUITTO
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


def subprocess_env(db_port: int | None = None, **extra: str) -> dict[str, str]:
    """The environment of a consumer/worker subprocess: the test database (optionally reached
    through the proxy) and the same encryption keys as the test process."""
    db = connection.settings_dict
    port = db_port or db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = dict(os.environ)
    env.update({
        "WUZHI_DATABASE_URL": f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{port}/{db['NAME']}",
        "WUZHI_FIELD_KEYS": settings.FIELD_KEYS, "WUZHI_INDEX_KEY": settings.INDEX_KEY,
        "WUZHI_SECRET_KEY": settings.SECRET_KEY, "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def start_command(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 (the child owns it)
    return subprocess.Popen([sys.executable, "-m", "wuzhi.cli", *args], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT)


def kill9(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def terminate(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill9(proc)


class TcpProxy:
    """127.0.0.1:<port> → PostgreSQL. `cut()` drops every connection and refuses new ones, as a
    database that went away; `restore()` brings it back."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.up = threading.Event()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.thread: threading.Thread | None = None

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def _serve(self, listener: socket.socket) -> None:
        while self.up.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                break
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                if not self.up.is_set():  # cut while this one was being accepted
                    client.close()
                    upstream.close()
                    continue
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        self.up.set()
        self.thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self.thread.start()

    def cut(self) -> None:
        with self.lock:
            self.up.clear()
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.conns.clear()


class SmsStub:
    """An SMS gateway that honours idempotency keys: it records every request, delivers each key
    once, and can hold the n-th request until released (to kill a worker mid-send)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[str] = []
        self.delivered: dict[str, int] = {}
        self.lock = threading.Lock()
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key") or body["key"]
                with stub.lock:
                    stub.requests.append(key)
                    n = len(stub.requests)
                    first = key not in stub.delivered
                    if first:
                        stub.delivered[key] = n
                if stub.hold_at is not None and n == stub.hold_at:
                    stub.held.set()
                    stub.release.wait(30)
                if delay:
                    time.sleep(delay)
                answer = json.dumps({"id": f"m{stub.delivered[key]}", "duplicate": not first}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def end_other_sessions() -> None:
    """Subprocess connections left behind (a killed process behind the proxy) would block the
    test database's flush: end them."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
