"""户籍信息表 import: parsing real-world variants, row-level validation in Chinese, all-or-nothing
apply through the services, the error report, and the upload → job → result pages."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from tests.conftest import make_id_number
from wuzhi.core.models import ChangeLog
from wuzhi.registry import exporter, importer, services
from wuzhi.registry.models import Dwelling, Household, ImportJob, Resident, ResidentTag, Tag

HEADER = [col.header for col in importer.COLUMNS]


def xlsx(rows: list[dict[str, Any]], header: list[str] | None = None, above: list[list[Any]] = ()) -> io.BytesIO:
    """A workbook with optional rows above the header, then one row per dict (keys are headers)."""
    header = header or HEADER
    wb = Workbook()
    ws = wb.active
    for line in above:
        ws.append(line)
    ws.append(header)
    for row in rows:
        ws.append([row.get(h) for h in header])
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def person(name: str, id_number: str, relation: str = "户主", building: str = "1栋", unit: str = "1单元",
           room: Any = "101", **more: Any) -> dict[str, Any]:
    return {"楼栋": building, "单元": unit, "房号": room, "与户主关系": relation, "姓名": name,
            "身份证号": id_number, **more}


def run(actor: Any, area: Any, rows: list[dict[str, Any]], **kwargs: Any) -> ImportJob:
    return importer.import_workbook(actor=actor, area=area, fileobj=xlsx(rows, **kwargs), filename="户籍.xlsx")


def counts() -> tuple[int, int, int, int, int]:
    return (Household.objects.count(), Resident.objects.count(), Dwelling.objects.count(),
            ChangeLog.objects.count(), ResidentTag.objects.count())


def errors_at(job: ImportJob, row: int) -> list[tuple[str, str]]:
    return [(e["column"], e["message"]) for e in job.errors if e["row"] == row]


@pytest.fixture
def tags(db):
    return {
        "独居老人": Tag.objects.create(name="独居老人"),
        "残疾人": Tag.objects.create(name="残疾人"),
        "低保户": Tag.objects.create(name="低保户", applies_to=Tag.AppliesTo.HOUSEHOLD),
    }


# ---- happy path ----------------------------------------------------------------------------

def test_import_creates_households_residents_and_missing_dwellings(tree, people, tags):
    head_id, wife_id, son_id = make_id_number("19700512"), make_id_number("19720301", male=False), \
        make_id_number("20050607")
    old_id = make_id_number("19400101")
    rows = [
        person("张黎", head_id, 手机="13987654321", 民族="汉族", 文化程度="高中/中专", 入住日期="2019-05-01",
               搬迁来源县="镇雄县", 搬迁来源乡镇="坡头镇", 搬迁来源村="德隆村", 搬迁批次="第一批", 标签="低保户"),
        person("夏红燕", wife_id, "配偶", 民族="彝族", 健康状况="慢性病"),
        person("张小明", son_id, "子", 就业状况="在校学生"),
        person("李奶奶", old_id, building="2栋", unit="2单元", room="203", 残疾类别="肢体残疾", 残疾等级="二级",
               标签="独居老人、残疾人", 座机="0870-1234567"),
    ]
    job = run(people.secretary, tree.community, rows)

    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert (job.total_rows, job.households_created, job.residents_created, job.residents_updated) == (4, 2, 4, 0)
    assert job.created_by == people.secretary and job.finished_at is not None

    zhang = Resident.objects.get(name="张黎")
    h = zhang.household
    assert h.head == zhang and h.address == "1栋1单元101室" and h.dwelling == tree.dwellings[0]
    assert (h.origin, h.relocation_batch, h.moved_in_on) == ("镇雄县坡头镇德隆村", "第一批", dt.date(2019, 5, 1))
    assert list(h.tags.values_list("name", flat=True)) == ["低保户"]
    assert (zhang.name_pinyin, zhang.name_initials, zhang.phone_masked) == ("zhangli", "zl", "139****4321")
    assert zhang.birth_date == dt.date(1970, 5, 12) and zhang.education == "高中/中专"
    assert set(h.members.values_list("name", "relation")) == {("张黎", "户主"), ("夏红燕", "配偶"), ("张小明", "子")}
    assert Resident.objects.get(name="夏红燕").health == "慢性病"

    li = Resident.objects.get(name="李奶奶")
    dwelling = li.household.dwelling
    assert (dwelling.unit, dwelling.number, dwelling.floor) == (tree.units[3], "203", 2)  # 2栋2单元, floor from room
    assert (li.disability, li.disability_grade, li.landline_masked) == ("肢体", "二级", "0870-***4567")
    assert li.area_path == tree.units[3].path
    assert set(ResidentTag.objects.filter(resident=li).values_list("tag__name", "source")) == {
        ("独居老人", "import"), ("残疾人", "import")}
    assert ChangeLog.objects.filter(model="registry.resident", op="create", actor=people.secretary).count() == 4


def test_reimport_updates_and_never_duplicates(tree, people, tags):
    rows = [person("张黎", make_id_number("19700512"), 手机="13987654321", 文化程度="初中"),
            person("夏红燕", make_id_number("19720301", male=False), "配偶")]
    assert run(people.secretary, tree.community, rows).status == ImportJob.Status.APPLIED
    before = counts()

    again = run(people.secretary, tree.community, rows)
    assert again.status == ImportJob.Status.APPLIED, again.errors
    assert (again.households_created, again.residents_created, again.residents_updated) == (0, 0, 0)
    assert counts() == before  # not even a ChangeLog row: nothing changed

    rows[0] |= {"文化程度": "大专", "手机": "13900001111", "标签": "独居老人"}
    rows[1] |= {"手机": ""}  # a blank cell never erases
    changed = run(people.secretary, tree.community, rows)
    assert (changed.residents_created, changed.residents_updated) == (0, 1)
    zhang = Resident.objects.get(name="张黎")
    assert (zhang.education, zhang.phone_masked, zhang.version) == ("大专", "139****1111", 2)
    assert list(zhang.tags.values_list("name", flat=True)) == ["独居老人"]
    assert Resident.objects.count() == 2 and Household.objects.count() == 1


def test_existing_household_found_by_number_and_new_member_added(tree, people, make_household):
    h = make_household(tree.dwellings[0], [("张黎", {"birth": "19700512"})])
    job = run(people.worker1, tree.grids[0],
              [{"户编号": h.number, "与户主关系": "孙子女", "姓名": "张豆豆", "身份证号": make_id_number("20180101")}])
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert (job.households_created, job.residents_created) == (0, 1)
    assert set(h.members.values_list("name", flat=True)) == {"张黎", "张豆豆"}


def test_changing_the_head_through_the_file(tree, people, make_household):
    head, wife = make_id_number("19700512"), make_id_number("19720301", male=False)
    h = make_household(tree.dwellings[0], [("张黎", {"id_number": head}),
                                           ("夏红燕", {"id_number": wife, "relation": "配偶"})])
    job = run(people.worker1, tree.grids[0], [person("张黎", head, "配偶"), person("夏红燕", wife, "户主")])
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert job.residents_updated == 2
    h.refresh_from_db()
    assert h.head.name == "夏红燕"


# ---- tolerant parsing ----------------------------------------------------------------------

def test_title_row_two_row_merged_header_synonyms_and_messy_cells(tree, people):
    """A sheet as it comes back from the field: title, merged two-row header, synonyms, full-width
    digits, ideographic spaces, 15-digit IDs, lowercase x, dates in every spelling."""
    legacy15 = "530626800101001"  # 1980-01-01, legacy 15 digits
    with_x = next(n for n in (make_id_number("19880808", seq=s) for s in range(1, 400)) if n.endswith("X"))
    ids = [make_id_number("19700512"), with_x, legacy15, make_id_number("19650303"), make_id_number("19900909")]
    header_top = ["序号", "住址", None, None, "姓名", "公民身份号码", "与户主的关系", "联系方式", None, "入住时间"]
    header = [None, "楼栋号", "单元号", "房间号", None, None, None, "联系电话", "座机", None]
    rows = [
        [1, "1栋", "1单元", 101, "\u3000张  黎 ", ids[0], "户主", 13987654321, None, dt.datetime(2019, 5, 1)],
        [2, "1栋", "1单元", "１０２", "王芳", with_x.lower(), "本人", "139 0000 1111", None, 43586],
        [3, "1号楼", "一单元", "201", "赵强", float(legacy15), "户主", None, "0870-7654321", "2019.5.1"],
        [4, "1栋", "2单元", "101室", "钱进", f" {ids[3]} ", "户主", None, None, "2019年5月1日"],
        [5, "1栋", "2单元", "102", "孙悦", ids[4], "户主", "0870-1112222", None, "  2019-05-01 "],
        [None] * 10,  # a blank row between data rows is skipped
    ]
    wb = Workbook()
    ws = wb.active
    ws.append(["福兴社区户籍信息表"])
    ws.merge_cells("A1:J1")
    ws.append(header_top)
    ws.append(header)
    ws.merge_cells("B2:D2")
    ws.merge_cells("H2:I2")
    for col in "AEFGJ":
        ws.merge_cells(f"{col}2:{col}3")
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)

    job = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=buffer, filename="x.xlsx")

    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert (job.total_rows, job.households_created, job.residents_created) == (5, 5, 5)
    zhang = Resident.objects.get(name="张黎")
    assert zhang.household.address == "1栋1单元101室" and zhang.phone_masked == "139****4321"
    assert Resident.objects.get(name="王芳").id_number_masked.endswith("X")
    assert Resident.objects.get(name="王芳").household.address == "1栋1单元102室"
    zhao = Resident.objects.get(name="赵强")
    assert zhao.birth_date == dt.date(1980, 1, 1) and len(zhao.id_number_masked) == 18
    assert zhao.landline_masked == "0870-***4321" and zhao.household.address == "1栋1单元201室"
    assert Resident.objects.get(name="钱进").household.address == "1栋2单元101室"
    sun = Resident.objects.get(name="孙悦")
    assert sun.phone_masked == "" and sun.landline_masked == "0870-***2222"  # a landline in 联系电话 moves over
    assert set(Household.objects.values_list("moved_in_on", flat=True)) == {dt.date(2019, 5, 1)}


def test_header_row_numbers_are_excel_row_numbers(tree, people):
    rows = [person("张黎", make_id_number()), person("李四", "530626198002310011", "配偶")]
    job = run(people.secretary, tree.community, rows, above=[["福兴社区户籍信息表"], []])
    assert job.status == ImportJob.Status.FAILED
    assert errors_at(job, 5) == [("身份证号", "身份证号中的出生日期 19800231 不存在")]


# ---- validation: the right message at the right row and column, nothing written ----------

BAD_CASES = {
    "checksum": ({"身份证号": "530626197005120034"}, "身份证号", "校验位错误"),
    "birth date": ({"身份证号": "530626198013010011"}, "身份证号", "出生日期 19801301 不存在"),
    "scientific": ({"身份证号": 5.30626197005120e17}, "身份证号", "被Excel存成了数字"),
    "masked id": ({"身份证号": "5306**********0039"}, "身份证号", "已打码"),
    "phone": ({"手机": "12345"}, "手机", "不是有效的电话号码"),
    "landline in both": ({"手机": "0870-1234567", "座机": "0870-7654321"}, "手机", "座机请填写在“座机”一栏"),
    "building": ({"楼栋": "9栋"}, "楼栋", "楼栋“9栋”在福兴社区下不存在"),
    "unit": ({"单元": "3单元"}, "单元", "单元“3单元”在1栋下不存在"),
    "grid": ({"网格": "2网格"}, "楼栋", "楼栋“1栋”不在2网格内"),
    "choice": ({"文化程度": "幼儿园"}, "文化程度", "“幼儿园”不是有效的文化程度"),
    "relation": ({"与户主关系": "邻居"}, "与户主关系", "不是有效的与户主关系"),
    "tag": ({"标签": "独居老人、外星人"}, "标签", "系统中没有“外星人”这个标签"),
    "date": ({"入住日期": "去年春天"}, "入住日期", "不是有效的日期"),
    "future date": ({"入住日期": "2999-01-01"}, "入住日期", "不能晚于今天"),
    "no address": ({"楼栋": None, "单元": None, "房号": None}, "楼栋", "请填写楼栋、单元、房号"),
    "missing room": ({"房号": None}, "房号", "请填写房号"),
    "floor": ({"房号": "1203"}, "房号", "12层超过了1栋的总层数2层"),
    "no name": ({"姓名": "  "}, "姓名", "请填写姓名"),
    "unknown number": ({"户编号": "530626100012-99999"}, "户编号", "在系统中不存在"),
}


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_reported_in_chinese_at_row_and_column(case, tree, people, tags):
    change, column, message = BAD_CASES[case]
    good = person("张黎", make_id_number("19700512"))
    bad = person("夏红燕", make_id_number("19720301", male=False), "户主", room="102") | change
    before = counts()

    job = run(people.secretary, tree.community, [good, bad])

    assert job.status == ImportJob.Status.FAILED
    assert errors_at(job, 2) == []
    assert any(col == column and message in msg for col, msg in errors_at(job, 3)), job.errors
    assert counts() == before


def test_duplicate_id_in_file_names_the_other_row(tree, people):
    number = make_id_number()
    job = run(people.secretary, tree.community, [person("张黎", number), person("张黎", number, "子")])
    assert errors_at(job, 3) == [("身份证号", "与第2行的身份证号重复")]
    assert job.errors[0]["value"] == number[:4] + "*" * 10 + number[-4:]  # stored masked
    assert Resident.objects.count() == 0


def test_household_without_head_or_with_two(tree, people):
    no_head = run(people.secretary, tree.community,
                  [person("张黎", make_id_number(), "配偶"), person("张明", make_id_number(), "子")])
    assert {e["row"] for e in no_head.errors} == {2, 3}
    assert "该户没有户主" in no_head.errors[0]["message"] and no_head.errors[0]["column"] == "与户主关系"

    two = run(people.secretary, tree.community, [person("张黎", make_id_number()), person("王芳", make_id_number())])
    assert [(e["row"], e["column"]) for e in two.errors] == [(2, "与户主关系"), (3, "与户主关系")]
    assert "同一户有多位户主(第2、3行)" in two.errors[0]["message"]


def test_second_head_for_an_existing_household(tree, people, make_household):
    make_household(tree.dwellings[0], [("张黎", {})])
    job = run(people.worker1, tree.grids[0], [person("王芳", make_id_number())])
    assert "已有户主“张黎”" in errors_at(job, 2)[0][1]


def test_permission_is_checked_for_each_place(tree, people):
    """A grid worker may start an import into the community, but rows of the other grid fail."""
    before = counts()
    job = run(people.worker1, tree.community, [
        person("张黎", make_id_number()),
        person("李四", make_id_number(), building="2栋", unit="1单元", room="101"),
    ])
    assert job.status == ImportJob.Status.FAILED
    assert errors_at(job, 3) == [("楼栋", "您没有在“2网格2栋1单元”导入户籍数据的权限")]
    assert errors_at(job, 2) == []
    assert counts() == before

    nobody = run(people.county, tree.community, [person("张黎", make_id_number())])
    assert nobody.errors == [{"row": None, "column": "", "value": "",
                              "message": "您没有向“福兴社区”导入户籍数据的权限"}]


def test_creating_a_dwelling_needs_the_right_to_manage_areas(tree, people):
    job = run(people.worker1, tree.grids[0], [person("张黎", make_id_number(), room="203")])
    assert "您没有新建户室的权限" in errors_at(job, 2)[0][1]
    secretary = run(people.secretary, tree.grids[0], [person("张黎", make_id_number(), room="203")])
    assert secretary.status == ImportJob.Status.APPLIED


def test_known_person_elsewhere_or_renamed_is_refused(tree, people, make_household):
    number = make_id_number()
    make_household(tree.dwellings[-1], [("张黎", {"id_number": number})])  # grid 2
    moved = run(people.secretary, tree.community, [person("张黎", number)])
    assert "张黎已登记在“2栋2单元202室”" in errors_at(moved, 2)[0][1]
    hidden = run(people.worker1, tree.grids[0], [person("张黎", number)])
    assert errors_at(hidden, 2) == [("身份证号", "该身份证号已在其他区域登记,不能在此导入;人员迁入请联系原所在社区办理")]
    renamed = run(people.secretary, tree.community, [person("张丽", number, building="2栋", unit="2单元", room="202")])
    assert "登记的姓名是“张黎”" in errors_at(renamed, 2)[0][1]


def test_file_level_problems(tree, people):
    missing = run(people.secretary, tree.community, [{"姓名": "张黎"}], header=["楼栋", "单元", "房号", "姓名", "与户主关系"])
    assert missing.errors[0]["message"] == "表头缺少“身份证号”列,请使用户籍信息表模板"
    garbage = importer.import_workbook(actor=people.secretary, area=tree.community,
                                       fileobj=io.BytesIO(b"not a workbook"), filename="x.xlsx")
    assert garbage.status == ImportJob.Status.FAILED and "无法读取该文件" in garbage.errors[0]["message"]
    old = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=io.BytesIO(b""),
                                   filename="旧表.xls")
    assert "不支持旧版 .xls 文件" in old.errors[0]["message"]
    empty = run(people.secretary, tree.community, [])
    assert empty.errors[0]["message"] == "表格中没有可导入的数据行"


# ---- all or nothing ------------------------------------------------------------------------

def test_an_exception_half_way_rolls_everything_back(tree, people, monkeypatch, tags):
    rows = [person(f"居民{i}", make_id_number(), "户主", room=room, 标签="独居老人")
            for i, room in enumerate(["101", "102", "201", "203"])]
    before = counts()
    real = services.resident_create
    calls = {"n": 0}

    def flaky(**kwargs: Any) -> Resident:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(services, "resident_create", flaky)
    job = run(people.secretary, tree.community, rows)

    assert calls["n"] == 3
    assert job.status == ImportJob.Status.CRASHED
    assert "没有写入任何数据" in job.errors[0]["message"]
    assert counts() == before  # households, residents, the new dwelling, change logs, tags: all gone


def test_a_service_refusing_a_row_fails_the_job_at_that_row(tree, people, monkeypatch):
    from django.core.exceptions import ValidationError

    real = services.resident_create

    def refuse_second(**kwargs: Any) -> Resident:
        if kwargs["name"] == "王芳":
            raise ValidationError({"phone": "号码已停用"})
        return real(**kwargs)

    monkeypatch.setattr(services, "resident_create", refuse_second)
    job = run(people.secretary, tree.community, [person("张黎", make_id_number()),
                                                 person("王芳", make_id_number(), "配偶")])
    assert job.status == ImportJob.Status.FAILED
    assert errors_at(job, 3) == [("手机", "号码已停用")]
    assert Resident.objects.count() == 0


def test_progress_is_reported_per_phase(tree, people):
    seen: list[tuple[str, int, int]] = []
    importer.import_workbook(actor=None, area=tree.community, fileobj=xlsx([person("张黎", make_id_number())]),
                             filename="x.xlsx", progress=lambda *p: seen.append(p))
    assert ("validate", 1, 1) in seen and ("apply", 1, 1) in seen and seen[0][0] == "read"


# ---- error report --------------------------------------------------------------------------

def test_error_report_holds_the_failed_rows_with_reasons(tree, people):
    rows = [person("张黎", make_id_number()),
            person("王芳", "530626197005120034", "配偶", 手机="12345"),
            person("李四", make_id_number(), "户主", building="9栋")]
    upload = xlsx(rows).getvalue()
    job = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=io.BytesIO(upload),
                                   filename="x.xlsx")

    failed = load_workbook(io.BytesIO(exporter.error_report(io.BytesIO(upload), job.errors))).active
    data = list(failed.iter_rows(values_only=True))
    assert data[0] == (*HEADER, "错误原因")
    assert [r[HEADER.index("姓名")] for r in data[1:]] == ["王芳", "李四"]
    reason = data[1][-1]
    assert reason.startswith("第3行:") and "身份证号:身份证号校验位错误" in reason and "手机:" in reason
    assert data[1][HEADER.index("身份证号")] == "530626197005120034"  # the original cell, to fix in place
    assert "楼栋“9栋”在福兴社区下不存在" in data[2][-1]

    everything = load_workbook(io.BytesIO(exporter.error_report(io.BytesIO(upload), job.errors,
                                                                only_failed=False))).active
    names = [r[HEADER.index("姓名")] for r in everything.iter_rows(min_row=2, values_only=True)]
    assert names == ["张黎", "王芳", "李四"]

    # Fixed and uploaded again, the report is an import file like any other.
    fixed = load_workbook(io.BytesIO(exporter.error_report(io.BytesIO(upload), job.errors, only_failed=False)))
    ws = fixed.active
    ws.cell(row=3, column=HEADER.index("身份证号") + 1, value=make_id_number(male=False))
    ws.cell(row=3, column=HEADER.index("手机") + 1, value="13900001111")
    ws.cell(row=4, column=HEADER.index("楼栋") + 1, value="2栋")
    buffer = io.BytesIO()
    fixed.save(buffer)
    buffer.seek(0)
    again = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=buffer, filename="y.xlsx")
    assert again.status == ImportJob.Status.APPLIED, again.errors
    assert again.residents_created == 3


def test_template_has_header_drop_downs_and_instructions(tags):
    wb = load_workbook(io.BytesIO(exporter.build_template()))
    assert wb.sheetnames == ["户籍信息表", "选项", "填表说明"]
    ws = wb["户籍信息表"]
    assert [c.value for c in ws[1]] == HEADER
    validated = {str(dv.sqref).split(":")[0] for dv in ws.data_validations.dataValidation}
    assert "G2" in validated  # 与户主关系
    assert ws.column_dimensions["I"].number_format == "@"  # 身份证号 typed as text, never 5.30626E+17
    assert wb["选项"].sheet_state == "hidden"
    notes = " ".join(str(c.value) for row in wb["填表说明"].iter_rows() for c in row if c.value)
    assert "独居老人" in notes and "身份证号" in notes
    # The template itself is a valid (empty) import file.
    sheet = importer.read_sheet(io.BytesIO(exporter.build_template()))
    assert sheet.rows == [] and set(sheet.columns) == {col.key for col in importer.COLUMNS}


# ---- pages ---------------------------------------------------------------------------------

@pytest.fixture
def inline(settings, tmp_path):
    settings.WUZHI_IMPORT_INLINE = True
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(client: Any, area: Any, rows: list[dict[str, Any]], name: str = "户籍信息.xlsx") -> Any:
    buffer = xlsx(rows)
    buffer.name = name
    return client.post(reverse("registry:import"), {"area": area.pk, "file": buffer})


def test_upload_then_job_page_then_result(client, tree, people, inline):
    client.force_login(people.worker1)
    page = client.get(reverse("registry:import"))
    assert page.status_code == 200
    assert list(page.context["form"].fields["area"].queryset) == [tree.grids[0]]  # only where IMPORT is held

    response = upload(client, tree.grids[0], [person("张黎", make_id_number())])
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("registry:import_job", args=[job.pk])
    assert job.status == ImportJob.Status.APPLIED and job.filename == "户籍信息.xlsx"
    assert not importer.stored_path(job).exists()  # imported: the clear-text upload is gone

    result = client.get(response["Location"])
    html = result.content.decode()
    assert "已全部导入" in html and "新登记人员" in html and 'hx-trigger="every 1s"' not in html
    assert "户籍信息.xlsx" in client.get(reverse("registry:import")).content.decode()  # recent jobs


def test_job_page_polls_while_running(client, tree, people, inline):
    from django.core.cache import cache

    from wuzhi.registry import views_io

    job = ImportJob.objects.create(created_by=people.worker1, area=tree.grids[0], area_path=tree.grids[0].path,
                                   filename="大表.xlsx", status=ImportJob.Status.RUNNING)
    cache.set(views_io.progress_key(job.pk), {"phase": "apply", "done": 500, "total": 1000})
    client.force_login(people.worker1)
    html = client.get(reverse("registry:import_job_status", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in html and reverse("registry:import_job_status", args=[job.pk]) in html
    assert "width: 75%" in html and "写入数据" in html and "500 / 1000" in html


def test_failed_job_shows_errors_and_offers_the_report(client, tree, people, inline):
    client.force_login(people.worker1)
    response = upload(client, tree.grids[0], [person("张黎", make_id_number()),
                                              person("王芳", make_id_number(), "配偶", 文化程度="幼儿园")])
    html = client.get(response["Location"]).content.decode()
    assert "没有导入任何数据" in html and "“幼儿园”不是有效的文化程度" in html
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and importer.stored_path(job).exists()

    report = client.get(reverse("registry:import_errors", args=[job.pk]))
    assert report.status_code == 200 and "filename*=utf-8''" in report["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(report.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2 and "幼儿园" in rows[1][-1]
    full = client.get(reverse("registry:import_errors", args=[job.pk]) + "?all=1")
    assert len(list(load_workbook(io.BytesIO(full.content)).active.iter_rows())) == 3

    # A county cadre may see the job (masked values), but not the report with full ID numbers.
    client.force_login(people.county)
    assert client.get(reverse("registry:import_job", args=[job.pk])).status_code == 200
    assert client.get(reverse("registry:import_errors", args=[job.pk])).status_code == 403


def test_job_outside_the_users_area_is_404(client, tree, people, inline):
    client.force_login(people.worker1)
    upload(client, tree.grids[0], [person("张黎", make_id_number())])
    job = ImportJob.objects.get()
    client.force_login(people.worker2)
    for name in ("registry:import_job", "registry:import_job_status", "registry:import_errors"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    client.force_login(people.secretary)
    assert client.get(reverse("registry:import_job", args=[job.pk])).status_code == 200


def test_upload_form_refuses_other_areas_and_other_files(client, tree, people, inline):
    client.force_login(people.worker1)
    response = upload(client, tree.grids[1], [person("张黎", make_id_number())])
    assert response.status_code == 200 and response.context["form"].errors["area"]
    xls = io.BytesIO(b"old")
    xls.name = "户籍.xls"
    response = client.post(reverse("registry:import"), {"area": tree.grids[0].pk, "file": xls})
    assert "另存为" in response.context["form"].errors["file"][0]
    assert ImportJob.objects.count() == 0

    client.force_login(people.county)
    assert "您没有导入户籍数据的权限" in client.get(reverse("registry:import")).content.decode()


def test_template_download(client, people, inline):
    client.force_login(people.worker1)
    response = client.get(reverse("registry:import_template"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert load_workbook(io.BytesIO(response.content)).sheetnames[0] == "户籍信息表"


def test_pages_need_login(client, tree):
    assert client.get(reverse("registry:import")).status_code == 302
    assert client.get(reverse("registry:import_template")).status_code == 302
