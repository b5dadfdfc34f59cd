"""The 五治 dashboard of an area and a period, its drill-down to child areas, and the downloads:
the work report (Word, PDF) and the upward report tables (Excel).

Everything is read through `Scope(user, area, …)`, i.e. the scope chokepoint: an area outside
the user's grants is a 404, and inside it each figure counts only rows the user may see. The
downloads need the EXPORT action on the area and are written to the access log."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _

from wuzhi.core import audit
from wuzhi.core.errors import NotAllowed
from wuzhi.core.models import AccessLog, Area
from wuzhi.core.roles import Action
from wuzhi.core.scoping import can, scope_paths
from wuzhi.core.views import client_ip, staff_view

from . import dataversion, document, rollup, series, writers, xlsx
from .catalog import REGISTRY_AREA_KINDS, describe, format_value, rows_url
from .forms import PeriodForm
from .statistics import FIGURES, GOVERNANCES, Scope, compute, load_figures, sharing

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Figures shown at the top of the page, in this order, when they exist.
HEADLINE = ["households", "residents", "party_members", "cases_received", "disputes_received", "deliberations",
            "honorees", "emergency_callers"]


# The whole platform (the city above the counties) is no row of the tree: `?area=city` shows
# it, from the rollups, to those who see everything.
CITY_CODE = "city"


def _city() -> Area:
    return Area(kind="", name=_("全市"), full_name=_("全市"), code=CITY_CODE, path=rollup.CITY, depth=0)


def _default_area(user: Any) -> Area | None:
    paths = scope_paths(user, Action.VIEW)
    if paths is None:
        return Area.objects.filter(parent=None).order_by("sort", "path").first()
    return Area.objects.filter(path__in=paths).order_by("depth", "path").first()


def _scope(request: HttpRequest) -> tuple[Scope, PeriodForm]:
    """Area (?area=CODE, default the user's own) and period (?year= or ?from=&to=) of a request."""
    user = request.user
    code = (request.GET.get("area") or "").strip()
    if code == CITY_CODE and scope_paths(user, Action.VIEW) is None:
        area: Area | None = _city()
    elif code:
        area = Area.objects.visible_to(user).filter(code=code).first()
        if area is None:
            raise Http404(_("没有这个区域,或您无权查看"))
    else:
        area = _default_area(user)
        if area is None:
            raise Http404(_("您还没有任何区域的授权"))
    form = PeriodForm(request.GET if any(k in request.GET for k in ("year", "from", "to")) else None)
    start, end = form.period()
    return Scope(user, area, start, end), form


def _query(scope: Scope, area: Area | None = None) -> str:
    params = {"area": (area or scope.area).code}  # type: ignore[union-attr]
    if (scope.start.month, scope.start.day, scope.end.month, scope.end.day) == (1, 1, 12, 31) \
            and scope.start.year == scope.end.year:
        params["year"] = str(scope.start.year)
    else:
        params["from"], params["to"] = scope.start.isoformat(), scope.end.isoformat()
    return urlencode(params)


def _card(key: str, values: dict[str, Any], area: Area) -> dict[str, Any]:
    label, unit = describe(FIGURES[key])
    return {"key": key, "label": label, "unit": unit, "value": format_value(values[key]), "url": rows_url(key, area)}


@sharing
def _dashboard_data(scope: Scope, children: list[Area], rolled: rollup.Rolled | None = None) -> dict[str, Any]:
    """Everything the dashboard shows that is counted from rows (cached by data version).

    With `rolled` (a town, county or city: wuzhi.reports.rollup) the figures and charts take
    their groups from the rollups instead of counting them, and what does not roll up (tags,
    categories, callers, the figures outside rollup.ROLLED_FIGURES) is left out."""
    area = scope.area
    assert area is not None
    load_figures()
    if rolled is not None:
        # Handed over as the shared groups of this counting (Scope.shared, set up by @sharing):
        # the figure and chart functions below then read them instead of querying.
        memo: dict[str, Any] = scope.__dict__["_shared"]
        memo.update(rolled.shared)
        child_rows = [series.ChildRow(c, series._finish(dict(rolled.children[c.path]))) for c in children]
        values = compute(scope, [k for k in rollup.ROLLED_FIGURES if k in FIGURES])
    else:
        # The drill-down first: its per-child counts of households and residents also give the
        # area's totals, which the figures and the pyramid then take from the scope.
        child_rows = series.child_table(scope, children)
        values = compute(scope)
    activity_charts = series.activities_by_month(scope)
    sections = []
    for gov in GOVERNANCES:
        keys = [k for k, f in FIGURES.items() if f.governance == gov and k in values]
        charts: list[series.Chart] = []
        extra: dict[str, Any] = {}
        if gov == "基础":
            charts.append(series.pyramid(scope))
        if gov == "基础" and rolled is None:
            extra["tags"] = [dict(t, url=f"{reverse('registry:resident_list')}?tag={t['tag'].pk}"
                                  + (f"&area={area.pk}" if area.kind in REGISTRY_AREA_KINDS else ""))
                             for t in series.tag_counts(scope) if t["count"]]
        if gov == "政治引领":
            cov: dict[str, Any] = dict(series.helper_coverage(scope))
            cov["rate"] = format_value(round(100 * cov["covered"] / cov["households"], 1)) if cov["households"] else "—"
            extra["coverage"] = cov
        if gov == "法治":
            cases = series.cases_by_month(scope)
            if not cases.empty:
                charts += [cases, series.case_states(scope)]
                if rolled is None:
                    extra["categories"] = series.case_categories(scope)
        if gov == "智治" and rolled is None:
            extra["alarms"] = alarms = series.alarms_summary(scope)
            # The alarms app's figures already say calls and times: then only the devices are added.
            extra["alarm_figures"] = "alarms_received" in values
            if alarms and alarms["chart"] is not None:
                charts.append(alarms["chart"])
        activity = activity_charts.get(gov)
        if activity is not None and not activity.empty:
            charts.append(activity)
        if keys or charts or extra.get("tags") or extra.get("alarms"):
            sections.append({"governance": gov, "slug": f"gov-{GOVERNANCES.index(gov)}",
                             "cards": [_card(k, values, area) for k in keys], "charts": charts, **extra})
    kinds = series.activities_by_kind(scope)
    activity_list = reverse("activities:activity_list")
    for k in kinds:
        k["url"] = f"{activity_list}?kind={k['kind']}"
    # What was recorded at this area itself and in no child: its totals minus the children's.
    totals = {k: values.get(k, 0) for k in ("households", "residents", "households_without_helper",
                                            "cases_received", "disputes_received")}
    totals["activities"] = sum(sum(c.series[0]["data"]) for c in activity_charts.values())
    totals["activity_visits"] = sum(sum(c.series[1]["data"]) for c in activity_charts.values() if len(c.series) > 1)
    return {
        "values": values, "sections": sections, "kinds": kinds, "child_rows": child_rows,
        "own_row": series.own_row(totals, child_rows),
        "headline": [_card(k, values, area) for k in HEADLINE if k in values],
        "charts": [c.as_dict() for s in sections for c in s["charts"]],
        "rolled_at": rolled.rebuilt_at if rolled is not None else None,
    }


@staff_view
def dashboard(request: HttpRequest) -> HttpResponse:
    scope, form = _scope(request)
    area = scope.area
    assert area is not None
    user = request.user
    is_city = area.pk is None
    children = list(Area.objects.visible_to(user).filter(parent=None if is_city else area).order_by("sort", "path"))
    rolled = rollup.read(scope, children)
    data = (_dashboard_data(scope, children, rolled) if rolled is not None
            else dataversion.cached("dashboard", scope, lambda: _dashboard_data(scope, children)))
    crumbs = [] if is_city else list(Area.objects.visible_to(user).filter(path__in=area.ancestor_paths())
                                     .exclude(pk=area.pk).order_by("depth"))
    return render(request, "reports/dashboard.html", {
        **data, "scope": scope, "area": area, "form": form, "crumbs": crumbs, "query": _query(scope),
        "children": [{"row": r, "query": _query(scope, r.area),
                      # Per child, the list pages that filter by area: its households and residents.
                      "links": {k: rows_url(k, r.area) for k in ("households", "residents")}}
                     for r in data["child_rows"]],
        "columns": series.CHILD_COLUMNS,
        "may_export": not is_city and can(user, Action.EXPORT, area.path),
        "years": list(range(scope.reference_day.year, scope.reference_day.year - 6, -1)),
        "is_year": "year=" in _query(scope),
    })


def _download(request: HttpRequest, data: bytes, content_type: str, filename: str, what: str, scope: Scope
              ) -> HttpResponse:
    area = scope.area
    assert area is not None
    audit.log_access(actor=request.user, kind=AccessLog.Kind.EXPORT, area_path=area.path, ip=client_ip(request),
                     detail=f"导出{what}:{area.full_name},{scope.start}至{scope.end}")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    return response


def _export_scope(request: HttpRequest) -> Scope:
    scope, _form = _scope(request)
    assert scope.area is not None
    if scope.area.pk is None:  # the city page has no downloads (they are counted live)
        raise Http404(_("全市汇总没有下载"))
    if not can(request.user, Action.EXPORT, scope.area.path):
        raise NotAllowed(_("您没有导出该区域报表的权限"))  # staff_view answers with the 403 page
    return scope


@staff_view
def report_docx(request: HttpRequest) -> HttpResponse:
    scope = _export_scope(request)
    report = document.build(scope)
    return _download(request, writers.to_docx(report), DOCX, f"{report.filename_stem}.docx",
                     _("五治融合工作总结(Word)"), scope)


@staff_view
def report_pdf(request: HttpRequest) -> HttpResponse:
    scope = _export_scope(request)
    report = document.build(scope)
    return _download(request, writers.to_pdf(report), "application/pdf", f"{report.filename_stem}.pdf",
                     _("五治融合工作总结(PDF)"), scope)


@staff_view
def tables_xlsx(request: HttpRequest) -> HttpResponse:
    scope = _export_scope(request)
    area = scope.area
    assert area is not None
    children = list(Area.objects.visible_to(request.user).filter(parent=area).order_by("sort", "path"))
    data = xlsx.build(scope, children)
    name = f"{area.name}统计报表({document.period_words(scope)}).xlsx"
    return _download(request, data, XLSX, name, _("统计报表(Excel)"), scope)
