"""单元楼管理服务牌: the board on every unit's stairwell (63 of them in 福兴社区).

A board names who serves the unit under the "社区+网格+楼栋" model: the 网格长 (the community
party secretary) and the grid's 专职网格员, and per building 1 楼长, 1 党员, 1 志愿者, 1 警务长
and 1 家庭医生. It carries the community service hotline and a QR code to the resident portal
page of the unit (/p/u/<code>/), where residents report problems and read notices.

Nothing here is stored: a board is read from the role grants (party.roster) when it is asked
for, so a change of 楼长 shows on the next print. A role nobody holds prints "待补充", which
makes the gap visible on the stairwell and in the office alike.

Phones: a board shows only the community hotline, because no staff member has consented to
publishing a personal number yet (there is no field for it). `Person.phone` is where such a
consented number goes once the user profile has one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from wuzhi.core import pdf
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Role
from wuzhi.reports.statistics import Scope

from .roster import BUILDING_ROLES, GRID_ROLES, holders

DEFAULT_HOTLINE = "0870-7622345"
MISSING = "待补充"
QR_HINT = "扫码反映问题、提出建议、查看公告"
MODEL_LINE = "“社区+网格+楼栋” 2+5 网格化管理服务"

# What the board calls each role (the Role labels are written for staff screens) and the one
# line that tells a resident what to go to that person for.
BOARD_LABELS: dict[str, str] = {
    Role.SECRETARY: "网格长",
    Role.GRID_WORKER: "专职网格员",
    Role.BUILDING_HEAD: "楼长",
    Role.PARTY_MEMBER: "党员",
    Role.VOLUNTEER: "志愿者",
    Role.POLICE: "警务长",
    Role.DOCTOR: "家庭医生",
}
DUTY_TEXT: dict[str, str] = {
    Role.SECRETARY: "统筹网格服务，协调解决重大事项",
    Role.GRID_WORKER: "入户走访、信息采集、受理诉求",
    Role.BUILDING_HEAD: "收集楼栋民意，协助网格员服务居民",
    Role.PARTY_MEMBER: "联系群众，带头参与志愿服务",
    Role.VOLUNTEER: "关爱“一老一小”，参与楼栋公益",
    Role.POLICE: "治安巡查，调解邻里纠纷",
    Role.DOCTOR: "健康咨询，签约随访",
}


def service_hotline() -> str:
    return str(getattr(settings, "SERVICE_HOTLINE", "") or DEFAULT_HOTLINE)


def portal_url(unit: Area) -> str:
    """The address on the QR code. PUBLIC_URL, not the request's host: a board printed from an
    intranet address must still open on a resident's phone."""
    return f"{settings.PUBLIC_URL}{reverse('portal:unit', args=[unit.code])}"


@dataclass(frozen=True)
class Person:
    name: str
    phone: str = ""  # only a number the person consented to publish

    def __str__(self) -> str:
        return f"{self.name} {self.phone}" if self.phone else self.name


@dataclass(frozen=True)
class Duty:
    role: str
    people: tuple[Person, ...]

    @property
    def label(self) -> str:
        return BOARD_LABELS.get(self.role, Role(self.role).label)

    @property
    def text(self) -> str:
        return DUTY_TEXT.get(self.role, "")

    @property
    def missing(self) -> bool:
        return not self.people

    @property
    def names(self) -> str:
        return "、".join(str(p) for p in self.people) if self.people else MISSING


@dataclass(frozen=True)
class Board:
    unit: Area
    community: str
    grid: str
    building: str
    unit_name: str
    grid_duties: tuple[Duty, ...]
    building_duties: tuple[Duty, ...]
    hotline: str
    portal_url: str
    printed_on: dt.date

    @property
    def place(self) -> str:
        """福兴社区 3网格 5栋 2单元"""
        return " ".join(n for n in (self.community, self.grid, self.building, self.unit_name) if n)

    @property
    def duties(self) -> tuple[Duty, ...]:
        return self.grid_duties + self.building_duties

    def duty(self, role: str) -> Duty:
        return next(d for d in self.duties if d.role == role)

    @property
    def gaps(self) -> list[str]:
        return [d.label for d in self.duties if d.missing]


def _person(user: Any) -> Person:
    # The staff name as everywhere else in the app (base.html: full name, else the login name),
    # and the phone only where its holder consented to publish it (core.StaffProfile).
    profile = getattr(user, "staff_profile", None)  # None when they never filled one in
    return Person(name=user.get_full_name() or user.get_username(),
                  phone=profile.published_phone if profile is not None else "")


def _natural(segment: str) -> tuple[int, int, str]:
    # Segment "10" sorts after "9" (the codes are not always zero padded).
    return (0, int(segment), "") if segment.isdigit() else (1, 0, segment)


