"""户籍信息表 import: read an .xlsx however it was typed, validate every row, then apply all rows
through the registry services in one transaction, or none of them.

Workers' spreadsheets pass through many hands: title rows, two-row merged headers, other names for
the same column, full-width digits, Excel date serials, ID numbers Excel turned into numbers. The
reader absorbs what it safely can and reports the rest as {row, column, value, message}, so the
worker fixes exactly those cells and uploads again.

Rules a worker can rely on (also printed in the template's 填表说明):
- people are matched by ID number: known people are updated, others created;
- a household is found by 户编号, else by its dwelling (楼栋+单元+房号), else created;
- a blank cell never erases what the system already holds, and tags are only ever added;
- dwellings missing under an existing unit are created, buildings and units never are."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import operator
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, models, transaction
from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException

from wuzhi.core import crypto
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.validators import (
    IdNumber,
    mask_id,
    mask_phone,
    normalize_phone,
    normalize_text,
    parse_id_number,
)

from . import choices as c
from . import services
from .models import Dwelling, Household, ImportJob, Resident, ResidentTag, Tag

logger = logging.getLogger(__name__)

# progress(phase, done, total); phases: "read", "validate", "apply".
Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


# ---- columns -------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Column:
    key: str
    header: str
    synonyms: tuple[str, ...] = ()
    choices: Any = None  # a TextChoices class
    width: int = 10
    help: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("household_number", "户编号", ("户号", "户编码"), width=20,
           help="系统中已有的户填写户编号(可从导出的名单中复制);新登记的户留空,按楼栋+单元+房号归户"),
    Column("grid", "网格", ("所属网格", "网格名称"), width=8, help="可空;社区内有同名楼栋时用来区分"),
    Column("building", "楼栋", ("楼栋号", "栋号", "楼号", "幢号", "楼栋名称"), width=8,
           help="必须是系统中已有的楼栋,如“9栋”或“9”"),
    Column("unit", "单元", ("单元号",), width=8, help="必须是该楼栋下已有的单元,如“2单元”或“2”"),
    Column("room", "房号", ("房间号", "门牌号", "室号", "房屋号"), width=8,
           help="如 1203;系统中没有的房号会自动新建户室"),
    Column("floor", "楼层", ("所在楼层", "层"), width=6, help="可空;新建户室时不填则按房号推算(1203 → 12层)"),
    Column("relation", "与户主关系", ("与户主的关系", "关系"), c.Relation, width=11,
           help="每户必须有且只有一位“户主”"),
    Column("name", "姓名", (), width=10, help="必填"),
    Column("id_number", "身份证号", ("身份证号码", "公民身份号码", "身份证", "证件号码"), width=21,
           help="必填,18位(15位老号码会自动升位);请把该列设为“文本”格式,否则Excel会把后几位变成0"),
    Column("ethnicity", "民族", (), c.Ethnicity, width=8),
    Column("phone", "手机", ("手机号码", "手机号", "联系电话", "电话", "联系方式"), width=14, help="11位手机号码"),
    Column("landline", "座机", ("固定电话", "座机号码"), width=14, help="带区号,如 0870-1234567"),
    Column("education", "文化程度", ("学历",), c.Education, width=12),
    Column("employment", "就业状况", ("就业情况",), c.Employment, width=11),
    Column("health", "健康状况", ("健康情况",), c.Health, width=9),
    Column("disability", "残疾类别", ("残疾类型",), c.Disability, width=10),
    Column("disability_grade", "残疾等级", (), c.DisabilityGrade, width=8),
    Column("political", "政治面貌", (), c.Political, width=12),
    Column("residence", "户籍与居住", ("人户状态", "人户情况"), c.Residence, width=11),
    Column("hukou_address", "户籍地", ("户籍地址", "户籍所在地"), width=24),
    Column("origin_county", "搬迁来源县", ("迁出县",), width=11),
    Column("origin_town", "搬迁来源乡镇", ("迁出乡镇",), width=12),
    Column("origin_village", "搬迁来源村", ("迁出村",), width=11),
    Column("relocation_batch", "搬迁批次", (), width=9),
    Column("moved_in_on", "入住日期", ("入住时间",), width=12, help="如 2019-05-01、2019.5.1 或 2019年5月1日"),
    Column("status", "人员状态", ("状态",), c.PersonStatus, width=9),
    Column("tags", "标签", ("人员标签", "人员类别"), width=20, help="多个标签用“、”或“,”隔开;必须是系统中已有的标签"),
)
COLUMN = {col.key: col for col in COLUMNS}
COLUMN_ORDER = {col.header: i for i, col in enumerate(COLUMNS)}
REQUIRED_KEYS = ("name", "id_number", "relation")
ADDRESS_KEYS = ("building", "unit", "room")
# Choice fields stored on the resident (relation is handled with the household's head check).
RESIDENT_CHOICE_KEYS = ("ethnicity", "education", "employment", "health", "disability", "disability_grade",
                        "political", "residence", "status")
# Household fields every row of one household must agree on when filled.
SHARED_HOUSEHOLD_KEYS = ("origin_county", "origin_town", "origin_village", "relocation_batch", "moved_in_on")

# What workers write instead of the code list's words.
ALIASES: dict[str, dict[str, str]] = {
    "relation": {
        "本人": "户主", "妻": "配偶", "妻子": "配偶", "夫": "配偶", "丈夫": "配偶", "爱人": "配偶",
        "儿子": "子", "长子": "子", "次子": "子", "三子": "子", "独子": "子", "之子": "子",
        "女儿": "女", "长女": "女", "次女": "女", "三女": "女", "独女": "女", "之女": "女",
        "父亲": "父母", "母亲": "父母", "父": "父母", "母": "父母",
        "孙子": "孙子女", "孙女": "孙子女", "外孙": "孙子女", "外孙女": "孙子女",
        "兄": "兄弟姐妹", "弟": "兄弟姐妹", "姐": "兄弟姐妹", "妹": "兄弟姐妹", "兄弟": "兄弟姐妹", "姐妹": "兄弟姐妹",
        "儿媳": "儿媳/女婿", "女婿": "儿媳/女婿", "媳妇": "儿媳/女婿",
        "祖父": "祖父母", "祖母": "祖父母", "外祖父": "祖父母", "外祖母": "祖父母",
    },
    "education": {
        "文盲": "文盲或半文盲", "半文盲": "文盲或半文盲", "高中": "高中/中专", "中专": "高中/中专",
        "职高": "高中/中专", "技校": "高中/中专", "专科": "大专", "大学专科": "大专", "大学本科": "本科",
        "大学": "本科", "硕士": "研究生", "博士": "研究生", "硕士研究生": "研究生", "博士研究生": "研究生",
    },
    "employment": {"失业": "失业/待业", "待业": "失业/待业", "学生": "在校学生"},
    "political": {"党员": "中共党员", "预备党员": "中共预备党员", "团员": "共青团员"},
    "disability_grade": {"1级": "一级", "2级": "二级", "3级": "三级", "4级": "四级",
                         "1": "一级", "2": "二级", "3": "三级", "4": "四级"},
}


def _choice_lookup(column: Column) -> dict[str, str]:
    """Every accepted spelling → stored value: values, labels (视力残疾 → 视力) and aliases."""
    lookup: dict[str, str] = {}
    for value, label in column.choices.choices:
        lookup[value] = value
        lookup[str(label)] = value
        if column.key == "ethnicity":
            lookup[value.removesuffix("族")] = value  # 汉 → 汉族
    lookup.update(ALIASES.get(column.key, {}))
    return lookup


CHOICE_LOOKUP = {col.key: _choice_lookup(col) for col in COLUMNS if col.choices is not None}


@lru_cache(maxsize=4096)
def _choice_value(key: str, text: str) -> str | None:
    """The stored value a choice cell's text stands for, None when it is no accepted spelling."""
    return CHOICE_LOOKUP[key].get(re.sub(r"\s+", "", text))


