"""The upward report tables (报表) as one .xlsx: a sheet per subject, each with fixed columns and
one row per child area plus a 合计 row, so a town or a county can stack its communities' files
row under row. Column order never depends on the data (tags are the installation's tag table,
figures the registered keys in a fixed order); a figure not yet registered is an empty cell.

Counts come from grouped queries (one per sheet and path length); the 指标 sheet runs every
registered figure for each child area, which is a loop over the children, acceptable for a
download (a community has under ten grids) and the only way to include every app's figures.
Text cells are made formula-safe like every other export."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from wuzhi.core.models import Area

from . import series
from .catalog import describe
from .statistics import FIGURES, Scope, compute, load_figures, sharing

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="B22222")
TOTAL_FONT = Font(bold=True)
FIGURES_JSON = Path(__file__).resolve().parent.parent / "demo" / "figures.json"

# Sheets whose columns are fixed figure keys (an app's figure, filled when it is registered).
# (key, heading): the heading is fixed here so the column reads the same before the app lands.
FIGURE_SHEETS: list[tuple[str, list[tuple[str, str]]]] = [
    ("表彰", [("honorees", "评选表彰的模范户和个人"), ("civilized_buildings", "文明楼栋"),
              ("honour_rounds", "开展模范评选(轮)"), ("honour_nominations", "模范评选提名")]),
    ("就业", [("employment_rate", "劳动年龄搬迁人口就业率%"), ("employment_placements", "就业安置(人次)"),
              ("migrant_workers", "外出务工(人)")]),
]


def safe(value: Any) -> Any:
    """Text that Excel would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]], widths: list[int] | None = None,
           freeze: str = "C2") -> None:
    ws = wb.create_sheet(title)
    ws.append([safe(h) for h in headers])
    for cell in ws[1]:
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for values in rows:
        ws.append([safe(v) for v in values])
    for cell in ws[ws.max_row]:
        cell.font = TOTAL_FONT
    ws.freeze_panes = freeze
    for i, width in enumerate(widths or [16, 30] + [12] * (len(headers) - 2), 1):
        ws.column_dimensions[get_column_letter(i)].width = width


