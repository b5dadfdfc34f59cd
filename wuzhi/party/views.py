"""Pages of 政治引领: the party organisation (县直机关 → 结对社区党支部 → 党员 → 联系户), the 三联系
coverage desk and the duty roster.

Every query starts from `Model.objects.visible_to(user, action)` (directly or through a statistics
`Scope`), so a branch, member, pairing or household outside the user's reach is a 404. Writes go
through wuzhi.party.services: their ValidationErrors are shown at the form field, their NotAllowed
becomes the 403 page (`staff_view`). Lists are keyset pages or capped, so each page costs a fixed
number of queries whatever the size of the community."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wuzhi.core.models import Area, AreaKind
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import Action, Role
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.views import apply_errors, forbidden, require, staff_view
from wuzhi.registry import choices as rc
from wuzhi.registry.models import Household, Resident
from wuzhi.registry.selectors import resident_search_q
from wuzhi.reports.statistics import Scope, compute

from . import roster, selectors, services
from .forms import (
    AssignForm,
    BranchForm,
    BranchLinkForm,
    CadreForm,
    DepartmentForm,
    MemberForm,
    MemberMoveForm,
    PairingEndForm,
    SecretaryForm,
)
from .models import Branch, Pairing, PartyMember

PAGE_SIZE = 30
LIST_LIMIT = 20  # overdue contacts and helper load: the top of the list, the count says the rest
FLAG_LIMIT = 50
BRANCH_LIMIT = 200
MEMBER_PAGE = 50
ENDED_LIMIT = 20
SEARCH_LIMIT = 10
# A helper with more households than this cannot keep in touch with all of them (the article's
# 167 members for 6820 people is about 12 households each).
HELPER_LOAD_WARNING = 15


# ---- helpers -----------------------------------------------------------------------------


def _may(user: Any, action: str) -> bool:
    """Does the user hold `action` anywhere? (Decides whether a page shows its forms at all.)"""
    return scope_paths(user, action) != []


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def _errors_at(form: Any, exc: ValidationError, field: str) -> None:
    """Like apply_errors, but an error without a field of this form lands at `field`, next to
    what the user chose, instead of above the form."""
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(key if key in form.fields else field, error.messages)
    else:
        form.add_error(field, exc.messages)


def _today_scope(user: Any, area: Area | None) -> Scope:
    today = timezone.localdate()
    return Scope(user, area, today, today)


def _helper_args(candidate: selectors.Candidate) -> dict[str, Any]:
    helper = candidate.helper
    return {"member": helper} if isinstance(helper, PartyMember) else {"cadre": helper}


def _with_contact(rows: list[Pairing]) -> list[Pairing]:
    for row in rows:
        row.last_contact = selectors.last_contact_of(row)  # type: ignore[attr-defined]
    return rows


# ---- party organisation --------------------------------------------------------------------


@staff_view
def index(request: HttpRequest) -> HttpResponse:
    """The chain at a glance: departments with their linked branches, branches with members."""
    user: Any = request.user
    pairings = Pairing.objects.visible_to(user)
    branches = list(
        Branch.objects.visible_to(user).filter(kind=Branch.Kind.COMMUNITY)
        .select_related("secretary", "linked_department", "area")
        .annotate(member_count=Count("members", filter=Q(members__active=True)),
                  household_count=selectors.paired_households_count(pairings, "member__branch"))
        .order_by("area_path", "id")[:BRANCH_LIMIT + 1]  # registration order: 第一 … 第七, not by code point
    )
    departments = list(selectors.visible_departments(user).select_related("branch")
                       .annotate(cadre_count=Count("cadres", filter=Q(cadres__active=True)))
                       .order_by("area_path", "id")[:BRANCH_LIMIT])
    linked: dict[int, list[Branch]] = defaultdict(list)
    for b in branches:
        if b.linked_department_id:
            linked[b.linked_department_id].append(b)
    for d in departments:
        d.linked = linked.get(d.pk, [])  # type: ignore[attr-defined]

    figures = compute(_today_scope(user, None),
                      ["party_branches", "party_members", "paired_departments", "households_without_helper"])
    households = Household.objects.visible_to(user).filter(status=rc.HouseholdStatus.PRESENT).count()
    return render(request, "party/index.html", {
        "branches": branches[:BRANCH_LIMIT], "branches_truncated": len(branches) > BRANCH_LIMIT,
        "departments": departments, "figures": figures, "households": households,
        "covered": households - int(figures["households_without_helper"]),
        "may_create_department": Area.objects.visible_to(user, Action.MANAGE_AREAS)
        .filter(kind=AreaKind.COUNTY).exists(),
        "may_create_cadre": any(can(user, Action.MANAGE_AREAS, d.area_path) for d in departments),
        "may_create_branch": Area.objects.visible_to(user, Action.MANAGE_AREAS)
        .filter(kind=AreaKind.COMMUNITY).exists(),
        "may_create_member": Branch.objects.visible_to(user, Action.CHANGE).exists(),
    })


def _form_page(request: HttpRequest, form: Any, title: str, *, status: int = 200,
               back: str = "party:index") -> HttpResponse:
    return render(request, "party/form.html", {"form": form, "title": title, "back": reverse(back)},
                  status=status)


@staff_view
def department_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    counties = Area.objects.visible_to(user, Action.MANAGE_AREAS).filter(kind=AreaKind.COUNTY).order_by("path")
    if not counties.exists():
        return forbidden(request, _("只有县级管理员可以登记县直机关"))
    form = DepartmentForm(request.POST or None, counties=counties)
    if request.method == "POST" and form.is_valid():
        try:
            dept = services.department_create(actor=user, county=form.cleaned_data["county"],
                                              name=form.cleaned_data["name"])
        except ValidationError as exc:
            # The only table-wide rule is (county, name) unique: say so at the name.
            if "__all__" in getattr(exc, "error_dict", {}):
                form.add_error("name", _("该县已有同名单位"))
            else:
                apply_errors(form, exc)
        else:
            messages.success(request, _("已登记“%(name)s”及其机关党支部") % {"name": dept.name})
            return redirect("party:index")
    return _form_page(request, form, _("登记县直机关"), status=400 if form.errors else 200)


@staff_view
def cadre_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    departments = [d.pk for d in selectors.visible_departments(user) if can(user, Action.MANAGE_AREAS, d.area_path)]
    if not departments:
        return forbidden(request, _("只有县级管理员可以登记帮扶干部"))
    initial = {"department": request.GET.get("department")} if str(request.GET.get("department", "")).isdigit() else {}
    form = CadreForm(request.POST or None, initial=initial,
                     departments=selectors.visible_departments(user).filter(pk__in=departments).order_by("area_path", "id"))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            cadre = services.cadre_create(actor=user, department=d["department"], name=d["name"], title=d["title"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已登记帮扶干部%(name)s") % {"name": cadre.name})
            return redirect("party:index")
    return _form_page(request, form, _("登记帮扶干部"), status=400 if form.errors else 200)


@staff_view
def branch_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    areas = Area.objects.visible_to(user, Action.MANAGE_AREAS).filter(kind=AreaKind.COMMUNITY).order_by("path")
    if not areas.exists():
        return forbidden(request, _("只有社区书记可以建立党支部"))
    form = BranchForm(request.POST or None, areas=areas,
                      departments=selectors.visible_departments(user).order_by("area_path", "id"))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            branch = services.branch_create(actor=user, area=d["area"], name=d["name"],
                                            linked_department=d["linked_department"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已建立“%(name)s”") % {"name": branch.name})
            return redirect("party:branch_detail", pk=branch.pk)
    return _form_page(request, form, _("建立社区党支部"), status=400 if form.errors else 200)


def _branch(request: HttpRequest, pk: int) -> Branch:
    return get_object_or_404(
        Branch.objects.visible_to(request.user).select_related("secretary", "linked_department", "department",
                                                               "area"), pk=pk)


def _render_branch(request: HttpRequest, branch: Branch, *, link_form: Any = None, secretary_form: Any = None,
                   status: int = 200) -> HttpResponse:
    user: Any = request.user
    pairings = Pairing.objects.visible_to(user)
    members = (PartyMember.objects.visible_to(user).filter(branch=branch)
               .select_related("resident__household", "user")
               .annotate(household_count=selectors.paired_households_count(pairings, "member")))
    page = keyset_page(members, ["id"], request.GET.get("after"), MEMBER_PAGE)
    may_change = can(user, Action.CHANGE, branch.area_path)
    departments = selectors.visible_departments(user).order_by("area_path", "id")
    return render(request, "party/branch_detail.html", {
        "branch": branch, "page": page, "after": request.GET.get("after"),
        "active_count": PartyMember.objects.visible_to(user).filter(branch=branch, active=True).count(),
        "may_change": may_change,
        "is_community": branch.kind == Branch.Kind.COMMUNITY,
        "link_form": link_form or BranchLinkForm(departments=departments,
                                                 initial={"department": branch.linked_department_id,
                                                          "version": branch.version}),
        "secretary_form": secretary_form or SecretaryForm(
            members=PartyMember.objects.visible_to(user).filter(branch=branch, active=True).order_by("name"),
            initial={"member": branch.secretary_id, "version": branch.version}),
    }, status=status)


@staff_view
def branch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_branch(request, _branch(request, pk))


@staff_view
@require_POST
def branch_link(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    branch = _branch(request, pk)
    require(user, Action.CHANGE, branch.area_path)
    form = BranchLinkForm(request.POST, departments=selectors.visible_departments(user))
    if form.is_valid():
        try:
            services.branch_link(actor=user, branch=branch, department=form.cleaned_data["department"],
                                 version=form.cleaned_data["version"])
        except ValidationError as exc:
            _errors_at(form, exc, "department")
        else:
            messages.success(request, _("已更新结对县直机关"))
            return redirect("party:branch_detail", pk=branch.pk)
    return _render_branch(request, branch, link_form=form, status=400)


@staff_view
@require_POST
def branch_secretary(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    branch = _branch(request, pk)
    require(user, Action.CHANGE, branch.area_path)
    form = SecretaryForm(request.POST, members=PartyMember.objects.visible_to(user).filter(branch=branch, active=True))
    if form.is_valid():
        try:
            services.branch_set_secretary(actor=user, branch=branch, member=form.cleaned_data["member"],
                                          version=form.cleaned_data["version"])
        except ValidationError as exc:
            _errors_at(form, exc, "member")
        else:
            messages.success(request, _("已更新支部书记"))
            return redirect("party:branch_detail", pk=branch.pk)
    return _render_branch(request, branch, secretary_form=form, status=400)


@staff_view
def member_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    branches = Branch.objects.visible_to(user, Action.CHANGE).order_by("kind", "area_path", "id")
    if not branches.exists():
        return forbidden(request, _("您没有登记党员的权限"))
    residents = Resident.objects.visible_to(user).filter(status=rc.PersonStatus.PRESENT).select_related("household")
    initial = {"branch": request.GET["branch"]} if str(request.GET.get("branch", "")).isdigit() else {}
    form = MemberForm(request.POST or None, branches=branches, residents=residents, initial=initial)
    chosen = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        # Read before the service runs: an error added at "resident" drops it from cleaned_data,
        # and the chosen resident should stay chosen (it is a radio among the search results).
        chosen = d["resident"]
        try:
            member = services.member_create(actor=user, branch=d["branch"], resident=d["resident"],
                                            name=d["name"] or "", joined_on=d["joined_on"], is_mobile=d["is_mobile"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已登记党员%(name)s") % {"name": member.name})
            return redirect("party:member_detail", pk=member.pk)
    elif form.is_bound:
        chosen = form.cleaned_data.get("resident")
    return render(request, "party/member_form.html", {
        "form": form, "rows": [chosen] if chosen else [], "checked": chosen.pk if chosen else None,
    }, status=400 if form.errors else 200)


@staff_view
def resident_search(request: HttpRequest) -> HttpResponse:
    """htmx: the residents matching what was typed, as radio choices for the member form."""
    q = request.GET.get("q", "").strip()
    rows: list[Resident] = []
    if q:
        active = PartyMember.objects.filter(resident=OuterRef("pk"), active=True)
        rows = list(Resident.objects.visible_to(request.user).filter(status=rc.PersonStatus.PRESENT)
                    .filter(resident_search_q(q)).select_related("household")
                    .annotate(is_member=Exists(active)).order_by("name_pinyin", "id")[:SEARCH_LIMIT])
    return render(request, "party/_resident_choices.html", {"rows": rows, "q": q, "checked": None})


def _member(request: HttpRequest, pk: int) -> PartyMember:
    return get_object_or_404(
        PartyMember.objects.visible_to(request.user).select_related("branch", "resident__household", "user"), pk=pk)


def _render_member(request: HttpRequest, member: PartyMember, *, move_form: Any = None,
                   status: int = 200) -> HttpResponse:
    user: Any = request.user
    pairings = Pairing.objects.visible_to(user).filter(member=member)
    active = _with_contact(list(
        selectors.with_last_contact(pairings.filter(ended_on__isnull=True))
        .select_related("household__head", "member", "cadre").order_by("household__address_key", "id")
    ))
    ended = list(pairings.filter(ended_on__isnull=False).select_related("household")
                 .order_by("-ended_on", "-id")[:ENDED_LIMIT])
    branches = Branch.objects.visible_to(user, Action.CHANGE).exclude(pk=member.branch_id).order_by("kind", "area_path", "id")
    return render(request, "party/member_detail.html", {
        "member": member, "active": active, "ended": ended,
        "may_change": can(user, Action.CHANGE, member.area_path),
        "move_form": move_form or MemberMoveForm(branches=branches, initial={"version": member.version}),
        "overdue_days": selectors.CONTACT_INTERVAL_DAYS,
    }, status=status)


@staff_view
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_member(request, _member(request, pk))


@staff_view
@require_POST
def member_move(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    member = _member(request, pk)
    require(user, Action.CHANGE, member.area_path)
    form = MemberMoveForm(request.POST, branches=Branch.objects.visible_to(user, Action.CHANGE)
                          .exclude(pk=member.branch_id))
    if form.is_valid():
        try:
            services.member_move(actor=user, member=member, branch=form.cleaned_data["branch"],
                                 version=form.cleaned_data["version"])
        except ValidationError as exc:
            _errors_at(form, exc, "branch")
        else:
            messages.success(request, _("%(name)s 已转入%(branch)s,其联系户已标记待确认")
                             % {"name": member.name, "branch": member.branch.name})
            return redirect("party:member_detail", pk=member.pk)
    return _render_member(request, member, move_form=form, status=400)


# ---- coverage (三联系) -----------------------------------------------------------------------


@staff_view
def coverage(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    # The area picker: communities and their grids, read once (the select and the filter share it).
    areas = list(Area.objects.visible_to(user).filter(kind__in=[AreaKind.COMMUNITY, AreaKind.GRID])
                 .order_by("path"))
    area = next((a for a in areas if str(a.pk) == request.GET.get("area")), None)
    scope = _today_scope(user, area)

    households = scope.rows(Household)
    uncovered = selectors.households_without_helper(households)
    pairings = scope.rows(Pairing).filter(ended_on__isnull=True)
    # A household that moved out is not waiting for a visit; its pairing is ended, not chased.
    overdue = selectors.overdue_pairings(pairings.filter(household__status=rc.HouseholdStatus.PRESENT))
    flagged = pairings.exclude(flag="")
    total = households.filter(status=rc.HouseholdStatus.PRESENT).count()
    stats: dict[str, Any] = {"households": total, "uncovered": uncovered.count(), "flagged": flagged.count(),
                             "overdue": overdue.count()}
    stats["covered"] = total - stats["uncovered"]
    stats["rate"] = round(100 * stats["covered"] / total, 1) if total else None

    page = keyset_page(
        uncovered.select_related("head")
        .annotate(member_count=Count("members", filter=Q(members__status=rc.PersonStatus.PRESENT))),
        ["address_key", "id"], request.GET.get("after"), PAGE_SIZE,
    )
    for h in page.rows:
        h.may_assign = can(user, Action.CHANGE, h.area_path)
    load = selectors.helper_load(pairings)
    may_assign = any(h.may_assign for h in page.rows)
    overdue_rows = _with_contact(list(
        overdue.select_related("household", "member", "cadre")
        .order_by(F("household__last_visited_at").asc(nulls_first=True), "household__address_key", "id")[:LIST_LIMIT]
    ))
    flagged_rows = list(flagged.select_related("household", "member__branch", "cadre__department")
                        .order_by("household__address_key", "id")[:FLAG_LIMIT])
    for p in flagged_rows:
        p.may_change = can(user, Action.CHANGE, p.area_path)  # type: ignore[attr-defined]
    return render(request, "party/coverage.html", {
        "areas": areas, "area": area, "stats": stats, "page": page, "after": request.GET.get("after"),
        "may_assign": may_assign,
        # The loads shown next to each candidate are those of this page's area: who is busy here.
        "candidates": selectors.helper_candidates(user, load) if may_assign else [],
        "load": load[:LIST_LIMIT], "load_total": len(load),
        "may_see_members": PartyMember.objects.visible_to(user).exists(),
        "overloaded": sum(1 for r in load if r["households"] > HELPER_LOAD_WARNING),
        "load_warning": HELPER_LOAD_WARNING,
        "overdue_rows": overdue_rows, "overdue_days": selectors.CONTACT_INTERVAL_DAYS,
        "flagged_rows": flagged_rows,
        "here": request.get_full_path(),
    })


@staff_view
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """指派联系人: posted from a row of the coverage page; on its own (GET, or after an error) a
    page with the same form and the household's current helpers."""
    user: Any = request.user
    household = get_object_or_404(Household.objects.visible_to(user).select_related("head"), pk=pk)
    require(user, Action.CHANGE, household.area_path)
    load = selectors.helper_load(Pairing.objects.visible_to(user).filter(ended_on__isnull=True))
    candidates = selectors.helper_candidates(user, load)
    form = AssignForm(request.POST or None, candidates=candidates)
    back = _safe_next(request, reverse("party:coverage"))
    if request.method == "POST" and form.is_valid():
        chosen: selectors.Candidate = form.cleaned_data["helper"]
        try:
            services.pairing_create(actor=user, household=household, **_helper_args(chosen))
        except ValidationError as exc:
            _errors_at(form, exc, "helper")
        else:
            messages.success(request, _("已为%(address)s指派联系人%(name)s")
                             % {"address": household.address, "name": chosen.helper.name})
            return redirect(back)
    return render(request, "party/assign.html", {
        "household": household, "form": form, "candidates": candidates, "current": selectors.helpers_of(household),
        "next": back,
    }, status=400 if form.errors else 200)


