"""Faults of the Excel round trip: the database connection drops in the middle of an import, the
worker running an import dies, the disk fills up in the middle of an export.

What must hold every time: nothing of a half-applied file is in the database, the job says in
Chinese what happened (never 处理中 forever), and no half-written workbook is sent or left lying
around (an export may hold full ID numbers)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.conftest import make_id_number
from wuzhi.core.models import AccessLog, ChangeLog
from wuzhi.registry import exporter, importer
from wuzhi.registry.models import Dwelling, Household, ImportJob, Resident
from wuzhi.registry.views_io import progress_key

from .test_import import person, xlsx

# Applying reports progress every 50 people; the file has more, so a fault at the first report
# falls in the middle of the transaction with 50 people already written.
FAULT_AT = 50


def big_file_rows() -> list[dict[str, Any]]:
    """16 households of 4 (64 people) in 1栋: enough to be interrupted after 50."""
    rows = []
    for unit in ("1单元", "2单元"):
        for floor in (1, 2):
            for room in range(1, 5):
                number = f"{floor}0{room}"
                rows += [
                    person(f"户主{unit}{number}", make_id_number("19700101"), unit=unit, room=number),
                    person(f"配偶{unit}{number}", make_id_number("19720101", male=False), "配偶", unit=unit,
                           room=number),
                    person(f"儿子{unit}{number}", make_id_number("20000101"), "子", unit=unit, room=number),
                    person(f"女儿{unit}{number}", make_id_number("20030101", male=False), "女", unit=unit,
                           room=number),
                ]
    return rows


def snapshot() -> tuple[int, int, int, int]:
    return Household.objects.count(), Resident.objects.count(), Dwelling.objects.count(), ChangeLog.objects.count()


# ---- the connection drops during an import -------------------------------------------------

def test_import_interrupted_mid_apply_writes_nothing_and_says_why(tree, people):
    """The database answers "connection lost" after 50 people were written inside the import's
    transaction (injected at the progress seam; runs on every backend)."""
    before = snapshot()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "apply" and done >= FAULT_AT:
            raise OperationalError("server closed the connection unexpectedly")

    job = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=xlsx(big_file_rows()),
                                   filename="户籍.xlsx", progress=progress)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CRASHED and job.finished_at is not None
    assert [e["message"] for e in job.errors] == [importer.CONNECTION_LOST]
    assert "连接中断" in job.errors[0]["message"] and "没有写入任何数据" in job.errors[0]["message"]
    assert snapshot() == before


@pytest.mark.postgres
def test_import_whose_backend_is_terminated_mid_apply_writes_nothing(transactional_db, tree, people):
    """PostgreSQL: another connection terminates the importing backend (pg_terminate_backend) after
    50 people were written. The server rolls the transaction back; Django drops the dead
    connection; the job is recorded on a new connection as failed, in Chinese."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set WUZHI_DATABASE_URL=postgres://…)")
    before = snapshot()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        importing_pid = cursor.fetchone()[0]
    terminated = []

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "apply" and done >= FAULT_AT and not terminated:
            other = connections.create_connection(DEFAULT_DB_ALIAS)
            try:
                with other.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [importing_pid])
                    terminated.append(cursor.fetchone()[0])
            finally:
                other.close()

    job = importer.import_workbook(actor=people.secretary, area=tree.community, fileobj=xlsx(big_file_rows()),
                                   filename="户籍.xlsx", progress=progress)
    assert terminated == [True]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != importing_pid  # really a new connection
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CRASHED, job.errors
    assert [e["message"] for e in job.errors] == [importer.CONNECTION_LOST]
    assert snapshot() == before


# ---- the worker running an import dies -----------------------------------------------------

def _running_job(tree: Any, people: Any, *, age: dt.timedelta) -> ImportJob:
    job = ImportJob.objects.create(created_by=people.secretary, area=tree.community, area_path=tree.community.path,
                                   filename="户籍.xlsx", status=ImportJob.Status.RUNNING)
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)  # auto_now_add ignores a value
    return job


def test_a_job_whose_worker_died_is_ended_when_jobs_are_looked_at(client, tree, people):
    """A killed process leaves its job 处理中 (nobody is left to record the outcome). The job
    pages end such jobs: no progress for 15 minutes means the worker is gone."""
    dead = _running_job(tree, people, age=dt.timedelta(minutes=40))
    beating = _running_job(tree, people, age=dt.timedelta(minutes=40))  # long, but still reporting
    cache.set(progress_key(beating.pk), {"phase": "apply", "done": 5000, "total": 9000, "at": time.time()})
    young = _running_job(tree, people, age=dt.timedelta(minutes=2))  # just started, no report yet

    client.force_login(people.secretary)
    page = client.get(reverse("registry:import_job", args=[dead.pk]))
    assert page.status_code == 200
    assert "处理导入的服务中途停止" in page.content.decode()
    dead.refresh_from_db()
    assert dead.status == ImportJob.Status.CRASHED and dead.finished_at is not None
    assert [e["message"] for e in dead.errors] == [importer.WORKER_LOST]
    assert ImportJob.objects.get(pk=beating.pk).status == ImportJob.Status.RUNNING
    assert ImportJob.objects.get(pk=young.pk).status == ImportJob.Status.RUNNING

    # A heartbeat that stopped 20 minutes ago is a dead worker too, seen from the import page.
    cache.set(progress_key(beating.pk), {"phase": "apply", "done": 5000, "total": 9000, "at": time.time() - 1200})
    assert client.get(reverse("registry:import")).status_code == 200
    assert ImportJob.objects.get(pk=beating.pk).status == ImportJob.Status.CRASHED


