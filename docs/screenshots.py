"""Screenshots of the main pages at phone (390×844) and desktop (1366×900) sizes.

    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8000 --username wgy1 --password wuzhi2026

Logs in with Playwright driving Debian's chromium, finds a household, a resident and a building
by following links (so it works on any data set), and writes PNGs into docs/screenshots/.
Needs a running server with some data (`wuzhi demo`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Long lists are cut after this many CSS pixels: the top of a page is what a reader needs.
MAX_HEIGHT = 2200
# A full-page capture would paint the fixed tab bar in the middle of a long page; put it at the end.
SHOT_CSS = ".wz-tabbar { position: static !important; } body { padding-bottom: 0 !important; }"
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
              "has_touch": True},
    "desktop": {"viewport": {"width": 1366, "height": 900}, "device_scale_factor": 1},
}


def first_href(page, selector: str) -> str | None:
    link = page.locator(selector).first
    return link.get_attribute("href") if link.count() else None


def shoot(page, target: Path) -> None:
    page.add_style_tag(content=SHOT_CSS)
    width = page.viewport_size["width"]
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.screenshot(path=target, full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})


def discover(page, base: str, search: str) -> dict[str, str]:
    """Page name → path, finding detail pages through the lists instead of guessing ids."""
    pages = {
        "home": "/",
        "households": "/registry/households/",
        "residents-search": f"/registry/residents/?q={search}",
        "visits": "/registry/visits/",
        "overdue": "/registry/visits/overdue/",
        "areas": "/areas/",
        "household-new": "/registry/households/new/",
        "cases": "/cases/",
        "cases-board": "/cases/board/",
        "cases-stats": "/cases/stats/",
    }
    page.goto(urljoin(base, pages["cases"]))
    case = first_href(page, "#queue a[href*='/cases/']")
    if case:
        pages["case"] = case
    page.goto(urljoin(base, pages["residents-search"]))
    household = first_href(page, "#results a[href*='/registry/households/']")
    if household is None:
        page.goto(urljoin(base, pages["households"]))
        household = first_href(page, "#results a[href*='/registry/households/']")
    if household:
        pages["household"] = household
        page.goto(urljoin(base, household))
        for name, selector in (("resident", "main table a[href*='/registry/residents/']"),
                               ("building", "main a[href*='/registry/buildings/']"),
                               ("visit-form", "main a[href$='/visit/']"),
                               ("household-edit", "main a[href$='/edit/']")):
            href = first_href(page, selector)
            if href and re.search(r"/\d+/", href):
                pages[name] = href
    if "resident" in pages:
        page.goto(urljoin(base, pages["resident"]))
        href = first_href(page, "main a[href$='/edit/']")
        if href:
            pages["resident-edit"] = href
    return pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--search", default="zl", help="what to type in the resident search (default zl)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "screenshots"))
    parser.add_argument("--only", default="", help="comma separated page names, e.g. home,building")
    args = parser.parse_args()

    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} 不存在:请先 apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/") + "/"
    only = {n for n in args.only.split(",") if n}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for size, options in VIEWPORTS.items():
            context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
            page = context.new_page()
            page.goto(urljoin(base, "login/"))
            if not only or "login" in only:
                shoot(page, out / f"{size}-login.png")
            page.fill("#id_username", args.username)
            page.fill("#id_password", args.password)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            if "/login/" in page.url:
                print("登录失败:请检查用户名和密码", file=sys.stderr)
                return 1
            for name, path in discover(page, base, args.search).items():
                if only and name not in only:
                    continue
                page.goto(urljoin(base, path))
                page.wait_for_load_state("networkidle")
                target = out / f"{size}-{name}.png"
                shoot(page, target)
                print(target)
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
