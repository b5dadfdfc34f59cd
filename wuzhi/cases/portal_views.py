"""The resident side, no login: report a problem from the unit's QR code, and follow it.

Reporting: the unit comes from the QR code's address (/cases/p/u/<unit code>/new/), the phone
number is required because it is the resident's key to the case. Tracking: the case number
plus that phone number; once verified, the case's id is kept in the session so the resident
can rate it without typing both again. The portal never shows the reporter's phone or any
other resident's case."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.views import apply_errors

from . import selectors, services
from .forms import PortalReportForm, ReviewForm, TrackForm
from .models import Case, CaseEvent, CaseState, Channel

SESSION_KEY = "wuzhi_tracked_cases"
RESIDENT = "居民"


def report(request: HttpRequest, unit_code: str) -> HttpResponse:
    unit = get_object_or_404(Area, code=unit_code, kind=AreaKind.UNIT)
    form = PortalReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            case = services.case_open(actor=None, actor_name=RESIDENT, category=d["category"], channel=Channel.QR,
                                      area=unit, place=d["place"], description=d["description"],
                                      reporter_name=d["reporter_name"], reporter_phone=d["reporter_phone"],
                                      photo=d["photo"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            _remember(request, case)
            messages.success(request, gettext("已收到您反映的问题,事项编号 %(number)s,请记下以便查询进度") % {
                "number": case.number})
            return redirect(reverse("cases:portal_case", args=[case.number]))
    return render(request, "cases/portal_report.html", {"form": form, "unit": unit},
                  status=400 if form.errors else 200)


def _remember(request: HttpRequest, case: Case) -> None:
    tracked = set(request.session.get(SESSION_KEY, []))
    tracked.add(case.pk)
    request.session[SESSION_KEY] = sorted(tracked)


def _tracked(request: HttpRequest, number: str) -> Case | None:
    case = Case.objects.filter(number=number).select_related("category", "area", "merged_into").first()
    if case is None or case.pk not in request.session.get(SESSION_KEY, []):
        return None
    return case


def track(request: HttpRequest) -> HttpResponse:
    form = TrackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case = selectors.track(form.cleaned_data["number"], form.cleaned_data["phone"])
        if case is None:
            form.add_error(None, gettext("编号或手机号码不正确"))
        else:
            _remember(request, case)
            return redirect(reverse("cases:portal_case", args=[case.number]))
    return render(request, "cases/portal_track.html", {"form": form}, status=400 if form.errors else 200)


def case_status(request: HttpRequest, number: str) -> HttpResponse:
    case = _tracked(request, number)
    if case is None:
        return redirect("cases:portal_track")
    # A merged case is answered through its main case: show both timelines.
    shown = [case] + ([case.merged_into] if case.merged_into_id else [])
    events = list(CaseEvent.objects.filter(case__in=shown).order_by("at", "id"))
    return render(request, "cases/portal_case.html", {
        "case": case, "events": events, "notices": list(case.notices.order_by("-at", "-id")[:10]),
        "review_form": ReviewForm() if case.state == CaseState.RESOLVED else None,
    })


@require_POST
def rate(request: HttpRequest, number: str) -> HttpResponse:
    case = _tracked(request, number)
    if case is None:
        return redirect("cases:portal_track")
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            services.case_review(actor=None, actor_name=RESIDENT, case=case,
                                 satisfaction=form.cleaned_data["satisfaction"], note=form.cleaned_data["note"])
        except ValidationError as exc:
            for msg in exc.messages:
                messages.error(request, msg)
        else:
            messages.success(request, gettext("感谢您的评价"))
    return redirect(reverse("cases:portal_case", args=[case.number]))