def boards_for(area: Area, *, today: dt.date | None = None) -> list[Board]:
    """One board per unit in `area`'s subtree (the unit itself when `area` is a unit), in the
    tree's order. Six queries whatever the size of the subtree.

    The caller checks that the user may see `area`; the roster is then read without the user's
    scope on purpose: a 楼长 printing their building's board must see the community's 网格长 on it,
    which lies above their own grant. Boards carry staff names only, never residents' data."""
    today = today or timezone.localdate()
    subtree = list(Area.objects.filter(path__startswith=area.path))
    above = list(Area.objects.filter(path__in=area.ancestor_paths()).exclude(pk=area.pk))
    by_path = {a.path: a for a in above + subtree}
    units = [a for a in subtree if a.kind == AreaKind.UNIT]
    if not units:
        return []

    # The roster of the smallest subtree that holds every grid and building the units hang off.
    grid = next((a for a in above if a.kind == AreaKind.GRID), None)
    root = grid if area.kind in (AreaKind.BUILDING, AreaKind.UNIT) and grid is not None else area
    scope = Scope(None, root, today, today)
    grids = {a.path: roles for a, roles in holders(scope, AreaKind.GRID, GRID_ROLES).items()}
    buildings = {a.path: roles for a, roles in holders(scope, AreaKind.BUILDING, BUILDING_ROLES).items()}

    def chain(unit: Area) -> dict[str, Area]:
        return {a.kind: a for p in unit.ancestor_paths() if (a := by_path.get(p)) is not None}

    def order(unit: Area) -> list[tuple[int, tuple[int, int, str]]]:
        return [(a.sort, _natural(a.segment)) for p in unit.ancestor_paths() if (a := by_path.get(p))]

    hotline = service_hotline()
    boards = []
    for unit in sorted(units, key=order):
        up = chain(unit)
        g, b = up.get(AreaKind.GRID), up.get(AreaKind.BUILDING)
        grid_roles = grids.get(g.path, {}) if g else {}
        building_roles = buildings.get(b.path, {}) if b else {}
        boards.append(Board(
            unit=unit,
            community=up[AreaKind.COMMUNITY].name if AreaKind.COMMUNITY in up else "",
            grid=g.name if g else "",
            building=b.name if b else "",
            unit_name=unit.name,
            grid_duties=tuple(Duty(r, tuple(_person(u) for u in grid_roles.get(r, []))) for r in GRID_ROLES),
            building_duties=tuple(Duty(r, tuple(_person(u) for u in building_roles.get(r, [])))
                                  for r in BUILDING_ROLES),
            hotline=hotline,
            portal_url=portal_url(unit),
            printed_on=today,
        ))
    return boards


def board_for(unit: Area, *, today: dt.date | None = None) -> Board:
    return boards_for(unit, today=today)[0]


# ---- HTML -----------------------------------------------------------------------------------


def qr_svg(data: str, *, quiet: int = 2) -> SafeString:
    """The QR code as an inline SVG that scales to its box (crisp in print at any size)."""
    matrix = pdf.qr_matrix(data)
    n = len(matrix) + 2 * quiet
    path = "".join(f"M{c + quiet},{r + quiet}h{length}v1h-{length}z" for r, c, length in pdf.qr_runs(matrix))
    # Safe: the markup is built from numbers only, and the encoded text is escaped into the label.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" shape-rendering="crispEdges" '
        f'role="img" aria-label="{escape(data)}"><rect width="{n}" height="{n}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


# ---- PDF ------------------------------------------------------------------------------------

RED = colors.HexColor("#C8161D")
DARK_RED = colors.HexColor("#8E0F14")
GOLD = colors.HexColor("#FFE7A3")
PALE = colors.HexColor("#FDF1EF")
INK = colors.HexColor("#222222")
GREY = colors.HexColor("#6B6B6B")
LINE = colors.HexColor("#E3B9B5")


def _centred(c: Canvas, text: str, font: str, size: float, x: float, y: float, max_width: float) -> None:
    c.setFont(font, pdf.fitted_size(text, font, size, max_width))
    c.drawCentredString(x, y, text)


