"""户籍信息表 import for big files (a whole community or city at once: 10⁵–10⁷ rows).

Same columns, same cell rules and the same Chinese error report as wuzhi.registry.importer, whose
row parser (`_Validator.parse`) it runs; what changes is how rows move:

1. the file is streamed (CSV, or .xlsx through openpyxl's read-only reader), never held whole;
2. rows go in chunks to worker processes, which parse them (ID checksum, phone, choices, area
   lookup) and derive what is stored (AES-GCM ciphertexts, blind indexes, masks, pinyin keys);
3. the parent writes the derived rows into a temporary staging table with COPY (executemany on
   SQLite), at most a few chunks in flight, so memory stays flat whatever the file's size;
4. the checks that need the whole file or the database (duplicate ID numbers, already registered
   people, one 户主 per household, occupied dwellings, floors, household fields that must agree)
   run as set-based SQL over the staging table;
5. with no error, a handful of INSERT … SELECT statements move the rows into the registry tables.

Everything from step 3 on is one transaction: all rows or none. This path registers new
households and new people; a row naming a 户编号 or an ID number already registered is reported
(updating people row by row is what the Excel import is for). It writes one change-log entry
for the job rather than one per person."""

from __future__ import annotations

import codecs
import collections
import csv
import datetime as dt
import gc
import io
import itertools
import logging
import multiprocessing
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import Area, ChangeLog
from wuzhi.core.pinyin import name_keys
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.validators import mask_phone
from wuzhi.scale import bulk

from . import choices as c
from .importer import (
    COLUMN,
    COLUMN_ORDER,
    HEADER_SCAN_ROWS,
    NO_HEADER,
    ImportFileError,
    Progress,
    Sheet,
    _find_header,
    _no_progress,
    _Row,
    _Validator,
    error_dict,
    floor_of_room,
    lacking_columns,
    missing_columns_message,
)
from .models import Dwelling, Household, Resident, ResidentTag

logger = logging.getLogger(__name__)

CHUNK_ROWS = 2000
MAX_ERRORS = 5000  # a file that is wrong everywhere: the first ones tell the worker what to fix
IN_FLIGHT_PER_WORKER = 3

STAGE_COLUMNS = (
    "row_no", "failed", "unit_id", "room", "floor", "building_floors", "building_name", "unit_path",
    "community_code", "address", "address_key", "relation", "name", "name_pinyin", "name_initials",
    "id_number_enc", "id_number_hash", "id_number_masked", "id_tail", "birth_date", "sex", "phone_enc",
    "phone_hash", "phone_masked", "phone_tail", "landline_enc", "landline_masked", "ethnicity", "education",
    "employment", "health", "disability", "disability_grade", "political", "residence", "hukou_address",
    "status", "origin_county", "origin_town", "origin_village", "relocation_batch", "moved_in_on",
)
_STAGE_TYPES = {"row_no": "integer", "failed": "integer", "unit_id": "integer", "floor": "integer",
                "building_floors": "integer", "birth_date": "date", "moved_in_on": "date"}
# Resident columns filled from staging columns of the same name.
RESIDENT_COPIED = ("relation", "name", "name_pinyin", "name_initials", "id_number_enc", "id_number_hash",
                   "id_number_masked", "id_tail", "birth_date", "sex", "phone_enc", "phone_hash", "phone_masked",
                   "phone_tail", "landline_enc", "landline_masked", "ethnicity", "education", "employment", "health",
                   "disability", "disability_grade", "political", "residence", "hukou_address", "status")
SHARED_KEYS = ("origin_county", "origin_town", "origin_village", "relocation_batch", "moved_in_on")
# Plain str (not the enum members): COPY text is made by joining str values.
DEFAULTS = {"ethnicity": "汉族", "health": c.Health.HEALTHY.value, "political": c.Political.MASSES.value,
            "residence": c.Residence.BOTH.value, "status": c.PersonStatus.PRESENT.value}
NEW_ONLY = "快速导入只登记新的户和人员"


@dataclass
class BulkResult:
    total_rows: int
    errors: list[dict[str, Any]]
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, for benchmarks and logs