def _rows(children: list[Area], area: Area, grouped: dict[int, dict[str, Any]], keys: list[str],
          derive: Any = None) -> list[list[Any]]:
    """One row per child plus 合计 (the area itself, so rows recorded at its own level count)."""
    out = []
    for a, label in [*((c, c.name) for c in children), (area, _("合计"))]:
        v: dict[str, Any] = {k: (grouped.get(a.pk, {}).get(k) or 0) for k in keys}
        if derive:
            v = derive(v)
        cells = list(v["_cells"]) if derive else [v[k] for k in keys if not k.startswith("_")]
        out.append([a.code, label, *cells])
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@sharing
def build(scope: Scope, children: list[Area]) -> bytes:
    from wuzhi.activities.models import Attendance, Governance
    from wuzhi.cases.models import DONE_STATES, Case, CaseKind, Dispute, Outcome
    from wuzhi.party.selectors import active_pairings
    from wuzhi.registry import choices as c
    from wuzhi.registry.models import Household, Resident, ResidentTag, Tag
    from wuzhi.registry.selectors import tag_descendants

    area = scope.area
    assert area is not None
    load_figures()
    targets = [*children, area]
    grouped = series._grouped  # noqa: SLF001 — the one grouping helper, shared with the dashboard
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]

    # 说明
    info = wb.create_sheet(_("说明"))
    for line in [
        [_("报表"), _("五治融合统计报表")], [_("区域"), area.full_name], [_("区域代码"), area.code],
        [_("统计时段"), f"{scope.start} 至 {scope.end}"],
        [_("生成时间"), timezone.localtime().strftime("%Y-%m-%d %H:%M")],
        [_("说明"), _("各表列固定,每个下级区域一行,末行为合计(含直接登记在本级的数据),可与其他区域的同名表逐行合并。")],
    ]:
        info.append([safe(v) for v in line])
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 14, 80

    # 人口
    day = scope.reference_day
    y = series._years_before  # noqa: SLF001
    residents = scope.rows(Resident).filter(status=c.PersonStatus.PRESENT)
    pop = grouped(residents, targets, {
        "residents": Count("id"), "male": Count("id", filter=Q(sex=c.Sex.MALE)),
        "female": Count("id", filter=Q(sex=c.Sex.FEMALE)),
        "minors": Count("id", filter=Q(birth_date__gt=y(day, 18))),
        "adults": Count("id", filter=Q(birth_date__lte=y(day, 18), birth_date__gt=y(day, 60))),
        "elderly": Count("id", filter=Q(birth_date__lte=y(day, 60))),
    })
    hh = grouped(scope.rows(Household).filter(status=c.HouseholdStatus.PRESENT), targets, {
        "households": Count("id"),
        "covered": Count("id", filter=Q(Exists(active_pairings().filter(household=OuterRef("pk"))))),
    })
    for pk, v in hh.items():
        pop.setdefault(pk, {}).update(v)
    _sheet(wb, _("人口"), [_("区域代码"), _("区域"), _("户数"), _("人口"), _("男"), _("女"), _("18岁以下"),
                         _("18–59岁"), _("60岁以上")],
           _rows(children, area, pop, ["households", "residents", "male", "female", "minors", "adults", "elderly"]))

    # 重点人群 (columns: every person tag of the installation, in the tag table's order)
    tags = list(Tag.objects.filter(applies_to=Tag.AppliesTo.PERSON).order_by("sort", "name"))
    tree = tag_descendants()
    tagged = grouped(ResidentTag.objects.filter(resident__in=residents).annotate(area_path=F("resident__area_path")),
                     targets, {f"t{t.pk}": Count("resident", distinct=True,
                                                 filter=Q(tag_id__in=sorted(tree.get(t.pk, {t.pk})))) for t in tags})
    _sheet(wb, _("重点人群"), [_("区域代码"), _("区域"), *(t.name for t in tags)],
           _rows(children, area, tagged, [f"t{t.pk}" for t in tags]))

    # 联系户覆盖
    def coverage(v: dict[str, Any]) -> dict[str, Any]:
        v["_cells"] = [v["households"], v["covered"], v["households"] - v["covered"], _rate(v["covered"],
                                                                                             v["households"])]
        return v

    _sheet(wb, _("联系户覆盖"), [_("区域代码"), _("区域"), _("在住户数"), _("已落实联系人"), _("未落实联系人"), _("覆盖率%")],
           _rows(children, area, pop, ["households", "covered"], coverage))

    # 诉求纠纷
    cases = series._cases(scope)  # noqa: SLF001
    done = Q(state__in=DONE_STATES)
    cs = grouped(cases, targets, {
        "received": Count("id"), "resolved": Count("id", filter=done),
        "on_time": Count("id", filter=done & Q(resolved_at__lte=F("due_at"))),
        "rated": Count("id", filter=~Q(satisfaction="")),
        "satisfied": Count("id", filter=Q(satisfaction__in=("satisfied", "basic"))),
        "disputes": Count("id", filter=Q(kind=CaseKind.DISPUTE)),
    })
    mediated = grouped(
        scope.in_period(Dispute.objects.filter(case__in=scope.rows(Case), outcome=Outcome.SUCCESS),
                        "concluded_at").annotate(area_path=F("case__area_path")),
        targets, {"mediated": Count("id")})
    for pk, v in mediated.items():
        cs.setdefault(pk, {}).update(v)

    def case_cells(v: dict[str, Any]) -> dict[str, Any]:
        v["_cells"] = [v["received"], v["resolved"], v["on_time"], _rate(v["on_time"], v["resolved"]),
                       _rate(v["satisfied"], v["rated"]), v["disputes"], v["mediated"]]
        return v

    _sheet(wb, _("诉求纠纷"), [_("区域代码"), _("区域"), _("受理"), _("办结"), _("按期办结"), _("按期办结率%"),
                           _("满意率%"), _("受理矛盾纠纷"), _("调解成功")],
           _rows(children, area, cs, ["received", "resolved", "on_time", "rated", "satisfied", "disputes",
                                      "mediated"], case_cells))

    # 活动人次: per governance 场次 and 人次, then the totals
    acts = series._activities(scope)  # noqa: SLF001
    govs = list(Governance.choices)
    a = grouped(acts, targets, {
        **{f"n_{g}": Count("id", filter=Q(governance=g)) for g, _l in govs},
        **{f"h_{g}": Sum("headcount", filter=Q(governance=g)) for g, _l in govs},
    })
    named = grouped(Attendance.objects.filter(activity__in=acts.values("pk"), role=Attendance.Role.PARTICIPANT)
                    .annotate(area_path=F("activity__area_path")), targets,
                    {f"p_{g}": Count("id", filter=Q(activity__governance=g)) for g, _l in govs})
    for pk, v in named.items():
        a.setdefault(pk, {}).update(v)

    def activity_cells(v: dict[str, Any]) -> dict[str, Any]:
        cells = []
        for g, _l in govs:
            cells += [v[f"n_{g}"], v[f"h_{g}"] + v[f"p_{g}"]]
        cells += [sum(cells[0::2]), sum(cells[1::2])]
        v["_cells"] = cells
        return v

    headers = [_("区域代码"), _("区域")]
    for _g, gov_label in govs:
        headers += [f"{gov_label}{_('场次')}", f"{gov_label}{_('人次')}"]
    headers += [_("合计场次"), _("合计人次")]
    _sheet(wb, _("活动人次"), headers, _rows(children, area, a, [f"{p}_{g}" for g, _l in govs for p in ("n", "h", "p")],
                                            activity_cells))

    # Sheets of fixed figure keys, and every figure: computed per child through the figures.
    per_area = {t.pk: compute(Scope(scope.user, t, scope.start, scope.end)) for t in targets}
    for title, columns in FIGURE_SHEETS:
        rows = [[t.code, t.name if t is not area else _("合计"), *(per_area[t.pk].get(k, "") for k, _h in columns)]
                for t in targets]
        _sheet(wb, title, [_("区域代码"), _("区域"), *(h for _k, h in columns)], rows)

    # 报警: the callers' health now and the period's calls (empty rows while there are none).
    alarm_rows = _alarm_rows(scope, children, targets)
    _sheet(wb, _("报警"), [_("区域代码"), _("区域"), _("在用呼叫器"), _("离线"), _("低电量"), _("一键呼叫"), _("已确认"),
                         _("确认用时中位数(秒)"), _("到场用时中位数(分钟)")],
           [[t.code, t.name if t is not area else _("合计"), *alarm_rows.get(t.pk, [0, 0, 0, 0, 0, None, None])]
            for t in targets])

    keys = _all_keys()
    heads = []
    for k in keys:
        label, unit = describe(FIGURES[k])
        heads.append(f"{FIGURES[k].governance}·{label}" + (f"({unit})" if unit else ""))
    rows = [["", _("指标键"), *keys]]  # the machine-readable key under each heading
    rows += [[t.code, t.name if t is not area else _("合计"), *(per_area[t.pk].get(k, "") for k in keys)]
             for t in targets]
    _sheet(wb, _("全部指标"), [_("区域代码"), _("区域"), *heads], rows, freeze="C3")

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _alarm_rows(scope: Scope, children: list[Area], targets: list[Area]) -> dict[int, list[Any]]:
    """Per child and for the area: devices (active, offline, low battery), one-key calls and
    acknowledged calls of the period, median times. Grouped counts; medians over the period's
    few calls in Python."""
    from django.apps import apps

    if not apps.is_installed("wuzhi.alarms"):
        return {}
    from wuzhi.alarms.models import Alarm, AlarmKind, Device, DeviceStatus

    now = timezone.now()
    dev = series._grouped(scope.rows(Device).filter(active=True), targets, {  # noqa: SLF001
        "total": Count("id"), "offline": Count("id", filter=Q(status=DeviceStatus.OFFLINE) | Q(offline_at__lt=now)),
        "low": Count("id", filter=Q(low_battery=True))})
    presses = scope.in_period(scope.rows(Alarm), "opened_at").filter(kind=AlarmKind.PRESS)
    times: dict[int, tuple[list[float], list[float], list[int]]] = {t.pk: ([], [], [0, 0]) for t in targets}
    for path, opened, acked, on_site in presses.values_list("area_path", "opened_at", "acknowledged_at", "on_site_at"):
        for t in targets:
            if path.startswith(t.path):
                ack, arrive, counts = times[t.pk]
                counts[0] += 1
                if acked:
                    counts[1] += 1
                    ack.append((acked - opened).total_seconds())
                if on_site:
                    arrive.append((on_site - opened).total_seconds() / 60)
    out = {}
    for t in targets:
        d = dev.get(t.pk, {})
        ack, arrive, counts = times[t.pk]
        m_ack, m_arrive = series._median(ack), series._median(arrive)  # noqa: SLF001
        out[t.pk] = [d.get("total", 0), d.get("offline", 0), d.get("low", 0), counts[0], counts[1],
                     round(m_ack) if m_ack is not None else None,
                     round(m_arrive, 1) if m_arrive is not None else None]
    return out


def _all_keys() -> list[str]:
    """The article's keys first (figures.json order), then the others as registered."""
    try:
        article = list(json.loads(FIGURES_JSON.read_text(encoding="utf-8"))["figures"])
    except (OSError, ValueError, KeyError):
        article = []
    return [k for k in article if k in FIGURES] + [k for k in FIGURES if k not in article]
