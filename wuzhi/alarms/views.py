"""Pages of the alarm engine: the duty console (值班台), the responder's phone page, the device
registry and the contact chains.

Reads go through `visible_to` (the engine's selectors); writes call the engine's services only
(acknowledge, depart, on_site, resolve, add_note, device_update, chain_create, chain_update).
The console learns about new alarms from `feed/`, which reads the database: a press committed by
the MQTT consumer or by another web process shows up at the next poll (every 500 ms)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import Area, AreaKind, Grant
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.views import apply_errors, client_ip, staff_view

from . import console, selectors, services
from .forms import ActionForm, ChainForm, DeviceChainForm, DeviceFilterForm
from .models import (
    OPEN_STATES,
    Alarm,
    AlarmState,
    Chain,
    ChainStep,
    ChainTarget,
    Device,
    DeviceStatus,
    Resolution,
)

PAGE_SIZE = 40
S = AlarmState


def _alarm(request: HttpRequest, pk: int) -> Alarm:
    alarm = console.with_details(selectors.visible_alarms(request.user)).filter(pk=pk).first()
    if alarm is None:
        raise Http404
    return alarm


def _card_html(request: HttpRequest, card: console.Card, template: str = "alarms/_card.html") -> str:
    return render_to_string(template, {"card": card, "resolutions": Resolution.choices, "now": timezone.now()},
                            request=request)


# ---- the duty console --------------------------------------------------------------------------

@staff_view
def console_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    # The cursor first, then the list: a change committed in between is in both, never in neither.
    cursor = selectors.current_cursor()
    return render(request, "alarms/console.html", {
        "cards": console.open_cards(user), "cursor": cursor, "health": console.health(user),
        "resolutions": Resolution.choices, "now": timezone.now(),
    })


@staff_view
@require_GET
def feed(request: HttpRequest) -> JsonResponse:
    """GET ?cursor=N → alarms changed after N (rendered cards), and the cursor to send next time.
    `view=responder` renders the phone page's cards instead."""
    try:
        cursor = max(0, int(request.GET.get("cursor", "0")))
    except ValueError:
        cursor = 0
    rows, new_cursor = console.changed_since(request.user, cursor)
    template = "alarms/_responder_card.html" if request.GET.get("view") == "responder" else "alarms/_card.html"
    out = []
    for card in console.cards(request.user, rows):
        a = card.alarm
        out.append({"id": a.pk, "state": a.state, "open": a.state in OPEN_STATES, "kind": a.kind,
                    "mine": card.notified,
                    "severity": a.severity, "feed": a.feed_seq, "html": _card_html(request, card, template)})
    response = JsonResponse({"cursor": new_cursor, "alarms": out, "server_time": timezone.now().isoformat()})
    response["Cache-Control"] = "no-store"
    return response


@staff_view
def health_panel(request: HttpRequest) -> HttpResponse:
    return render(request, "alarms/_health.html", {"health": console.health(request.user)})


def _send_to(alarm: Alarm, user_id: str) -> Any:
    for user, label in console.responders(alarm):
        if str(user.pk) == user_id:
            return user, label
    raise ValidationError({"responder": _("请选择要派出的人员")})