# ---- reading -------------------------------------------------------------------------------

def _decoded(fileobj: IO[bytes]) -> io.TextIOBase:
    """UTF-8 (with or without BOM) as our exports write it, else GB18030 as Excel for Chinese
    Windows saves CSV: decided on the first 64 KiB."""
    head = fileobj.read(65536)
    fileobj.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "gb18030"
    return io.TextIOWrapper(fileobj, encoding=encoding, newline="")  # type: ignore[arg-type]


def _raw_rows(fileobj: IO[bytes], filename: str) -> tuple[Iterator[Sequence[Any]], Any]:
    if filename.lower().endswith(".csv"):
        text = _decoded(fileobj)
        return csv.reader(text), text
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("无法读取该文件,请上传 Excel 工作簿(.xlsx)或 CSV 文件") from exc
    ws = workbook.worksheets[0]
    ws.reset_dimensions()
    return ws.iter_rows(values_only=True), workbook


def open_rows(fileobj: IO[bytes], filename: str) -> tuple[Sheet, int, Iterator[Sequence[Any]], Any]:
    """The header (as a Sheet without rows), the sheet row number of the first data row, an
    iterator over the data rows' cells, and a handle the caller closes."""
    rows, handle = _raw_rows(fileobj, filename)
    head = [tuple(r) for r in itertools.islice(rows, HEADER_SCAN_ROWS)]
    found = _find_header(head)
    if found is None:
        raise ImportFileError(NO_HEADER)
    columns, headers, end = found
    lacking = lacking_columns(columns)
    if lacking:
        raise ImportFileError(missing_columns_message(lacking))
    return Sheet(headers=headers, columns=columns, rows=[]), end + 1, itertools.chain(head[end:], rows), handle


# ---- workers -------------------------------------------------------------------------------

_validator: _Validator | None = None  # set in the parent before the workers fork
_as_copy_text = False  # PostgreSQL: workers hand back COPY text, the parent only forwards it

# A chunk goes to a worker as (first sheet row number, cells, row lengths). CSV cells are all
# text: joined with a separator into one string they pickle and unpickle many times cheaper than
# a list of lists, and the parent is the one process that cannot be parallelised. A chunk whose
# cells hold the separator themselves, and .xlsx rows (numbers, dates), go as lists (lengths None).
_SEP = "\x00"
Chunk = tuple[int, Any, list[int] | None]


def _chunked(rows: Iterator[Sequence[Any]], first: int, size: int, text: bool) -> Iterator[Chunk]:
    number = first
    while True:
        block = list(itertools.islice(rows, size))
        if not block:
            return
        chunk: Chunk = (number, block, None)
        if text:
            lengths = [len(cells) for cells in block]
            joined = _SEP.join(itertools.chain.from_iterable(block))
            if joined.count(_SEP) == sum(lengths) - 1:
                chunk = (number, joined, lengths)
        yield chunk
        number += len(block)


def _unpacked(chunk: Chunk) -> Iterator[tuple[int, Sequence[Any]]]:
    number, payload, lengths = chunk
    if lengths is None:
        yield from enumerate(payload, start=number)
        return
    cells = payload.split(_SEP)
    start = 0
    for n, width in enumerate(lengths, start=number):
        yield n, cells[start:start + width]
        start += width


class _Derive:
    """What stays the same from row to row of a chunk: the keys, and what a unit's rows share."""

    def __init__(self, v: _Validator) -> None:
        self.v = v
        self.seal = crypto.encrypter()
        self.id_index = crypto.indexer("id")
        self.phone_index = crypto.indexer("phone")
        self.units: dict[int, tuple[int | None, str, str, str, str]] = {}
        self.permitted: dict[int, bool] = {}

    def may_import(self, unit: Area) -> bool:
        found = self.permitted.get(unit.pk)
        if found is None:
            found = self.permitted[unit.pk] = (self.v.allowed(Action.CHANGE, unit.path)
                                               and self.v.allowed(Action.IMPORT, unit.path))
        return found

    def unit_fields(self, unit: Area) -> tuple[int | None, str, str, str, str]:
        """(building floors, building name, unit path, community code, address before the room)."""
        found = self.units.get(unit.pk)
        if found is None:
            building = self.v.areas_by_pk.get(unit.parent_id or 0)
            name = building.name if building else ""
            found = self.units[unit.pk] = (building.floors if building else None, name, unit.path,
                                           "".join(unit.path.split("/")[1:4]), f"{name}{unit.name}")
        return found


