"""Registry pages: households, residents, visits, the building grid.

Each query starts from `Model.objects.visible_to(user, action)`, so a household of another grid is
a 404. Lists use keyset pages and a fixed number of queries (tags and members read for the whole
page at once, only the columns shown) whatever the number of rows. Writes call registry.services only."""

from __future__ import annotations

import datetime as dt
import functools
import html
import operator
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from wuzhi.core import audit
from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import AccessLog, Area, AreaKind, ChangeLog, Grant
from wuzhi.core.pagecache import cached_page
from wuzhi.core.pagination import keyset_page
from wuzhi.core.roles import ROLE_ACTIONS, Action
from wuzhi.core.scoping import can, can_on, scope_paths
from wuzhi.core.templatetags.wuzhi_tags import tag_badge
from wuzhi.core.validators import age_on
from wuzhi.core.views import apply_errors, client_ip, forbidden, require, staff_view
from wuzhi.honours.selectors import history_for_building as honour_history_for_building
from wuzhi.honours.selectors import history_for_household as honour_history_for_household

from . import choices as c
from . import privacy, selectors, services
from .forms import (
    HouseholdCreateForm,
    HouseholdEditForm,
    HouseholdFilterForm,
    ResidentFilterForm,
    ResidentForm,
    VisitForm,
)
from .models import Dwelling, Household, Resident, ResidentTag, Tag, Visit

PAGE_SIZE = 30
VISIT_LIMIT = 50
HISTORY_LIMIT = 100
# The export views belong to the import/export module; we only link to them with our filters.
EXPORT_HOUSEHOLDS = "/registry/export/households.xlsx"
EXPORT_RESIDENTS = "/registry/export/residents.xlsx"
# Cells of the building grid turn red for these tags, for any tag with a visiting interval (the
# special-care tags by definition) and any tag coloured "danger".
CARE_TAGS = {"独居老人", "空巢老人", "留守儿童", "残疾人", "困境儿童", "孤儿", "特困人员"}


# ---- helpers -----------------------------------------------------------------------------


def _wants_partial(request: HttpRequest, target: str) -> bool:
    """htmx live search swaps only the result block; a plain GET gets the whole page."""
    htmx = getattr(request, "htmx", None)
    if not htmx:
        return False
    return htmx.target == target and not htmx.boosted


def _export_href(base: str, params: Any) -> str:
    params = params.copy()
    params.pop("after", None)
    query = params.urlencode()
    return f"{base}?{query}" if query else base


def _due_days(tags: list[Tag]) -> int | None:
    """A person or household is due by the strictest visiting interval among its tags."""
    days = [t.visit_interval_days for t in tags if t.visit_interval_days]
    return min(days) if days else None


def _is_overdue(last: dt.datetime | None, due: int | None, now: dt.datetime) -> bool:
    if last is None:
        return True
    return due is not None and last < now - dt.timedelta(days=due)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


# ---- households --------------------------------------------------------------------------


# What the list shows of a household; the other columns (notes, origin …) stay in the database.
LIST_FIELDS = ("id", "number", "address", "address_key", "status", "last_visited_at", "head", "head__name")
# What the household page shows of its members and visits (not the ciphertexts, digests, notes …).
MEMBER_FIELDS = ("id", "household_id", "name", "relation", "sex", "birth_date", "status", "id_number_masked",
                 "phone_masked")
VISIT_FIELDS = ("id", "household_id", "visited_at", "kind", "findings", "follow_up_needed", "follow_up_note")
HISTORY_FIELDS = ("id", "model", "object_id", "object_repr", "op", "changes", "actor", "at", "note",
                  "actor__username", "actor__first_name", "actor__last_name")


def _url_maker(name: str, *rest: str) -> Callable[[int], str]:
    """URLs for a whole page of rows from one reverse(): reversing per row cost more than the
    rest of a row's rendering. The pattern's first argument is the row's pk, `rest` the others."""
    sentinel = 987654321
    head, tail = reverse(name, args=[sentinel, *rest]).split(str(sentinel))
    return lambda pk: f"{head}{pk}{tail}"


