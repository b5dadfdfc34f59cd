"""The volunteer record as a workbook: one sheet of hours per volunteer, one of every service row.

Like the registry's exports: rows come only from the caller's `visible_to(actor, "export")`
activities, text Excel would run as a formula is quoted (registry.exporter.safe_cell), and every
export is written to the access log."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from wuzhi.core import audit
from wuzhi.core.models import AccessLog
from wuzhi.registry.exporter import HEADER_FILL, HEADER_FONT, safe_cell

from .models import Attendance
from .selectors import describe_volunteers, volunteer_hours

CHUNK = 2000
SUMMARY_HEADERS = [("序号", 6), ("姓名", 12), ("服务队", 22), ("队内职务", 10), ("所在单位", 22),
                   ("参加活动(场)", 13), ("服务时长(小时)", 15)]
DETAIL_HEADERS = [("日期", 12), ("时间", 8), ("活动名称", 28), ("活动类型", 12), ("服务队", 22), ("地点", 18),
                  ("姓名", 12), ("身份", 10), ("服务时长(小时)", 15)]


def _sheet(wb: Workbook, title: str, headers: list[tuple[str, int]]) -> Any:
    ws = wb.create_sheet(title)
    for i, (_name, width) in enumerate(headers, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    cells = []
    for name, _width in headers:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cells.append(cell)
    ws.append(cells)
    return ws


def _row(values: Iterable[Any]) -> list[Any]:
    # Hours are Decimals; Excel sums floats (a Decimal would be written as text by some readers).
    return [float(v) if isinstance(v, Decimal) else safe_cell(v) for v in values]


def _common_path(paths: Iterable[str]) -> str:
    """The smallest area holding every exported row: the access log entry is filed there."""
    found = [p for p in paths if p]
    if not found:
        return ""
    prefix = os.path.commonprefix(found)
    return prefix[: prefix.rfind("/") + 1]


def export_volunteers(*, actor: Any, attendance: QuerySet[Attendance], description: str = "",
                      ip: str | None = None) -> bytes:
    """`attendance` must reach its activities through Activity.objects.visible_to(actor, "export")."""
    wb = Workbook(write_only=True)
    summary = _sheet(wb, "志愿服务时长", SUMMARY_HEADERS)
    rows = describe_volunteers(volunteer_hours(attendance))
    for i, r in enumerate(rows, 1):
        summary.append(_row([i, r["name"], r["team"], r["member_role"], r["organisation"], r["activities"],
                             r["hours"] or Decimal("0")]))

    detail = _sheet(wb, "服务明细", DETAIL_HEADERS)
    served = (attendance.exclude(role=Attendance.Role.PARTICIPANT)
              .select_related("activity__team").order_by("activity__starts_at", "activity_id", "id"))
    count, paths = 0, set()
    for a in served.iterator(chunk_size=CHUNK):
        activity = a.activity
        when = timezone.localtime(activity.starts_at)
        detail.append(_row([when.date(), f"{when:%H:%M}", activity.title, activity.get_kind_display(),
                            activity.team.name if activity.team else "", activity.venue, a.name,
                            a.get_role_display(), a.hours]))
        count += 1
        paths.add(activity.area_path)

    buffer = io.BytesIO()
    wb.save(buffer)
    detail_text = f"导出志愿服务时长{len(rows)}人、服务明细{count}条" + (f";筛选条件:{description}" if description else "")
    audit.log_access(actor=actor, kind=AccessLog.Kind.EXPORT, detail=detail_text, area_path=_common_path(paths),
                     ip=ip)
    return buffer.getvalue()



STATEMENT_DINER_HEADERS = [("序号", 6), ("姓名", 12), ("住址", 24), ("经费类别", 12), ("就餐天数", 10),
                           ("就餐次数", 10), ("餐标(元/餐)", 12), ("金额(元)", 12)]
STATEMENT_FUNDING_HEADERS = [("经费类别", 14), ("就餐人数", 10), ("就餐次数", 10), ("金额(元)", 12)]
STATEMENT_DETAIL_HEADERS = [("日期", 12), ("餐次", 10), ("姓名", 12), ("经费类别", 12)]


def export_canteen_statement(*, actor: Any, program: Any, sessions: QuerySet[Any], first: Any, last: Any,
                             ip: str | None = None) -> bytes:
    """The 幸福餐厅's monthly statement as a workbook: per diner, per funding category, and every
    meal. `sessions` must be Activity.objects.visible_to(actor, "export"). Totals are numbers
    written by us, not formulas: the sheet is formula-free, as every export is."""
    from .canteen import UNREGISTERED, detail_rows, statement

    st = statement(program, sessions, first, last)
    wb = Workbook(write_only=True)
    title = f"{program.name} {first:%Y年%m月}就餐结算"
    diners = _sheet(wb, "按就餐者", STATEMENT_DINER_HEADERS)
    for i, d in enumerate(st.diners, 1):
        diners.append(_row([i, d.name, d.address, d.funding, d.days, d.meals, program.meal_price, d.amount]))
    diners.append(_row(["", "合计", "", "", "", st.meals, "", st.amount]))
    funding = _sheet(wb, "按经费类别", STATEMENT_FUNDING_HEADERS)
    for g in st.by_funding:
        funding.append(_row([g.funding, g.diners, g.meals, g.amount]))
    funding.append(_row(["合计", len(st.diners), st.meals, st.amount]))
    detail = _sheet(wb, "就餐明细", STATEMENT_DETAIL_HEADERS)
    count = 0
    for a in detail_rows(program, sessions, first, last).iterator(chunk_size=CHUNK):
        when = timezone.localtime(a.activity.starts_at)
        detail.append(_row([when.date(), a.activity.title, a.name,
                            a.enrolment.get_funding_display() if a.enrolment and a.enrolment.funding else UNREGISTERED]))
        count += 1
    buffer = io.BytesIO()
    wb.save(buffer)
    audit.log_access(actor=actor, kind=AccessLog.Kind.EXPORT, obj=program,
                     detail=f"导出{title}:就餐者{len(st.diners)}人、就餐{count}人次", ip=ip)
    return buffer.getvalue()