def _header_token(value: object) -> str:
    """身份证号码 (必填) / *姓名 / 户编号(可空) all reduce to the bare name."""
    text = re.sub(r"\s+", "", normalize_text(value))
    text = re.sub(r"\(.*?\)", "", text)  # NFKC already turned （） into ()
    return text.strip("*:")


HEADER_KEYS = {_header_token(name): col.key for col in COLUMNS for name in (col.header, *col.synonyms)}


# ---- errors --------------------------------------------------------------------------------

class ImportFileError(Exception):
    """The file as a whole cannot be imported (not an xlsx, no header, missing columns, no rights)."""


class ImportRejected(Exception):
    """A service refused a row while applying: the transaction is rolled back, the job fails."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def error_dict(row: int | None, key: str, value: Any, message: str) -> dict[str, Any]:
    """One problem as the job stores it. Numbers are masked: the job's errors are plain JSON that
    everybody who can see the job reads, while the registry keeps these numbers encrypted."""
    column = COLUMN[key].header if key in COLUMN else key
    text = _display(value)
    if key == "id_number":
        text = mask_id(text)
    elif key in ("phone", "landline") and text:
        # Not a phone number: nothing to hide, and the worker needs to see the typo.
        with contextlib.suppress(ValidationError):
            text = mask_phone(normalize_phone(text))
    return {"row": row, "column": column, "value": text, "message": message}


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d")
    return str(value)


class _CellError(Exception):
    pass


# ---- reading -------------------------------------------------------------------------------

HEADER_SCAN_ROWS = 15


@dataclass
class SheetRow:
    number: int  # the Excel row number the worker sees
    cells: tuple[Any, ...]


@dataclass
class Sheet:
    headers: list[str]  # one header per column, the lowest non-empty text of the header block
    columns: dict[str, int]  # column key → 0-based index
    rows: list[SheetRow]

    def raw(self, row: SheetRow, key: str) -> Any:
        index = self.columns.get(key)
        return row.cells[index] if index is not None and index < len(row.cells) else None


def _find_header(head: list[tuple[Any, ...]]) -> tuple[dict[str, int], list[str], int] | None:
    """The header block: the row naming most known columns plus adjacent rows naming any.

    A two-row header keeps a group title ("联系方式") above its sub-columns (手机, 座机) and
    vertically merged names (姓名) in the top row only, so each column takes the lowest name the
    block gives it."""
    keys = [[HEADER_KEYS.get(_header_token(v)) if v is not None else None for v in row] for row in head]
    scores = [len({k for k in row if k}) for row in keys]
    if not scores or max(scores) < 2:
        return None
    best = scores.index(max(scores))
    start, end = best, best + 1
    while start > 0 and scores[start - 1]:
        start -= 1
    while end < len(head) and scores[end]:
        end += 1
    width = max(len(row) for row in head[start:end])
    columns: dict[str, int] = {}
    headers: list[str] = []
    for index in range(width):
        label = ""
        key = None
        for r in range(end - 1, start - 1, -1):
            row = head[r]
            if index < len(row) and row[index] is not None:
                label = label or normalize_text(row[index])
                key = key or keys[r][index]
        headers.append(label)
        if key and key not in columns:  # the first of two columns with the same meaning wins
            columns[key] = index
    return columns, headers, end


def lacking_columns(columns: dict[str, int]) -> list[str]:
    """Headers of the required columns a found header block does not have."""
    lacking = [COLUMN[k].header for k in REQUIRED_KEYS if k not in columns]
    if "household_number" not in columns:
        lacking += [COLUMN[k].header for k in ADDRESS_KEYS if k not in columns]
    return lacking


def missing_columns_message(lacking: list[str]) -> str:
    return "表头缺少" + "、".join(f"“{m}”" for m in lacking) + "列,请使用户籍信息表模板"


NO_HEADER = "没有找到表头:表格中应有“姓名”“身份证号”“与户主关系”等列名,请使用户籍信息表模板"


def read_sheet(fileobj: IO[bytes], filename: str = "") -> Sheet:
    """The first worksheet with a recognisable header; raises ImportFileError with a Chinese reason."""
    if filename.lower().endswith(".xls"):
        raise ImportFileError("不支持旧版 .xls 文件,请在 Excel 或 WPS 中“另存为” .xlsx 格式后再上传")
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("无法读取该文件,请上传 Excel 工作簿(.xlsx 格式)") from exc
    missing: list[str] | None = None
    try:
        for ws in workbook.worksheets:
            ws.reset_dimensions()  # some WPS files declare a smaller range than they hold
            rows: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)
            head = [tuple(r) for r in itertools.islice(rows, HEADER_SCAN_ROWS)]
            found = _find_header(head)
            if found is None:
                continue
            columns, headers, end = found
            lacking = lacking_columns(columns)
            if lacking:
                missing = missing or lacking
                continue
            data = [SheetRow(number, tuple(cells))
                    for number, cells in enumerate(itertools.chain(head[end:], rows), start=end + 1)]
            return Sheet(headers=headers, columns=columns, rows=data)
    finally:
        workbook.close()
    if missing:
        raise ImportFileError(missing_columns_message(missing))
    raise ImportFileError(NO_HEADER)


# ---- cell values ---------------------------------------------------------------------------

# What an exporter prefixes with a quote so Excel never evaluates it (see exporter.safe_cell).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EMPTY_MARKERS = {"无", "/", "-", "—", "——"}  # what workers put in a cell meaning "nothing"
_CJK_NAME = re.compile(r"[\u3400-\u9fff\s]+")
_SPACES = re.compile(r"\s+")
_EXCEL_EXPONENT = re.compile(r"\d(\.\d+)?[eE]\+?\d+")
_INT_CELL = re.compile(r"(-?\d+)\s*(层|楼|F)?", flags=re.IGNORECASE)
_ROOM_DIGITS = re.compile(r"\d{3,5}")
_TAG_SEPARATORS = re.compile(r"[、,;\s]+")


# Cell values repeat (choices, buildings, units) and parse() reads most cells twice; typed so that
# 1, 1.0 and True stay apart. A big file parses several times faster with these caches.
@lru_cache(maxsize=65536, typed=True)
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 房号 1203 typed into a number cell arrives as 1203.0
    text = normalize_text(value)
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        text = text[1:]  # undo the quote our own export put in front of formula-like text
    return "" if text in EMPTY_MARKERS else text


def _id_text(value: Any) -> str:
    """An ID number as digits; numbers Excel rounded to 15 significant digits cannot be recovered."""
    lost = ("身份证号被Excel存成了数字,只保留了前15位,后几位已丢失,无法恢复。"
            "请把该列设为“文本”格式后重新填写完整号码")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and value < 1e15:
            return str(int(value))  # a 15-digit legacy number fits a float exactly
        raise _CellError(lost)
    if isinstance(value, int):
        return str(value)
    text = _text(value)
    if not text.isdigit():  # digits alone are neither spaced nor in Excel's exponent form
        text = _SPACES.sub("", text)
        if _EXCEL_EXPONENT.fullmatch(text):
            raise _CellError(lost)
    if "*" in text:
        raise _CellError("身份证号已打码,无法导入;请填写完整号码(导出名单时可选择显示完整号码)")
    return text


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> str:
    """一 → 1, 十二 → 12, 二十三 → 23: building and unit numbers as workers write them."""
    match = re.fullmatch(r"([一二两三四五六七八九])?(十)?([一二三四五六七八九])?", text)
    if not text or not match:
        return text
    tens, ten, ones = match.groups()
    if ten:
        return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0))
    if tens and not ones:
        return str(_CN_DIGITS[tens])
    return text


@lru_cache(maxsize=8192, typed=True)
def _area_key(value: Any, suffixes: tuple[str, ...]) -> str:
    """9栋 / 9号楼 / 九栋 / 09 → "9": how a typed name is compared with the area tree."""
    key = re.sub(r"\s+", "", _text(value)).removeprefix("第")
    for suffix in suffixes:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    key = _cn_number(key)
    return key.lstrip("0") or key


GRID_SUFFIXES = ("号网格", "网格")
BUILDING_SUFFIXES = ("号楼", "栋", "幢", "楼", "号")
UNIT_SUFFIXES = ("单元",)


@lru_cache(maxsize=16384, typed=True)
def _room(value: Any) -> str:
    return _SPACES.sub("", _text(value)).removesuffix("室").removesuffix("号")


@lru_cache(maxsize=1024, typed=True)
def _int(value: Any, what: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    match = _INT_CELL.fullmatch(_text(value))
    if not match:
        raise _CellError(f"{what}应为整数")
    return int(match.group(1))


@lru_cache(maxsize=16384)
def floor_of_room(room: str) -> int | None:
    """1203 → 12, 101 → 1: the usual numbering of Chinese apartment blocks."""
    return int(room[:-2]) if _ROOM_DIGITS.fullmatch(room) and int(room[:-2]) > 0 else None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            value = str(int(value))  # 20190501 typed as a number
        elif 20000 <= value < 80000:
            # A date serial (1954–2119) in a cell not formatted as a date. Smaller numbers are
            # more likely 2019.05 typed into a number cell, read below as year and month.
            return from_excel(value).date()
    text = re.sub(r"\s+", "", _text(value))
    match = (re.fullmatch(r"(\d{4})[-./年](\d{1,2})(?:[-./月](\d{1,2})日?|月)?", text)
             or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text))
    if match:
        year, month, day = match.groups()
        try:
            return dt.date(int(year), int(month), int(day or 1))
        except ValueError:
            pass
    raise _CellError(f"“{text}”不是有效的日期,请写成 2019-05-01 的形式")


def _split_tags(text: str) -> list[str]:
    # _text() applied NFKC, so full-width ，； arrive here as , and ;
    return [t for t in _TAG_SEPARATORS.split(text) if t]


@lru_cache(maxsize=256)
def _max_length(model: type[models.Model], name: str) -> int:
    length = getattr(model._meta.get_field(name), "max_length", None)
    return int(length or 0)


# ---- the plan ------------------------------------------------------------------------------

@dataclass
class PersonPlan:
    row: int
    resident: Resident | None  # None: a new person
    name: str
    id_number: str
    phone: str | None  # None: leave as it is
    landline: str | None
    fields: dict[str, Any]  # resident fields given in the file (blank cells absent)
    add_tags: list[Tag]  # tags to add
    keep_tags: list[Tag] = field(default_factory=list)  # tags the person has: kept, tags only grow


@dataclass
class HouseholdPlan:
    rows: list[int]
    household: Household | None = None  # None: a new household
    dwelling: Dwelling | None = None  # where the household is (to be) placed
    new_dwelling: tuple[Area, int, str] | None = None  # (unit, floor, number) to create first
    fields: dict[str, Any] = field(default_factory=dict)
    add_tags: list[Tag] = field(default_factory=list)
    keep_tags: list[Tag] = field(default_factory=list)
    people: list[PersonPlan] = field(default_factory=list)
    head_row: int | None = None  # the file row of the 户主 after import, if in the file


@dataclass
class Plan:
    total_rows: int
    households: list[HouseholdPlan]
    errors: list[dict[str, Any]]


@dataclass
class _Row:
    """One data row after cell-level parsing; `failed` rows are reported but not planned."""

    number: int
    household_number: str = ""
    grid: Area | None = None
    building: Area | None = None
    unit: Area | None = None
    room: str = ""
    floor: int | None = None
    address_given: bool = False
    relation: str = ""
    name: str = ""
    id: IdNumber | None = None
    phone: str = ""  # "" blank, else normalised, or the masked text as typed
    landline: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    household_fields: dict[str, Any] = field(default_factory=dict)
    person_tags: list[Tag] = field(default_factory=list)
    household_tags: list[Tag] = field(default_factory=list)
    failed: bool = False


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    # SQLite caps the number of query parameters; keep IN lists well below it.
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _Validator:
    def __init__(self, *, actor: Any, area: Area, sheet: Sheet, progress: Progress) -> None:
        self.actor = actor
        self.area = area
        self.sheet = sheet
        self.progress = progress
        self.errors: list[dict[str, Any]] = []
        self.failed_rows: set[int] = set()
        areas = list(Area.objects.filter(path__startswith=area.path,
                                         kind__in=[AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT]))
        self.areas_by_pk = {a.pk: a for a in areas}
        self.areas_by_path = {a.path: a for a in areas}
        self.grids: dict[str, list[Area]] = {}
        self.buildings: dict[str, list[Area]] = {}
        # The same key per grid: a community of 3,000 grids each with a 1栋 must not make every row
        # scan 3,000 buildings.
        self.grid_buildings: dict[tuple[int, str], list[Area]] = {}
        self.units: dict[tuple[int, str], Area] = {}
        for a in areas:
            if a.kind == AreaKind.GRID:
                self.grids.setdefault(_area_key(a.name, GRID_SUFFIXES), []).append(a)
            elif a.kind == AreaKind.BUILDING:
                self.buildings.setdefault(_area_key(a.name, BUILDING_SUFFIXES), []).append(a)
                if a.parent_id is not None:
                    self.grid_buildings.setdefault((a.parent_id, _area_key(a.name, BUILDING_SUFFIXES)), []).append(a)
            elif a.parent_id is not None:
                self.units[(a.parent_id, _area_key(a.name, UNIT_SUFFIXES))] = a
        self.tags = {normalize_text(t.name): t for t in Tag.objects.all()}
        self.tags_by_pk = {t.pk: t for t in self.tags.values()}
        # Read once rather than per row.
        self.columns = tuple(sheet.columns.items())
        self.column_keys = tuple(sheet.columns)
        # All of a full-width row's cells at once (itemgetter of two or more gives a tuple).
        self.all_cells = operator.itemgetter(*sheet.columns.values()) if len(sheet.columns) > 1 else None
        self.width = max(sheet.columns.values(), default=-1) + 1
        self.name_length = _max_length(Resident, "name")
        self.room_length = _max_length(Dwelling, "number")
        self.text_limits = tuple((key, _max_length(model, key), key == "hukou_address") for key, model in (
            ("hukou_address", Resident), ("origin_county", Household), ("origin_town", Household),
            ("origin_village", Household), ("relocation_batch", Household)))
        # (grid, building, unit) as typed → the areas they name: a household's rows repeat them.
        self.places: dict[tuple[str, str, str], tuple[Area | None, Area, Area]] = {}

    # -- helpers --

    def error(self, row: int | None, key: str, value: Any, message: str) -> None:
        self.errors.append(error_dict(row, key, value, message))
        if row is not None:
            self.failed_rows.add(row)

    def allowed(self, action: str, path: str) -> bool:
        return self.actor is None or can(self.actor, action, path)

    # -- pass 1: each row on its own --

    def parse(self, sheet_row: SheetRow) -> _Row | None:
        return self.parse_cells(sheet_row.number, sheet_row.cells)

    def parse_cells(self, n: int, cells: Sequence[Any]) -> _Row | None:
        """parse() of sheet row `n` given as its cells (how the fast import's workers get rows)."""
        width = len(cells)
        if width >= self.width and self.all_cells is not None:
            raw = dict(zip(self.column_keys, self.all_cells(cells), strict=True))
        else:
            raw = {key: cells[index] if index < width else None for key, index in self.columns}
        if not any(map(_text, raw.values())):
            return None  # blank, or only a 序号 column filled in
        row = _Row(number=n)
        get = raw.get

        def fail(key: str, message: str) -> None:
            self.error(n, key, get(key), message)
            row.failed = True

        row.household_number = _text(get("household_number"))
        self._parse_address(row, raw, fail)

        name = _text(get("name"))
        if _CJK_NAME.fullmatch(name):
            name = _SPACES.sub("", name)  # 张  三, padded to line up with three-character names
        if not name:
            fail("name", "请填写姓名")
        elif len(name) > self.name_length:
            fail("name", f"姓名最多{self.name_length}个字")
        row.name = name

        try:
            row.id = parse_id_number(_id_text(get("id_number")))
        except _CellError as exc:
            fail("id_number", str(exc))
        except ValidationError as exc:
            fail("id_number", exc.messages[0])

        self._parse_phones(row, raw, fail)

        relation = _text(get("relation"))
        if relation:
            try:
                row.relation = self._choice("relation", relation)
            except _CellError as exc:
                fail("relation", str(exc))
        fields = row.fields
        for key in RESIDENT_CHOICE_KEYS:
            text = _text(get(key))
            if text:
                try:
                    fields[key] = self._choice(key, text)
                except _CellError as exc:
                    fail(key, str(exc))

        for key, limit, on_resident in self.text_limits:
            text = _text(get(key))
            if len(text) > limit:
                fail(key, f"“{COLUMN[key].header}”最多{limit}个字")
            elif text:
                (fields if on_resident else row.household_fields)[key] = text
        if _text(get("moved_in_on")):
            try:
                moved_in = _date(raw["moved_in_on"])
            except _CellError as exc:
                fail("moved_in_on", str(exc))
            else:
                if moved_in > timezone.localdate():
                    fail("moved_in_on", "入住日期不能晚于今天")
                else:
                    row.household_fields["moved_in_on"] = moved_in

        tags = _text(get("tags"))
        for tag_name in _split_tags(tags) if tags else ():
            tag = self.tags.get(tag_name)
            if tag is None:
                fail("tags", f"系统中没有“{tag_name}”这个标签,请检查名称或先在系统中建立该标签")
            elif tag.applies_to == Tag.AppliesTo.HOUSEHOLD:
                row.household_tags.append(tag)
            else:
                row.person_tags.append(tag)
        return row

    def _choice(self, key: str, text: str) -> str:
        value = _choice_value(key, text)
        if value is None:
            options = "、".join(str(label) for _, label in COLUMN[key].choices.choices)
            raise _CellError(f"“{text}”不是有效的{COLUMN[key].header},可填:{options}")
        return value

    def _parse_address(self, row: _Row, raw: dict[str, Any], fail: Callable[[str, str], None]) -> None:
        get = raw.get
        grid_text, building_text, unit_text = _text(get("grid")), _text(get("building")), _text(get("unit"))
        row.room = _room(get("room"))
        floor = get("floor")
        if floor is not None and _text(floor):
            try:
                row.floor = _int(floor, "楼层")
            except _CellError as exc:
                fail("floor", str(exc))
        if not (building_text and unit_text and row.room):
            given = {"building": building_text, "unit": unit_text, "room": row.room}
            if not any(given.values()):
                if not row.household_number:
                    fail("building", "请填写楼栋、单元、房号(已登记的户也可只填户编号)")
                return
            for key, value in given.items():
                if not value:
                    fail(key, f"请填写{COLUMN[key].header}")
            return
        row.address_given = True
        if len(row.room) > self.room_length:
            fail("room", "房号过长")
            return
        typed = (grid_text, building_text, unit_text)
        place = self.places.get(typed)
        if place is not None:
            row.grid, row.building, row.unit = place
            return
        area_name = self.area.name
        if grid_text:
            grids = self.grids.get(_area_key(grid_text, GRID_SUFFIXES), [])
            if not grids:
                fail("grid", f"网格“{grid_text}”在{area_name}下不存在")
                return
            row.grid = grids[0]
        building_key = _area_key(building_text, BUILDING_SUFFIXES)
        buildings = self.buildings.get(building_key, [])
        if row.grid is not None:
            inside = self.grid_buildings.get((row.grid.pk, building_key), [])
            if buildings and not inside:
                fail("building", f"楼栋“{building_text}”不在{row.grid.name}内")
                return
            buildings = inside
        if not buildings:
            fail("building", f"楼栋“{building_text}”在{area_name}下不存在")
            return
        if len(buildings) > 1:
            fail("building", f"{area_name}下有多个“{building_text}”,请填写“网格”列加以区分")
            return
        row.building = buildings[0]
        row.unit = self.units.get((row.building.pk, _area_key(unit_text, UNIT_SUFFIXES)))
        if row.unit is None:
            fail("unit", f"单元“{unit_text}”在{row.building.name}下不存在")
        else:
            self.places[typed] = (row.grid, row.building, row.unit)

    def _parse_phones(self, row: _Row, raw: dict[str, Any], fail: Callable[[str, str], None]) -> None:
        numbers: dict[str, str] = {}
        for key in ("phone", "landline"):
            text = _text(raw.get(key))
            if not text:
                continue
            if "*" in text:
                numbers[key] = text  # masked: acceptable only if it is what the system already shows
                continue
            try:
                numbers[key] = normalize_phone(text)
            except ValidationError as exc:
                fail(key, exc.messages[0])
        phone, landline = numbers.get("phone", ""), numbers.get("landline", "")
        # 联系电话 columns hold landlines too; put each number where it belongs when that is unambiguous.
        if "-" in phone and "*" not in phone:
            if landline:
                fail("phone", "手机号码应为11位,座机请填写在“座机”一栏")
            phone, landline = "", phone
        elif landline and "-" not in landline and "*" not in landline:
            if phone:
                fail("landline", "座机号码需带区号,如 0870-1234567")
            phone, landline = landline, ""
        row.phone, row.landline = phone, landline

    # -- pass 2: the file as a whole against the database --

    def run(self) -> Plan:
        total = len(self.sheet.rows)
        rows: list[_Row] = []
        seen_ids: dict[str, int] = {}
        for i, sheet_row in enumerate(self.sheet.rows, 1):
            row = self.parse(sheet_row)
            if row is not None:
                if row.id is not None:
                    other = seen_ids.setdefault(row.id.number, row.number)
                    if other != row.number:
                        self.error(row.number, "id_number", self.sheet.raw(sheet_row, "id_number"),
                                   f"与第{other}行的身份证号重复")
                        row.failed = True
                rows.append(row)
            if i % 200 == 0:
                self.progress("validate", i, total)
        self.progress("validate", total, total)
        if not rows:
            raise ImportFileError("表格中没有可导入的数据行")
        households = self._plan_households(rows)
        self.errors.sort(key=lambda e: (e["row"] or 0, COLUMN_ORDER.get(e["column"], -1)))
        return Plan(total_rows=len(rows), households=households, errors=self.errors)

    def _plan_households(self, rows: list[_Row]) -> list[HouseholdPlan]:
        by_number = self._households_by_number({r.household_number for r in rows if r.household_number})
        residents = self._residents_by_hash([crypto.blind_index(r.id.number, "id") for r in rows if r.id])
        units = {r.unit.pk for r in rows if r.unit is not None}
        dwellings = {(d.unit_id, d.number): d for d in Dwelling.objects.filter(unit_id__in=units)}
        present: dict[int, list[Household]] = {}
        for h in Household.objects.filter(dwelling__unit_id__in=units, status=c.HouseholdStatus.PRESENT):
            present.setdefault(h.dwelling_id or 0, []).append(h)

        # Group rows by the household they end up in; a row whose place could not be resolved
        # stays out so one typo does not also produce "no 户主" errors for its neighbours.
        plans: dict[tuple[Any, ...], HouseholdPlan] = {}
        planned_rows: dict[int, _Row] = {}
        for row in rows:
            target = self._target(row, by_number, dwellings, present)
            if target is None:
                continue
            key, household, dwelling, new_dwelling = target
            plan = plans.setdefault(key, HouseholdPlan(rows=[], household=household))
            plan.rows.append(row.number)
            planned_rows[row.number] = row
            if dwelling is not None or new_dwelling is not None:
                plan.dwelling, plan.new_dwelling = dwelling, new_dwelling
        members = self._members([p.household.pk for p in plans.values() if p.household is not None])
        tag_ids = self._existing_tag_ids(residents, [p.household.pk for p in plans.values() if p.household])
        for plan in plans.values():
            self._check_household(plan, [planned_rows[n] for n in plan.rows], residents, members, tag_ids)
        return sorted(plans.values(), key=lambda p: p.rows[0])

    def _households_by_number(self, numbers: set[str]) -> dict[str, Household]:
        found: dict[str, Household] = {}
        for chunk in _chunks(sorted(numbers)):
            found.update((h.number, h) for h in Household.objects.filter(number__in=chunk))
        return found

    def _residents_by_hash(self, hashes: list[str]) -> dict[str, Resident]:
        found: dict[str, Resident] = {}
        for chunk in _chunks(hashes):
            qs = Resident.objects.filter(id_number_hash__in=chunk).select_related("household")
            found.update((r.id_number_hash, r) for r in qs)
        return found

    def _members(self, household_ids: list[int]) -> dict[int, list[Resident]]:
        members: dict[int, list[Resident]] = {}
        for chunk in _chunks(household_ids):
            for r in Resident.objects.filter(household_id__in=chunk).only("pk", "household_id", "name", "relation",
                                                                        "status", "id_number_hash"):
                members.setdefault(r.household_id, []).append(r)
        return members

    def _existing_tag_ids(self, residents: dict[str, Resident], household_ids: list[int]) -> dict[str, set[int]]:
        """{"r<pk>": tag ids, "h<pk>": tag ids}: what the import keeps when it adds tags."""
        found: dict[str, set[int]] = {}
        for chunk in _chunks([r.pk for r in residents.values()]):
            for rid, tid in ResidentTag.objects.filter(resident_id__in=chunk).values_list("resident_id", "tag_id"):
                found.setdefault(f"r{rid}", set()).add(tid)
        through = Household.tags.through
        for chunk in _chunks(household_ids):
            for hid, tid in through.objects.filter(household_id__in=chunk).values_list("household_id", "tag_id"):
                found.setdefault(f"h{hid}", set()).add(tid)
        return found

    def _target(self, row: _Row, by_number: dict[str, Household], dwellings: dict[tuple[int, str], Dwelling],
                present: dict[int, list[Household]]
                ) -> tuple[tuple[Any, ...], Household | None, Dwelling | None, tuple[Area, int, str] | None] | None:
        """(group key, existing household, its dwelling, dwelling to create) for one row, or None
        when the row's household cannot be determined (the error is recorded)."""
        n = row.number
        household: Household | None = None
        if row.household_number:
            household = by_number.get(row.household_number)
            # A household the user may not see does not exist for them: same answer as a typo.
            if household is None or not self.allowed(Action.VIEW, household.area_path):
                self.error(n, "household_number", row.household_number,
                           f"户编号“{row.household_number}”在系统中不存在;新登记的户请将户编号留空")
                return None
            if not household.area_path.startswith(self.area.path):
                self.error(n, "household_number", row.household_number,
                           f"户编号“{row.household_number}”的户在“{household.address}”,"
                           f"不在本次导入范围“{self.area.name}”内")
                return None
        if not row.address_given:
            return (("h", household.pk), household, None, None) if household is not None else None
        unit = row.unit
        if unit is None:
            return None
        dwelling = dwellings.get((unit.pk, row.room))
        new_dwelling = None
        if dwelling is None:
            floor = row.floor if row.floor is not None else floor_of_room(row.room)
            building = self.areas_by_pk.get(unit.parent_id or 0)
            if floor is None:
                self.error(n, "floor", "", f"无法从房号“{row.room}”推算楼层,请填写“楼层”")
                return None
            if building is not None and building.floors and floor > building.floors:
                key = "floor" if row.floor is not None else "room"
                self.error(n, key, row.floor if row.floor is not None else row.room,
                           f"{floor}层超过了{building.name}的总层数{building.floors}层,请核对房号")
                return None
            if not self.allowed(Action.MANAGE_AREAS, unit.path):
                self.error(n, "room", row.room, f"系统中还没有{unit.short_name}{row.room}室,您没有新建户室的权限,"
                                                "请社区书记先在“区域与楼栋”中添加")
                return None
            new_dwelling = (unit, floor, row.room)
        if household is not None:
            return ("h", household.pk), household, dwelling, new_dwelling
        if dwelling is not None:
            living = present.get(dwelling.pk, [])
            if len(living) > 1:
                self.error(n, "household_number", "",
                           f"{unit.short_name}{dwelling.number}室住有{len(living)}户,请填写户编号以区分")
                return None
            if living:
                return ("h", living[0].pk), living[0], dwelling, None
        return ("d", unit.pk, row.room), None, dwelling, new_dwelling

    def _check_household(self, plan: HouseholdPlan, rows: list[_Row], residents: dict[str, Resident],
                         members: dict[int, list[Resident]], tag_ids: dict[str, set[int]]) -> None:
        household = plan.household
        places: dict[str, str] = {}  # area path → how to name it in the message
        if household is not None:
            places[household.area_path] = household.address
        if plan.dwelling is not None:
            places.setdefault(plan.dwelling.area_path, self._place_name(plan.dwelling.area_path))
        if plan.new_dwelling is not None:
            places.setdefault(plan.new_dwelling[0].path, plan.new_dwelling[0].short_name)
        for path, where in places.items():
            if not (self.allowed(Action.CHANGE, path) and self.allowed(Action.IMPORT, path)):
                for row in rows:
                    self.error(row.number, "building", row.building.name if row.building else "",
                               f"您没有在“{where}”导入户籍数据的权限")
                return

        # Rows naming the same 户编号 must not point at two dwellings.
        addressed = [row for row in rows if row.address_given and row.unit is not None]
        if addressed:
            first = addressed[0]
            for row in addressed[1:]:
                if (row.unit, row.room) != (first.unit, first.room):
                    self.error(row.number, "room", row.room, f"同一户的住址应一致,与第{first.number}行不同")

        # Household fields: the first row that fills one decides, the others must not contradict it.
        for key in SHARED_HOUSEHOLD_KEYS:
            given = [(row.number, row.household_fields[key]) for row in rows if key in row.household_fields]
            for number, value in given[1:]:
                if value != given[0][1]:
                    self.error(number, key, value,
                               f"同一户的“{COLUMN[key].header}”应一致,第{given[0][0]}行为“{_display(given[0][1])}”")
            if given:
                plan.fields[key] = given[0][1]
        head_row = next((row for row in rows if row.relation == c.Relation.HEAD), None)
        if head_row is not None and "hukou_address" in head_row.fields:
            plan.fields["hukou_address"] = head_row.fields["hukou_address"]
        keep = tag_ids.get(f"h{household.pk}", set()) if household is not None else set()
        plan.keep_tags = [self.tags_by_pk[pk] for pk in sorted(keep)]
        plan.add_tags = list({t.pk: t for row in rows for t in row.household_tags if t.pk not in keep}.values())

        # Who is 户主 after the import: file rows as they will be, other members as they are.
        in_file: set[int] = set()
        heads: list[tuple[int | None, str]] = []  # (file row, or None for a member not in the file; name)
        living = 0  # people still 在住 after the import: a household whose members all left needs no 户主
        for row in rows:
            existing = residents.get(crypto.blind_index(row.id.number, "id")) if row.id is not None else None
            person = self._person(plan, row, existing, tag_ids)
            if existing is not None:
                in_file.add(existing.pk)  # even when refused: the row, not the database, speaks for them
            relation = row.relation or (existing.relation if existing else "")
            status = row.fields.get("status") or (existing.status if existing else c.PersonStatus.PRESENT)
            living += status == c.PersonStatus.PRESENT
            if relation == c.Relation.HEAD and status == c.PersonStatus.PRESENT:
                heads.append((row.number, row.name))
            if person is not None and not row.failed:
                plan.people.append(person)
        if household is not None:
            others = [m for m in members.get(household.pk, [])
                      if m.pk not in in_file and m.status == c.PersonStatus.PRESENT]
            living += len(others)
            heads += [(None, m.name) for m in others if m.relation == c.Relation.HEAD]
        if living:
            self._check_heads(rows, heads)
        if len(heads) == 1:
            plan.head_row = heads[0][0]

    def _check_heads(self, rows: list[_Row], heads: list[tuple[int | None, str]]) -> None:
        if not heads:
            numbers = "、".join(str(r.number) for r in rows)
            for row in rows:
                self.error(row.number, "relation", row.relation,
                           f"该户没有户主:每户须有一人的“与户主关系”为“户主”(第{numbers}行为同一户)")
            return
        if len(heads) == 1:
            return
        file_heads = [n for n, _ in heads if n is not None]
        known = [name for n, name in heads if n is None]
        for n in file_heads:
            if known:
                message = (f"该户在系统中已有户主“{known[0]}”,一户只能有一位户主;"
                           "更换户主请同时把原户主的“与户主关系”改为其他关系")
            else:
                message = "同一户有多位户主(第" + "、".join(map(str, file_heads)) + "行),一户只能有一位户主"
            self.error(n, "relation", c.Relation.HEAD, message)

    def _person(self, plan: HouseholdPlan, row: _Row, resident: Resident | None,
                tag_ids: dict[str, set[int]]) -> PersonPlan | None:
        """The person of one row (`resident`: who has its ID number); None when it cannot be applied."""
        if row.id is None:
            return None
        n = row.number
        if resident is not None:
            if not self.allowed(Action.VIEW, resident.area_path):
                self.error(n, "id_number", row.id.number,
                           "该身份证号已在其他区域登记,不能在此导入;人员迁入请联系原所在社区办理")
                return None
            if plan.household is None or resident.household_id != plan.household.pk:
                self.error(n, "id_number", row.id.number,
                           f"{resident.name}已登记在“{resident.household.address}”(户编号{resident.household.number}),"
                           "与表中的户不一致;人员迁移请在系统中办理")
                return None
            if resident.name != row.name:
                self.error(n, "name", row.name,
                           f"该身份证号在系统中登记的姓名是“{resident.name}”,与表中不一致;确需改名请在系统中修改")
                return None
        elif not row.relation:
            self.error(n, "relation", "", "新登记的人员请填写与户主关系")
        fields = dict(row.fields)
        if row.relation:
            fields["relation"] = row.relation
        keep = tag_ids.get(f"r{resident.pk}", set()) if resident is not None else set()
        return PersonPlan(
            row=n, resident=resident, name=row.name, id_number=row.id.number,
            phone=self._masked_or_number(row, "phone", row.phone, resident.phone_masked if resident else None),
            landline=self._masked_or_number(row, "landline", row.landline,
                                            resident.landline_masked if resident else None),
            fields=fields, add_tags=list({t.pk: t for t in row.person_tags if t.pk not in keep}.values()),
            keep_tags=[self.tags_by_pk[pk] for pk in sorted(keep)],
        )

    def _masked_or_number(self, row: _Row, key: str, value: str, current_masked: str | None) -> str | None:
        """A masked number from an export means "unchanged" when it is what the system shows."""
        if not value:
            return None
        if "*" not in value:
            return value
        if current_masked is None or value != current_masked:
            self.error(row.number, key, value, f"{COLUMN[key].header}号码已打码,无法导入;请填写完整号码或留空")
        return None

    def _place_name(self, path: str) -> str:
        area = self.areas_by_path.get(path)
        return area.short_name if area is not None else self.area.name


def validate_rows(*, actor: Any, area: Area, sheet: Sheet, progress: Progress | None = None) -> Plan:
    """Check every row against the file and the database without writing anything.

    Returns the plan (households with their people) and the errors, sorted by row then column.
    The plan is only to be applied when `errors` is empty."""
    validator = _Validator(actor=actor, area=area, sheet=sheet, progress=progress or _no_progress)
    plan = validator.run()
    # A household plan holding a failed row is incomplete; with errors nothing is applied anyway,
    # but make sure a caller that ignores `errors` cannot apply half a household.
    if plan.errors:
        plan.households = [h for h in plan.households if not set(h.rows) & validator.failed_rows]
    return plan


# ---- applying ------------------------------------------------------------------------------

def _rejected(row: int | None, exc: ValidationError | PermissionDenied) -> ImportRejected:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        errors = [error_dict(row, key if key in COLUMN else "", "", message)
                  for key, messages in exc.message_dict.items() for message in messages]
    else:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        errors = [error_dict(row, "", "", message) for message in messages]
    return ImportRejected(errors)


def apply_rows(*, actor: Any, plan: Plan, progress: Progress | None = None) -> dict[str, int]:
    """Write a validated plan through the services in one transaction; all of it or nothing.

    A service refusing a row (the data changed since validation, say) raises ImportRejected with
    that row's errors; any other exception propagates. Either way the transaction rolls back."""
    if plan.errors:
        raise ImportRejected(plan.errors)
    report = progress or _no_progress
    total = sum(len(h.people) for h in plan.households)
    counts = {"households_created": 0, "residents_created": 0, "residents_updated": 0}
    done = 0
    with transaction.atomic():
        for hp in plan.households:
            row: int | None = hp.rows[0]
            try:
                household = _apply_household(actor, hp, counts)
                head: Resident | None = None
                for person in hp.people:
                    row = person.row
                    resident = _apply_person(actor, household, person, counts)
                    if person.row == hp.head_row:
                        head = resident
                    done += 1
                    if done % 50 == 0:
                        report("apply", done, total)
                row = hp.head_row or hp.rows[0]
                if head is not None and household.head_id != head.pk:
                    household = services.household_update(actor=actor, household=household,
                                                           version=household.version, head=head)
            except (ValidationError, PermissionDenied) as exc:
                raise _rejected(row, exc) from exc
    report("apply", total, total)
    return counts


def _apply_household(actor: Any, hp: HouseholdPlan, counts: dict[str, int]) -> Household:
    dwelling = hp.dwelling
    if hp.new_dwelling is not None:
        unit, floor, number = hp.new_dwelling
        dwelling = services.dwelling_create(actor=actor, unit=unit, floor=floor, number=number)
    household = hp.household
    if household is None:
        counts["households_created"] += 1
        household = services.household_create(actor=actor, dwelling=dwelling, **hp.fields)
        if hp.add_tags:
            household = services.household_update(actor=actor, household=household, version=household.version,
                                                  tags=hp.add_tags)
        return household
    changes = {k: v for k, v in hp.fields.items() if getattr(household, k) != v}
    move = dwelling if dwelling is not None and dwelling.pk != household.dwelling_id else None
    tags = [*hp.keep_tags, *hp.add_tags] if hp.add_tags else None
    if changes or move is not None or tags is not None:
        household = services.household_update(actor=actor, household=household, version=household.version,
                                              dwelling=move, tags=tags, **changes)
    return household


def _apply_person(actor: Any, household: Household, person: PersonPlan, counts: dict[str, int]) -> Resident:
    resident = person.resident
    if resident is None:
        counts["residents_created"] += 1
        resident = services.resident_create(actor=actor, household=household, name=person.name,
                                            id_number=person.id_number, phone=person.phone or "",
                                            landline=person.landline or "", **person.fields)
    else:
        changes = {k: v for k, v in person.fields.items() if getattr(resident, k) != v}
        phone = person.phone if person.phone and crypto.blind_index(person.phone, "phone") != resident.phone_hash \
            else None
        landline = person.landline if person.landline and person.landline != crypto.decrypt(resident.landline_enc) \
            else None
        if changes or phone or landline or person.add_tags:
            counts["residents_updated"] += 1
        if resident.area_path != household.area_path:
            # The household moved a moment ago and the service moved its people in the database;
            # resident_update saves the whole row, so it must not write the old path back.
            resident.refresh_from_db(fields=["area_path"])
        if changes or phone or landline:
            resident = services.resident_update(actor=actor, resident=resident, version=resident.version,
                                                phone=phone, landline=landline, **changes)
    if person.add_tags:
        services.set_resident_tags(actor=actor, resident=resident, tags=[*person.keep_tags, *person.add_tags],
                                   source=ResidentTag.Source.IMPORT)
    return resident


# ---- the job -------------------------------------------------------------------------------

def importable_areas(user: Any) -> QuerySet[Area]:
    """Communities and grids the user may import into (the choices of the upload form)."""
    qs = Area.objects.filter(kind__in=[AreaKind.COMMUNITY, AreaKind.GRID])
    return qs.visible_to(user, Action.IMPORT).order_by("path")


def may_import_into(actor: Any, area: Area) -> bool:
    """May import into `area` at all: IMPORT on it, or on a part of it (rows elsewhere then fail
    one by one with a permission error)."""
    paths = scope_paths(actor, Action.IMPORT)
    return paths is None or any(area.path.startswith(p) or p.startswith(area.path) for p in paths)


def stored_path(job: ImportJob) -> Path:
    """Where the upload of `job` is kept, for the background run and the error report."""
    return Path(settings.MEDIA_ROOT) / "imports" / f"{job.pk}.xlsx"


def import_workbook(*, actor: Any, area: Area, fileobj: IO[bytes], filename: str,
                    progress: Progress | None = None, job: ImportJob | None = None,
                    fast: bool | None = None, workers: int = 2) -> ImportJob:
    """Read, validate and (when no row has an error) apply a 户籍信息表; record it all on an ImportJob.

    `actor` None is the system (demo generator, commands): no permission checks. Pass `job` to
    fill in a job created earlier (the upload view does, to show its page at once); otherwise a
    new one is created. Never raises for bad input: the job's status and errors say what happened.

    `fast` picks wuzhi.registry.bulkimport (streamed, parallel, COPY; new households and people
    only); by default a .csv file takes it and an .xlsx file the row-by-row path above."""
    if fast is None:
        fast = filename.lower().endswith(".csv")
    if job is None:
        job = ImportJob.objects.create(created_by=actor, area=area, area_path=area.path, filename=filename)
    report = progress or _no_progress
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status"])
    try:
        if actor is not None and not may_import_into(actor, area):
            raise ImportFileError(f"您没有向“{area.name}”导入户籍数据的权限")
        report("read", 0, 0)
        if fast:
            from .bulkimport import import_rows_fast

            result = import_rows_fast(actor=actor, area=area, fileobj=fileobj, filename=filename, workers=workers,
                                      progress=report, job_id=job.pk)
            job.total_rows = result.total_rows
            if result.errors:
                job.status, job.errors = ImportJob.Status.FAILED, result.errors
            else:
                for name, value in result.counts.items():
                    setattr(job, name, value)
                job.status, job.errors = ImportJob.Status.APPLIED, []
        else:
            _import_sheet(actor, area, read_sheet(fileobj, filename), report, job)
    except ImportFileError as exc:
        job.status, job.errors = ImportJob.Status.FAILED, [error_dict(None, "", "", str(exc))]
    except ImportRejected as exc:
        job.status, job.errors = ImportJob.Status.FAILED, exc.errors
    except (OperationalError, InterfaceError):
        # The database went away (restarted, network cut, connection terminated). apply_rows
        # writes in one transaction, which the server rolls back when the connection dies, so
        # none of the file is in; Django drops the dead connection and the save below opens a
        # new one. tests/registry/test_faults.py terminates the backend mid-apply to prove it.
        logger.exception("import job %s lost its database connection", job.pk)
        job.status, job.errors = ImportJob.Status.CRASHED, [error_dict(None, "", "", CONNECTION_LOST)]
    except Exception:
        logger.exception("import job %s crashed", job.pk)
        job.status = ImportJob.Status.CRASHED
        job.errors = [error_dict(None, "", "", "导入时发生系统错误,没有写入任何数据。请稍后重试,或把文件交给管理员检查")]
    job.finished_at = timezone.now()
    try:
        job.save()
    except DatabaseError:
        # Still no database: the row keeps saying 处理中 until fail_stale_jobs() ends it.
        logger.exception("import job %s: could not record its outcome", job.pk)
    return job


def _import_sheet(actor: Any, area: Area, sheet: Sheet, report: Progress, job: ImportJob) -> None:
    plan = validate_rows(actor=actor, area=area, sheet=sheet, progress=report)
    job.total_rows = plan.total_rows
    if plan.errors:
        job.status, job.errors = ImportJob.Status.FAILED, plan.errors
    else:
        counts = apply_rows(actor=actor, plan=plan, progress=report)
        for name, value in counts.items():
            setattr(job, name, value)
        job.status, job.errors = ImportJob.Status.APPLIED, []


CONNECTION_LOST = "导入过程中与数据库的连接中断,本次导入已全部撤销,没有写入任何数据。请稍后重新上传该文件"
WORKER_LOST = ("导入没有完成:处理导入的服务中途停止(例如服务器重启或数据库连接中断),本次导入已全部撤销,"
               "没有写入任何数据。请重新上传该文件")
# A running import reports progress at least every 50 rows; this long without a sign of life
# means the process running it is gone (the thread died with it) and nobody will finish the job.
STALE_AFTER = dt.timedelta(minutes=15)


def fail_stale_jobs(last_seen: Callable[[Any], float | None], now: dt.datetime | None = None) -> int:
    """Mark jobs whose worker died as crashed, so no job says 处理中 forever.

    A job is stale when it was created more than STALE_AFTER ago and `last_seen(job_id)` (the
    epoch seconds of its latest progress report, or None) is not within STALE_AFTER either. The
    data is safe either way: a dead worker's transaction never committed. Returns how many."""
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    unfinished = [ImportJob.Status.PENDING, ImportJob.Status.RUNNING]
    stale = [pk for pk in ImportJob.objects.filter(status__in=unfinished, created_at__lt=cutoff)
             .values_list("pk", flat=True) if (last_seen(pk) or 0) < cutoff.timestamp()]
    if not stale:
        return 0
    return ImportJob.objects.filter(pk__in=stale, status__in=unfinished).update(
        status=ImportJob.Status.CRASHED, finished_at=now, errors=[error_dict(None, "", "", WORKER_LOST)])


def rows_with_errors(errors: Iterable[dict[str, Any]]) -> dict[int, list[str]]:
    """Row number → its reasons ("身份证号:校验位错误"), for the error report."""
    reasons: dict[int, list[str]] = {}
    for e in errors:
        if e.get("row"):
            text = f"{e['column']}:{e['message']}" if e.get("column") else e["message"]
            reasons.setdefault(int(e["row"]), []).append(text)
    return reasons
