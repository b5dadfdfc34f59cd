"""The public side, no login: the 光荣榜 of a community, the 公示 with its objection form, the
printable A4 notices, and a resident's nomination from the unit's QR page.

Nothing here reads a registry row: names are the masked public labels fixed when a nominee is
linked ("3栋2单元 张*家庭"), so no full name, ID or phone number can reach these pages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.views import apply_errors

from . import selectors, services
from .forms import ObjectionForm, PortalNominateForm
from .models import Result, Round, RoundState

PUBLIC = "群众"


def _community(code: str) -> Area:
    return get_object_or_404(Area, code=code, kind=AreaKind.COMMUNITY)


def board(request: HttpRequest, code: str, unit: Area | None = None) -> HttpResponse:
    community = _community(code)
    now = timezone.now()
    notices = [r for r in Round.objects.filter(area=community, state=RoundState.NOTICE).order_by("-id")
               if r.notice_open(now)]
    return render(request, "honours/public_board.html", {
        "community": community, "board": selectors.honour_board(community),
        "notices": [(r, selectors.notice_rows(r)) for r in notices], "unit": unit,
        "nominating": unit is not None and Round.objects.filter(area=community, state=RoundState.NOMINATING).exists(),
    })


def unit_board(request: HttpRequest, unit_code: str) -> HttpResponse:
    """The 光荣榜 reached from a unit's QR page: the community's board, plus the way to nominate."""
    unit = get_object_or_404(Area, code=unit_code, kind=AreaKind.UNIT)
    community = get_object_or_404(Area, path__in=unit.ancestor_paths(), kind=AreaKind.COMMUNITY)
    return board(request, community.code, unit=unit)


def _public_round(code: str, pk: int) -> Round:
    community = _community(code)
    return get_object_or_404(Round.objects.select_related("area"), pk=pk, area=community,
                             state__in=(RoundState.NOTICE, *selectors.PUBLIC_STATES))


def printable(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """A4 notice: the 公示 while the round is in it, the 光荣榜 once published."""
    rnd = _public_round(code, pk)
    return render(request, "honours/print.html", {
        "round": rnd, "groups": selectors.notice_rows(rnd), "is_notice": rnd.state == RoundState.NOTICE,
        "total": rnd.nominations.filter(result=Result.SELECTED).count(),
    })


def object_(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    rnd = _public_round(code, pk)
    if not rnd.notice_open():
        messages.error(request, _("本轮评选不在公示期内"))
        return redirect("honours_public:board", code)
    nominations = rnd.nominations.filter(result=Result.SELECTED).select_related("category").order_by(
        "category__sort", "public_label")
    form = ObjectionForm(request.POST or None, nominations=nominations)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.objection_raise(round=rnd, nomination=d["nomination"], content=d["content"],
                                     objector_name=d["objector_name"], phone=d["phone"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已收到您的异议,社区将在公示期内核实并答复"))
            return redirect("honours_public:board", code)
    return render(request, "honours/public_object.html", {"round": rnd, "form": form},
                  status=400 if form.errors else 200)


def nominate(request: HttpRequest, unit_code: str) -> HttpResponse:
    """推荐身边的好人好事: from the unit's QR page, while the community's round takes nominations."""
    unit = get_object_or_404(Area.objects.select_related("parent"), code=unit_code, kind=AreaKind.UNIT)
    community = Area.objects.filter(path__in=unit.ancestor_paths(), kind=AreaKind.COMMUNITY).first()
    rnd = Round.objects.filter(area=community, state=RoundState.NOMINATING).order_by("-id").first()
    form = PortalNominateForm(request.POST or None)
    if rnd is not None and request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.nomination_add(actor=None, round=rnd, category=d["category"], unit=unit, reason=d["reason"],
                                    nominee_text=d["nominee_text"], nominator_name=d["nominator_name"],
                                    nominator_phone=d["nominator_phone"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("感谢您的推荐!网格员核实后将提交评议"))
            return redirect(reverse("honours_public:nominate", args=[unit_code]) + "?done=1")
    return render(request, "honours/public_nominate.html", {
        "unit": unit, "community": community, "round": rnd, "form": form, "done": request.GET.get("done"),
    }, status=400 if form.errors else 200)
