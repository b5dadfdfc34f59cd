"""Pages under load: a grid worker's household list and household detail pages against a
hello-world ceiling, all served by the same gunicorn processes in the same run.

    WUZHI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuzhi_load WUZHI_HOME=$(mktemp -d) \\
        .venv/bin/wuzhi demo --no-serve                       # once: the 福兴 demo community
    WUZHI_DATABASE_URL=<same> WUZHI_HOME=<same> .venv/bin/python bench/load_pages.py

Options: --user/--password (default the demo's grid worker wgy1), --workers (gunicorn sync
workers, default 2), --connections (default 32), --duration (seconds per page, default 10).
On a database without that user (the synthetic city of `wuzhi gen-city`), --create-user makes it
a grid worker of the grid of the first household, through the services:

    WUZHI_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wuzhi_city WUZHI_HOME=<any> \\
        .venv/bin/python bench/load_pages.py --user bench_wgy --password bench-load-2026 --create-user

What it does, then stops by itself:
1. starts gunicorn on a free loopback port with bench.settings (wuzhi's settings and URLs plus
   /bench/hello/, a plain view behind the same middleware that runs no query);
2. logs the worker in once through the real login form and reuses that session cookie for every
   connection (the ceiling is requested without it, as an anonymous visitor: no query at all);
3. walks the household list through its keyset "next" links to collect list pages and the
   households on them, and checks every URL answers 200 for this user (not a redirect to login);
4. runs wrk (Debian: apt install wrk) for each target: 32 connections kept busy for --duration
   seconds, after a short warm-up, round-robin over the collected URLs;
5. prints a Markdown table: requests/s, p50, p99, errors, the ratio to the ceiling and pass/fail
   against the goals (≥ 15% of the ceiling, p99 ≤ 100 ms).

The load generator is closed-loop (each connection sends its next request when the previous one
is answered), so its latencies are those of a saturated server, queueing included.

Pages are served from the page cache while nothing in their area changes (wuzhi.core.pagecache;
set WUZHI_CACHE_URL=redis://… as a deployment of several processes does). --page-cache 0 runs
the same targets with it turned off (every request rendered); --writes-per-second W changes one
of the worker's households through the services W times a second while the pages are loaded,
as colleagues editing records would, so that cached pages keep being invalidated."""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 0.15
GOAL_P99_MS = 100.0

LUA = """
local paths = {%(paths)s}
local n = 0
%(cookie)s
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read()
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout:.0f} s")


class Browser:
    """Just enough of a browser: a cookie jar, and redirects left visible so a login page can be
    told from the page asked for."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect())

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "") or ""

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.headers.get("Location", ""), r.read().decode()
        except urllib.error.HTTPError as exc:  # 3xx (not followed) and errors
            return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")

    def login(self, username: str, password: str) -> None:
        self.request("/login/")
        status, location, _ = self.request("/login/", {
            "username": username, "password": password, "csrfmiddlewaretoken": self.cookie("csrftoken")})
        if status != 302 or "login" in location or not self.cookie("sessionid"):
            raise SystemExit(f"login as {username} failed (HTTP {status} → {location or 'no redirect'})")