@pytest.mark.postgres
def test_import_process_killed_mid_apply_leaves_nothing_and_the_job_is_ended(transactional_db, tree, people,
                                                                              tmp_path):
    """The real crash: an import runs in another process, which is killed (SIGKILL) after 50
    people were written. The server rolls its transaction back; the job, left 处理中 by the dead
    process, is ended by the stale-job check."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set WUZHI_DATABASE_URL=postgres://…)")
    before = snapshot()
    upload = tmp_path / "户籍.xlsx"
    upload.write_bytes(xlsx(big_file_rows()).getvalue())
    job = ImportJob.objects.create(created_by=people.secretary, area=tree.community, area_path=tree.community.path,
                                   filename="户籍.xlsx")
    settings_dict = connection.settings_dict
    url = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
           f"{settings_dict['NAME']}")
    script = f"""
import os, sys, time, django
django.setup()
from wuzhi.registry import importer
from wuzhi.registry.models import ImportJob
job = ImportJob.objects.select_related("area", "created_by").get(pk="{job.pk}")
def progress(phase, done, total):
    if phase == "apply" and done >= {FAULT_AT}:
        print("written", done, flush=True)
        time.sleep(600)  # killed here, inside the transaction
with open(sys.argv[1], "rb") as f:
    importer.import_workbook(actor=job.created_by, area=job.area, fileobj=f, filename=job.filename,
                             progress=progress, job=job)
"""
    env = {**os.environ, "WUZHI_DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "wuzhi.settings"}
    worker = subprocess.Popen([sys.executable, "-c", script, str(upload)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = worker.stdout.readline() if worker.stdout else ""
        assert line.startswith("written"), worker.stderr.read() if worker.stderr else ""
        assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    # The server notices the dead client and rolls back; give it a moment to end the backend.
    for _ in range(50):
        if snapshot() == before:
            break
        time.sleep(0.1)
    assert snapshot() == before
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING  # nobody recorded it

    assert importer.fail_stale_jobs(lambda pk: None, now=timezone.now() + importer.STALE_AFTER * 2) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.CRASHED
    assert [e["message"] for e in job.errors] == [importer.WORKER_LOST]


# ---- the disk fills up during an export ----------------------------------------------------

class SmallDisk:
    """The temporary directory openpyxl streams a long sheet into, on a filesystem that is full
    after a few KiB: a real 64 KiB tmpfs filled to all but 4 KiB where mounting is allowed (root),
    else the process's file size limit (RLIMIT_FSIZE, reported as EFBIG) while `full()` is on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                                      capture_output=True).returncode == 0
        if self.mounted:
            with contextlib.suppress(OSError), (path / "filler").open("wb") as filler:
                filler.write(b"\0" * (60 * 1024))

    @contextlib.contextmanager
    def full(self) -> Any:
        """Temporary files go to the small disk (NamedTemporaryFile's default directory)."""
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = str(self.path)
        try:
            if self.mounted:
                yield
                return
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
            resource.setrlimit(resource.RLIMIT_FSIZE, (4 * 1024, hard))
            try:
                yield
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                signal.signal(signal.SIGXFSZ, previous)
        finally:
            tempfile.tempdir = saved_tempdir

    def leftovers(self) -> list[str]:
        return sorted(name for name in os.listdir(self.path) if name != "filler")

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "--lazy", str(self.path)], capture_output=True)
            self.mounted = False


@pytest.fixture
def small_disk(tmp_path):
    path = tmp_path / "small"
    path.mkdir()
    disk = SmallDisk(path)
    yield disk
    disk.close()


@pytest.fixture
def crowd(tree, make_household):
    """40 residents in grid 1: their sheet is far larger than the space left."""
    for k, dwelling in enumerate(tree.dwellings[:10]):
        make_household(dwelling, [(f"张{'甲乙丙丁'[i]}{'一二三四五六七八九十'[k]}", {"phone": f"1390000{k:02d}{i:02d}"})
                                  for i in range(4)])


def test_disk_full_during_export_is_a_clear_error_and_leaves_no_file(client, people, crowd, small_disk):
    client.force_login(people.secretary)
    url = reverse("registry:export_residents")
    exports = AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).count()

    with small_disk.full():
        response = client.get(url, {"status": "", "reveal": "1"})

    assert response.status_code == 507
    assert response["Content-Type"].startswith("text/html")  # an error page, not half a workbook
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert "导出没有完成" in page and "服务器磁盘空间不足" in page and "没有生成任何文件" in page
    assert small_disk.leftovers() == []  # the half-written sheet (full ID numbers) is gone
    assert AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT).count() == exports  # nothing left the server

    # With room again the same export works and is complete.
    response = client.get(url, {"status": "", "reveal": "1"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.max_row == 1 + 40


def test_disk_full_during_household_export_and_error_report(people, crowd, small_disk):
    with small_disk.full(), pytest.raises(exporter.ExportFailed, match="服务器磁盘空间不足"):
        exporter.export_households(actor=people.secretary, queryset=Household.objects.all(), reveal=True)
    upload = xlsx([person(f"错{i}", "530626198001011230") for i in range(120)])  # bad check digits
    errors = [{"row": i + 2, "column": "身份证号", "message": "校验位错误"} for i in range(120)]
    with small_disk.full(), pytest.raises(exporter.ExportFailed):
        exporter.error_report(upload, errors, only_failed=False)
    assert small_disk.leftovers() == []
