"""Dashboards at city level: the city, county and town 五治 dashboards read the rollups
(wuzhi.reports.rollup) on the generated 5-million-resident city, on PostgreSQL.

    .venv/bin/python bench/rollup_city.py [--db wuzhi_city] [--runs 30] [--live 3]

Needs the city (`wuzhi gen-city --residents 5000000`, see bench/search_city.py) and the
reports migration (`wuzhi migrate reports`). Writes the rollup table (a full rebuild, then one
community's and one county's subtree) and adds the superuser bench_rollup_admin if missing;
changes nothing else.

Reports the rebuild times, then per level (the whole city, 镇雄 the largest county, its first
town) the p50 and p95 server time of the dashboard of the running year through the Django test
client (URL resolution, middleware, scope, rollup read, template), --runs requests after one
warm-up, with the p95 of the process's CPU time (what an idle machine would add to the SQL)
and the queries each ran; and, for the ratio, --live requests of the same page counted
live from rows (the path a community dashboard takes; 0 skips them). Stops by itself."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_P95_MS = 150


def setup(db: str) -> None:
    os.environ["WUZHI_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def timed(client: Any, url: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, cpu, sql = [], [], []
    queries = 0
    for i in range(runs + 1):
        with CaptureQueriesContext(connection) as ctx:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            spent = (time.process_time() - started_cpu) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i == 0:
            continue  # warms the connection and the template cache
        times.append(elapsed)
        cpu.append(spent)
        sql.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
        queries = len(ctx.captured_queries)
    return {"n": len(times), "p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
            "cpu_p95_ms": round(percentile(cpu, 95), 1), "sql_p95_ms": round(percentile(sql, 95), 1),
            "queries": queries,
            "rolled": "数据截至".encode() in response.content}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="wuzhi_city")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--live", type=int, default=3)
    args = parser.parse_args()
    setup(args.db)
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from wuzhi.core.models import Area
    from wuzhi.registry.models import Resident
    from wuzhi.reports import rollup
    from wuzhi.reports.models import Rollup

    county = Area.objects.filter(kind="county").order_by("path")[7]  # 镇雄, the biggest county
    town = Area.objects.filter(kind="town", path__startswith=county.path).order_by("path").first()
    community = Area.objects.filter(kind="community", path__startswith=town.path).order_by("path").first()
    assert town is not None and community is not None
    results: dict[str, Any] = {"residents": Resident.objects.count(), "runs": args.runs, "goal_p95_ms": GOAL_P95_MS}

    rebuild: dict[str, Any] = {}
    for label, area in (("city", None), ("county", county), ("community", community)):
        started = time.perf_counter()
        written = rollup.rebuild(area)
        rebuild[label] = {"seconds": round(time.perf_counter() - started, 2), "rows": written}
    rebuild["table_rows"] = Rollup.objects.count()
    results["rebuild"] = rebuild

    User = get_user_model()
    admin, _ = User.objects.get_or_create(username="bench_rollup_admin",
                                          defaults={"is_superuser": True, "is_staff": True})
    client = Client()
    client.force_login(admin)
    year = timezone.localdate().year
    pages = {"city": "city", "county": county.code, "town": town.code}
    dashboards: dict[str, Any] = {}
    for label, code in pages.items():
        url = f"/reports/?area={code}&year={year}"
        cell = timed(client, url, args.runs)
        if args.live:
            read = rollup.read
            rollup.read = lambda scope, children: None  # type: ignore[assignment]  # the live path
            try:
                live = timed(client, url, args.live)
            finally:
                rollup.read = read  # type: ignore[assignment]
            cell["live_p50_ms"] = live["p50_ms"]
            cell["live_queries"] = live["queries"]
            cell["speedup"] = round(live["p50_ms"] / cell["p50_ms"], 1)
        cell["pass"] = cell["rolled"] and cell["p95_ms"] <= GOAL_P95_MS
        dashboards[label] = cell
    results["dashboards"] = dashboards
    results["worst_p95_ms"] = max(c["p95_ms"] for c in dashboards.values())
    results["ratio_to_goal"] = round(results["worst_p95_ms"] / GOAL_P95_MS, 2)
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