def _stage_row(d: _Derive, row: _Row) -> tuple[Any, ...] | None:
    """The staging tuple of one parsed row, or None when its place is unknown."""
    unit = row.unit
    if unit is None:
        return None
    floors, building_name, path, code, address = d.unit_fields(unit)
    room = row.room
    floor = row.floor if row.floor is not None else floor_of_room(room)
    ident = row.id
    phone = row.phone if row.phone and "*" not in row.phone else ""
    landline = row.landline if row.landline and "*" not in row.landline else ""
    pinyin, initials = _keys(row.name) if row.name else ("", "")
    fields = row.fields
    get = fields.get
    hf = row.household_fields
    seal = d.seal
    id_values: tuple[Any, ...]
    if ident is not None:
        number = ident.number
        id_values = (seal(number), d.id_index(number), ident.masked, ident.tail, ident.birth_date, ident.sex)
    else:
        id_values = ("", "", "", "", None, "")
    return (
        row.number, int(row.failed), unit.pk, room, floor, floors, building_name, path, code,
        f"{address}{room}室", f"{path}{room.zfill(6)}", row.relation, row.name, pinyin, initials,
        *id_values,
        seal(phone), d.phone_index(phone), mask_phone(phone) if phone else "", phone[-4:],
        seal(landline), mask_phone(landline) if landline else "",
        get("ethnicity", DEFAULTS["ethnicity"]), get("education", ""), get("employment", ""),
        get("health", DEFAULTS["health"]), get("disability", ""), get("disability_grade", ""),
        get("political", DEFAULTS["political"]), get("residence", DEFAULTS["residence"]),
        get("hukou_address", ""), get("status", DEFAULTS["status"]),
        hf.get("origin_county", ""), hf.get("origin_town", ""), hf.get("origin_village", ""),
        hf.get("relocation_batch", ""), hf.get("moved_in_on"),
    )


# The staging columns that hold ints or dates (or NULL); all others hold str.
_NOT_TEXT = tuple(i for i, name in enumerate(STAGE_COLUMNS) if name in _STAGE_TYPES)
_TABS = len(STAGE_COLUMNS) - 1


def _copy_line(stage: tuple[Any, ...]) -> str:
    """bulk.copy_line() of a staging row at a fraction of its cost: only the int and date
    columns need converting (str() writes both as COPY reads them). A row with something to
    escape, or a value not of its column's kind, takes bulk.copy_line."""
    text = list(stage)
    nulls = 0
    for i in _NOT_TEXT:
        value = text[i]
        if value is None:
            text[i] = "\\N"
            nulls += 1
        elif type(value) is int or type(value) is dt.date:
            text[i] = str(value)
    try:
        line = "\t".join(text)
    except TypeError:
        return bulk.copy_line(stage)
    if line.count("\\") != nulls or line.count("\t") != _TABS or "\n" in line or "\r" in line:
        return bulk.copy_line(stage)
    return line + "\n"


_pinyin_cache: dict[str, tuple[str, str]] = {}


def _keys(name: str) -> tuple[str, str]:
    found = _pinyin_cache.get(name)
    if found is None:
        if len(_pinyin_cache) > 100_000:
            _pinyin_cache.clear()
        found = _pinyin_cache[name] = name_keys(name)
    return found