def ensure_grid_worker(username: str, password: str) -> None:
    """The benchmark user as a grid worker of the first household's grid, made once."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from wuzhi.core import services as core_services
    from wuzhi.core.models import Area, AreaKind
    from wuzhi.core.roles import Role
    from wuzhi.registry.models import Household

    User = get_user_model()
    if User.objects.filter(username=username).exists():
        return
    household = Household.objects.order_by("id").first()
    if household is None:
        raise SystemExit("the database has no household")
    grid = next(a for a in Area.objects.filter(kind=AreaKind.GRID, path__in=_prefixes(household.area_path)))
    user = User.objects.create_user(username=username, password=password, first_name="压测网格员")
    core_services.grant_role(actor=None, user=user, role=Role.GRID_WORKER, area=grid)
    print(f"made {username}: grid worker of {grid.full_name or grid.name}")


def _prefixes(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


def collect(browser: Browser, max_pages: int, max_households: int) -> tuple[list[str], list[str]]:
    """List pages by following the keyset "next" links; households from the rows on them."""
    lists, households = ["/registry/households/"], []
    while True:
        status, location, html = browser.request(lists[-1])
        if status != 200:
            raise SystemExit(f"{lists[-1]} answered {status} {location} for the benchmark user")
        for pk in re.findall(r'href="/registry/households/(\d+)/"', html):
            path = f"/registry/households/{pk}/"
            if path not in households:
                households.append(path)
        after = re.search(r'rel="next" href="[^"]*[?&]after=([^"&]+)"', html)
        if not after or len(lists) >= max_pages:
            break
        lists.append(f"/registry/households/?after={after.group(1)}")
    households = households[:max_households]
    if not households:
        raise SystemExit("the benchmark user sees no household")
    for path in households:
        status, location, _ = browser.request(path)
        if status != 200:
            raise SystemExit(f"{path} answered {status} {location}")
    return lists, households


class Writer:
    """Changes the note of one household after another through the services, `rate` times a
    second, in a thread, while a target is loaded; each change moves the versions of the
    household's area (grid and above), as an edit by a colleague would."""

    def __init__(self, households: list[str], rate: float) -> None:
        self.pks = [int(p.rstrip("/").rsplit("/", 1)[1]) for p in households]
        self.rate, self.done = rate, 0
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Writer:
        if self.rate > 0:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
            import django

            django.setup()
            self.thread = threading.Thread(target=self.run, daemon=True)
            self.thread.start()
        return self

    def run(self) -> None:
        from django.db import connection

        from wuzhi.registry import services
        from wuzhi.registry.models import Household

        try:
            while not self.stop.wait(1 / self.rate):
                household = Household.objects.get(pk=self.pks[self.done % len(self.pks)])
                services.household_update(actor=None, household=household, version=household.version,
                                          note=f"压测修改 {self.done}")
                self.done += 1
        finally:
            connection.close()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def wrk(base: str, paths: list[str], cookie: str, *, connections: int, threads: int, duration: float,
        workdir: Path) -> dict[str, float]:
    script = workdir / "load.lua"
    script.write_text(LUA % {
        "paths": ", ".join(json.dumps(p) for p in paths),
        "cookie": f'wrk.headers["Cookie"] = {json.dumps(cookie)}' if cookie else "",
    })
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(script), base + paths[0]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    raw = json.loads(line[len("RESULT "):])
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds, "requests": raw["requests"],
        "p50": raw["p50_us"] / 1000, "p90": raw["p90_us"] / 1000, "p99": raw["p99_us"] / 1000,
        "max": raw["max_us"] / 1000,
        "errors": raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"],
        "non2xx": raw["status"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="wgy1")
    parser.add_argument("--password", default="wuzhi2026")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-threads", type=int, default=1,
                        help="threads per gunicorn worker (default 1: sync workers; more: gthread)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target")
    parser.add_argument("--create-user", action="store_true", help="make --user a grid worker if absent")
    parser.add_argument("--list-pages", type=int, default=5, help="list pages to cycle through")
    parser.add_argument("--households", type=int, default=100, help="detail pages to cycle through")
    parser.add_argument("--page-cache", type=int, default=None,
                        help="WUZHI_PAGE_CACHE_SECONDS for the server (0: off; default: the setting's)")
    parser.add_argument("--writes-per-second", type=float, default=0.0,
                        help="changes to the worker's households during the page loads (default 0)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk (Debian: apt install wrk)")
    if not os.environ.get("WUZHI_DATABASE_URL", "").startswith("postgres"):
        print("warning: WUZHI_DATABASE_URL is not PostgreSQL; the figures are for SQLite", file=sys.stderr)

    if args.create_user:
        ensure_grid_worker(args.user, args.password)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings", PYTHONPATH=str(ROOT))
    if args.page_cache is not None:
        env["WUZHI_PAGE_CACHE_SECONDS"] = str(args.page_cache)
    workdir = Path(tempfile.mkdtemp(prefix="wuzhi-load-"))
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 (the child writes it)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wuzhi.wsgi:application", "--chdir", str(ROOT), "--bind",
         f"127.0.0.1:{port}", "--workers", str(args.workers), "--log-level", "warning",
         *(["--worker-class", "sync"] if args.worker_threads <= 1 else
           ["--worker-class", "gthread", "--threads", str(args.worker_threads)])],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(base + "/bench/hello/")
        browser = Browser(base)
        browser.login(args.user, args.password)
        lists, households = collect(browser, args.list_pages, args.households)
        # What a browser sends back: the session and the CSRF cookie (forms on every page use it).
        cookie = f"sessionid={browser.cookie('sessionid')}; csrftoken={browser.cookie('csrftoken')}"
        targets = [
            ("hello-world (ceiling)", ["/bench/hello/"], ""),
            ("signed-in hello (floor)", ["/bench/hello-user/"], cookie),
            ("household list", lists, cookie),
            ("household detail", households, cookie),
        ]
        with open("/proc/loadavg") as f:
            load_before = f.read().split()[0]
        results = []
        writes = 0
        for label, paths, cookie_header in targets:
            if args.warmup:
                wrk(base, paths, cookie_header, connections=args.connections, threads=args.threads,
                    duration=args.warmup, workdir=workdir)
            with Writer(households, args.writes_per_second if cookie_header else 0) as writer:
                results.append((label, len(paths), wrk(base, paths, cookie_header, connections=args.connections,
                                                       threads=args.threads, duration=args.duration, workdir=workdir)))
            writes += writer.done
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()

    ceiling = results[0][2]["rps"]
    kind = "sync" if args.worker_threads <= 1 else f"gthread ×{args.worker_threads} threads"
    print(f"gunicorn {args.workers} {kind} workers, wrk {args.threads} threads × {args.connections} connections, "
          f"{args.duration:g} s per target after {args.warmup:g} s warm-up; user {args.user}; "
          f"{os.cpu_count()} CPUs, load average {load_before} before the run; "
          f"page cache {'off' if args.page_cache == 0 else 'on'}, {writes} writes during the page loads")
    print()
    print("| target | URLs | requests/s | ratio to ceiling | p50 ms | p90 ms | p99 ms | max ms | errors | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, n, r in results:
        ratio = r["rps"] / ceiling
        if "hello" in label:
            goal = "—"
        else:
            ok = ratio >= GOAL_RATIO and r["p99"] <= GOAL_P99_MS and r["errors"] == 0
            goal = ("pass" if ok else "FAIL") + f" (≥ {GOAL_RATIO:.0%}, p99 ≤ {GOAL_P99_MS:g} ms)"
        print(f"| {label} | {n} | {r['rps']:,.0f} | {ratio:.1%} | {r['p50']:.1f} | {r['p90']:.1f} | "
              f"{r['p99']:.1f} | {r['max']:.1f} | {r['errors']} | {goal} |")
    if any(r["errors"] for _, _, r in results):
        print(f"\nerrors (non-2xx {[r['non2xx'] for _, _, r in results]}): see {workdir / 'gunicorn.log'}")


if __name__ == "__main__":
    main()
