"""小探头 pages: cameras per area, public areas with their cameras (uncovered ones flagged), a
camera with its consents, the consent form, and the stream-address reveal.

Reads start from `visible_to(user)`: a camera outside the user's area is a 404. Writes call
cameras.services. The stream address is decrypted only by `services.stream_reveal`, which checks
the role (and, for a household camera, the running consent) and logs the look."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.core import audit
from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.views import apply_errors, client_ip, forbidden, require, staff_view
from wuzhi.registry.models import Household

from . import selectors, services
from .forms import CameraFilterForm, CameraForm, ConsentForm, PublicAreaForm, WithdrawForm
from .models import PRINCIPLES, Camera, CameraKind, Consent, PublicArea

PAGE_SIZE = 40
PLACE_KINDS = (AreaKind.COMMUNITY, AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT)


def _areas(user: Any, action: str, kinds: tuple[str, ...] = PLACE_KINDS) -> QuerySet[Area]:
    """Places inside the user's grants for `action` (community down to unit)."""
    paths = scope_paths(user, action)
    qs = Area.objects.filter(kind__in=kinds)
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return qs.select_related("parent").order_by("path")


def _public_areas(user: Any) -> QuerySet[PublicArea]:
    return PublicArea.objects.visible_to(user).filter(active=True).select_related("area")


def _with_running(qs: QuerySet[Camera]) -> QuerySet[Camera]:
    """Each camera's running consent in one extra query, so the reveal button needs no more."""
    return qs.prefetch_related(Prefetch("consents", queryset=Consent.objects.running(), to_attr="running"))


def _mark(user: Any, cameras: list[Camera]) -> None:
    for cam in cameras:
        consent = cam.running[0] if cam.running else None  # type: ignore[attr-defined]
        cam.consent = consent  # type: ignore[attr-defined]
        cam.may_view = services.may_view_stream(user, cam, consent, look_up=False)  # type: ignore[attr-defined]


@staff_view
def camera_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = CameraFilterForm(request.GET or None, areas=_areas(user, Action.VIEW, (AreaKind.COMMUNITY, AreaKind.GRID,
                                                                                  AreaKind.BUILDING)))
    f = form.cleaned_data if form.is_valid() else {}
    qs: QuerySet[Camera] = Camera.objects.visible_to(user).select_related("area", "household")
    if f.get("area"):
        qs = qs.filter(area_path__startswith=f["area"].path)
    if f.get("kind"):
        qs = qs.filter(kind=f["kind"])
    if f.get("q"):
        qs = qs.filter(Q(location__icontains=f["q"]) | Q(number__icontains=f["q"]) | Q(vendor__icontains=f["q"]))
    qs = _with_running(qs.prefetch_related(Prefetch("public_areas", queryset=PublicArea.objects.order_by("name"))))
    page = keyset_page(qs, ["area_path", "number"], request.GET.get("after"), PAGE_SIZE)
    _mark(user, page.rows)
    visible_pas = PublicArea.objects.visible_to(user)
    return render(request, "cameras/camera_list.html", {
        "form": form, "page": page, "after": request.GET.get("after"),
        "may_change": scope_paths(user, Action.CHANGE) != [],
        "uncovered_count": selectors.uncovered(visible_pas).count(),
    })


@staff_view
def public_area_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    only_uncovered = request.GET.get("uncovered") == "1"
    qs = selectors.with_coverage(PublicArea.objects.visible_to(user).filter(active=True)).select_related("area")
    if only_uncovered:
        qs = qs.filter(covered=False)  # type: ignore[misc]  # an annotation the stubs do not know
    cams = Camera.objects.filter(active=True).order_by("number")
    rows = list(qs.prefetch_related(Prefetch("cameras", queryset=_with_running(cams), to_attr="active_cameras"))
                .order_by("covered", "area_path", "kind", "name"))
    for pa in rows:
        _mark(user, pa.active_cameras)  # type: ignore[attr-defined]
    uncovered = len([pa for pa in rows if not pa.covered])  # type: ignore[attr-defined]
    return render(request, "cameras/public_areas.html", {
        "rows": rows, "only_uncovered": only_uncovered,
        "uncovered_count": uncovered if not only_uncovered else len(rows),
        "may_change": scope_paths(user, Action.CHANGE) != [],
    })


