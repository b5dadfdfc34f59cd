"""Resident-facing pages reached from the QR code on a unit board. No login: a resident scans
with any phone. The pages therefore show nothing personal about residents, only the unit's
place in the tree and the names of the staff who serve it (which hang on the stairwell anyway).

Unit codes are the area codes, sequential and easy to guess. That is acceptable only because
these pages carry no private data; anything per resident (their own requests) must sit behind a
login or a one-time link, never behind the unit code alone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.roles import Role
from wuzhi.party.boards import board_for


def _unit(code: str) -> Area | None:
    return Area.objects.filter(code=code, kind=AreaKind.UNIT).first()


def _not_found(request: HttpRequest, code: str) -> HttpResponse:
    return render(request, "portal/404.html", {"code": code}, status=404)


def unit(request: HttpRequest, code: str) -> HttpResponse:
    area = _unit(code)
    if area is None:
        return _not_found(request, code)
    board = board_for(area)
    community = Area.objects.filter(kind=AreaKind.COMMUNITY, path__in=area.ancestor_paths()).first()
    # What a resident comes for, each handled by its app; the unit travels along so nobody has
    # to say where they live.
    actions = [
        ("report", reverse("cases:portal_report", args=[code]), _("反映问题"), "bi-exclamation-triangle",
         _("漏水、电梯、卫生、安全隐患……")),
        ("propose", reverse("delib_portal:propose", args=[code]), _("提出建议/议题"), "bi-chat-square-text",
         _("对楼栋和社区事务的想法,可由居民议事协商")),
        ("notices", reverse("delib_portal:board", args=[community.code]) if community else "", _("查看公告"), "bi-megaphone",
         _("议事决议、实施结果公开,公示期内可提意见")),
        ("honours", reverse("honours_public:unit_board", args=[code]), _("光荣榜"), "bi-award",
         _("身边的好人好事,评选公示和推荐")),
    ]
    return render(request, "portal/unit.html", {
        "board": board,
        "grid_worker": board.duty(Role.GRID_WORKER),
        "building_head": board.duty(Role.BUILDING_HEAD),
        "actions": [a for a in actions if a[1]],
    })