@staff_view
@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    """One action on one alarm, through the engine's services. An action the flow table does not
    allow from the alarm's current state is refused here (409) and by the service."""
    user = request.user
    alarm = _alarm(request, pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _refused(request, alarm, "；".join(str(m) for ms in form.errors.values() for m in ms))
    d = form.cleaned_data
    action, note = d["action"], d["note"]
    if action not in console.actions_for(alarm):
        return _refused(request, alarm, _("当前状态“%(state)s”不能执行该操作") % {"state": alarm.get_state_display()})
    try:
        if action == "ack":
            # No version check: taking an alarm that changed meanwhile (another press, a step
            # notified) is still right, and acknowledging twice is a no-op in the service.
            services.acknowledge(actor=user, alarm=alarm, note=note)
        elif action == "depart":
            services.depart(actor=user, alarm=alarm, note=note)
        elif action == "onsite":
            services.on_site(actor=user, alarm=alarm, note=note)
        elif action == "resolve":
            services.resolve(actor=user, alarm=alarm, resolution=d["resolution"], note=note, version=d["version"])
        elif action == "note":
            services.add_note(actor=user, alarm=alarm, note=note)
        elif action == "dispatch":
            responder, label = _send_to(alarm, d["responder"])
            services.dispatch(actor=user, alarm=alarm, responder=responder, label=label, note=note)
    except NotAllowed as exc:
        return _refused(request, alarm, str(exc), status=403)
    except ValidationError as exc:
        return _refused(request, alarm, "；".join(exc.messages))
    if request.headers.get("HX-Request"):
        fresh = _alarm(request, pk)
        template = "alarms/_responder_card.html" if request.POST.get("view") == "responder" else "alarms/_card.html"
        return HttpResponse(_card_html(request, console.cards(user, [fresh])[0], template))
    messages.success(request, _("已记录"))
    return redirect(request.POST.get("next") or "alarms:console")


def _refused(request: HttpRequest, alarm: Alarm, message: str, status: int = 409) -> HttpResponse:
    if request.headers.get("HX-Request"):
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    messages.error(request, message)
    response = redirect(request.POST.get("next") or "alarms:console")
    response.status_code = 303
    return response


@staff_view
@require_POST
def reveal(request: HttpRequest, pk: int, ref: str) -> HttpResponse:
    alarm = _alarm(request, pk)
    try:
        value = console.reveal_contact(actor=request.user, alarm=alarm, ref=ref, ip=client_ip(request))
    except LookupError:
        raise Http404 from None
    response = render(request, "registry/_revealed.html", {"value": value})
    response["Cache-Control"] = "no-store"
    return response


# ---- the responder's phone page ------------------------------------------------------------------

@staff_view
def responder_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    cursor = selectors.current_cursor()
    # Notified by the chain or sent by the duty station (dispatch notifies too): the same query.
    rows = list(console.with_details(selectors.my_alarms(user)))
    return render(request, "alarms/responder.html", {
        "cards": console.cards(user, rows), "cursor": cursor, "resolutions": Resolution.choices,
        "now": timezone.now(),
    })


# ---- devices -------------------------------------------------------------------------------------

@staff_view
def device_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = DeviceFilterForm(request.GET or None)
    f = form.cleaned_data if form.is_valid() else {}
    qs = Device.objects.visible_to(user).select_related("resident", "dwelling", "chain", "vendor")
    status = f.get("status")
    if status == "offline":
        qs = qs.filter(status=DeviceStatus.OFFLINE)
    elif status == "low_battery":
        qs = qs.filter(low_battery=True)
    elif status == "tamper":
        qs = qs.filter(tamper=True)
    elif status == "ok":
        qs = qs.filter(status=DeviceStatus.ONLINE, low_battery=False, tamper=False)
    if f.get("q"):
        qs = qs.filter(Q(key__icontains=f["q"]) | Q(resident__name__contains=f["q"]))
    page = keyset_page(qs, ["area_path", "key"], request.GET.get("after"), PAGE_SIZE)
    return render(request, "alarms/devices.html", {
        "form": form, "page": page, "after": request.GET.get("after"), "health": console.health(user),
        "may_change": scope_paths(user, Action.CHANGE) != [],
    })


def _chains_for(user: Any, device: Device) -> QuerySet[Chain]:
    parts = device.area_path.strip("/").split("/")
    paths = ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]
    return Chain.objects.visible_to(user).filter(area_path__in=paths).order_by("-area_path", "name")


