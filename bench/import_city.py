"""Import at speed: the registry's fast import of a generated roster against (a) raw COPY of the
same rows into the same indexed tables and (b) django-import-export on a sample, on PostgreSQL.

    .venv/bin/python bench/import_city.py [--rows 1000000] [--sample 20000]

Builds its own database (`wuzhi_bench_import` on 127.0.0.1, dropped and made again; --db to
change it): the area tree of a one-community city of --rows people (`gen-city --load areas`)
and its roster as CSV. Then, each step timed:

1. django-import-export imports the first --sample rows (a ModelResource for Resident that
   derives the ciphertexts, hashes and pinyin and finds or makes the household per row, as a
   Django developer would write it); its rows are then removed again;
2. the fast import (wuzhi.registry.bulkimport through importer.import_workbook, 2 worker
   processes) imports the whole roster, in a child process so its peak memory is its own;
3. raw COPY: the rows the import wrote (households, residents, their tags) are exported and
   copied back into empty tables with the same indexes (CREATE TABLE … LIKE … INCLUDING ALL),
   and the residents alone into a table with 4 indexes, the issue's reference figure.

Prints one JSON object (rows/s, ratios, peak RSS in MB, phase seconds). Stops by itself;
--max-seconds (default 3600) aborts a run that hangs."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pg_url(db: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{db}"


def recreate_database(db: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
        conn.execute(f'CREATE DATABASE "{db}"')


def setup_django(db: str) -> None:
    os.environ["WUZHI_DATABASE_URL"] = pg_url(db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wuzhi.settings")
    import django

    django.setup()


def peak_mb(who: int) -> float:
    """Peak resident memory of this process (RUSAGE_SELF) or of its largest finished child.

    For this process the kernel's own high-water mark of its address space (VmHWM) is read: the
    getrusage figure is not this process's alone after an exec — Linux keeps the larger of the
    old and new peaks, so a child started by this generator (700 MB after writing a 5-million-row
    roster) reported the generator's peak as its own. Forked workers have no exec: their figure
    counts what they share with the import process at the fork."""
    if who == resource.RUSAGE_SELF:
        with contextlib.suppress(OSError), open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux reports KiB


# ---- the child: only the fast import, so its peak memory is not the generator's ----------

def child_import(roster: Path) -> None:
    from wuzhi.core.models import Area
    from wuzhi.registry import bulkimport
    from wuzhi.registry.importer import import_workbook

    area = Area.objects.get(kind="community")
    seconds: dict[str, float] = {}
    original = bulkimport.import_rows_fast

    def timed(**kw: Any) -> Any:
        result = original(**kw)
        seconds.update(result.seconds)
        return result

    bulkimport.import_rows_fast = timed  # type: ignore[assignment]
    started = time.perf_counter()
    with roster.open("rb") as f:
        job = import_workbook(actor=None, area=area, fileobj=f, filename=roster.name, fast=True, workers=2)
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "status": job.status, "rows": job.total_rows, "residents": job.residents_created,
        "households": job.households_created, "seconds": round(elapsed, 2), "phases": seconds,
        "errors": job.errors[:3], "peak_rss_mb_parent": peak_mb(resource.RUSAGE_SELF),
        "peak_rss_mb_largest_worker": peak_mb(resource.RUSAGE_CHILDREN),
    }))


# ---- (b) django-import-export ------------------------------------------------------------

def import_export_sample(roster: Path, sample: int) -> dict[str, Any]:
    import csv
    import io

    import tablib
    from import_export import fields, resources

    from wuzhi.core import crypto
    from wuzhi.core.models import Area
    from wuzhi.core.pinyin import name_keys
    from wuzhi.core.validators import mask_id, mask_phone, normalize_phone, parse_id_number
    from wuzhi.registry import services
    from wuzhi.registry.models import Dwelling, Household, Resident

    community = Area.objects.get(kind="community")
    units = {(a.parent.parent.name, a.parent.name, a.name): a for a in
             Area.objects.filter(kind="unit").select_related("parent__parent")}
    households: dict[tuple[int, str], Household] = {}

    class ResidentResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        relation = fields.Field(attribute="relation", column_name="与户主关系")
        ethnicity = fields.Field(attribute="ethnicity", column_name="民族")
        education = fields.Field(attribute="education", column_name="文化程度")
        employment = fields.Field(attribute="employment", column_name="就业状况")
        health = fields.Field(attribute="health", column_name="健康状况")
        political = fields.Field(attribute="political", column_name="政治面貌")
        residence = fields.Field(attribute="residence", column_name="户籍与居住")
        id_number_hash = fields.Field(attribute="id_number_hash", column_name="id_number_hash")

        class Meta:
            model = Resident
            import_id_fields = ("id_number_hash",)
            fields = ("name", "relation", "ethnicity", "education", "employment", "health", "political",
                      "residence", "id_number_hash")
            skip_unchanged = False

        def before_import_row(self, row: Any, **kwargs: Any) -> None:
            parsed = parse_id_number(row["身份证号"])
            row["id_number_hash"] = crypto.blind_index(parsed.number, "id")

        def before_save_instance(self, instance: Resident, row: Any, **kwargs: Any) -> None:
            parsed = parse_id_number(row["身份证号"])
            instance.set_id_number(parsed)
            instance.set_phone(normalize_phone(row["手机"]) if row["手机"] else "")
            instance.name_pinyin, instance.name_initials = name_keys(instance.name)
            unit = units[(row["网格"], row["楼栋"], row["单元"])]
            key = (unit.pk, row["房号"])
            household = households.get(key)
            if household is None:
                dwelling, _ = Dwelling.objects.get_or_create(unit=unit, number=row["房号"],
                                                             defaults={"floor": int(row["楼层"]),
                                                                       "area_path": unit.path})
                address, address_key = services.address_of(unit, row["房号"])
                household = Household.objects.create(
                    number=f"{community.code}-{len(households) + 1:05d}", dwelling=dwelling, area=unit,
                    area_path=unit.path, address=address, address_key=address_key)
                households[key] = household
            instance.household = household
            instance.area_path = household.area_path
            assert instance.id_number_masked == mask_id(parsed.number)
            assert not instance.phone_masked or instance.phone_masked == mask_phone(row["手机"])

    with roster.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        head = next(reader)
        # The lookup column import-export matches existing people on, filled per row from the ID.
        lines = [[*head, "id_number_hash"]] + [[*next(reader), ""] for _ in range(sample)]
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    dataset = tablib.Dataset().load(text.getvalue(), format="csv")
    started = time.perf_counter()
    result = ResidentResource().import_data(dataset, dry_run=False, raise_errors=True, use_transactions=True)
    elapsed = time.perf_counter() - started
    created = Resident.objects.count()
    assert not result.has_errors() and created == sample, (result.has_errors(), created)
    return {"rows": sample, "seconds": round(elapsed, 2), "rows_per_s": round(sample / elapsed)}


def wipe_registry() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE registry_residenttag, registry_household_tags, registry_resident, "
                       "registry_household, registry_dwelling, core_changelog RESTART IDENTITY CASCADE")


# ---- (a) raw COPY --------------------------------------------------------------------------

def raw_copy(workdir: Path) -> dict[str, Any]:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]["NAME"]
    out: dict[str, Any] = {}
    tables = ["registry_household", "registry_resident", "registry_residenttag"]
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={db}") as conn, conn.cursor() as cur:
        for t in tables:
            with (workdir / f"{t}.copy").open("wb") as f, cur.copy(f"COPY {t} TO STDOUT") as copy:
                for block in copy:
                    f.write(block)
        cur.execute("SELECT tablename, COUNT(*) FROM pg_indexes WHERE tablename = ANY(%s) GROUP BY tablename",
                    [tables])
        out["indexes"] = dict(cur.fetchall())
        for t in tables:
            cur.execute(f"DROP TABLE IF EXISTS bench_{t}")
            cur.execute(f"CREATE TABLE bench_{t} (LIKE {t} INCLUDING ALL)")
        # The reference: resident rows into a table with 4 indexes.
        cur.execute("DROP TABLE IF EXISTS bench_resident4")
        cur.execute("CREATE TABLE bench_resident4 (LIKE registry_resident INCLUDING DEFAULTS)")
        cur.execute("ALTER TABLE bench_resident4 ADD PRIMARY KEY (id)")
        cur.execute("CREATE UNIQUE INDEX ON bench_resident4 (id_number_hash)")
        cur.execute("CREATE INDEX ON bench_resident4 (area_path varchar_pattern_ops)")
        cur.execute("CREATE INDEX ON bench_resident4 (household_id)")
        conn.commit()
        rows: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for t in [*tables, "resident4"]:
            source = "registry_resident" if t == "resident4" else t
            target = "bench_resident4" if t == "resident4" else f"bench_{t}"
            started = time.perf_counter()
            with (workdir / f"{source}.copy").open("rb") as f, cur.copy(f"COPY {target} FROM STDIN") as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
            conn.commit()
            seconds[t] = time.perf_counter() - started
            cur.execute(f"SELECT COUNT(*) FROM {target}")
            rows[t] = cur.fetchone()[0]  # type: ignore[index]
        for t in [*tables, "resident4"]:
            cur.execute(f"DROP TABLE bench_{t}" if t != "resident4" else "DROP TABLE bench_resident4")
        conn.commit()
    same = seconds["registry_household"] + seconds["registry_resident"] + seconds["registry_residenttag"]
    out.update({
        "seconds": {k: round(v, 2) for k, v in seconds.items()}, "rows": rows,
        "same_tables_seconds": round(same, 2),
        "resident_rows_per_s_same_tables": round(rows["registry_resident"] / same),
        "resident_rows_per_s_4_indexes": round(rows["resident4"] / seconds["resident4"]),
    })
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--db", default="wuzhi_bench_import")
    parser.add_argument("--max-seconds", type=int, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the database and the roster")
    parser.add_argument("--child-import", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        setup_django(args.db)
        child_import(args.child_import)
        return
    signal.alarm(args.max_seconds)  # never hang: the default action of SIGALRM ends the process
    workdir = Path(tempfile.mkdtemp(prefix="wuzhi-bench-import-"))
    try:
        run(args, workdir)
    finally:
        if not args.keep:
            for f in workdir.iterdir():
                f.unlink()
            workdir.rmdir()


def run(args: argparse.Namespace, workdir: Path) -> None:
    roster = workdir / "roster.csv"
    recreate_database(args.db)
    setup_django(args.db)
    from django.core.management import call_command

    report: dict[str, Any] = {"rows": args.rows}
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("gen-city", residents=args.rows, seed=2026, load="areas", counties=1, towns=1, communities=1,
                 roster=roster, json=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
    report["setup_seconds"] = round(time.perf_counter() - started, 1)
    report["roster_mb"] = round(roster.stat().st_size / 2**20, 1)

    report["import_export"] = import_export_sample(roster, args.sample)
    wipe_registry()
    from django.db import connection

    connection.close()

    child = subprocess.run([sys.executable, __file__, "--db", args.db, "--child-import", str(roster)],
                           capture_output=True, text=True, check=True)
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    assert ours["status"] == "applied", ours
    ours["rows_per_s"] = round(ours["rows"] / ours["seconds"])
    report["fast_import"] = ours
    report["raw_copy"] = copy = raw_copy(workdir)
    report["ratios"] = {
        "fast_import_vs_raw_copy_same_tables": round(ours["seconds"] and copy["same_tables_seconds"] / ours["seconds"], 3),
        "fast_import_vs_issue_limit_50k": round(ours["rows_per_s"] / 50_000, 3),
        "fast_import_vs_import_export": round(ours["rows_per_s"] / report["import_export"]["rows_per_s"], 1),
        "peak_rss_vs_500mb": round(max(ours["peak_rss_mb_parent"], ours["peak_rss_mb_largest_worker"]) / 500, 3),
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if args.keep:
        print(f"kept: database {args.db}, roster {roster}", file=sys.stderr)


if __name__ == "__main__":
    main()
