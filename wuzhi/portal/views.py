"""Resident-facing pages reached from the QR code on a unit board. No login: a resident scans
with any phone. The pages therefore show nothing personal about residents, only the unit's
place in the tree and the names of the staff who serve it (which hang on the stairwell anyway).

Unit codes are the area codes, sequential and easy to guess. That is acceptable only because
these pages carry no private data; anything per resident (their own requests) must sit behind a
login or a one-time link, never behind the unit code alone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Role
from wuzhi.party.boards import board_for

# The three things a resident comes for; the case and deliberation apps will take over the
# links as they arrive (until then each leads to the "coming soon" page).
ACTIONS = [
    ("report", "反映问题", "bi-exclamation-triangle", "漏水、电梯、卫生、安全隐患……"),
    ("propose", "提出建议/议题", "bi-chat-square-text", "对楼栋和社区事务的想法"),
    ("notices", "查看公告", "bi-megaphone", "社区通知、公示和活动"),
]


def _unit(code: str) -> Area | None:
    return Area.objects.filter(code=code, kind=AreaKind.UNIT).first()


def _not_found(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "portal/404.html", {"code": code}, status=404)


def unit(request: HttpRequest, code: str) -> HttpResponse:
    area = _unit(code)
    if area is None:
        return _not_found(request, code)
    board = board_for(area)
    return render(request, "portal/unit.html", {
        "board": board,
        "grid_worker": board.duty(Role.GRID_WORKER),
        "building_head": board.duty(Role.BUILDING_HEAD),
        "actions": ACTIONS,
    })


def soon(request: HttpRequest, code: str) -> HttpResponse:
    area = _unit(code)
    if area is None:
        return _not_found(request, code)
    labels = {key: label for key, label, _icon, _hint in ACTIONS}
    what = labels.get(request.GET.get("what", ""), "该功能")
    return render(request, "portal/soon.html", {"board": board_for(area), "what": what})