def _decorate_households(rows: list[Any], tags: list[Tag]) -> None:
    """Member count, badges (household and present members' tags, each once, in tag order) and
    the overdue flag, from two narrow queries of ids instead of the members and their tags as
    model instances."""
    if not rows:
        return
    ids = [h.pk for h in rows]
    by_id = {t.pk: t for t in tags}
    rank = {t.pk: (t.sort, t.name) for t in tags}  # sorted here, whatever the database's collation
    members: dict[int, set[int]] = {pk: set() for pk in ids}
    member_tags: dict[int, set[int]] = {pk: set() for pk in ids}
    # Status is checked here, not in SQL: a page's members are found by household, and a status
    # that nearly every row has only tempted the planner into the status index.
    rows_of_members = Resident.objects.filter(household_id__in=ids).values_list(
        "household_id", "id", "status", "residenttag__tag_id")
    for household_id, resident_id, status, tag_id in rows_of_members:
        if status != c.PersonStatus.PRESENT:
            continue
        members[household_id].add(resident_id)
        if tag_id is not None:
            member_tags[household_id].add(tag_id)
    own_tags: dict[int, set[int]] = {pk: set() for pk in ids}
    for household_id, tag_id in Household.tags.through.objects.filter(household_id__in=ids).values_list(
            "household_id", "tag_id"):
        own_tags[household_id].add(tag_id)

    badge = {t.pk: tag_badge(t) for t in tags}
    url = _url_maker("registry:household_detail")
    now = timezone.now()
    for h in rows:
        n = len(members[h.pk])
        h.member_count = n
        h.members_label = ngettext("%(n)s人", "%(n)s人", n) % {"n": n}
        # "& by_id.keys()": a tag added since the tag table was read waits for the next page load.
        ids_shown = sorted((own_tags[h.pk] | member_tags[h.pk]) & by_id.keys(), key=rank.__getitem__)
        h.badges = [by_id[pk] for pk in ids_shown]
        h.badges_html = mark_safe(" ".join(badge[pk] for pk in ids_shown))  # noqa: S308 (format_html output)
        due = _due_days([by_id[pk] for pk in member_tags[h.pk] & by_id.keys()])
        h.overdue = _is_overdue(h.last_visited_at, due, now)
        h.visited_on = f"{timezone.localtime(h.last_visited_at):%Y-%m-%d}" if h.last_visited_at else ""
        h.url = url(h.pk)


@staff_view
@cached_page("registry.household")
def household_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    params = request.GET.copy()
    # "在住" is what a worker means by "my households"; an explicit empty status shows all.
    params.setdefault("status", c.HouseholdStatus.PRESENT)
    form = HouseholdFilterForm(params, user=user)
    qs = form.filter(Household.objects.visible_to(user)).select_related("head").only(*LIST_FIELDS)
    page = keyset_page(qs, ["address_key", "id"], request.GET.get("after"), PAGE_SIZE)
    _decorate_households(page.rows, form.tag_table())

    context = {
        "form": form, "page": page, "after": request.GET.get("after"),
        "export_href": _export_href(EXPORT_HOUSEHOLDS, params),
        "may_create": scope_paths(user, Action.CHANGE) != [],
    }
    if _wants_partial(request, "results"):
        return render(request, "registry/_household_results.html", context)
    return render(request, "registry/household_list.html", context)


def _history(objects: list[Any]) -> list[dict[str, Any]]:
    """ChangeLog rows of a household and its members as readable lines (who, when, field: old → new).
    Sensitive columns were logged masked by the services; technical columns are left out."""
    if not objects:
        return []
    # audit.history() per object, as one condition per model ("object_id IN …") instead of one
    # per object: the same rows, a shorter query to build.
    pks: dict[str, list[str]] = {}
    for o in objects:
        pks.setdefault(o._meta.label_lower, []).append(str(o.pk))
    where = functools.reduce(operator.or_, [Q(model=label, object_id__in=ids) for label, ids in pks.items()])
    entries = list(ChangeLog.objects.filter(where).select_related("actor").only(*HISTORY_FIELDS)[:HISTORY_LIMIT])
    models = {"registry.household": Household, "registry.resident": Resident}
    hidden = {"area", "area_path", "address_key", "dwelling", "household", "id_tail", "phone_tail"}
    names = {str(o.pk): o.name for o in objects if isinstance(o, Resident)}
    rows = []
    for entry in entries:
        model = models.get(entry.model)
        changes = []
        if entry.op != entry.Op.CREATE:
            for field, pair in sorted(entry.changes.items()):
                if field in hidden or not isinstance(pair, list) or len(pair) != 2:
                    continue
                changes.append(_change_line(model, field, pair, names))
        rows.append({"entry": entry, "changes": changes,
                     "what": model._meta.verbose_name if model else entry.model})
    return rows