def parse_chunk(chunk: Chunk) -> tuple[Any, list[tuple[int, int, str]], list[dict[str, Any]]]:
    """Worker: (staging rows — tuples, or one block of UTF-8 COPY text with its row count —,
    (row, tag id, "p"/"h") triples, errors) for one chunk."""
    v = _validator
    assert v is not None
    v.errors = []
    d = _Derive(v)
    staged: list[tuple[Any, ...]] = []
    tags: list[tuple[int, int, str]] = []
    for number, cells in _unpacked(chunk):
        row = v.parse_cells(number, cells)
        if row is None:
            continue
        n = row.number
        if row.household_number:
            v.error(n, "household_number", row.household_number,
                    f"{NEW_ONLY},“户编号”请留空;更新已登记的户请用 Excel 户籍信息表导入")
            row.failed = True
        if not row.relation and row.id is not None:
            v.error(n, "relation", "", "新登记的人员请填写与户主关系")
            row.failed = True
        for key in ("phone", "landline"):
            if "*" in getattr(row, key):
                v.error(n, key, getattr(row, key), f"{COLUMN[key].header}号码已打码,无法导入;请填写完整号码或留空")
                row.failed = True
        if row.unit is not None and not d.may_import(row.unit):
            v.error(n, "building", row.building.name if row.building else "",
                    f"您没有在“{row.unit.short_name}”导入户籍数据的权限")
            row.failed = True
        stage = _stage_row(d, row)
        if stage is not None:
            staged.append(stage)
            if row.person_tags:
                tags += [(n, t.pk, "p") for t in {t.pk: t for t in row.person_tags}.values()]
            if row.household_tags:
                tags += [(n, t.pk, "h") for t in {t.pk: t for t in row.household_tags}.values()]
    if _as_copy_text:
        return (len(staged), "".join(map(_copy_line, staged)).encode()), tags, v.errors
    return staged, tags, v.errors


def _worker_started() -> None:
    # What the worker inherited (Django, the area tree, the validator) lives as long as it does:
    # out of the collector's sight, collections only walk what the rows allocate.
    gc.freeze()


def _parsed(chunks: Iterator[Chunk], workers: int
            ) -> Iterator[tuple[Any, list[tuple[int, int, str]], list[dict[str, Any]]]]:
    """Chunks parsed in order, by `workers` forked processes (0: here), never more than a few
    chunks queued, so a file of any length needs the memory of a few chunks."""
    if workers <= 0:
        for chunk in chunks:
            yield parse_chunk(chunk)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_started) as pool:
        pending: collections.deque[Any] = collections.deque()
        for chunk in chunks:
            pending.append(pool.apply_async(parse_chunk, (chunk,)))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


# ---- staging -------------------------------------------------------------------------------

