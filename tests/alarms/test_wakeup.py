"""Dispatch workers sleep until a transaction that wrote notification rows commits (PostgreSQL
LISTEN/NOTIFY): a committed press wakes them at once, a rolled-back one never does."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from wuzhi.alarms import outbox, services
from wuzhi.alarms.models import Press

pytestmark = pytest.mark.django_db(transaction=True)


class Listener(threading.Thread):
    """A worker's waiting, on its own database connection as in the worker process."""

    def __init__(self, timeout: float) -> None:
        super().__init__(daemon=True)
        self.timeout = timeout
        self.listening = threading.Event()
        self.woke: bool | None = None
        self.after = 0.0

    def run(self) -> None:
        try:
            waker = outbox.Waker()
            waker.wait(0.01)  # LISTEN on this thread's connection
            self.listening.set()
            began = time.monotonic()
            self.woke = waker.wait(self.timeout)
            self.after = time.monotonic() - began
        finally:
            connection.close()


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("唤醒通知用 PostgreSQL 的 LISTEN/NOTIFY;SQLite 上只有一个工作进程,按 --poll 间隔查看发件箱")


def test_a_committed_press_wakes_a_waiting_worker(postgres_only, device):
    listener = Listener(timeout=10)
    listener.start()
    assert listener.listening.wait(5)
    services.alarm_press(device=device, event_id="w1", via=Press.Via.MQTT)
    listener.join(15)
    assert listener.woke is True and listener.after < 2


def test_a_rolled_back_press_does_not(postgres_only, device):
    listener = Listener(timeout=1.0)
    listener.start()
    assert listener.listening.wait(5)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        services.alarm_press(device=device, event_id="w2", via=Press.Via.MQTT)
        raise Abort
    listener.join(5)
    assert listener.woke is False and listener.after >= 0.9
