"""Search at 5 million: the resident list's search box on the generated city, as a grid worker,
a community secretary and a city-level user (county cadre in all 11 counties), on PostgreSQL.

    .venv/bin/python bench/search_city.py [--db wuzhi_city] [--runs 60]

Needs the city: `WUZHI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuzhi_city wuzhi migrate`
then `… wuzhi gen-city --residents 5000000` (about half an hour on 2 cores). Adds three users
(bench_grid, bench_secretary, bench_city) if they are missing; changes nothing else.

For each user and each kind of lookup (full name, pinyin initials, ID tail, full phone number)
it draws --runs people from the user's scope with a fixed seed, types what would find them
into the search box of the resident list (the htmx request of the live search, through the
Django test client: URL resolution, middleware, scope, query, template) and reports the p50
and p95 server time in milliseconds, plus the p95 of the SQL alone. Every search is checked
to find the person it was drawn from. Stops by itself (--runs per cell, first run of each cell
not counted)."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(db: str) -> None:
    os.environ["WUZHI_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    import django

    django.setup()


def users() -> dict[str, tuple[Any, str]]:
    """name → (user, the area path of their scope, '' for the whole city)."""
    from django.contrib.auth import get_user_model

    from wuzhi.core.models import Area, Grant
    from wuzhi.core.roles import Role

    User = get_user_model()
    county = Area.objects.filter(kind="county").order_by("path")[7]  # 镇雄, the biggest county
    community = Area.objects.filter(kind="community", path__startswith=county.path).order_by("path").first()
    assert community is not None
    grid = Area.objects.filter(kind="grid", path__startswith=community.path).order_by("path").first()
    assert grid is not None
    plan = {
        "grid_worker": ("bench_grid", Role.GRID_WORKER, [grid], grid.path),
        "secretary": ("bench_secretary", Role.SECRETARY, [community], community.path),
        "city": ("bench_city", Role.COUNTY_CADRE, list(Area.objects.filter(kind="county")), ""),
    }
    out = {}
    for label, (username, role, areas, scope) in plan.items():
        user, _ = User.objects.get_or_create(username=username, defaults={"first_name": label})
        for area in areas:
            Grant.objects.get_or_create(user=user, role=role, area=area)
        out[label] = (user, scope)
    return out


def sample_people(scope: str, n: int, rng: random.Random) -> list[Any]:
    """`n` people living in `scope`, drawn without reading the whole scope."""
    from wuzhi.registry.models import Resident

    qs = Resident.objects.filter(status="在住")
    if scope:
        ids = list(qs.filter(area_path__startswith=scope).values_list("pk", flat=True)[:20000])
        return list(Resident.objects.filter(pk__in=rng.sample(ids, min(n, len(ids)))))
    top = Resident.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    found: list[Any] = []
    while len(found) < n:
        found += list(qs.filter(pk__in=[rng.randrange(1, top + 1) for _ in range(n)]))
    return found[:n]


def prewarm() -> list[str]:
    """Read the registry's tables and indexes once (pg_prewarm, mode 'read': into the operating
    system's page cache), as on a server that has run a while with the database in its RAM;
    without it the first searches measure the disk. Returns what was read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND "
                       "(c.relname LIKE 'registry\\_%' OR c.relname LIKE 'resident\\_%')")
        names = [name for (name,) in cursor.fetchall()]
        for name in names:
            cursor.execute("SELECT pg_prewarm(%s::regclass, 'read')", [f'"{name}"'])
    return names


def lookups(person: Any) -> dict[str, str]:
    from wuzhi.core import crypto

    return {"name": person.name, "initials": person.name_initials, "id_tail": person.id_tail,
            "phone": crypto.decrypt(person.phone_enc) if person.phone_enc else ""}


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="wuzhi_city")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--no-prewarm", action="store_true", help="measure with what happens to be cached")
    args = parser.parse_args()
    setup(args.db)
    if not args.no_prewarm:
        prewarm()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from wuzhi.registry.models import Resident

    rng = random.Random(args.seed)
    results: dict[str, Any] = {"residents": Resident.objects.count(), "runs": args.runs}
    for label, (user, scope) in users().items():
        people = sample_people(scope, args.runs + 1, rng)
        client = Client()
        client.force_login(user)
        cell: dict[str, Any] = {}
        for kind in ("name", "initials", "id_tail", "phone"):
            times: list[float] = []
            sql: list[float] = []
            misses = 0
            for i, person in enumerate(people):
                query = lookups(person)[kind]
                if not query:
                    continue
                with CaptureQueriesContext(connection) as ctx:
                    started = time.perf_counter()
                    response = client.get("/registry/residents/", {"q": query},
                                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
                    elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.status_code
                # The page shows the first 30 by household; a common name may list the person later.
                if f"/registry/residents/{person.pk}/" not in response.content.decode() and kind in ("id_tail", "phone"):
                    misses += 1
                if i == 0:
                    continue  # the first request of a cell warms caches and connections
                times.append(elapsed * 1000)
                sql.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
            cell[kind] = {"n": len(times), "p50_ms": round(percentile(times, 50), 1),
                          "p95_ms": round(percentile(times, 95), 1), "sql_p95_ms": round(percentile(sql, 95), 1),
                          "queries": len(ctx.captured_queries), "not_on_first_page": misses}
        results[label] = cell
    worst = max(v["p95_ms"] for k, cell in results.items() if isinstance(cell, dict) for v in cell.values())
    results["worst_p95_ms"] = worst
    results["goal_p95_ms"] = 20
    print(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
