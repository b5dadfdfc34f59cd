"""The 五治融合工作总结 of an area and a period, as a plain structure that the Word and PDF writers
render: a title, sections per governance with the figures written into sentences, tables and
charts. A draft for the secretary to edit: every number is filled in from the rows, and a
sentence appears only when its figures exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from . import sentences, series
from .catalog import HEADINGS, describe, format_value
from .statistics import FIGURES, GOVERNANCES, Scope, compute, load_figures, sharing

CHINESE_NUMERALS = "一二三四五六七八九十"


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    governance: str
    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[series.Chart] = field(default_factory=list)


def blocks(section: Section) -> list[Table | series.Chart]:
    """The order a section is laid out in after its text: the figures table first (the numbers
    just written about), then the charts, then the other tables."""
    return [*section.tables[:1], *section.charts, *section.tables[1:]]


@dataclass
class Report:
    title: str
    area_name: str
    period: str
    subtitle: str
    sections: list[Section]
    values: dict[str, Any]
    generated_at: Any

    @property
    def filename_stem(self) -> str:
        return f"{self.area_name}五治融合工作总结({self.subtitle})"


def figure_table(governance: str, values: dict[str, Any]) -> Table | None:
    rows = []
    for key, fig in FIGURES.items():
        if fig.governance != governance or key not in values:
            continue
        label, unit = describe(fig)
        rows.append([label, format_value(values[key]), unit])
    return Table(_("主要指标"), [_("指标"), _("数值"), _("单位")], rows) if rows else None


def period_words(scope: Scope) -> str:
    s, e = scope.start, scope.end
    return f"{s.year}年{s.month}月{s.day}日至{e.year}年{e.month}月{e.day}日"


@sharing
def build(scope: Scope, values: dict[str, Any] | None = None) -> Report:
    """Everything the report says, computed once from rows through the scope chokepoint."""
    load_figures()
    values = compute(scope) if values is None else values
    area_name = scope.area.name if scope.area else _("全部区域")
    period = sentences.period_phrase(scope.start, scope.end)
    present = [g for g in GOVERNANCES if any(f.governance == g for k, f in FIGURES.items() if k in values)]
    sections: list[Section] = []
    by_gov_activities = series.activities_by_month(scope)
    for number, gov in enumerate(present):
        heading = f"{CHINESE_NUMERALS[number]}、{HEADINGS.get(gov, gov)}"
        section = Section(gov, heading)
        said = sentences.write(gov, values, area=area_name, period=period)
        if said:
            section.paragraphs.append("".join(said))
        table = figure_table(gov, values)
        if gov == "基础":
            section.charts.append(series.pyramid(scope))
            tags = [t for t in series.tag_counts(scope) if t["count"]]
            if tags:
                section.tables.append(Table(_("重点人群"), [_("类别"), _("人数")],
                                            [[(_("其中:") if t["parent_id"] else "") + t["tag"].name, str(t["count"])]
                                             for t in tags]))
        if gov == "政治引领":
            cov = series.helper_coverage(scope)
            if cov["households"]:
                section.paragraphs.append(_("在住{n}户中,{c}户已落实联系人,覆盖率{r}%。").format(
                    n=cov["households"], c=cov["covered"], r=format_value(round(100 * cov["covered"]
                                                                             / cov["households"], 1))))
        if gov == "法治":
            chart = series.cases_by_month(scope)
            if not chart.empty:
                section.charts.append(chart)
            cats = series.case_categories(scope)
            if cats:
                section.tables.append(Table(_("受理事项分类"), [_("分类"), _("受理"), _("办结"), _("按期办结率%"),
                                                          _("满意率%")],
                                            [[r["category__name"], str(r["received"]), str(r["resolved"]),
                                              format_value(r["on_time_rate"]), format_value(r["satisfaction_rate"])]
                                             for r in cats]))
        if gov == "智治":
            alarms = series.alarms_summary(scope)
            # The alarms app's own figures say it when registered; otherwise it is said from here.
            if alarms and alarms["presses"] and "alarms_received" not in values:
                text = _("{period},呼叫器一键呼叫{n}次").format(period=period, n=alarms["presses"])
                if alarms["ack_median_seconds"] is not None:
                    text += _(",值班员确认用时中位数{s}秒").format(s=alarms["ack_median_seconds"])
                if alarms["arrive_median_minutes"] is not None:
                    text += _(",到场用时中位数{m}分钟").format(m=format_value(alarms["arrive_median_minutes"]))
                section.paragraphs.append(text + "。")
            if alarms and alarms["chart"] is not None:
                section.charts.append(alarms["chart"])
        activity_chart = by_gov_activities.get(gov)
        if activity_chart is not None and not activity_chart.empty:
            section.charts.append(activity_chart)
        if table is not None:
            section.tables.insert(0, table)
        if section.paragraphs or section.tables or section.charts:
            sections.append(section)
    kinds = series.activities_by_kind(scope)
    if kinds:
        sections.append(Section("附表", _("附:各类活动场次与人次"), tables=[Table(
            "", [_("活动类型"), _("场次"), _("人次")], [[k["label"], str(k["count"]), str(k["visits"])] for k in kinds])]))
    subtitle = period_words(scope)
    return Report(title=_("五治融合工作总结"), area_name=area_name, period=period, subtitle=subtitle,
                  sections=sections, values=values, generated_at=timezone.localtime())