def _seen_version(request: HttpRequest) -> int | None:
    """The version of the record as the page showed it (hidden input "version")."""
    raw = request.POST.get("version", "")
    return int(raw) if raw.isdigit() else None


def _pairing(request: HttpRequest, pk: int, *, active: bool = True) -> Pairing:
    qs = Pairing.objects.visible_to(request.user).select_related("household", "member__branch", "cadre__department")
    if active:
        qs = qs.filter(ended_on__isnull=True)
    pairing = get_object_or_404(qs, pk=pk)
    require(request.user, Action.CHANGE, pairing.area_path)
    return pairing


@staff_view
@require_POST
def pairing_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    pairing = _pairing(request, pk)
    try:
        services.pairing_confirm(actor=request.user, pairing=pairing, version=_seen_version(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已确认 %(name)s 继续联系 %(address)s")
                         % {"name": pairing.helper, "address": pairing.household.address})
    return redirect(_safe_next(request, reverse("party:coverage")))


@staff_view
def pairing_end(request: HttpRequest, pk: int) -> HttpResponse:
    pairing = _pairing(request, pk)
    form = PairingEndForm(request.POST or None)
    back = _safe_next(request, reverse("party:coverage"))
    if request.method == "POST" and form.is_valid():
        try:
            services.pairing_end(actor=request.user, pairing=pairing, reason=form.cleaned_data["reason"],
                                 version=_seen_version(request))
        except ValidationError as exc:
            _errors_at(form, exc, "reason")
        else:
            messages.success(request, _("已结束结对,%(address)s 回到“无联系人”名单")
                             % {"address": pairing.household.address})
            return redirect(back)
    return render(request, "party/pairing_end.html", {"pairing": pairing, "form": form, "next": back,
                                                      "version": request.POST.get("version") or pairing.version},
                  status=400 if form.errors else 200)


# ---- duty roster ----------------------------------------------------------------------------


def _cell(users: list[Any], label: str) -> dict[str, Any]:
    return {"label": label, "users": users}


@staff_view
def roster_page(request: HttpRequest) -> HttpResponse:
    """The roster is read from the role grants (wuzhi.party.roster): one community at a time, so
    a county cadre's page stays the size of a community's."""
    user: Any = request.user
    communities = list(Area.objects.visible_to(user).filter(kind=AreaKind.COMMUNITY).order_by("path"))
    area = None
    if communities:
        chosen = request.GET.get("area", "")
        area = next((c for c in communities if str(c.pk) == chosen), communities[0])
    scope = _today_scope(user, area)
    grid_holders = roster.holders(scope, AreaKind.GRID, roster.GRID_ROLES)
    building_holders = roster.holders(scope, AreaKind.BUILDING, roster.BUILDING_ROLES)

    groups: dict[int | None, dict[str, Any]] = {}
    for grid, roles in grid_holders.items():
        heads, workers = roles[Role.SECRETARY], roles[Role.GRID_WORKER]
        groups[grid.pk] = {
            "grid": grid, "heads": heads, "workers": workers, "buildings": [],
            "gap": not heads or not workers,
            "may_grant": can(user, Action.GRANT, grid.path),
        }
    for building, roles in building_holders.items():
        cells = [_cell(users, Role(role).label) for role, users in roles.items()]
        row = {"building": building, "cells": cells, "gaps": [c["label"] for c in cells if not c["users"]],
               "may_grant": can(user, Action.GRANT, building.path)}
        # A 楼长 whose grant is on the building alone sees no grid: list it on its own.
        group = groups.setdefault(building.parent_id if building.parent_id in groups else None,
                                  {"grid": None, "buildings": []})
        group["buildings"].append(row)
    buildings = [row for g in groups.values() for row in g["buildings"]]
    summary = {
        "grids": len(grid_holders),
        "grids_without_worker": sum(1 for r in grid_holders.values() if not r[Role.GRID_WORKER]),
        "buildings": len(buildings),
        "buildings_with_gaps": sum(1 for row in buildings if row["gaps"]),
        "gaps": sum(len(row["gaps"]) for row in buildings),
    }
    return render(request, "party/roster.html", {
        "communities": communities, "area": area, "groups": list(groups.values()), "summary": summary,
        "building_roles": [Role(r).label for r in roster.BUILDING_ROLES],
    })