def _change_line(model: Any, field: str, pair: list[Any], names: dict[str, str]) -> dict[str, Any]:
    label, old, new = field, pair[0], pair[1]
    if field == "tags":
        label = _("标签")
    elif model is not None:
        try:
            mf = model._meta.get_field(field)
        except Exception:
            mf = None
        if mf is not None:
            label = str(mf.verbose_name)
            if mf.choices:
                labels = {str(k): v for k, v in mf.flatchoices}
                old, new = labels.get(str(old), old), labels.get(str(new), new)
    if field == "head":
        old, new = names.get(str(old), old), names.get(str(new), new)
    # An empty string and None both read "(空)"; 0 and False stay as they are.
    return {"label": label, "old": None if old == "" else old, "new": None if new == "" else new}


@staff_view
@cached_page("registry.household", "registry.resident", "registry.visit")
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = get_object_or_404(
        Household.objects.visible_to(user).select_related("dwelling__unit__parent")
        .only(*[f.name for f in Household._meta.concrete_fields], "dwelling__number", "dwelling__floor",
              "dwelling__occupancy", "dwelling__unit", "dwelling__unit__parent", "dwelling__unit__parent__name"),
        pk=pk,
    )
    members = sorted(household.members.only(*MEMBER_FIELDS).prefetch_related("tags"),
                     key=lambda m: (m.status != c.PersonStatus.PRESENT, m.relation != c.Relation.HEAD, m.pk))
    # The head is one of the members: no second read of that row (if not, it is read when shown).
    head = next((m for m in members if m.pk == household.head_id), None)
    if head is not None:
        household.head = head
    User = get_user_model()
    visits = list(household.visits.only(*VISIT_FIELDS).prefetch_related(
        Prefetch("visitors", queryset=User.objects.only("id", "username", "first_name", "last_name")),
        Prefetch("residents", queryset=Resident.objects.only("id", "name")),
    ).order_by("-visited_at", "-id")[:VISIT_LIMIT])
    path = household.area_path
    may_reveal = can(user, Action.REVEAL, path)
    member_url = _url_maker("registry:resident_detail")
    reveal_id, reveal_phone = _url_maker("registry:reveal", "id_number"), _url_maker("registry:reveal", "phone")
    for m in members:
        m.url = member_url(m.pk)
        m.tag_list = list(m.tags.all())
        m.badges_html = mark_safe(" ".join(tag_badge(t) for t in m.tag_list))  # noqa: S308 (format_html output)
        if may_reveal:
            m.reveal_id_url, m.reveal_phone_url = reveal_id(m.pk), reveal_phone(m.pk)
    member_tags = [t for m in members if m.status == c.PersonStatus.PRESENT for t in m.tag_list]
    return render(request, "registry/household_detail.html", {
        "household": household,
        "members": members,
        "visits": visits,
        "history": _history([household, *members]),
        # The honours card shows the category, the public label and the round's quarter only.
        "honours": list(honour_history_for_household(household).select_related(None)
                        .select_related("round", "category")
                        .only("id", "public_label", "round__year", "round__quarter", "category__name")),
        "household_tags": list(household.tags.all()),
        "overdue": _is_overdue(household.last_visited_at, _due_days(member_tags), timezone.now()),
        "due_days": _due_days(member_tags),
        "may_change": can(user, Action.CHANGE, path),
        "may_visit": can_on(user, Action.VISIT, household),
        "may_reveal": may_reveal,
    })


