"""Server time of the 五治 dashboard and the report downloads on the 福兴 demo (Django test
client, no network).

    WUZHI_HOME=$(mktemp -d) .venv/bin/wuzhi demo --no-serve
    WUZHI_HOME=<same> .venv/bin/python bench/reports.py [--runs 30]

Prints median and p95 wall time per page in milliseconds, the median CPU time of the process
(the server time an idle machine would see) and the queries each ran. 冷 (cold) pages are
computed afresh, as right after any write; the others may come from the data-version cache,
which exists on SQLite only. On PostgreSQL set WUZHI_DATABASE_URL for both commands (and let
autovacuum, or an ANALYZE, give the planner its statistics after building the demo); there
every page is computed afresh and the CPU column leaves out the database server's share."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from wuzhi.core.models import Area  # noqa: E402
from wuzhi.reports import dataversion  # noqa: E402

CACHED_CURRENT = dataversion.current


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    User = get_user_model()
    year = timezone.localdate().year
    community = Area.objects.get(code="530626100012")
    grid = Area.objects.filter(parent=community).order_by("path").first()
    assert grid is not None
    cases = [
        ("shuji", "看板 社区 冷", f"/reports/?area={community.code}&year={year}", args.runs),
        ("shuji", "看板 社区", f"/reports/?area={community.code}&year={year}", args.runs),
        ("shuji", "看板 网格 冷", f"/reports/?area={grid.code}&year={year}", args.runs),
        ("shuji", "看板 网格", f"/reports/?area={grid.code}&year={year}", args.runs),
        ("county", "看板 县", "/reports/", max(3, args.runs // 3)),
        ("wgy1", "看板 网格员", "/reports/", args.runs),
        ("shuji", "工作总结 Word", f"/reports/report.docx?area={community.code}&year={year}", 3),
        ("shuji", "工作总结 PDF", f"/reports/report.pdf?area={community.code}&year={year}", 3),
        ("shuji", "统计报表 Excel", f"/reports/tables.xlsx?area={community.code}&year={year}", 3),
    ]
    # CPU ms: this process's CPU time (SQLite runs in-process), i.e. the server time without
    # waiting for a core on a busy machine.
    print(f"{connection.vendor}, {timezone.localdate().year}, {args.runs} runs")
    print(f"{'page':<18} {'user':<7} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8} {'queries':>8}")
    for username, label, url, runs in cases:
        # 冷 (cold): as right after any write, nothing cached (the data version is withheld).
        dataversion.current = (lambda using="default": None) if label.endswith("冷") else CACHED_CURRENT
        client = Client()
        client.force_login(User.objects.get(username=username))
        client.get(url)  # warm: templates, figure modules, fonts
        times, cpu = [], []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{label:<18} {username:<7} {statistics.median(times):>10.1f} {p95:>8.1f} {statistics.median(cpu):>8.1f}"
              f" {len(queries):>8}")


if __name__ == "__main__":
    main()
