"""Exports: masked unless revealed by someone allowed to, always logged, formula-safe, scoped,
a bounded number of queries, and importable again."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from tests.conftest import make_id_number
from wuzhi.core.models import AccessLog
from wuzhi.registry import exporter, importer
from wuzhi.registry import services as reg
from wuzhi.registry.models import Household, ImportJob, Resident, ResidentTag, Tag

ID_COL = exporter.RESIDENT_HEADERS.index("身份证号")
PHONE_COL = exporter.RESIDENT_HEADERS.index("手机")
NAME_COL = exporter.RESIDENT_HEADERS.index("姓名")


def sheet(data: bytes) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def by_name(rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    return {r[NAME_COL]: r for r in rows[1:]}


@pytest.fixture
def families(tree, make_household):
    """张黎's family in grid 1 (with tags), 赵六 alone in grid 2."""
    elder = Tag.objects.create(name="独居老人")
    poor = Tag.objects.create(name="低保户", applies_to=Tag.AppliesTo.HOUSEHOLD)
    zhang = make_household(tree.dwellings[0], [
        ("张黎", {"id_number": "530626197005120039", "phone": "13987654321"}),
        ("夏红燕", {"id_number": make_id_number("19720301", male=False), "relation": "配偶"}),
    ], moved_in_on="2019-05-01", origin_county="镇雄县")
    reg.household_update(actor=None, household=zhang, version=zhang.version, tags=[poor])
    ResidentTag.objects.create(resident=zhang.head, tag=elder)
    zhao = make_household(tree.dwellings[-1], [("赵六", {"phone": "13800001234"})])
    return {"zhang": zhang, "zhao": zhao, "elder": elder}


def export(actor: Any, reveal: bool = False, **kwargs: Any) -> list[tuple[Any, ...]]:
    qs = Resident.objects.visible_to(actor, "export").order_by("household_id", "id")
    return sheet(exporter.export_residents(actor=actor, queryset=qs, reveal=reveal, **kwargs))


def test_export_is_masked_by_default_and_logged(tree, people, families):
    rows = export(people.worker1, description="状态=在住")
    assert rows[0] == tuple(exporter.RESIDENT_HEADERS)
    zhang = by_name(rows)["张黎"]
    assert zhang[ID_COL] == "5306**********0039" and zhang[PHONE_COL] == "139****4321"
    assert zhang[:6] == (families["zhang"].number, "1网格", "1栋", "1单元", "101", 1)
    header = exporter.RESIDENT_HEADERS
    assert zhang[header.index("标签")] == "独居老人、低保户"
    assert zhang[header.index("性别")] == "男" and str(zhang[header.index("出生日期")])[:10] == "1970-05-12"
    assert zhang[header.index("搬迁来源县")] == "镇雄县"
    log = AccessLog.objects.get()
    assert (log.kind, log.actor, log.area_path) == ("export", people.worker1, tree.units[0].path)
    assert log.detail == "导出居民2条;筛选条件:状态=在住"


def test_reveal_only_where_permitted_and_logged(tree, people, families):
    full = by_name(export(people.worker1, reveal=True))["张黎"]
    assert full[ID_COL] == "530626197005120039" and full[PHONE_COL] == "13987654321"
    kinds = list(AccessLog.objects.order_by("id").values_list("kind", "detail"))
    assert kinds == [("export", "导出居民2条"), ("reveal", "导出居民时查看了2条的完整身份证号和电话")]

    AccessLog.objects.all().delete()
    county = by_name(export(people.county, reveal=True))  # may export, may not reveal
    assert county["张黎"][ID_COL] == "5306**********0039" and county["赵六"][PHONE_COL] == "138****1234"
    assert list(AccessLog.objects.values_list("kind", flat=True)) == ["export"]


def test_formula_like_text_is_quoted(tree, people, families):
    head = families["zhang"].head
    reg.resident_update(actor=None, resident=head, version=head.version, hukou_address="=HYPERLINK(\"http://x\")")
    families["zhang"].refresh_from_db()
    reg.household_update(actor=None, household=families["zhang"], version=families["zhang"].version,
                         relocation_batch="+1 批", origin_town="@镇")
    row = by_name(export(people.worker1))["张黎"]
    header = exporter.RESIDENT_HEADERS
    assert row[header.index("户籍地")] == "'=HYPERLINK(\"http://x\")"
    assert row[header.index("搬迁批次")] == "'+1 批" and row[header.index("搬迁来源乡镇")] == "'@镇"
    assert exporter.safe_cell("-1") == "'-1" and exporter.safe_cell("\tx") == "'\tx" and exporter.safe_cell(5) == 5


def test_export_respects_scope(tree, people, families):
    assert set(by_name(export(people.worker1))) == {"张黎", "夏红燕"}
    assert set(by_name(export(people.worker2))) == {"赵六"}
    assert set(by_name(export(people.county))) == {"张黎", "夏红燕", "赵六"}


