"""`wuzhi stats` over the demo community reproduces the article's figures (seed/figures.json)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from wuzhi.demo.testing import shared_demo

REPO = Path(__file__).resolve().parents[2]
# CI checks the repository out next to the shared folder; elsewhere the copy in the repo serves.
SHARED_FIGURES = REPO / ".." / "shared" / "seed" / "figures.json"
REPO_FIGURES = REPO / "wuzhi" / "demo" / "figures.json"


def article_figures() -> dict[str, dict]:
    path = SHARED_FIGURES if SHARED_FIGURES.exists() else REPO_FIGURES
    return json.loads(path.read_text(encoding="utf-8"))["figures"]


def meets(value: float, spec: dict) -> bool:
    target = spec["value"]
    if spec["op"] == "eq":
        return value == target
    if spec["op"] == "gt":
        return value > target
    if spec["op"] == "lt_next10":
        return target < value < target + 10
    raise AssertionError(f"unknown op {spec['op']}")


@pytest.fixture(scope="module")
def fuxing(request, django_db_setup, django_db_blocker):
    # The same shared build as test_demo.py: built once when both modules run.
    yield from shared_demo(request, django_db_blocker)


def stats(*args: str) -> str:
    out = StringIO()
    call_command("stats", *args, stdout=out)
    return out.getvalue()


def test_repo_copy_of_figures_is_current():
    if SHARED_FIGURES.exists():
        assert json.loads(REPO_FIGURES.read_text(encoding="utf-8")) == json.loads(
            SHARED_FIGURES.read_text(encoding="utf-8"))


def test_stats_json_meets_every_article_figure(fuxing, db):
    values = json.loads(stats("--json", "--area", "530626100012"))
    figures = article_figures()
    common = [k for k in figures if k in values]
    # Not vacuous: the registry's figures are always there.
    assert {"households", "residents", "unit_service_boards"} <= set(common)
    failures = {k: (values[k], figures[k]["op"], figures[k]["value"]) for k in common
                if not meets(values[k], figures[k])}
    assert failures == {}
    # Beyond the article: every 空巢老人, 留守儿童 and 残疾人 has a 邻里守望 neighbour.
    assert values["care_people_without_watch"] == 0
    # Keys come in the article's order first.
    assert list(values)[: len(common)] == common


def test_stats_whole_installation_and_period_options(fuxing, db):
    everything = json.loads(stats("--json"))
    assert everything["households"] == 1775
    assert json.loads(stats("--json", "--year", "2025"))["residents"] == 6820
    ranged = json.loads(stats("--json", "--from", "2026-01-01", "--to", "2026-03-31", "--area", "530626100012"))
    assert ranged["unit_service_boards"] == 63


def test_stats_table_is_chinese(fuxing, db):
    text = stats("--area", "530626100012")
    assert "绥江县中城镇福兴社区" in text
    assert "户数" in text and "1,775" in text
    assert "6,820" in text


def test_unknown_area_code_is_a_chinese_error(fuxing, db):
    with pytest.raises(CommandError) as exc:
        stats("--json", "--area", "530626100999")
    assert "区域代码 530626100999 不存在" in str(exc.value)
    assert exc.value.returncode == 2


def test_bad_period_options(fuxing, db):
    with pytest.raises(CommandError, match="不能与"):
        stats("--year", "2026", "--from", "2026-01-01")
    with pytest.raises(CommandError, match="日期格式"):
        stats("--from", "2026-13-01")
    with pytest.raises(CommandError, match="晚于"):
        stats("--from", "2026-05-01", "--to", "2026-04-01")
