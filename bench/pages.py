"""Server time of the main pages on the 福兴 demo, through Django's test client (no network).

    WUZHI_HOME=$(mktemp -d) .venv/bin/wuzhi demo --no-serve
    WUZHI_HOME=<same> .venv/bin/python bench/pages.py [--runs 30]

Prints median and p95 per page in milliseconds, and the queries each page ran."""

from __future__ import annotations

import argparse
import os
import statistics
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from wuzhi.core.models import Area  # noqa: E402
from wuzhi.registry.models import Household  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    User = get_user_model()
    community = Area.objects.get(code="530626100012")
    worker = User.objects.get(username="wgy1")
    household = Household.objects.visible_to(worker).order_by("address_key").first()
    building = Area.objects.visible_to(worker).filter(kind="building").first()
    cases = [
        ("wgy1", "首页", "/"),
        ("wgy1", "户列表", "/registry/households/"),
        ("wgy1", "户列表 搜索 zl", "/registry/households/?q=zl"),
        ("wgy1", "人员搜索 zl", "/registry/residents/?q=zl"),
        ("wgy1", "户详情", f"/registry/households/{household.pk}/"),
        ("wgy1", "楼栋一张图", f"/registry/buildings/{building.pk}/"),
        ("shuji", "联系户覆盖", "/party/coverage/"),
        ("shuji", "值班表", "/party/roster/"),
        ("shuji", "本周活动", "/activities/week/"),
        ("shuji", "服务牌 PDF(63页)", f"/party/boards.pdf?area={community.pk}"),
    ]
    print(f"{'page':<22} {'user':<6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for username, label, url in cases:
        client = Client()
        client.force_login(User.objects.get(username=username))
        client.get(url)  # warm caches and the font
        runs = args.runs if "pdf" not in url else max(3, args.runs // 10)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{label:<22} {username:<6} {statistics.median(times):>10.1f} {p95:>8.1f} {len(queries):>8}")


if __name__ == "__main__":
    main()