def test_export_query_count_does_not_grow_with_rows(tree, people, make_household, django_assert_max_num_queries):
    tags = [Tag.objects.create(name=f"标签{i}") for i in range(3)]
    for dwelling in tree.dwellings:
        h = make_household(dwelling, [("甲", {}), ("乙", {"relation": "配偶"}), ("丙", {"relation": "子"})])
        for r in h.members.all():
            ResidentTag.objects.create(resident=r, tag=tags[r.pk % 3])
    qs = Resident.objects.visible_to(people.secretary, "export")
    # grants (1) + residents with households, dwellings, areas (1) + tags (1) + household tags (1) + log (2)
    with django_assert_max_num_queries(6):
        data = exporter.export_residents(actor=people.secretary, queryset=qs, reveal=True)
    assert len(sheet(data)) == 1 + 3 * len(tree.dwellings)


def test_revealed_export_imports_again_without_changes(tree, people, families):
    data = exporter.export_residents(actor=people.secretary, queryset=Resident.objects.visible_to(
        people.secretary, "export"), reveal=True)
    job = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=io.BytesIO(data),
                                   filename="export.xlsx")
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert (job.households_created, job.residents_created, job.residents_updated) == (0, 0, 0)

    # A masked export can update what is not masked: the masked phone means "unchanged".
    masked = load_workbook(io.BytesIO(exporter.export_residents(
        actor=people.worker1, queryset=Resident.objects.visible_to(people.worker1, "export"))))
    ws = masked.active
    for row in ws.iter_rows(min_row=2):
        row[ID_COL].value = _full_id(row[NAME_COL].value)  # a masked ID cannot be matched
        if row[NAME_COL].value == "夏红燕":
            row[exporter.RESIDENT_HEADERS.index("文化程度")].value = "本科"
    job = importer.import_workbook(actor=people.worker1, area=tree.grids[0], fileobj=io.BytesIO(_saved(masked)),
                                   filename="masked.xlsx")
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert job.residents_updated == 1
    assert Resident.objects.get(name="夏红燕").education == "本科"
    assert Resident.objects.get(name="张黎").phone_masked == "139****4321"


def _saved(wb: Any) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _full_id(name: str) -> str:
    from wuzhi.core import crypto

    return crypto.decrypt(Resident.objects.get(name=name).id_number_enc)


def test_household_export(tree, people, families):
    rows = sheet(exporter.export_households(
        actor=people.worker1, queryset=Household.objects.visible_to(people.worker1, "export")))
    headers = [name for name, _ in exporter.HOUSEHOLD_HEADERS]
    assert rows[0] == tuple(headers) and len(rows) == 2
    row = dict(zip(headers, rows[1], strict=True))
    assert (row["户主"], row["户主身份证号"], row["在住人数"], row["户标签"]) == ("张黎", "5306**********0039", 2, "低保户")
    assert row["住址"] == "1栋1单元101室"
    revealed = sheet(exporter.export_households(
        actor=people.worker1, queryset=Household.objects.visible_to(people.worker1, "export"), reveal=True))
    assert revealed[1][headers.index("户主手机")] == "13987654321"
    assert list(AccessLog.objects.order_by("id").values_list("kind", flat=True)) == ["export", "export", "reveal"]


# ---- views ---------------------------------------------------------------------------------

def test_export_view_filters_like_the_list_and_names_the_file(client, tree, people, families):
    client.force_login(people.worker1)
    url = reverse("registry:export_residents")
    response = client.get(url, {"tag": families["elder"].pk, "age_min": 50})
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert unquote(disposition.split("''", 1)[1]).startswith("居民名单_")
    assert list(by_name(sheet(response.content))) == ["张黎"]
    log = AccessLog.objects.get()
    assert log.detail == "导出居民1条;筛选条件:标签=独居老人;年龄50-;状态=在住"

    area = client.get(url, {"area": tree.buildings[0].pk, "status": ""})
    assert set(by_name(sheet(area.content))) == {"张黎", "夏红燕"}
    assert unquote(area["Content-Disposition"]).endswith(".xlsx") and "1栋居民名单" in unquote(
        area["Content-Disposition"])


def test_export_view_is_scoped_and_refuses_foreign_areas(client, tree, people, families):
    client.force_login(people.worker1)
    everything = client.get(reverse("registry:export_residents"), {"status": ""})
    assert set(by_name(sheet(everything.content))) == {"张黎", "夏红燕"}  # no grid-2 rows
    assert client.get(reverse("registry:export_residents"), {"area": tree.grids[1].pk}).status_code == 400
    client.force_login(people.head)  # a building head may not export at all
    assert client.get(reverse("registry:export_residents")).status_code == 403


def test_export_view_reveals_only_when_asked(client, tree, people, families):
    client.force_login(people.worker1)
    masked = by_name(sheet(client.get(reverse("registry:export_residents")).content))
    assert masked["张黎"][ID_COL] == "5306**********0039"
    full = by_name(sheet(client.get(reverse("registry:export_residents"), {"reveal": "1"}).content))
    assert full["张黎"][ID_COL] == "530626197005120039"
    assert AccessLog.objects.filter(kind="reveal", actor=people.worker1).count() == 1
    assert AccessLog.objects.filter(kind="export", actor=people.worker1).exclude(ip=None).count() == 2


def test_household_export_view(client, tree, people, families):
    client.force_login(people.worker2)
    response = client.get(reverse("registry:export_households"), {"q": "赵"})
    rows = sheet(response.content)
    assert len(rows) == 2 and rows[1][0] == families["zhao"].number
    assert "户列表_" in unquote(response["Content-Disposition"])
    assert AccessLog.objects.get().detail == "导出户1条;筛选条件:关键词=赵;状态=在住"
