"""Server-rendered pages of the core app: home ("my area at a glance"), the area tree and grants.

Every query starts from `visible_to(user, action)`: a row outside the user's area is a 404.
Writes go through core.services / registry.services; their ValidationErrors are shown at the
form field, their NotAllowed becomes the 403 page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from wuzhi.registry import choices as rc
from wuzhi.registry import selectors
from wuzhi.registry import services as registry_services
from wuzhi.registry.models import Dwelling, Household, Resident, ResidentTag, Tag

from . import services
from .auth import totp_required
from .errors import NotAllowed
from .forms import AreaChildForm, AreaEditForm, DwellingForm, GrantForm, ProfileForm
from .models import CHILD_KIND, Area, AreaKind, Grant, StaffProfile
from .roles import Action
from .scoping import can, scope_paths

# ---- shared helpers (the registry views use them too) ---------------------------------------


def forbidden(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "core/403.html", {"message": message or _("您没有执行此操作的权限")}, status=403)


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """login_required, and a NotAllowed raised by a service becomes the friendly 403 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotAllowed as exc:
            return forbidden(request, str(exc))

    return login_required(wrapper)


def require(user: Any, action: str, path: str) -> None:
    """The row is visible (else we would have answered 404) but this action is not allowed."""
    if not can(user, action, path):
        raise NotAllowed(_("您在该区域只有查看权限,不能执行此操作"))


def apply_errors(form: Any, exc: ValidationError) -> None:
    """Put a service's ValidationError at the matching form field (or above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error.messages if hasattr(error, "messages") else error)
    else:
        form.add_error(None, exc.messages)


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


# ---- home --------------------------------------------------------------------------------


@staff_view
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    grants = list(Grant.objects.active().filter(user=user).select_related("area").order_by("area__path", "role"))
    households = Household.objects.visible_to(user).filter(status=rc.HouseholdStatus.PRESENT)
    residents = Resident.objects.visible_to(user).filter(status=rc.PersonStatus.PRESENT)

    # Special-care people: one grouped query over the tags that carry a visiting interval.
    care_tags = list(Tag.objects.filter(visit_interval_days__isnull=False).order_by("sort", "name"))
    per_tag = dict(
        ResidentTag.objects.filter(resident__in=residents, tag__in=care_tags)
        .values_list("tag").annotate(n=Count("id")).values_list("tag", "n")
    )
    # A parent tag (困境儿童) counts the people carrying it or any of its sub-tags (孤儿 …): one
    # more query per parent tag, however many people there are.
    tree = selectors.tag_descendants()
    for tag in care_tags:
        below = tree.get(tag.pk, {tag.pk})
        if len(below) > 1:
            per_tag[tag.pk] = (ResidentTag.objects.filter(resident__in=residents, tag_id__in=below)
                               .values("resident_id").distinct().count())
    care = [{"tag": t, "count": per_tag.get(t.pk, 0)} for t in care_tags]

    overdue = selectors.overdue_residents(Resident.objects.visible_to(user))
    overdue_top = list(
        overdue.select_related("household").prefetch_related("tags")
        .order_by(F("household__last_visited_at").asc(nulls_first=True), "household_id", "id")[:10]
    )

    may_change = scope_paths(user, Action.CHANGE) != []
    suggestions = selectors.tag_suggestions(Resident.objects.visible_to(user, Action.CHANGE), limit=20) \
        if may_change else []

    return render(request, "core/home.html", {
        "grants": grants,
        "is_superuser": user.is_superuser,
        "household_count": households.count(),
        "resident_count": residents.count(),
        "care": care,
        "overdue_count": overdue.count(),
        "overdue_top": overdue_top,
        "suggestions": suggestions,
    })


# ---- area tree ---------------------------------------------------------------------------


def _roots(user: Any) -> list[Area]:
    """The topmost areas the user can see: their grants' areas (or the whole tree for admins)."""
    paths = scope_paths(user, Action.VIEW)
    qs = Area.objects.filter(parent=None) if paths is None else Area.objects.filter(path__in=paths)
    return list(qs.order_by("path"))


def _next_segment(children: list[Area]) -> str:
    """Suggest the next free code among numeric siblings, keeping their zero padding."""
    numeric = [ch.segment for ch in children if ch.segment.isdigit()]
    if not numeric:
        return "1"
    width = max(len(s) for s in numeric)
    return str(max(int(s) for s in numeric) + 1).zfill(width)


def _render_area(request: HttpRequest, area: Area, *, child_form: Any = None, edit_form: Any = None,
                 dwelling_form: Any = None, status: int = 200) -> HttpResponse:
    user = request.user
    children = list(area.children.order_by("sort", "segment"))
    child_kind = CHILD_KIND.get(area.kind)
    # Ancestors above the user's grant are not theirs to open; the breadcrumb shows only visible ones.
    crumbs = list(Area.objects.visible_to(user).filter(path__in=area.ancestor_paths()).exclude(pk=area.pk)
                  .order_by("depth"))
    dwellings = []
    if area.kind == AreaKind.UNIT:
        dwellings = list(
            Dwelling.objects.visible_to(user).filter(unit=area)
            .prefetch_related(Prefetch("households", queryset=Household.objects.visible_to(user)
                                       .filter(status=rc.HouseholdStatus.PRESENT).select_related("head")))
            .order_by("-floor", "number")
        )
    may_manage = can(user, Action.MANAGE_AREAS, area.path)
    context = {
        "area": area,
        "children": children,
        "child_kind": child_kind.label if child_kind else "",
        "crumbs": crumbs,
        "roots": _roots(user),
        "dwellings": dwellings,
        "may_manage": may_manage,
        "may_change": can(user, Action.CHANGE, area.path),
        "child_form": child_form or AreaChildForm(initial={"segment": _next_segment(children)}),
        "edit_form": edit_form or AreaEditForm(initial={"name": area.name, "sort": area.sort,
                                                         "floors": area.floors, "note": area.note,
                                                         "version": area.version}),
        "dwelling_form": dwelling_form or DwellingForm(),
        "is_unit": area.kind == AreaKind.UNIT,
        "is_building": area.kind == AreaKind.BUILDING,
        "wants_floors": child_kind == AreaKind.BUILDING,
    }
    return render(request, "core/area.html", context, status=status)