@staff_view
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = get_object_or_404(Household.objects.visible_to(user).select_related("head"), pk=pk)
    require(user, Action.CHANGE, household.area_path)
    form = HouseholdEditForm(request.POST or None, household=household)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.household_update(actor=user, household=household, version=d["version"], head=d["head"],
                                      tags=d["tags"], **form.service_kwargs())
        except ValidationError as exc:
            # ConcurrentEdit lands here too: the message says to reload; the typed values stay.
            apply_errors(form, exc)
        else:
            messages.success(request, _("户信息已保存"))
            return redirect("registry:household_detail", pk=household.pk)
    status = 400 if form.errors else 200
    return render(request, "registry/household_form.html",
                  {"form": form, "household": household, "title": _("编辑户信息")}, status=status)


@staff_view
def household_create(request: HttpRequest) -> HttpResponse:
    """Two steps on one page: pick a building, then a dwelling in it (or come from the building
    grid with ?dwelling=…)."""
    user = request.user
    if scope_paths(user, Action.CHANGE) == []:
        return forbidden(request, _("您没有登记新户的权限"))
    buildings = list(Area.objects.visible_to(user, Action.CHANGE).filter(kind=AreaKind.BUILDING).order_by("path"))
    dwellings_in_scope = Dwelling.objects.visible_to(user, Action.CHANGE).select_related("unit")
    building = None
    initial: dict[str, Any] = {}
    source = request.POST if request.method == "POST" else request.GET
    if str(source.get("dwelling", "")).isdigit():
        chosen = get_object_or_404(dwellings_in_scope, pk=source["dwelling"])
        building = next((b for b in buildings if b.pk == chosen.unit.parent_id), None)
        initial["dwelling"] = chosen.pk
    if building is None and str(source.get("building", "")).isdigit():
        building = next((b for b in buildings if b.pk == int(source["building"])), None)
    form = None
    if building is not None:
        dwellings = dwellings_in_scope.filter(unit__parent=building).order_by("unit__sort", "unit__segment",
                                                                            "floor", "number")
        form = HouseholdCreateForm(request.POST if request.method == "POST" else None, dwellings=dwellings,
                                   initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                household = services.household_create(actor=user, dwelling=form.cleaned_data["dwelling"],
                                                      **form.service_kwargs())
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("已登记新户 %(number)s,请添加户主") % {"number": household.number})
                return redirect("registry:resident_create", pk=household.pk)
    status = 400 if form is not None and form.errors else 200
    return render(request, "registry/household_create.html",
                  {"form": form, "buildings": buildings, "building": building}, status=status)


# ---- residents ---------------------------------------------------------------------------


@staff_view
@cached_page("registry.resident")
def resident_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    params = request.GET.copy()
    params.setdefault("status", c.PersonStatus.PRESENT)
    partial = _wants_partial(request, "results")
    form = ResidentFilterForm(params, user=user, shown=not partial)
    people = Resident.objects.visible_to(user)
    parts = form.parts(people)
    page = keyset_page(people if parts is not None else form.filter(people), ["household_id", "id"],
                       request.GET.get("after"), PAGE_SIZE, parts=parts, load=selectors.resident_rows)
    context = {
        "form": form, "page": page, "rows_html": _resident_rows_html(page.rows), "after": request.GET.get("after"),
        "export_href": _export_href(EXPORT_RESIDENTS, params),
        "filtered": any(params.get(k) for k in ("tag", "age_min", "age_max", "sex", "area"))
        or params.get("status") != c.PersonStatus.PRESENT,
    }
    return render(request, "registry/_resident_results.html" if partial else "registry/resident_list.html", context)


# A row of the resident list: one markup for desktop and phone (the wz-residents style in
# resident_list.html turns it into a card), made here. A page of 30 rows took 2.2 ms through the
# template language (a dozen lookups, filters and escapes per row), 1.8 ms with format_html (its
# per-value checks for lazy strings), 0.4 ms with this format string, which is what a
# city-wide search needs. Every value is escaped with html.escape, as Django's own escape does.
_RESIDENT_ROW = (
    '<tr><td class="wz-rs-name"><a class="fw-semibold" href="{url}">{name}</a>{status}</td>'
    '<td class="wz-rs-sex">{sex}</td><td class="wz-rs-age" data-unit="{years}">{age}</td>'
    '<td class="wz-rs-relation">{relation}</td>'
    '<td class="wz-rs-address"><a href="{household_url}">{address}</a></td>'
    '<td class="wz-rs-id wz-masked small">{id_number}</td><td class="wz-rs-phone wz-masked small">{phone}</td>'
    '<td class="wz-rs-tags">{badges}</td></tr>'
)


