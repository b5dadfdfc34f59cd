"""The unit service board as a printable page and all boards of an area as one PDF.

Both go through the scope chokepoint: the requested area must be visible to the user (VIEW),
else 404. Exports of boards are not written to the access log: a board lists staff names and
the public hotline, which hang in the stairwell anyway, and never residents' data."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Action
from wuzhi.core.views import staff_view

from . import boards

# A town holds a few thousand units; a county's PDF of every board would take minutes and
# hundreds of MB of memory in one request. Above this the user picks a smaller area.
MAX_BOARDS = 1500


@staff_view
def board(request: HttpRequest, unit_pk: int) -> HttpResponse:
    user: Any = request.user
    unit = get_object_or_404(Area.objects.visible_to(user, Action.VIEW), pk=unit_pk, kind=AreaKind.UNIT)
    b = boards.board_for(unit)
    building = unit.parent
    return render(request, "party/board.html", {
        "board": b,
        "qr_svg": boards.qr_svg(b.portal_url),
        "building": building,
        "qr_hint": boards.QR_HINT,
        "model_line": boards.MODEL_LINE,
    })


@staff_view
def boards_pdf(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    raw = request.GET.get("area", "")
    if not raw.isdigit():
        return HttpResponseBadRequest("请用 ?area=<区域编号> 指定要打印服务牌的区域".encode())
    area = get_object_or_404(Area.objects.visible_to(user, Action.VIEW), pk=int(raw))
    units = Area.objects.filter(path__startswith=area.path, kind=AreaKind.UNIT).count()
    if units == 0:
        raise Http404("该区域下还没有单元")
    if units > MAX_BOARDS:
        return HttpResponseBadRequest(f"{area}共有{units}个单元，请选择社区或网格分批打印".encode())
    started = time.perf_counter()
    content = boards.render_pdf(boards.boards_for(area), title=f"{area.full_name} 单元楼管理服务牌")
    response = HttpResponse(content, content_type="application/pdf")
    # ASCII name for old browsers, the Chinese one for the rest (RFC 6266 filename*).
    response["Content-Disposition"] = (f'inline; filename="boards-{area.code}.pdf"; '
                                       f"filename*=UTF-8''{quote(area.full_name + '服务牌.pdf')}")
    response["Server-Timing"] = f"render;dur={(time.perf_counter() - started) * 1000:.0f}"
    return response