def _create_stage() -> None:
    cols = ", ".join(f"{name} {_STAGE_TYPES.get(name, 'text')}" for name in STAGE_COLUMNS)
    tail = " ON COMMIT DROP" if bulk.is_postgres() else ""
    with connection.cursor() as cursor:
        for table in ("import_stage", "import_stage_tag", "import_stage_hh", "import_stage_seq"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE import_stage ({cols}){tail}")
        cursor.execute(f"CREATE TEMP TABLE import_stage_tag (row_no integer, tag_id integer, kind text){tail}")


def _copy_bytes(table: str, columns: Sequence[str], blocks: Iterator[bytes]) -> None:
    """bulk.copy_text for blocks the workers already encoded (the connection speaks UTF-8), so
    the parent neither decodes nor encodes them."""
    cols = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for block in blocks:
            copy.write(block)


def _stage(parsed: Iterator[tuple[Any, list[tuple[int, int, str]], list[dict[str, Any]]]],
           errors: list[dict[str, Any]], progress: Progress) -> tuple[int, int]:
    """Write the parsed rows into the staging tables; returns (rows, errors seen). Tags wait in
    a temporary file (one COPY runs at a time), not in memory."""
    total = seen = 0
    with tempfile.TemporaryFile("w+", encoding="utf-8") as tag_file:

        def chunks() -> Iterator[Any]:
            nonlocal total, seen
            for staged, tags, errs in parsed:
                seen += len(errs)
                room = MAX_ERRORS - len(errors)
                if room > 0:
                    errors.extend(errs[:room])
                tag_file.writelines(f"{n}\t{tag}\t{kind}\n" for n, tag, kind in tags)
                yield staged
                total += staged[0] if _as_copy_text else len(staged)
                progress("validate", total, 0)

        if _as_copy_text:
            _copy_bytes("import_stage", STAGE_COLUMNS, (block for _n, block in chunks()))
        else:
            bulk.copy_rows("import_stage", STAGE_COLUMNS, (row for staged in chunks() for row in staged))
        tag_file.seek(0)
        bulk.copy_rows("import_stage_tag", ("row_no", "tag_id", "kind"),
                       ((int(n), int(t), k) for n, t, k in (line.rstrip("\n").split("\t") for line in tag_file)))
    with connection.cursor() as cursor:
        # The checks join the file with itself by household and look rows up by number.
        cursor.execute("CREATE INDEX import_stage_household ON import_stage (unit_id, room)")
        cursor.execute("CREATE INDEX import_stage_row ON import_stage (row_no)")
        if bulk.is_postgres():
            cursor.execute("ANALYZE import_stage")
    return total, seen


# ---- checks over the whole file ------------------------------------------------------------

def _fetch(sql: str, params: list[Any] | None = None, limit: int = MAX_ERRORS) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT {int(limit)}", params or [])
        return list(cursor.fetchall())


def _checks(actor: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    hh = "s.unit_id = o.unit_id AND s.room = o.room"
    # The same ID number twice in the file: every row after the first.
    for n, masked, first in _fetch(
        "SELECT s.row_no, s.id_number_masked, f.first_row FROM import_stage s JOIN "
        "(SELECT id_number_hash, MIN(row_no) AS first_row FROM import_stage WHERE id_number_hash <> '' "
        "GROUP BY id_number_hash HAVING COUNT(*) > 1) f ON f.id_number_hash = s.id_number_hash "
        "WHERE s.row_no > f.first_row ORDER BY s.row_no"):
        errors.append(error_dict(n, "id_number", masked, f"与第{first}行的身份证号重复"))
    # Already registered.
    for n, masked, name, address in _fetch(
        f"SELECT s.row_no, s.id_number_masked, r.name, h.address FROM import_stage s "
        f"JOIN {Resident._meta.db_table} r ON r.id_number_hash = s.id_number_hash "
        f"JOIN {Household._meta.db_table} h ON h.id = r.household_id WHERE s.id_number_hash <> '' ORDER BY s.row_no"):
        errors.append(error_dict(n, "id_number", masked,
                                 f"该身份证号已登记为“{name}”({address});{NEW_ONLY},"
                                 "修改已登记人员请用 Excel 户籍信息表导入"))
    # One 户主 per household that still has someone living in it.
    for n, relation, heads, _first in _fetch(
        "SELECT s.row_no, s.relation, o.heads, o.first_row FROM import_stage s JOIN "
        "(SELECT unit_id, room, MIN(row_no) AS first_row, "
        f"SUM(CASE WHEN relation = '{c.Relation.HEAD}' AND status = '{c.PersonStatus.PRESENT}' THEN 1 ELSE 0 END) AS heads, "
        f"SUM(CASE WHEN status = '{c.PersonStatus.PRESENT}' THEN 1 ELSE 0 END) AS living "
        "FROM import_stage GROUP BY unit_id, room) o ON " + hh +
        f" WHERE o.living > 0 AND (o.heads = 0 OR (o.heads > 1 AND s.relation = '{c.Relation.HEAD}' "
        f"AND s.status = '{c.PersonStatus.PRESENT}')) ORDER BY s.row_no"):
        rows = _household_rows(n)
        if heads == 0:
            errors.append(error_dict(n, "relation", relation,
                                     f"该户没有户主:每户须有一人的“与户主关系”为“户主”(第{rows}行为同一户)"))
        else:
            errors.append(error_dict(n, "relation", relation,
                                     f"同一户有多位户主(第{_household_rows(n, heads_only=True)}行),一户只能有一位户主"))
    # A dwelling someone already lives in: this path only registers new households.
    for n, room, address, number in _fetch(
        f"SELECT s.row_no, s.room, s.address, h.number FROM import_stage s "
        f"JOIN {Dwelling._meta.db_table} d ON d.unit_id = s.unit_id AND d.number = s.room "
        f"JOIN {Household._meta.db_table} h ON h.dwelling_id = d.id AND h.status = '{c.HouseholdStatus.PRESENT}' "
        "ORDER BY s.row_no"):
        errors.append(error_dict(n, "room", room, f"{address}已有登记的户(户编号{number});{NEW_ONLY},"
                                                  "往已有的户添加人员请用 Excel 户籍信息表导入"))
    # Dwellings to create: a floor is needed and must exist in the building.
    new_dwelling = (f"NOT EXISTS (SELECT 1 FROM {Dwelling._meta.db_table} d "
                    "WHERE d.unit_id = s.unit_id AND d.number = s.room)")
    for n, room, floor, floors, building in _fetch(
        "SELECT s.row_no, s.room, s.floor, s.building_floors, s.building_name FROM import_stage s WHERE "
        f"{new_dwelling} AND (s.floor IS NULL OR s.floor > s.building_floors) ORDER BY s.row_no"):
        if floor is None:
            errors.append(error_dict(n, "floor", "", f"无法从房号“{room}”推算楼层,请填写“楼层”"))
        else:
            errors.append(error_dict(n, "room", room, f"{floor}层超过了{building}的总层数{floors}层,请核对房号"))
    if actor is not None:
        units = [row[0] for row in _fetch(f"SELECT DISTINCT s.unit_path FROM import_stage s WHERE {new_dwelling}")]
        refused = [p for p in units if not can(actor, Action.MANAGE_AREAS, p)]
        for chunk in [refused[i:i + 500] for i in range(0, len(refused), 500)]:
            marks = ", ".join(["%s"] * len(chunk))
            for n, room in _fetch(f"SELECT s.row_no, s.room FROM import_stage s WHERE s.unit_path IN ({marks}) "
                                  f"AND {new_dwelling} ORDER BY s.row_no", chunk):
                errors.append(error_dict(n, "room", room, f"系统中还没有{room}室,您没有新建户室的权限,"
                                                          "请社区书记先在“区域与楼栋”中添加"))
    # Household fields: the first row that fills one decides, the others must agree.
    for key in SHARED_KEYS:
        filled = f"{{t}}.{key} IS NOT NULL" + ("" if key == "moved_in_on" else f" AND {{t}}.{key} <> ''")
        for n, value, first_row, first_value in _fetch(
            f"SELECT s.row_no, s.{key}, o.row_no, o.{key} FROM "
            f"(SELECT x.unit_id, x.room, MIN(x.row_no) AS first_row FROM import_stage x "
            f"WHERE {filled.format(t='x')} GROUP BY x.unit_id, x.room) f "
            "JOIN import_stage o ON o.row_no = f.first_row "
            "JOIN import_stage s ON s.unit_id = f.unit_id AND s.room = f.room "
            f"WHERE {filled.format(t='s')} AND s.{key} <> o.{key} ORDER BY s.row_no"):
            errors.append(error_dict(n, key, value, f"同一户的“{COLUMN[key].header}”应一致,第{first_row}行为“{first_value}”"))
    return errors


def _household_rows(row_no: int, heads_only: bool = False) -> str:
    extra = f" AND s.relation = '{c.Relation.HEAD}' AND s.status = '{c.PersonStatus.PRESENT}'" if heads_only else ""
    rows = _fetch("SELECT s.row_no FROM import_stage s JOIN import_stage o ON o.unit_id = s.unit_id "
                  f"AND o.room = s.room WHERE o.row_no = %s{extra} ORDER BY s.row_no", [row_no], limit=50)
    return "、".join(str(r[0]) for r in rows)


# ---- applying ------------------------------------------------------------------------------

def _apply(actor: Any, area: Area, job_id: Any) -> dict[str, int]:
    now = timezone.now()
    bulk.lock_tables(Dwelling, Household, Resident)
    base_h = bulk.next_id(Household) - 1
    base_r = bulk.next_id(Resident) - 1
    pg = bulk.is_postgres()
    d_table, h_table, r_table = Dwelling._meta.db_table, Household._meta.db_table, Resident._meta.db_table
    head = f"relation = '{c.Relation.HEAD}'"
    present = f"status = '{c.PersonStatus.PRESENT}'"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE import_stage_hh" + (" ON COMMIT DROP" if pg else "") + " AS "
            "SELECT unit_id, room, MIN(row_no) AS first_row, MIN(floor) AS floor, MIN(unit_path) AS unit_path, "
            "MIN(community_code) AS community_code, MIN(address) AS address, MIN(address_key) AS address_key, "
            + ", ".join(f"MAX({k}) AS {k}" for k in SHARED_KEYS) + ", "
            f"COALESCE(MAX(CASE WHEN {head} THEN hukou_address END), '') AS hukou_address, "
            f"MIN(CASE WHEN {head} AND {present} THEN row_no END) AS head_row "
            "FROM import_stage GROUP BY unit_id, room")
        cursor.execute(
            f"INSERT INTO {d_table} (unit_id, floor, number, occupancy, area_m2, area_path) "
            f"SELECT h.unit_id, h.floor, h.room, %s, NULL, h.unit_path FROM import_stage_hh h WHERE NOT EXISTS "
            f"(SELECT 1 FROM {d_table} d WHERE d.unit_id = h.unit_id AND d.number = h.room)", [c.Occupancy.OWNER])
        dwellings_created = cursor.rowcount
        cursor.execute(
            f"UPDATE {d_table} SET occupancy = %s WHERE occupancy = %s AND EXISTS (SELECT 1 FROM import_stage_hh h "
            f"WHERE h.unit_id = {d_table}.unit_id AND h.room = {d_table}.number)",
            [c.Occupancy.OWNER, c.Occupancy.EMPTY])
        # 户编号 continue each community's running number (services.next_household_number's format).
        cursor.execute("CREATE TEMP TABLE import_stage_seq (code text, base integer)" + (" ON COMMIT DROP" if pg else ""))
        cursor.execute("SELECT DISTINCT community_code FROM import_stage_hh")
        codes = [row[0] for row in cursor.fetchall()]
        for code in codes:
            cursor.execute(f"SELECT MAX(CAST(SUBSTR(number, {len(code) + 2}) AS INTEGER)) FROM {h_table} "
                           "WHERE number LIKE %s", [code + "-%"])
            base = cursor.fetchone()[0] or 0
            cursor.execute("INSERT INTO import_stage_seq (code, base) VALUES (%s, %s)", [code, base])
        seq = "q.base + ROW_NUMBER() OVER (PARTITION BY h.community_code ORDER BY h.first_row)"
        number = (f"h.community_code || '-' || LPAD(({seq})::text, GREATEST(5, LENGTH(({seq})::text)), '0')" if pg
                  else f"h.community_code || '-' || printf('%%05d', {seq})")
        cursor.execute(
            f"INSERT INTO {h_table} (id, number, dwelling_id, area_id, area_path, address, address_key, head_id, "
            "hukou_address, origin_county, origin_town, origin_village, relocation_batch, moved_in_on, status, "
            "last_visited_at, note, version, created_at, updated_at) "
            f"SELECT %s + h.first_row, {number}, d.id, h.unit_id, h.unit_path, h.address, h.address_key, "
            "%s + h.head_row, h.hukou_address, h.origin_county, h.origin_town, h.origin_village, h.relocation_batch, "
            "h.moved_in_on, %s, NULL, '', 1, %s, %s FROM import_stage_hh h "
            f"JOIN {d_table} d ON d.unit_id = h.unit_id AND d.number = h.room "
            "JOIN import_stage_seq q ON q.code = h.community_code",
            [base_h, base_r, c.HouseholdStatus.PRESENT, now, now])
        households = cursor.rowcount
        copied = ", ".join(RESIDENT_COPIED)
        cursor.execute(
            f"INSERT INTO {r_table} (id, household_id, area_path, note, version, created_at, updated_at, {copied}) "
            f"SELECT %s + s.row_no, %s + h.first_row, s.unit_path, '', 1, %s, %s, "
            + ", ".join(f"s.{k}" for k in RESIDENT_COPIED) +
            " FROM import_stage s JOIN import_stage_hh h ON h.unit_id = s.unit_id AND h.room = s.room",
            [base_r, base_h, now, now])
        residents = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {ResidentTag._meta.db_table} (resident_id, tag_id, source, added_by_id, added_at) "
            "SELECT %s + row_no, tag_id, %s, %s, %s FROM import_stage_tag WHERE kind = 'p'",
            [base_r, ResidentTag.Source.IMPORT, getattr(actor, "pk", None), now])
        cursor.execute(
            f"INSERT INTO {Household.tags.through._meta.db_table} (household_id, tag_id) "
            "SELECT DISTINCT %s + h.first_row, t.tag_id FROM import_stage_tag t "
            "JOIN import_stage s ON s.row_no = t.row_no "
            "JOIN import_stage_hh h ON h.unit_id = s.unit_id AND h.room = s.room WHERE t.kind = 'h'", [base_h])
    bulk.reset_sequences(Dwelling, Household, Resident)
    counts = {"households_created": households, "residents_created": residents, "residents_updated": 0}
    ChangeLog.objects.create(model="registry.importjob", object_id=str(job_id or ""), object_repr=f"批量导入到{area.name}",
                             op=ChangeLog.Op.CREATE, changes={**counts, "dwellings_created": dwellings_created},
                             actor=actor if getattr(actor, "pk", None) else None, area_path=area.path,
                             note="快速导入:新登记的户和人员")
    return counts