@staff_view
def public_area_new(request: HttpRequest) -> HttpResponse:
    if not _areas(request.user, Action.CHANGE).exists():
        return forbidden(request, _("您没有登记公共区域的权限"))
    form = PublicAreaForm(request.POST or None, areas=_areas(request.user, Action.CHANGE))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            pa = services.public_area_create(actor=request.user, area=d["area"], kind=d["kind"], name=d["name"],
                                             note=d["note"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已添加公共区域“%(name)s”") % {"name": pa.name})
            return redirect("cameras:public_areas")
    return render(request, "cameras/public_area_form.html", {"form": form}, status=400 if form.errors else 200)


def _camera(request: HttpRequest, pk: int) -> Camera:
    return get_object_or_404(Camera.objects.visible_to(request.user).select_related("area", "household"), pk=pk)


@staff_view
def camera_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    camera = _camera(request, pk)
    consents = list(camera.consents.select_related("recorded_by", "withdrawn_by"))
    running = next((c for c in consents if c.is_running()), None)
    return render(request, "cameras/camera_detail.html", {
        "camera": camera, "consents": consents, "running": running,
        "covered": camera.public_areas.select_related("area").order_by("area_path", "name"),
        "may_view": services.may_view_stream(user, camera, running, look_up=False),
        "may_change": can(user, Action.CHANGE, camera.area_path),
        "history": audit.history(camera)[:20],
    })


@staff_view
def camera_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _areas(user, Action.CHANGE).exists():
        return forbidden(request, _("您没有登记探头的权限"))
    form = CameraForm(request.POST or None, areas=_areas(user, Action.CHANGE), public_areas=_public_areas(user),
                      initial={"kind": CameraKind.PUBLIC})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        household = None
        if d["kind"] == CameraKind.HOUSEHOLD:
            household = Household.objects.visible_to(user, Action.CHANGE).filter(
                number=d["household_number"].strip()).first()
            if household is None:
                form.add_error("household_number", _("未找到该户,或该户不在您负责的区域"))
        if not form.errors:
            try:
                camera = services.camera_register(
                    actor=user, kind=d["kind"], area=d["area"], household=household, location=d["location"],
                    vendor=d["vendor"], model=d["model"], stream_url=d["stream_url"],
                    public_areas=d["public_areas"], installed_on=d["installed_on"], note=d["note"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("探头 %(number)s 已登记") % {"number": camera.number})
                if camera.kind == CameraKind.HOUSEHOLD:
                    messages.info(request, _("居民自有探头须登记共享授权后才能查看"))
                return redirect("cameras:detail", pk=camera.pk)
    return render(request, "cameras/camera_form.html", {"form": form, "title": _("登记探头")},
                  status=400 if form.errors else 200)


@staff_view
def camera_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    camera = _camera(request, pk)
    require(user, Action.CHANGE, camera.area_path)  # viewers see the camera, not the edit form
    services_kwargs: dict[str, Any]
    initial = {"location": camera.location, "vendor": camera.vendor, "model": camera.model,
               "public_areas": list(camera.public_areas.values_list("pk", flat=True)), "active": camera.active,
               "note": camera.note, "installed_on": camera.installed_on, "version": camera.version}
    form = CameraForm(request.POST or None, areas=Area.objects.none(), public_areas=_public_areas(user),
                      initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        services_kwargs = {k: d[k] for k in ("location", "vendor", "model", "public_areas", "active", "note",
                                             "installed_on")}
        try:
            services.camera_update(actor=user, camera=camera, version=d["version"] or 0,
                                   stream_url=d["stream_url"] or None, **services_kwargs)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("探头 %(number)s 已保存") % {"number": camera.number})
            return redirect("cameras:detail", pk=camera.pk)
    return render(request, "cameras/camera_form.html", {"form": form, "camera": camera, "title": _("编辑探头")},
                  status=400 if form.errors else 200)


@staff_view
def consent_new(request: HttpRequest, pk: int) -> HttpResponse:
    camera = _camera(request, pk)
    require(request.user, Action.CHANGE, camera.area_path)
    if camera.kind != CameraKind.HOUSEHOLD:
        messages.error(request, _("公共区域探头不需要居民授权"))
        return redirect("cameras:detail", pk=camera.pk)
    head = camera.household.head if camera.household else None
    form = ConsentForm(request.POST or None, initial={"signed_by": head.name if head else ""})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.consent_record(actor=request.user, camera=camera, signed_by=d["signed_by"],
                                    purpose=d["purpose"], viewer_roles=d["viewer_roles"], starts_on=d["starts_on"],
                                    ends_on=d["ends_on"], principles=d["principles"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("共享授权已登记"))
            return redirect("cameras:detail", pk=camera.pk)
    return render(request, "cameras/consent_form.html", {"form": form, "camera": camera, "principles": PRINCIPLES},
                  status=400 if form.errors else 200)


@staff_view
@require_POST
def consent_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    consent = get_object_or_404(Consent.objects.visible_to(request.user), pk=pk)
    form = WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.consent_withdraw(actor=request.user, consent=consent, reason=reason)
    except ValidationError as exc:
        for msg in exc.messages:
            messages.error(request, msg)
    else:
        messages.success(request, _("授权已撤回,该探头即刻停止共享"))
    return redirect("cameras:detail", pk=consent.camera_id)


@staff_view
@require_POST
def stream_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx swaps the address in place of the masked one; the service checks and logs."""
    camera = _camera(request, pk)
    url = services.stream_reveal(actor=request.user, camera=camera, ip=client_ip(request))
    response = render(request, "cameras/_stream.html", {"url": url})
    response["Cache-Control"] = "no-store"
    return response
