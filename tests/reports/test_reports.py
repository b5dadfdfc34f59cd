"""Dashboard, downloads and report text on a small tree (no demo): scope, permissions, periods,
links, sentences written only from figures that exist, formula-safe tables."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.utils import timezone

from wuzhi.core.models import AccessLog
from wuzhi.core.roles import Role
from wuzhi.reports import catalog, sentences
from wuzhi.reports.statistics import FIGURES, Figure, compute, figure, load_figures, year_scope
from wuzhi.reports.xlsx import safe


@pytest.fixture
def homes(tree, make_household):
    a = make_household(tree.dwellings[0], [("张黎", {"birth": "19700512"}), ("王芳", {"birth": "20150101", "male": False})])
    b = make_household(tree.dwellings[8], [("李明", {"birth": "19400101"})])
    return a, b


# ---- the statistics module -------------------------------------------------------------------


def test_figure_decorator_stays_compatible_and_accepts_hints():
    load_figures()
    before = dict(FIGURES)
    try:
        @figure("test_plain", "测试指标", "德治")
        def plain(scope):
            return 1

        @figure("test_hinted", "测试指标二", "德治", unit="场", rows="activities:activity_list", rows_query="kind=art")
        def hinted(scope):
            return 2

        assert plain(None) == 1  # the decorator returns the function unchanged
        assert FIGURES["test_plain"].unit == ""
        assert catalog.rows_url("test_hinted", None) == "/activities/?kind=art"
        assert catalog.describe(FIGURES["test_hinted"]) == ("测试指标二", "场")
        assert catalog.rows_url("test_plain", None) == ""
    finally:
        FIGURES.clear()
        FIGURES.update(before)


def test_compute_leaves_out_keys_not_registered(tree):
    values = compute(year_scope(None, tree.community, 2026), ["households", "no_such_figure_yet"])
    assert values == {"households": 0}


def test_units_from_labels_and_links_with_area(tree):
    load_figures()
    assert catalog.split_label("受理矛盾纠纷(起)") == ("受理矛盾纠纷", "起")
    assert catalog.split_label("户数") == ("户数", "")
    assert catalog.rows_url("households", tree.grids[0]) == f"/registry/households/?area={tree.grids[0].pk}"
    # The household list filters by grid or building only: a community link is unfiltered.
    assert catalog.rows_url("households", tree.community) == "/registry/households/"
    assert catalog.rows_url("disputes_received", tree.community).startswith("/cases/?kind=dispute")
    assert catalog.format_value(28.0) == "28" and catalog.format_value(76.84) == "76.8"
    assert catalog.format_value(6820) == "6820"


def test_age_bands_turn_on_the_birthday_even_on_29_february(tree, make_household):
    """The pyramid's bands, counted with one comparison per band, put a resident in the band of
    their age on the reference day: 7 on their 7th birthday, still 6 the day before; and on a
    29 February the birthday of someone born on 28 February has come, that of 1 March not yet."""
    from wuzhi.reports import series
    from wuzhi.reports.statistics import Scope

    make_household(tree.dwellings[0], [("甲", {"birth": "20170228"}), ("乙", {"birth": "20170301"}),
                                       ("丙", {"birth": "19440229", "male": False}),
                                       ("丁", {"birth": "19440301", "male": False}),
                                       ("戊", {"birth": "20240301"})])  # born after the reference day
    scope = Scope(None, tree.community, dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    chart = series.pyramid(scope)
    male, female = chart.series[0]["data"], chart.series[1]["data"]
    labels = chart.categories
    assert male[labels.index("0–6岁")] == 1 and male[labels.index("7–17岁")] == 1  # 乙 is 6, 甲 is 7
    assert female[labels.index("80岁以上")] == 1 and female[labels.index("70–79岁")] == 1  # 丙 80, 丁 79
    # Counted in the figure, in no band.
    assert compute(scope, ["residents"]) == {"residents": 5} and sum(male) + sum(female) == 4
    # On a page the drill-down counts the same rows per grid and hands the figure and the pyramid
    # their totals: they are not counted again.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fresh = Scope(None, tree.community, dt.date(2024, 1, 1), dt.date(2024, 2, 29))
    with fresh.counting():
        rows = series.child_table(fresh, list(tree.community.children.order_by("path")))
        assert sum(r.values["residents"] for r in rows) == 5
        with CaptureQueriesContext(connection) as again:
            assert compute(fresh, ["residents"]) == {"residents": 5}
            assert series.pyramid(fresh).series == chart.series
        assert len(again) == 0
    # Outside a page (or report), the same scope asked again counts afresh.
    make_household(tree.dwellings[1], [("己", {"birth": "19900101"})])
    assert compute(fresh, ["residents"]) == {"residents": 6}


def test_roster_gaps_follow_the_roster(people, tree, make_user):
    """buildings_missing_a_role and grids_without_grid_worker ask in SQL what party.roster reads
    grant by grant: they agree, and follow grants given and expired."""
    from wuzhi.core.models import Grant
    from wuzhi.party import roster

    keys = ["buildings_missing_a_role", "grids_without_grid_worker"]

    def by_roster(area):
        scope = year_scope(None, area, 2026)
        return {"buildings_missing_a_role": sum(1 for gaps in roster.building_gaps(scope).values() if gaps),
                "grids_without_grid_worker": sum(1 for h in roster.holders(scope, "grid", [Role.GRID_WORKER]).values()
                                                 if not h[Role.GRID_WORKER])}

    def figures(area):
        return compute(year_scope(None, area, 2026), keys)

    before = figures(tree.community)
    assert before == by_roster(tree.community) and before["buildings_missing_a_role"] > 0
    for i, role in enumerate(roster.BUILDING_ROLES):  # the first building gets all five roles
        make_user(f"b{i}", role, tree.buildings[0])
    # A grid worker's grant held on the community does not staff a grid; an expired one neither.
    make_user("roving", Role.GRID_WORKER, tree.community)
    Grant.objects.filter(user=people.worker2).update(valid_to=dt.date(2020, 1, 1))
    after = figures(tree.community)
    assert after == by_roster(tree.community)
    assert after["buildings_missing_a_role"] == before["buildings_missing_a_role"] - 1
    assert after["grids_without_grid_worker"] == before["grids_without_grid_worker"] + 1
    assert figures(tree.grids[0]) == by_roster(tree.grids[0])


# ---- sentences ---------------------------------------------------------------------------------


def test_a_sentence_is_written_only_when_all_its_figures_exist():
    values = {"disputes_received": 13, "disputes_mediated": 12, "police_offices": 1}
    law = sentences.write("法治", values, area="福兴社区", period="今年以来")
    assert "今年以来,受理矛盾纠纷13起,调解成功12起。" in law
    # police_officers is missing: the police sentence is left out, not written with a blank.
    assert not any("警务室" in s for s in law)
    assert sentences.write("德治", {}, area="福兴社区", period="今年以来") == []


def test_conditional_sentences_follow_the_numbers():
    full = sentences.write("政治引领", {"households_without_helper": 0}, area="", period="")
    assert full == ["实现每一户群众身后都有一户帮扶干部或党员全程提供服务。"]
    gap = sentences.write("政治引领", {"households_without_helper": 4}, area="", period="")
    assert gap == ["尚有4户未落实联系人,正在逐户落实。"]
    honours = sentences.write("德治", {"honorees": 80, "civilized_buildings": 5}, area="", period="")
    assert honours == ["开展“文明卫生示范户”“身边好人”等模范评选,共评选出80户(人)和文明楼栋5栋。"]


def test_period_phrases():
    today = dt.date(2026, 11, 27)
    assert sentences.period_phrase(dt.date(2026, 1, 1), dt.date(2026, 12, 31), today) == "今年以来"
    assert sentences.period_phrase(dt.date(2025, 1, 1), dt.date(2025, 12, 31), today) == "2025年"
    assert sentences.period_phrase(dt.date(2026, 1, 1), dt.date(2026, 3, 31), today) == "2026年1月至3月"
    assert sentences.period_phrase(dt.date(2026, 5, 1), dt.date(2026, 5, 31), today) == "2026年5月"
    assert sentences.period_phrase(dt.date(2026, 5, 3), dt.date(2026, 6, 9), today) == "2026年5月3日至2026年6月9日"


def test_every_sentence_names_only_known_placeholders():
    load_figures()
    for s in sentences.SENTENCES:
        text = str(s.text).format(area="甲", period="乙", **{k: 1 for k in s.keys})
        assert "{" not in text and text


# ---- dashboard ----------------------------------------------------------------------------------


def test_secretary_dashboard_drills_down(homes, people, client, tree):
    client.force_login(people.secretary)
    response = client.get("/reports/")
    assert response.status_code == 200
    assert response.context["area"] == tree.community
    html = response.content.decode()
    year = timezone.localdate().year
    assert f"?area={tree.grids[0].code}&amp;year={year}" in html
    # A grid's household count in the drill-down opens that grid's households.
    assert f'href="/registry/households/?area={tree.grids[0].pk}"' in html
    rows = {r["row"].area.name: r["row"].values for r in response.context["children"]}
    assert rows["1网格"]["households"] == 1 and rows["1网格"]["residents"] == 2
    assert rows["2网格"]["households"] == 1
    grid = client.get(f"/reports/?area={tree.grids[0].code}&year={year}")
    assert grid.status_code == 200
    cards = {c["key"]: c for c in grid.context["headline"]}
    assert cards["households"]["value"] == "1"
    assert cards["households"]["url"] == f"/registry/households/?area={tree.grids[0].pk}"
    # The breadcrumb leads back up to the community.
    assert f"?area={tree.community.code}" in grid.content.decode()


def test_dashboard_query_count_does_not_grow_with_children(homes, people, client, tree, make_household,
                                                           django_assert_max_num_queries, monkeypatch):
    from wuzhi.reports import dataversion

    monkeypatch.setattr(dataversion, "current", lambda using="default": None)  # count the real work
    client.force_login(people.secretary)
    client.get("/reports/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/reports/")
    from wuzhi.core import services as core_services

    for g in range(3, 9):  # six more grids, each with a household
        grid = core_services.area_create(actor=None, parent=tree.community, segment=f"{g:02d}", name=f"{g}网格")
        building = core_services.area_create(actor=None, parent=grid, segment="01", name="1栋", floors=1)
        unit = core_services.area_create(actor=None, parent=building, segment="1", name="1单元")
        from wuzhi.registry import services as reg

        make_household(reg.dwelling_create(actor=None, unit=unit, floor=1, number="101"), [(f"住户{g}", {})])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/reports/")
    assert len(response.context["children"]) == 8


def test_dashboard_of_an_area_outside_the_grant_is_404(homes, people, client, tree):
    client.force_login(people.worker1)
    assert client.get("/reports/").context["area"] == tree.grids[0]
    assert client.get(f"/reports/?area={tree.grids[1].code}").status_code == 404
    assert client.get(f"/reports/?area={tree.community.code}").status_code == 404
    assert client.get("/reports/?area=999999").status_code == 404


def test_bad_period_is_a_chinese_message_and_falls_back_to_this_year(people, client, tree):
    client.force_login(people.secretary)
    response = client.get(f"/reports/?area={tree.community.code}&from=2026-05-01&to=2026-04-01")
    assert response.status_code == 200
    assert "开始日期晚于结束日期" in response.content.decode()
    assert response.context["scope"].start == dt.date(timezone.localdate().year, 1, 1)
    ranged = client.get(f"/reports/?area={tree.community.code}&from=2026-01-01&to=2026-03-31")
    assert ranged.context["scope"].end == dt.date(2026, 3, 31)
    assert "from=2026-01-01" in ranged.context["query"]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/reports/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# ---- downloads ----------------------------------------------------------------------------------


def test_downloads_need_export_and_are_logged(homes, people, client, tree, make_user):
    client.force_login(people.head)  # a 楼长 may view, not export
    assert client.get("/reports/").context["may_export"] is False
    assert client.get(f"/reports/report.docx?area={tree.buildings[0].code}").status_code == 403
    assert not AccessLog.objects.exists()
    client.force_login(people.county)
    for url, kind in (("report.docx", "Word"), ("report.pdf", "PDF"), ("tables.xlsx", "Excel")):
        response = client.get(f"/reports/{url}?area={tree.community.code}&year=2026")
        assert response.status_code == 200, url
        log = AccessLog.objects.order_by("-id").first()
        assert log.kind == AccessLog.Kind.EXPORT and kind in log.detail and log.actor == people.county
        assert log.area_path == tree.community.path


def test_report_for_an_empty_area_is_still_a_document(people, client, tree):
    from docx import Document

    client.force_login(people.secretary)
    response = client.get(f"/reports/report.docx?area={tree.grids[1].code}&year=2026")
    doc = Document(io.BytesIO(response.content))
    assert "2网格五治融合工作总结" in doc.paragraphs[0].text


def test_tables_are_formula_safe(people, client, tree):
    from openpyxl import load_workbook

    from wuzhi.core import services as core_services

    core_services.area_create(actor=None, parent=tree.community, segment="09", name="=HYPERLINK(1)")
    client.force_login(people.secretary)
    response = client.get(f"/reports/tables.xlsx?area={tree.community.code}&year=2026")
    wb = load_workbook(io.BytesIO(response.content))
    names = [r[1] for r in wb["人口"].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(1)" in names and names[-1] == "合计"
    assert safe("-1") == "'-1" and safe(5) == 5


def test_roles_see_figures_through_their_own_scope(homes, people, tree, make_user):
    """A grid worker's figures are their grid's, computed through visible_to."""
    load_figures()
    mine = compute(year_scope(people.worker1, tree.community, 2026), ["households", "residents"])
    assert mine == {"households": 1, "residents": 2}
    everyone = compute(year_scope(None, tree.community, 2026), ["households", "residents"])
    assert everyone == {"households": 2, "residents": 3}
    assert Role.GRID_WORKER  # the role table is untouched
    assert isinstance(next(iter(FIGURES.values())), Figure)


def test_cached_dashboard_follows_every_write(homes, people, client, tree):
    """The dashboard is cached by data version; a write of any kind, even a bulk update that no
    signal sees, changes the version and the next page shows the new numbers."""
    from wuzhi.registry.models import Household
    from wuzhi.reports import dataversion

    client.force_login(people.secretary)
    if not dataversion.supported():  # PostgreSQL: no counter, nothing cached, always fresh
        assert dataversion.install() == 0 and dataversion.current() is None
    else:
        assert dataversion.install() > 20  # idempotent; every table is watched
    url = f"/reports/?area={tree.community.code}&year=2026"

    def households() -> str:
        return next(c for c in client.get(url).context["headline"] if c["key"] == "households")["value"]

    assert households() == "2"
    version = dataversion.current()
    assert households() == "2" and dataversion.current() == version  # reading changes nothing
    Household.objects.filter(pk=homes[1].pk).update(status="迁出")  # no save(), no signal
    assert version is None or dataversion.current() != version
    assert households() == "1"
    # A download is logged, and the log does not invalidate the dashboard.
    version = dataversion.current()
    client.get(f"/reports/report.docx?area={tree.community.code}&year=2026")
    assert AccessLog.objects.exists() and dataversion.current() == version


def test_cache_is_per_viewer_when_the_area_is_not_wholly_theirs(homes, people, tree, make_user):
    """A user who sees only part of an area (a grid worker asked about … their own grid) gets
    a key of their own; everyone who sees the whole area shares one."""
    from wuzhi.reports.statistics import Scope

    load_figures()
    whole = Scope(people.secretary, tree.community, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert whole.whole_area_visible
    part = Scope(people.worker1, tree.community, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert not part.whole_area_visible
    assert compute(part, ["households"]) == {"households": 1}
    assert compute(whole, ["households"]) == {"households": 2}


def test_device_health_and_calls_in_the_smart_section(homes, people, client, tree):
    """智治: the callers' health and the period's calls with the median time to acknowledge, on
    the dashboard and in the work report."""
    import datetime as dt

    services = pytest.importorskip("wuzhi.alarms.services", reason="呼叫器应用未安装")
    from docx import Document

    device = services.device_register(actor=people.secretary, key="860000000000001", dwelling=tree.dwellings[0])
    services.device_register(actor=people.secretary, key="860000000000002", dwelling=tree.dwellings[8])
    opened = timezone.now() - dt.timedelta(minutes=5)
    alarm = services.alarm_press(device=device, event_id="e-1", via="http", now=opened).alarm
    services.acknowledge(actor=people.secretary, alarm=alarm, now=opened + dt.timedelta(seconds=42))
    client.force_login(people.secretary)
    year = timezone.localdate().year
    response = client.get(f"/reports/?area={tree.community.code}&year={year}")
    smart = next(s for s in response.context["sections"] if s["governance"] == "智治")
    assert smart["alarms"]["health"]["total"] == 2
    assert smart["alarms"]["presses"] == 1 and smart["alarms"]["ack_median_seconds"] == 42
    assert any(c.key == "alarms_by_month" for c in smart["charts"])
    doc = Document(io.BytesIO(client.get(f"/reports/report.docx?area={tree.community.code}&year={year}").content))
    text = "\n".join(p.text for p in doc.paragraphs)
    # Said by the alarms app's figures when registered, else by the reports' own summary.
    assert re.search(r"一键呼叫1次.*42秒", text), text
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(client.get(f"/reports/tables.xlsx?area={tree.community.code}&year={year}").content))
    rows = list(wb["报警"].iter_rows(values_only=True))
    assert rows[0][:5] == ("区域代码", "区域", "在用呼叫器", "离线", "低电量")
    assert rows[-1][1:8] == ("合计", 2, 0, 0, 1, 1, 42)
    assert rows[1][1:3] == ("1网格", 1) and rows[2][1:3] == ("2网格", 1)
