"""Workbooks the registry hands out: the 户籍信息表 template, the error report of a failed import,
and exports of resident and household lists.

Exports are the widest door out of the system, so: rows come only from the caller's
`visible_to(actor, "export")` queryset, ID and phone numbers stay masked unless the caller asks
and the actor may REVEAL there, every export is written to the AccessLog, and text that Excel
would run as a formula is quoted. A resident export uses the template's columns, so a revealed
export edited in Excel can be imported again."""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from wuzhi.core import audit, crypto
from wuzhi.core.models import AccessLog, Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can

from . import choices as c
from .importer import COLUMNS, FORMULA_PREFIXES, read_sheet, rows_with_errors
from .models import Household, Resident, Tag

CHUNK = 2000
TEMPLATE_ROWS = 2000  # rows of the template that get drop-downs
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="B22222")
ERROR_FONT = Font(color="C0392B")
ERROR_FILL = PatternFill("solid", fgColor="F8D7DA")


def safe_cell(value: Any) -> Any:
    """Text starting with = + - @ (or tab/CR) gets a leading quote so Excel shows it, never runs it."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _save(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class ExportFailed(Exception):
    """The workbook could not be written; nothing was handed out and nothing was left behind.
    The message is for the user."""


# What a full disk looks like to a writer: no space, quota exceeded, file size limit reached.
DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
DISK_FULL_MESSAGE = "服务器磁盘空间不足,导出没有完成,没有生成任何文件。请联系系统管理员清理磁盘后再导出"


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    # openpyxl writes through lxml when it is installed, which reports libxml2's I/O error codes
    # instead of an OSError: SerialisationError("IO_ENOSPC") (seen in tests/registry/test_faults.py).
    return type(exc).__name__ == "SerialisationError" and any(
        code in str(exc) for code in ("ENOSPC", "EFBIG", "EDQUOT"))


@contextlib.contextmanager
def _streamed_workbook() -> Iterator[Workbook]:
    """A write-only workbook for a long sheet, and its cleanup when writing fails.

    openpyxl streams the rows of a write-only sheet into a temporary file (delete=False, removed
    only when the workbook is saved or the process exits). If the disk fills up halfway, that
    half file, revealed ID numbers and all, would stay in the temp directory for as long as the
    server runs: it is removed here, and the error becomes ExportFailed with a Chinese message."""
    wb = Workbook(write_only=True)
    try:
        yield wb
    except Exception as exc:
        if _disk_full(exc):
            raise ExportFailed(DISK_FULL_MESSAGE) from exc
        raise
    finally:
        for ws in wb.worksheets:
            # openpyxl's WorksheetWriter keeps the temp file's name in `out`; saving removes it.
            path = getattr(getattr(ws, "_writer", None), "out", None)
            if isinstance(path, str):
                with contextlib.suppress(Exception):
                    ws._writer.xf.close()  # the XML stream holds the file open
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)


def _header_cells(ws: Any, headers: Iterable[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cells.append(cell)
    return cells


def _widths(ws: Any, widths: Iterable[int]) -> None:
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width


# ---- template ------------------------------------------------------------------------------

def build_template() -> bytes:
    """户籍信息表 template: the header, drop-downs for coded columns, and a 填表说明 sheet."""
    wb = Workbook()
    ws: Worksheet = wb.active  # type: ignore[assignment]
    ws.title = "户籍信息表"
    ws.append([col.header for col in COLUMNS])
    for i, col in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=i)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = col.width
        if col.key in ("id_number", "phone", "landline", "household_number", "room"):
            # Text format stops Excel from turning 18-digit ID numbers into 5.30626E+17.
            ws.column_dimensions[letter].number_format = "@"
    ws.freeze_panes = "A2"

    # Drop-down lists live on a hidden sheet: 56 民族 overflow the 255 characters of an inline list.
    lists = wb.create_sheet("选项")
    coded = [(i, col) for i, col in enumerate(COLUMNS, 1) if col.choices is not None]
    for j, (i, col) in enumerate(coded, 1):
        labels = [str(label) for _, label in col.choices.choices]
        lists.cell(row=1, column=j, value=col.header)
        for r, label in enumerate(labels, 2):
            lists.cell(row=r, column=j, value=label)
        source, target = get_column_letter(j), get_column_letter(i)
        # A warning, not a stop: the importer also accepts what workers commonly type (妻子, 党员).
        dv = DataValidation(type="list", formula1=f"=选项!${source}$2:${source}${len(labels) + 1}",
                            allow_blank=True, showErrorMessage=True, errorStyle="warning",
                            errorTitle="不在可选范围内", error=f"请从下拉列表中选择{col.header}")
        dv.add(f"{target}2:{target}{TEMPLATE_ROWS + 1}")
        ws.add_data_validation(dv)
    lists.sheet_state = "hidden"

    notes = wb.create_sheet("填表说明")
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 90
    notes.append(["填表说明"])
    notes["A1"].font = Font(bold=True, size=14)
    for line in (
        "每行填写一个人;同一户的人员填写相同的户编号,或相同的楼栋、单元、房号。",
        "已在系统中的人员按身份证号识别并更新,不会重复登记;其他人员新建。",
        "空白单元格不会清除系统中已有的信息;标签只会增加,不会删除(删除请在系统中操作)。",
        "楼栋和单元必须已在系统中建立;单元下没有的房号会自动新建户室。",
        "表中任何一行有错误时,整份表格都不会导入;请按错误报告改正后重新上传。",
        "身份证号、手机、座机列请保持“文本”格式,避免Excel把号码变成科学计数法。",
    ):
        notes.append(["", line])
    notes.append([])
    notes.append(["列名", "说明"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
    for col in COLUMNS:
        text = col.help
        if col.choices is not None:
            text = (text + ";" if text else "") + "可填:" + "、".join(str(label) for _, label in col.choices.choices)
        notes.append([col.header, text])
    tags = list(Tag.objects.values_list("name", flat=True))
    if tags:
        notes.append(["现有标签", "、".join(tags)])
    for row in notes.iter_rows(min_row=2):
        row[-1].alignment = Alignment(wrap_text=True, vertical="top")
    return _save(wb)


# ---- error report --------------------------------------------------------------------------

def error_report(fileobj: IO[bytes], errors: list[dict[str, Any]], *, only_failed: bool = True) -> bytes:
    """The uploaded rows with a 错误原因 column, the header kept so the sheet can be uploaded again.

    `only_failed` keeps just the rows with errors; otherwise every row is kept (failed ones shaded),
    which suits the all-or-nothing import: fix the marked rows and upload the whole sheet again."""
    sheet = read_sheet(fileobj)
    reasons = rows_with_errors(errors)
    with _streamed_workbook() as wb:
        return _error_sheet(wb, sheet, reasons, only_failed=only_failed)


def _error_sheet(wb: Workbook, sheet: Any, reasons: dict[int, list[str]], *, only_failed: bool) -> bytes:
    ws = wb.create_sheet("错误报告" if only_failed else "户籍信息表")
    width = max([len(sheet.headers), *(len(r.cells) for r in sheet.rows)])
    headers = [*sheet.headers, *[""] * (width - len(sheet.headers)), "错误原因"]
    _widths(ws, [14] * width + [60])
    ws.freeze_panes = "A2"
    ws.append(_header_cells(ws, headers))
    for row in sheet.rows:
        found = reasons.get(row.number)
        if found is None and (only_failed or not any(v not in (None, "") for v in row.cells)):
            continue
        values = [safe_cell(v) for v in row.cells] + [None] * (width - len(row.cells))
        reason = WriteOnlyCell(ws, value=f"第{row.number}行:" + ";".join(found) if found else None)
        reason.font = ERROR_FONT
        if found and not only_failed:
            cells = []
            for value in values:
                cell = WriteOnlyCell(ws, value=value)
                cell.fill = ERROR_FILL
                cells.append(cell)
            ws.append([*cells, reason])
        else:
            ws.append([*values, reason])
    return _save(wb)


# ---- exports -------------------------------------------------------------------------------

def _place_names(area: Area | None) -> dict[str, str]:
    """{kind: name} of a unit (or grid) and the two levels above, all loaded by select_related."""
    names: dict[str, str] = {}
    node = area
    for depth in range(3):
        if node is None:
            break
        names[node.kind] = node.name
        node = node.parent if depth < 2 else None  # a third .parent would be a query per row
    return names


class _Reveal:
    """Per-area REVEAL decisions, and what to write to the access log about them."""

    def __init__(self, actor: Any, wanted: bool) -> None:
        self.actor, self.wanted = actor, wanted
        self.decisions: dict[str, bool] = {}
        self.count = 0

    def __call__(self, path: str) -> bool:
        if not self.wanted:
            return False
        allowed = self.decisions.get(path)
        if allowed is None:
            allowed = self.decisions[path] = self.actor is None or can(self.actor, Action.REVEAL, path)
        self.count += allowed
        return allowed


def _common_path(current: str | None, path: str) -> str:
    """Longest shared area path: the access log entry belongs to the smallest area holding all rows."""
    if current is None:
        return path
    prefix = os.path.commonprefix([current, path])
    return prefix[: prefix.rfind("/") + 1]


def _log(*, actor: Any, what: str, count: int, description: str, path: str | None, revealed: int,
         ip: str | None) -> None:
    detail = f"导出{what}{count}条" + (f";筛选条件:{description}" if description else "")
    audit.log_access(actor=actor, kind=AccessLog.Kind.EXPORT, detail=detail, area_path=path or "", ip=ip)
    if revealed:
        audit.log_access(actor=actor, kind=AccessLog.Kind.REVEAL, field="id_number,phone",
                         detail=f"导出{what}时查看了{revealed}条的完整身份证号和电话", area_path=path or "", ip=ip)


def _write(sheet_name: str, headers: list[str], widths: list[int], rows: Iterator[list[Any]]) -> bytes:
    with _streamed_workbook() as wb:
        ws = wb.create_sheet(sheet_name)
        _widths(ws, widths)
        ws.freeze_panes = "A2"
        ws.append(_header_cells(ws, headers))
        for values in rows:
            ws.append([safe_cell(v) for v in values])
        return _save(wb)


# Columns of a resident export: the template's, plus two a reader wants next to the ID number
# (the importer ignores columns it does not know, so the export stays importable).
RESIDENT_EXTRA = {"id_number": [("sex", "性别"), ("birth_date", "出生日期")]}
RESIDENT_KEYS = [key for col in COLUMNS for key in (col.key, *(k for k, _ in RESIDENT_EXTRA.get(col.key, [])))]
RESIDENT_HEADERS = [h for col in COLUMNS for h in (col.header, *(h for _, h in RESIDENT_EXTRA.get(col.key, [])))]
RESIDENT_WIDTHS = [w for col in COLUMNS for w in (col.width, *(11 for _ in RESIDENT_EXTRA.get(col.key, [])))]


def export_residents(*, actor: Any, queryset: QuerySet[Resident], reveal: bool = False, description: str = "",
                     ip: str | None = None) -> bytes:
    """Residents as a 户籍信息表. `queryset` must come from Resident.objects.visible_to(actor, "export")."""
    qs = queryset.select_related(
        "household", "household__dwelling", "household__area__parent__parent",
    ).prefetch_related(
        Prefetch("tags", queryset=Tag.objects.only("name")),
        Prefetch("household__tags", queryset=Tag.objects.only("name")),
    )
    show = _Reveal(actor, reveal)
    state: dict[str, Any] = {"count": 0, "path": None}

    def rows() -> Iterator[list[Any]]:
        for r in qs.iterator(chunk_size=CHUNK):
            h = r.household
            place = _place_names(h.area)
            dwelling = h.dwelling
            full = show(r.area_path)
            state["count"] += 1
            state["path"] = _common_path(state["path"], r.area_path)
            values = {
                "household_number": h.number, "grid": place.get(AreaKind.GRID, ""),
                "building": place.get(AreaKind.BUILDING, ""), "unit": place.get(AreaKind.UNIT, ""),
                "room": dwelling.number if dwelling else "", "floor": dwelling.floor if dwelling else None,
                "name": r.name, "sex": r.get_sex_display(), "birth_date": r.birth_date,
                "id_number": crypto.decrypt(r.id_number_enc) if full else r.id_number_masked,
                "phone": crypto.decrypt(r.phone_enc) if full else r.phone_masked,
                "landline": crypto.decrypt(r.landline_enc) if full else r.landline_masked,
                "disability": r.get_disability_display() if r.disability else "",
                "origin_county": h.origin_county, "origin_town": h.origin_town, "origin_village": h.origin_village,
                "relocation_batch": h.relocation_batch, "moved_in_on": h.moved_in_on,
                # Household tags ride along so a re-import of this sheet keeps them.
                "tags": "、".join(dict.fromkeys([t.name for t in r.tags.all()] + [t.name for t in h.tags.all()])),
            }
            yield [values[key] if key in values else getattr(r, key) for key in RESIDENT_KEYS]

    data = _write("居民名单", RESIDENT_HEADERS, RESIDENT_WIDTHS, rows())
    _log(actor=actor, what="居民", count=state["count"], description=description, path=state["path"],
         revealed=show.count, ip=ip)
    return data


HOUSEHOLD_HEADERS: list[tuple[str, int]] = [
    ("户编号", 20), ("网格", 8), ("楼栋", 8), ("单元", 8), ("房号", 8), ("楼层", 6), ("住址", 22),
    ("户主", 10), ("户主身份证号", 21), ("户主手机", 14), ("在住人数", 8), ("户籍地", 24),
    ("搬迁来源县", 11), ("搬迁来源乡镇", 12), ("搬迁来源村", 11), ("搬迁批次", 9), ("入住日期", 12),
    ("状态", 8), ("户标签", 16), ("最近走访", 12),
]


def export_households(*, actor: Any, queryset: QuerySet[Household], reveal: bool = False, description: str = "",
                      ip: str | None = None) -> bytes:
    """Households, one row each. `queryset` must come from Household.objects.visible_to(actor, "export")."""
    qs = queryset.select_related(
        "dwelling", "head", "area__parent__parent",
    ).annotate(
        present_count=Count("members", filter=Q(members__status=c.PersonStatus.PRESENT)),
    ).prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))
    show = _Reveal(actor, reveal)
    state: dict[str, Any] = {"count": 0, "path": None}

    def rows() -> Iterator[list[Any]]:
        for h in qs.iterator(chunk_size=CHUNK):
            place = _place_names(h.area)
            dwelling, head = h.dwelling, h.head
            full = head is not None and show(h.area_path)
            state["count"] += 1
            state["path"] = _common_path(state["path"], h.area_path)
            yield [
                h.number, place.get(AreaKind.GRID, ""), place.get(AreaKind.BUILDING, ""),
                place.get(AreaKind.UNIT, ""), dwelling.number if dwelling else "", dwelling.floor if dwelling else None,
                h.address, head.name if head else "",
                (crypto.decrypt(head.id_number_enc) if full else head.id_number_masked) if head else "",
                (crypto.decrypt(head.phone_enc) if full else head.phone_masked) if head else "",
                h.present_count, h.hukou_address,
                h.origin_county, h.origin_town, h.origin_village, h.relocation_batch, h.moved_in_on,
                h.get_status_display(), "、".join(t.name for t in h.tags.all()), timezone.localdate(h.last_visited_at) if h.last_visited_at else None,
            ]

    data = _write("户列表", [name for name, _ in HOUSEHOLD_HEADERS], [w for _, w in HOUSEHOLD_HEADERS], rows())
    _log(actor=actor, what="户", count=state["count"], description=description, path=state["path"],
         revealed=show.count, ip=ip)
    return data