def _resident_rows_html(rows: list[Any]) -> str:
    """The rows of selectors.resident_rows as the list's table rows."""
    e = html.escape
    person_url, household_url = _url_maker("registry:resident_detail"), _url_maker("registry:household_detail")
    today, years = timezone.localdate(), e(_("岁"))
    sexes = {value: e(str(label)) for value, label in c.Sex.choices}
    statuses = {value: f' <span class="badge text-bg-secondary">{e(str(label))}</span>'
                for value, label in c.PersonStatus.choices if value != c.PersonStatus.PRESENT}
    return mark_safe("".join(_RESIDENT_ROW.format(  # noqa: S308 (every value escaped)
        url=e(person_url(r.pk)), name=e(r.name), status=statuses.get(r.status, ""), sex=sexes.get(r.sex, ""),
        years=years, age=age_on(r.birth_date, today), relation=e(r.relation),
        household_url=e(household_url(r.household_id)), address=e(r.address), id_number=e(r.id_number_masked),
        phone=e(r.phone_masked or "—"), badges=" ".join(tag_badge(t) for t in r.tag_list),
    ) for r in rows))


@staff_view
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household"), pk=pk)
    tag_rows = list(ResidentTag.objects.filter(resident=resident).select_related("tag", "added_by")
                    .order_by("tag__sort", "tag__name"))
    visits = list(resident.visits.select_related("created_by").prefetch_related("visitors")
                  .order_by("-visited_at", "-id")[:20])
    path = resident.area_path
    return render(request, "registry/resident_detail.html", {
        "resident": resident, "household": resident.household, "tag_rows": tag_rows, "visits": visits,
        "history": _history([resident]),
        "may_change": can(user, Action.CHANGE, path),
        "may_visit": can_on(user, Action.VISIT, resident.household),
        "may_reveal": can(user, Action.REVEAL, path),
        "may_export_person": can(user, Action.REVEAL, path) and can(user, Action.EXPORT, path),
        "may_audit": can(user, Action.GRANT, path),
    })


@staff_view
def resident_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = get_object_or_404(Household.objects.visible_to(user), pk=pk)
    require(user, Action.CHANGE, household.area_path)
    initial = {"relation": c.Relation.HEAD if household.head_id is None else c.Relation.SON}
    form = ResidentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            resident = services.resident_create(actor=user, household=household, **form.service_kwargs())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已添加成员 %(name)s") % {"name": resident.name})
            return redirect("registry:household_detail", pk=household.pk)
    status = 400 if form.errors else 200
    return render(request, "registry/resident_form.html",
                  {"form": form, "household": household, "title": _("添加成员")}, status=status)


@staff_view
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    resident = get_object_or_404(Resident.objects.visible_to(user).select_related("household"), pk=pk)
    require(user, Action.CHANGE, resident.area_path)
    form = ResidentForm(request.POST or None, resident=resident)
    if request.method == "POST" and form.is_valid():
        try:
            services.resident_update(actor=user, resident=resident, version=form.cleaned_data["version"],
                                     **form.service_kwargs())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(name)s 的信息已保存") % {"name": resident.name})
            return redirect("registry:resident_detail", pk=resident.pk)
    status = 400 if form.errors else 200
    return render(request, "registry/resident_form.html",
                  {"form": form, "household": resident.household, "resident": resident,
                   "title": _("编辑成员信息")}, status=status)


@staff_view
@require_POST
def reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    """htmx swaps the returned fragment in place of the masked value; the service logs the read."""
    resident = get_object_or_404(Resident.objects.visible_to(request.user), pk=pk)
    if field not in services.SENSITIVE:
        raise Http404
    value = services.reveal(actor=request.user, resident=resident, field=field, ip=client_ip(request))
    response = render(request, "registry/_revealed.html", {"value": value})
    response["Cache-Control"] = "no-store"
    return response