@staff_view
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    device = get_object_or_404(Device.objects.visible_to(user).select_related("resident", "dwelling", "chain",
                                                                              "vendor"), pk=pk)
    may_change = can(user, Action.CHANGE, device.area_path)
    form = DeviceChainForm(request.POST or None, chains=_chains_for(user, device),
                           initial={"chain": device.chain_id, "version": device.version,
                                    "medical_notes": device.medical_notes})
    if request.method == "POST" and form.is_valid():
        try:
            services.device_update(actor=user, device=device, version=form.cleaned_data["version"],
                                   chain=form.cleaned_data["chain"], medical_notes=form.cleaned_data["medical_notes"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("呼叫器 %(key)s 已保存") % {"key": device.key})
            return redirect("alarms:device", pk=device.pk)
    effective = services.chain_for(device)
    alarms = list(Alarm.objects.filter(device=device).order_by("-opened_at")[:10])
    return render(request, "alarms/device.html", {
        "device": device, "form": form, "may_change": may_change, "effective": effective,
        "steps": _steps(effective) if effective else [], "alarms": alarms,
        "medical": console.may_see_medical(user, Alarm(area_path=device.area_path)),
    }, status=400 if form.errors else 200)


# ---- contact chains ------------------------------------------------------------------------------

def _steps(chain: Chain) -> list[ChainStep]:
    return list(chain.steps.prefetch_related(Prefetch("targets", queryset=ChainTarget.objects.select_related("user"))))


@staff_view
def chain_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    chains = list(Chain.objects.visible_to(user).select_related("area").prefetch_related(
        Prefetch("steps", queryset=ChainStep.objects.prefetch_related(
            Prefetch("targets", queryset=ChainTarget.objects.select_related("user"))))))
    return render(request, "alarms/chains.html", {"chains": chains,
                                                  "may_change": scope_paths(user, Action.CHANGE) != []})


def _grids(user: Any) -> QuerySet[Area]:
    paths = scope_paths(user, Action.CHANGE)
    qs = Area.objects.filter(kind__in=(AreaKind.GRID, AreaKind.COMMUNITY))
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(path__startswith=p)
        qs = qs.filter(q)
    return qs.order_by("path")


def _staff_users(user: Any) -> QuerySet[Any]:
    paths = scope_paths(user, Action.VIEW)
    grants = Grant.objects.active().exclude(role=Role.RESIDENT)
    if paths is not None:
        q = Q(pk__in=[])
        for p in paths:
            q |= Q(area__path__startswith=p)
        grants = grants.filter(q)
    return get_user_model().objects.filter(pk__in=grants.values("user_id"), is_active=True).order_by("username")


@staff_view
def chain_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = request.user
    chain = get_object_or_404(Chain.objects.visible_to(user), pk=pk) if pk else None
    if chain is not None and not can(user, Action.CHANGE, chain.area_path):
        raise NotAllowed(_("您只能查看该通知链"))
    if chain is None and not _grids(user).exists():
        raise NotAllowed(_("您没有设置通知链的权限"))
    existing = _steps(chain) if chain else []
    initial = ChainForm.initial_for(existing, chain) if chain else ChainForm.blank_initial()
    form = ChainForm(request.POST or None, initial=initial, grids=_grids(user), users=_staff_users(user),
                     editing=chain is not None, existing=existing)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if chain is None:
                chain = services.chain_create(actor=user, area=d["area"], name=d["name"], steps=form.step_specs(),
                                              is_default=d["is_default"], onsite_seconds=d["onsite_seconds"],
                                              repeat_seconds=d["repeat_seconds"])
            else:
                services.chain_update(actor=user, chain=chain, version=d["version"], name=d["name"],
                                      steps=form.step_specs(), onsite_seconds=d["onsite_seconds"],
                                      repeat_seconds=d["repeat_seconds"], is_default=d["is_default"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("通知链“%(name)s”已保存;正在处理的呼叫仍按开始时的通知链执行") % {"name": chain.name})
            return redirect("alarms:chains")
    return render(request, "alarms/chain_form.html", {"form": form, "chain": chain},
                  status=400 if form.errors else 200)
