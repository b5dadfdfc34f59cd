"""The storm benchmark's smoke size runs and keeps its promises (nothing lost, nothing twice).
It needs PostgreSQL and mosquitto and creates its own database next to the test database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from .support import MOSQUITTO

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
@pytest.mark.django_db
def test_alarm_storm_quick():
    if connection.vendor != "postgresql":
        pytest.skip("基准测试需要 PostgreSQL(设置 WUZHI_DATABASE_URL=postgres://…)")
    if MOSQUITTO is None:
        pytest.skip("基准测试需要 mosquitto 程序")
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = (f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:"
           f"{db.get('PORT') or 5432}/{db['NAME']}_storm")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "alarm_storm.py"), "--quick", "--db", url],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "| press → committed and answered |" in done.stdout
    assert "lost 0, duplicated 0, first notifications not sent 0" in done.stdout