@staff_view
@require_POST
def tag_confirm(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    resident = get_object_or_404(Resident.objects.visible_to(request.user), pk=pk)
    tag = get_object_or_404(Tag, pk=tag_pk)
    raw = request.POST.get("version", "")  # the resident's version as the suggestion showed it
    try:
        services.tag_confirm(actor=request.user, resident=resident, tag=tag, version=int(raw) if raw.isdigit() else None)
    except ValidationError as exc:
        if getattr(request, "htmx", False):  # swapped in place of the suggestion (htmx swaps 2xx only)
            return HttpResponse(format_html('<li class="list-group-item text-danger small">{}</li>',
                                            " ".join(exc.messages)))
        messages.error(request, " ".join(exc.messages))
        return redirect(_safe_next(request, reverse("home")))
    if getattr(request, "htmx", False):
        return render(request, "registry/_tag_confirmed.html", {"resident": resident, "tag": tag})
    messages.success(request, _("已为 %(name)s 加上标签“%(tag)s”") % {"name": resident.name, "tag": tag.name})
    return redirect(_safe_next(request, reverse("home")))


# ---- visits ------------------------------------------------------------------------------


@staff_view
def visit_list(request: HttpRequest) -> HttpResponse:
    qs = (Visit.objects.visible_to(request.user).select_related("household", "created_by")
          .prefetch_related("visitors", "residents"))
    follow_up = request.GET.get("follow_up") == "1"
    if follow_up:
        qs = qs.filter(follow_up_needed=True)
    page = keyset_page(qs, ["-visited_at", "-id"], request.GET.get("after"), PAGE_SIZE)
    return render(request, "registry/visit_list.html", {"page": page, "follow_up": follow_up,
                                                         "after": request.GET.get("after")})


@staff_view
def overdue(request: HttpRequest) -> HttpResponse:
    qs = selectors.overdue_residents(Resident.objects.visible_to(request.user))
    interval_tags = list(Tag.objects.filter(visit_interval_days__isnull=False).order_by("sort", "name"))
    tag = next((t for t in interval_tags if str(t.pk) == request.GET.get("tag")), None)
    if tag is not None:
        qs = qs.filter(Exists(ResidentTag.objects.filter(resident=OuterRef("pk"), tag=tag)))
    qs = qs.select_related("household").prefetch_related("tags")
    # Building by building, the order a worker walks the grid in.
    page = keyset_page(qs, ["area_path", "household_id", "id"], request.GET.get("after"), PAGE_SIZE)
    now = timezone.now()
    for r in page.rows:
        r.due_tags = [t for t in r.tags.all() if t.visit_interval_days]
        r.due_days = _due_days(r.due_tags)
        last = r.household.last_visited_at
        r.days_since = (now - last).days if last else None
    return render(request, "registry/overdue.html", {
        "page": page, "interval_tags": interval_tags, "tag": tag, "after": request.GET.get("after"),
    })


def _colleagues(user: Any, household: Household) -> Any:
    """Staff who may visit this household: holders of a VISIT role on one of its ancestor areas."""
    roles = [role for role, actions in ROLE_ACTIONS.items() if Action.VISIT in actions]
    grants = Grant.objects.active().filter(role__in=roles, area__path__in=household.area.ancestor_paths())
    return (get_user_model().objects.filter(is_active=True, grants__in=grants).exclude(pk=user.pk)
            .distinct().order_by("first_name", "username"))


@staff_view
def visit_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = get_object_or_404(Household.objects.visible_to(user).select_related("area", "head"), pk=pk)
    if not can_on(user, Action.VISIT, household):  # a paired helper may visit outside their grants
        raise NotAllowed(_("您没有为该户记录走访的权限"))
    members = household.members.filter(status=c.PersonStatus.PRESENT).order_by("id")
    form = VisitForm(request.POST or None, members=members, colleagues=_colleagues(user, household))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.visit_record(
                actor=user, household=household, findings=d["findings"], visitors=[user, *d["co_visitors"]],
                residents=d["residents"], visited_at=d["visited_at"], kind=d["kind"],
                follow_up_needed=d["follow_up_needed"], follow_up_note=d["follow_up_note"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("走访已记录"))
            return redirect(reverse("registry:household_detail", args=[household.pk]) + "#visits")
    status = 400 if form.errors else 200
    return render(request, "registry/visit_form.html", {"form": form, "household": household}, status=status)


# ---- 楼栋一张图 ------------------------------------------------------------------------------


def _care_tags(cell: dict[str, Any], care: set[str]) -> list[str]:
    return [name for name, color in cell["tags"].items() if name in care or color == "danger"]


def _cell_class(cell: dict[str, Any]) -> str:
    dwelling, household = cell["dwelling"], cell["household"]
    if household is not None and cell["care"]:
        return "wz-cell-care"
    if household is None:
        return "wz-cell-empty"
    if dwelling.occupancy == c.Occupancy.RENTED:
        return "wz-cell-rented"
    return "wz-cell-owner"


@staff_view
def building(request: HttpRequest, area_pk: int) -> HttpResponse:
    user = request.user
    area = get_object_or_404(Area.objects.visible_to(user).filter(kind=AreaKind.BUILDING).select_related("parent"),
                             pk=area_pk)
    grid = selectors.building_grid(area, Household.objects.visible_to(user))
    care = CARE_TAGS | set(Tag.objects.filter(visit_interval_days__isnull=False).values_list("name", flat=True))
    stats = {"dwellings": 0, "households": 0, "care": 0, "rented": 0}
    for column in grid["units"]:
        for _floor, cells in column["floors"]:
            for cell in cells:
                # Only the care tags are spelled out in the small cell (two of them at most).
                cell["care"] = _care_tags(cell, care)[:2]
                cell["css"] = _cell_class(cell)
                stats["dwellings"] += 1
                stats["households"] += cell["household"] is not None
                stats["care"] += cell["css"] == "wz-cell-care"
                stats["rented"] += cell["css"] == "wz-cell-rented"
    return render(request, "registry/building.html", {
        "building": area, "grid": grid, "stats": stats, "honours": list(honour_history_for_building(area)),
        "may_change": can(user, Action.CHANGE, area.path),
    })


# ---- personal-data rights (个人信息保护法) ---------------------------------------------------


@staff_view
@require_POST
def resident_privacy_export(request: HttpRequest, pk: int) -> HttpResponse:
    """A copy of everything held about one person, for that person (PIPL art. 45). Needs both
    REVEAL and EXPORT where they live; the copy is logged like any other export."""
    import json

    resident = get_object_or_404(Resident.objects.visible_to(request.user).select_related("household"), pk=pk)
    require(request.user, Action.REVEAL, resident.area_path)
    require(request.user, Action.EXPORT, resident.area_path)
    data = privacy.dossier(resident)
    audit.log_access(actor=request.user, kind="export", obj=resident, field="个人信息副本",
                     detail="依申请导出本人全部个人信息", ip=client_ip(request))
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=1), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{resident.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@staff_view
def access_log(request: HttpRequest) -> HttpResponse:
    """Who read whose sensitive data (reveals and exports), for those who hand out roles (the
    secretary) over their own subtree; filter by person or by reader."""
    qs = AccessLog.objects.visible_to(request.user, Action.GRANT).select_related("actor")
    if scope_paths(request.user, Action.GRANT) == []:
        raise NotAllowed(_("只有社区书记可以查看敏感信息访问记录"))
    resident_id = request.GET.get("resident", "")
    reader = request.GET.get("actor", "").strip()
    if resident_id.isdigit():
        qs = qs.filter(model=Resident._meta.label_lower, object_id=resident_id)
    if reader:
        qs = qs.filter(actor__username=reader)
    page = keyset_page(qs, ["-at", "-id"], request.GET.get("after"), PAGE_SIZE)
    return render(request, "registry/access_log.html", {
        "page": page, "after": request.GET.get("after"), "resident_id": resident_id, "reader": reader})
