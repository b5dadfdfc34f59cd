"""Employment pages: the employment rate by area, the working-age list, and one person's record
(status, skills, certificates, placements, trainings, follow-ups). Everything through
`visible_to`; writes through employment.services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from wuzhi.activities.models import Team
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can
from wuzhi.core.validators import age_on
from wuzhi.core.views import apply_errors, staff_view
from wuzhi.registry.models import Resident

from . import selectors, services
from .forms import CertificateForm, ContactForm, EndForm, PlacementForm, ProfileForm
from .models import Placement, Status

PAGE_SIZE = 50
UNREGISTERED = "none"


def _top_area(user: Any) -> Area | None:
    """The highest area the user sees: where the rate page starts."""
    return Area.objects.visible_to(user).exclude(kind=AreaKind.UNIT).order_by("depth", "path").first()


@staff_view
def rates(request: HttpRequest) -> HttpResponse:
    user = request.user
    code = request.GET.get("area")
    area = (get_object_or_404(Area.objects.visible_to(user), code=code) if code else _top_area(user))
    total, children = (selectors.rates_by_area(Resident.objects.visible_to(user), area) if area is not None
                       else (selectors.Rate(area=None), []))
    return render(request, "employment/rates.html", {
        "area": area, "total": total, "children": children,
        "crumbs": list(Area.objects.visible_to(user).filter(path__in=area.ancestor_paths()).order_by("depth"))
        if area is not None else [],
    })


@staff_view
def people(request: HttpRequest) -> HttpResponse:
    user = request.user
    status = request.GET.get("status", "")
    code = request.GET.get("area")
    qs = selectors.working_age(Resident.objects.visible_to(user))
    area = Area.objects.visible_to(user).filter(code=code).first() if code else None
    if area is not None:
        qs = qs.filter(area_path__startswith=area.path)
    if status == UNREGISTERED:
        qs = qs.filter(employment_profile__isnull=True)
    elif status in Status.values:
        qs = qs.filter(employment_profile__status=status)
    qs = qs.select_related("employment_profile", "household").prefetch_related(
        Prefetch("placements", queryset=Placement.objects.filter(ended_on__isnull=True), to_attr="current"))
    page = keyset_page(qs, ["area_path", "id"], request.GET.get("after"), PAGE_SIZE)
    today = timezone.localdate()
    for r in page.rows:
        r.age_now = age_on(r.birth_date, today)
    return render(request, "employment/people.html", {
        "page": page, "after": request.GET.get("after"), "status": status, "area": area,
        "statuses": [*Status.choices, (UNREGISTERED, "未登记")],
    })


@staff_view
def person(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household", "employment_profile"),
                                 pk=pk)
    may_record = can(user, Action.VISIT, resident.area_path)
    profile = getattr(resident, "employment_profile", None)
    forms: dict[str, Any] = {
        "profile": ProfileForm(initial={"status": profile.status, "skills": profile.skills, "wish": profile.wish,
                                        "note": profile.note, "version": profile.version} if profile else None),
        "placement": PlacementForm(initial={"started_on": timezone.localdate()}),
        "certificate": CertificateForm(), "contact": ContactForm(), "end": EndForm(
            initial={"ended_on": timezone.localdate()}),
    }
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action in forms and may_record:
        form = {"profile": ProfileForm, "placement": PlacementForm, "certificate": CertificateForm,
                "contact": ContactForm, "end": EndForm}[action](request.POST)
        forms[action] = form
        if form.is_valid():
            d = form.cleaned_data
            try:
                if action == "profile":
                    services.profile_save(actor=user, resident=resident, status=d["status"], skills=d["skills"],
                                          wish=d["wish"], note=d["note"], version=d.get("version"))
                elif action == "placement":
                    services.placement_add(actor=user, resident=resident, **d)
                elif action == "certificate":
                    services.certificate_add(actor=user, resident=resident, **d)
                elif action == "contact":
                    team = Team.objects.filter(name="就业创业服务队", members__user_id=user.pk or 0,
                                               members__left_on__isnull=True).first()
                    services.contact_add(actor=user, resident=resident, team=team, **d)
                elif action == "end":
                    placement = get_object_or_404(resident.placements, pk=request.POST.get("placement"))
                    raw = request.POST.get("version", "")  # the placement's version the page showed
                    services.placement_end(actor=user, placement=placement, ended_on=d["ended_on"],
                                           reason=d["end_reason"], version=int(raw) if raw.isdigit() else None)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("已保存"))
                return redirect("employment:person", resident.pk)
    record = selectors.record_of(resident)
    return render(request, "employment/person.html", {
        "r": resident, "age": age_on(resident.birth_date, timezone.localdate()), "may_record": may_record,
        "working_age": services.is_working_age(resident), "forms": forms, **record,
    }, status=400 if action and forms.get(action) is not None and forms[action].errors else 200)
