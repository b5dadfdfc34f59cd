"""The fast path of the 户籍信息表 import (wuzhi.registry.bulkimport) on a generated roster:
worker processes, staging table, set-based checks, all or nothing, the same error report."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wuzhi.core import crypto
from wuzhi.core.models import Area, ChangeLog
from wuzhi.core.validators import id_check_digit
from wuzhi.registry.importer import import_workbook
from wuzhi.registry.models import Dwelling, Household, ImportJob, Resident, ResidentTag

pytestmark = pytest.mark.django_db


@pytest.fixture
def roster(tmp_path: Path) -> tuple[Area, list[list[str]]]:
    """A one-community city's tree in the database and its 2,000 people as a roster (not loaded)."""
    path = tmp_path / "roster.csv"
    call_command("gen-city", residents=2000, seed=5, load="areas", counties=1, towns=1, communities=1,
                 roster=path, json=True, stdout=io.StringIO())
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return Area.objects.get(kind="community"), rows


def as_csv(rows: list[list[str]]) -> io.BytesIO:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return io.BytesIO(text.getvalue().encode("utf-8-sig"))


def run(area: Area, rows: list[list[str]], workers: int = 2) -> ImportJob:
    return import_workbook(actor=None, area=area, fileobj=as_csv(rows), filename="花名册.csv", workers=workers)


def nothing_written() -> bool:
    return not (Resident.objects.exists() or Household.objects.exists() or Dwelling.objects.exists()
                or ResidentTag.objects.exists())


def test_one_bad_row_among_2000_writes_nothing_and_names_the_row(roster):
    area, rows = roster
    bad = rows[1234]
    number = bad[10]
    bad[10] = number[:17] + ("0" if number[17] != "0" else "1")  # wrong check digit
    job = run(area, rows)
    assert job.status == ImportJob.Status.FAILED
    # Row numbers are the spreadsheet's: the header is row 1.
    assert job.errors == [{"row": 1235, "column": "身份证号", "value": bad[10][:4] + "*" * 10 + bad[10][-4:],
                           "message": "身份证号校验位错误,请核对号码"}]
    assert nothing_written()

    bad[10] = number
    job = run(area, rows)
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert job.total_rows == job.residents_created == Resident.objects.count() == 2000
    assert job.households_created == Household.objects.count() == Resident.objects.filter(relation="户主").count()
    for h in Household.objects.select_related("head"):
        assert h.head is not None and h.head.household_id == h.pk and h.head.relation == "户主"
    assert ChangeLog.objects.filter(model="registry.importjob", object_id=str(job.pk)).count() == 1
    # What the services would have stored: ciphertext, blind index, mask, tail, pinyin.
    by_number = {crypto.decrypt(r.id_number_enc): r for r in Resident.objects.select_related("household")}
    for row in rows[1:]:
        r = by_number[row[10]]
        assert (r.name, r.household.address, r.id_number_hash) == (
            row[9], f"{row[4]}{row[5]}{row[6]}室", crypto.blind_index(row[10], "id"))
        assert r.phone_hash == crypto.blind_index(row[12], "phone")
    tagged = sum(len([t for t in row[27].split("、") if t]) for row in rows[1:])
    assert ResidentTag.objects.count() == tagged > 0
    numbers = list(Household.objects.order_by("id").values_list("number", flat=True)[:2])
    assert numbers == [f"{area.code}-00001", f"{area.code}-00002"]


def test_file_wide_checks(roster):
    area, rows = roster
    rows[30][10] = rows[20][10]  # the same ID number twice
    heads = [i for i, row in enumerate(rows) if i > 100 and row[8] == "户主"]
    rows[heads[0]][8] = "配偶"  # a household without 户主
    job = run(area, rows)
    assert job.status == ImportJob.Status.FAILED
    messages = {(e["row"], e["message"].split(":")[0].split("(")[0]) for e in job.errors}
    assert (31, "与第21行的身份证号重复") in messages
    assert (heads[0] + 1, "该户没有户主") in messages
    assert nothing_written()


def test_second_import_of_the_same_people_is_refused(roster):
    area, rows = roster
    assert run(area, rows[:301]).status == ImportJob.Status.APPLIED
    before = Resident.objects.count()
    job = run(area, rows[:301])
    assert job.status == ImportJob.Status.FAILED
    assert any("已登记" in e["message"] for e in job.errors)
    assert Resident.objects.count() == before


def test_work_is_set_based(roster):
    """The number of queries does not grow with the rows: 500 rows and 2,000 cost the same."""
    area, rows = roster
    counts = []
    for n in (500, 2000):
        Resident.objects.all().delete()
        Household.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            job = run(area, rows[: n + 1], workers=0)
        assert job.status == ImportJob.Status.APPLIED
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] < 80


def test_a_legacy_15_digit_number_is_upgraded(roster):
    area, rows = roster
    number = rows[1][10]
    first17 = number[:17]
    if first17[6:8] == "19":
        rows[1][10] = first17[:6] + first17[8:]  # 15-digit form
        assert run(area, rows).status == ImportJob.Status.APPLIED
        assert Resident.objects.filter(id_number_hash=crypto.blind_index(first17 + id_check_digit(first17),
                                                                          "id")).exists()


def test_xlsx_streams_through_the_fast_path_too(tmp_path: Path):
    path = tmp_path / "花名册.xlsx"
    call_command("gen-city", residents=300, seed=3, load="areas", counties=1, towns=1, communities=1,
                 roster=path, json=True, stdout=io.StringIO())
    area = Area.objects.get(kind="community")
    with path.open("rb") as f:
        job = import_workbook(actor=None, area=area, fileobj=f, filename=path.name, fast=True)
    assert job.status == ImportJob.Status.APPLIED, job.errors
    assert job.residents_created == Resident.objects.count() == 300


def test_rows_outside_the_users_grants_are_refused(roster, django_user_model):
    from wuzhi.core.roles import Role
    from wuzhi.core.services import grant_role

    area, rows = roster
    grid = Area.objects.filter(kind="grid").order_by("path").first()
    user = django_user_model.objects.create_user("wgy_fast")
    grant_role(actor=None, user=user, role=Role.SECRETARY, area=grid)
    job = import_workbook(actor=user, area=area, fileobj=as_csv(rows), filename="r.csv")
    assert job.status == ImportJob.Status.FAILED
    refused = {e["row"] for e in job.errors if "权限" in e["message"]}
    other_grids = {i + 1 for i, row in enumerate(rows) if i and row[3] != grid.name}
    assert refused == other_grids
    assert nothing_written()


def test_copy_text_round_trips_awkward_values():
    """Workers format COPY text themselves on PostgreSQL: tabs, newlines, backslashes and NULLs
    must arrive as they were."""
    if connection.vendor != "postgresql":
        pytest.skip("COPY text is the PostgreSQL path; SQLite takes executemany")
    import datetime as dt

    from wuzhi.scale import bulk

    values = [(1, "a\tb", "c\\d\ne\rf", None, dt.date(2020, 2, 29)), (2, "张三", "", "x", None)]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_probe (n integer, a text, b text, c text, d date)")
        bulk.copy_text("copy_probe", ("n", "a", "b", "c", "d"), ["".join(bulk.copy_line(v) for v in values)])
        cursor.execute("SELECT n, a, b, c, d FROM copy_probe ORDER BY n")
        assert [tuple(r) for r in cursor.fetchall()] == values