@staff_view
def area_tree(request: HttpRequest) -> HttpResponse:
    roots = _roots(request.user)
    if len(roots) == 1:
        return _render_area(request, roots[0])
    return render(request, "core/area_roots.html", {"roots": roots})


def _visible_area(request: HttpRequest, pk: int) -> Area:
    return get_object_or_404(Area.objects.visible_to(request.user), pk=pk)


@staff_view
def area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_area(request, _visible_area(request, pk))


@staff_view
def area_add_child(request: HttpRequest, pk: int) -> HttpResponse:
    area = _visible_area(request, pk)
    if request.method != "POST":
        return redirect("core:area", pk=area.pk)
    form = AreaChildForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            child = services.area_create(actor=request.user, parent=area, segment=d["segment"], name=d["name"],
                                         sort=d["sort"] or 0, floors=d["floors"])
        except ValidationError as exc:
            # The model reports a duplicate code as a constraint on (parent, segment).
            if "__all__" in getattr(exc, "error_dict", {}):
                form.add_error("segment", _("同一上级下已有此编码"))
            else:
                apply_errors(form, exc)
        else:
            messages.success(request, _("已新建“%(name)s”") % {"name": child.name})
            return redirect("core:area", pk=area.pk)
    return _render_area(request, area, child_form=form, status=400)


@staff_view
def area_edit(request: HttpRequest, pk: int) -> HttpResponse:
    area = _visible_area(request, pk)
    if request.method != "POST":
        return redirect("core:area", pk=area.pk)
    form = AreaEditForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            services.area_update(actor=request.user, area=area, name=d["name"], sort=d["sort"] or 0,
                                 floors=d["floors"], note=d["note"], version=d["version"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("core:area", pk=area.pk)
    area.refresh_from_db()
    return _render_area(request, area, edit_form=form, status=400)


@staff_view
def dwelling_add(request: HttpRequest, pk: int) -> HttpResponse:
    unit = _visible_area(request, pk)
    if request.method != "POST":
        return redirect("core:area", pk=unit.pk)
    form = DwellingForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            registry_services.dwelling_create(actor=request.user, unit=unit, floor=d["floor"], number=d["number"],
                                              occupancy=d["occupancy"])
        except ValidationError as exc:
            if "__all__" in getattr(exc, "error_dict", {}):
                form.add_error("number", _("本单元已有此房号"))
            else:
                apply_errors(form, exc)
        else:
            messages.success(request, _("已添加%(number)s室") % {"number": d["number"]})
            return redirect("core:area", pk=unit.pk)
    return _render_area(request, unit, dwelling_form=form, status=400)


# ---- grants ------------------------------------------------------------------------------

GRANT_LIMIT = 300


@staff_view
def area_grants(request: HttpRequest, pk: int) -> HttpResponse:
    area = _visible_area(request, pk)
    form = GrantForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        target = get_user_model().objects.filter(username=d["username"].strip(), is_active=True).first()
        if target is None:
            form.add_error("username", _("没有这个用户名,请先由管理员建立账号"))
        else:
            try:
                services.grant_role(actor=request.user, user=target, role=d["role"], area=area,
                                    valid_from=d["valid_from"], valid_to=d["valid_to"])
            except NotAllowed as exc:
                # Shown at the form rather than as a bare 403 so the secretary sees why.
                form.add_error(None, str(exc))
                status = 403
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("已授权"))
                return redirect("core:area_grants", pk=area.pk)
    if request.method == "POST" and status == 200 and form.errors:
        status = 400
    # Bounded: a county has thousands of volunteers; the list is for checking a grid, not auditing a county.
    grants = list(Grant.objects.filter(area__path__startswith=area.path)
                  .select_related("user", "area", "granted_by")
                  .order_by("area__path", "role", "user__username")[:GRANT_LIMIT + 1])
    return render(request, "core/grants.html", {
        "area": area, "grants": grants[:GRANT_LIMIT], "truncated": len(grants) > GRANT_LIMIT,
        "today": timezone.localdate(), "form": form,
        "may_grant": can(request.user, Action.GRANT, area.path),
    }, status=status)


@staff_view
def my_profile(request: HttpRequest) -> HttpResponse:
    """The staff member's own page: which areas they serve, and the phone they agree to publish
    on the unit boards (their consent, so nobody else can set it)."""
    profile = StaffProfile.objects.filter(user_id=request.user.pk or 0).first()
    initial = {"phone": profile.phone, "publish_phone": profile.publish_phone} if profile else {}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(actor=request.user, user=request.user, phone=form.cleaned_data["phone"],
                                         publish_phone=form.cleaned_data["publish_phone"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("my_profile")
    grants = Grant.objects.active().filter(user_id=request.user.pk or 0).select_related("area").order_by("area__path")
    return render(request, "core/profile.html", {
        "form": form, "profile": profile, "grants": grants,
        "totp_on": bool(profile and profile.totp_secret_enc), "totp_required": totp_required(request.user),
    }, status=400 if form.errors else 200)