def _draw_board(c: Canvas, board: Board) -> None:
    """One A4 portrait page, laid out like the enamel boards in 福兴's stairwells: a red header,
    the unit in large type, the duty table, and the hotline beside a large QR code."""
    W, H = A4
    m = 24.0  # outer margin; the red frame runs along it
    inner = W - 2 * m
    F, B = pdf.FONT, pdf.FONT_BOLD

    # Frame and header band.
    c.setStrokeColor(RED)
    c.setLineWidth(3)
    c.roundRect(m, m, inner, H - 2 * m, 10, stroke=1, fill=0)
    c.setFillColor(RED)
    c.roundRect(m, H - m - 122, inner, 122, 10, stroke=0, fill=1)
    c.rect(m, H - m - 122, inner, 20, stroke=0, fill=1)  # square off the band's lower corners
    c.setFillColor(GOLD)
    _centred(c, "单元楼管理服务牌", B, 38, W / 2, H - m - 62, inner - 40)
    c.setFillColor(colors.white)
    _centred(c, MODEL_LINE, F, 13, W / 2, H - m - 96, inner - 40)

    # Where this board hangs.
    top = H - m - 122
    c.setFillColor(INK)
    _centred(c, f"{board.community}  ·  {board.grid}", F, 17, W / 2, top - 36, inner - 40)
    c.setFillColor(DARK_RED)
    _centred(c, f"{board.building} {board.unit_name}", B, 46, W / 2, top - 92, inner - 40)

    # The duty table: a group column (网格 / 楼栋), the role, the name, what to see them for.
    x0, x1, x2, x3, x4 = m + 18, m + 58, m + 150, m + 300, W - m - 18
    row_h = 40.0
    y = top - 120
    rows: list[tuple[str, tuple[Duty, ...]]] = [("网格", board.grid_duties), ("楼栋", board.building_duties)]
    c.setFillColor(RED)
    c.rect(x0, y - 26, x4 - x0, 26, stroke=0, fill=1)
    c.setFillColor(colors.white)
    c.setFont(B, 12)
    for text, left, right in (("", x0, x1), ("职务", x1, x2), ("姓名", x2, x3), ("服务内容", x3, x4)):
        c.drawCentredString((left + right) / 2, y - 18, text)
    y -= 26
    for group, duties in rows:
        group_top = y
        for duty in duties:
            c.setFillColor(PALE)
            c.rect(x1, y - row_h, x2 - x1, row_h, stroke=0, fill=1)
            c.setStrokeColor(LINE)
            c.setLineWidth(0.8)
            c.line(x1, y - row_h, x4, y - row_h)
            c.setFillColor(INK)
            c.setFont(B, 14)
            c.drawCentredString((x1 + x2) / 2, y - row_h / 2 - 5, duty.label)
            if duty.missing:
                c.setFillColor(GREY)
                c.setFont(F, 14)
                c.drawCentredString((x2 + x3) / 2, y - row_h / 2 - 5, MISSING)
            else:
                _centred(c, duty.names, B, 17, (x2 + x3) / 2, y - row_h / 2 - 6, x3 - x2 - 12)
            c.setFillColor(GREY)
            c.setFont(F, 10.5)
            c.drawString(x3 + 10, y - row_h / 2 - 4, duty.text)
            y -= row_h
        # The group cell spans its rows, its label written top to bottom.
        c.setFillColor(RED)
        c.rect(x0, y, x1 - x0, group_top - y, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(B, 15)
        mid = (group_top + y) / 2
        c.drawCentredString((x0 + x1) / 2, mid + 4, group[0])
        c.drawCentredString((x0 + x1) / 2, mid - 16, group[1])
        c.setStrokeColor(colors.white)
        c.setLineWidth(2)
        c.line(x0, y, x1, y)
    c.setStrokeColor(RED)
    c.setLineWidth(1.2)
    c.rect(x0, y, x4 - x0, top - 120 - y, stroke=1, fill=0)

    # Hotline on the left, QR code on the right.
    qr = 176.0
    qr_x, qr_y = x4 - qr, m + 58
    pdf.draw_qr(c, board.portal_url, qr_x, qr_y, qr)
    c.setStrokeColor(RED)
    c.setLineWidth(1.5)
    c.rect(qr_x - 4, qr_y - 4, qr + 8, qr + 8, stroke=1, fill=0)
    c.setFillColor(INK)
    _centred(c, QR_HINT, B, 12, qr_x + qr / 2, qr_y - 22, qr + 40)

    left_w = qr_x - 24 - x0
    c.setFillColor(PALE)
    c.roundRect(x0, qr_y - 4, left_w, qr + 8, 8, stroke=0, fill=1)
    c.setFillColor(DARK_RED)
    c.setFont(B, 15)
    c.drawString(x0 + 18, qr_y + qr - 26, "社区服务热线")
    c.setFont(B, pdf.fitted_size(board.hotline, B, 34, left_w - 36))
    c.drawString(x0 + 18, qr_y + qr - 72, board.hotline)
    c.setFillColor(INK)
    c.setFont(F, 12)
    lines = ["有困难、有诉求，请找楼长、网格员，", "或拨打热线，或扫右侧二维码反映。", "您反映的问题和办理进度，", "扫码后在本单元页面可以查看。"]
    for i, line in enumerate(lines):
        c.drawString(x0 + 18, qr_y + qr - 108 - i * 19, line)

    # Footer: when this was printed, so an outdated board on a wall can be recognised as one.
    c.setFillColor(GREY)
    c.setFont(F, 8.5)
    footer = (f"打印日期 {board.printed_on:%Y年%m月%d日} · 人员以社区登记为准，如有变动请重新打印 · "
              f"单元编码 {board.unit.code}")
    c.drawCentredString(W / 2, m + 14, footer)


def render_pdf(boards: list[Board], *, title: str = "单元楼管理服务牌") -> bytes:
    """All boards as one PDF, one A4 page each, Chinese in the embedded font."""
    buffer = BytesIO()
    c = pdf.new_canvas(buffer, title=title)
    for board in boards:
        _draw_board(c, board)
        c.showPage()
    c.save()
    return buffer.getvalue()