# ---- the whole run -------------------------------------------------------------------------

def import_rows_fast(*, actor: Any, area: Area, fileobj: IO[bytes], filename: str, workers: int = 2,
                     progress: Progress | None = None, job_id: Any = None) -> BulkResult:
    """Validate and (with no error) apply a big roster in one transaction. Raises ImportFileError
    for a file that cannot be read at all; row problems come back in `errors`."""
    global _validator, _as_copy_text
    report = progress or _no_progress
    _as_copy_text = bulk.is_postgres()
    sheet, first, rows, handle = open_rows(fileobj, filename)
    try:
        validator = _Validator(actor=actor, area=area, sheet=sheet, progress=report)
        if actor is not None:
            for action in (Action.VIEW, Action.CHANGE, Action.IMPORT, Action.MANAGE_AREAS):
                scope_paths(actor, action)  # the grants, read here once: workers must not query
        _validator = validator
        errors: list[dict[str, Any]] = []
        seconds: dict[str, float] = {}
        lap = time.monotonic()

        def phase(name: str) -> None:
            nonlocal lap
            now = time.monotonic()
            seconds[name] = round(now - lap, 3)
            lap = now

        with transaction.atomic():
            _create_stage()
            chunks = _chunked(rows, first, CHUNK_ROWS, text=filename.lower().endswith(".csv"))
            total, seen = _stage(_parsed(chunks, workers), errors, report)
            phase("parse_and_stage")
            if total == 0 and seen == 0:
                raise ImportFileError("表格中没有可导入的数据行")
            if len(errors) < MAX_ERRORS:
                found = _checks(actor)
                seen += len(found)
                errors.extend(found[: MAX_ERRORS - len(errors)])
            phase("checks")
            if errors:
                errors.sort(key=lambda e: (e["row"] or 0, COLUMN_ORDER.get(e["column"], -1)))
                if seen > len(errors):
                    errors.append(error_dict(None, "", "", f"另有{seen - len(errors)}处错误未列出,"
                                                           "请先改正以上错误后重新导入"))
                transaction.set_rollback(True)
                return BulkResult(total_rows=total, errors=errors, counts={}, seconds=seconds)
            report("apply", 0, total)
            counts = _apply(actor, area, job_id)
            report("apply", total, total)
            if not bulk.is_postgres():
                with connection.cursor() as cursor:
                    for table in ("import_stage", "import_stage_tag", "import_stage_hh", "import_stage_seq"):
                        cursor.execute(f"DROP TABLE IF EXISTS {table}")
            phase("apply")
        phase("commit")
        logger.info("fast import of %d rows into %s: %s", total, area.path, seconds)
        return BulkResult(total_rows=total, errors=[], counts=counts, seconds=seconds)
    finally:
        _validator = None
        close = getattr(handle, "close", None)
        if close is not None:
            close()
