"""What the reports need to know about a figure beyond its number: its unit and the list page
holding the rows it counts. Apps register figures with `@figure(key, label, governance)` only;
this table, keyed by figure key, supplies the rest (an app that passes `unit=`/`rows=` to
`@figure` wins). A key listed here whose app has not landed is simply never shown; a figure
registered without an entry here is shown with no unit and no link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, AreaKind

from .statistics import FIGURES, Figure


@dataclass(frozen=True)
class Info:
    unit: Any = ""  # a lazy translation
    rows: str = ""  # URL name of the list page
    query: str = ""  # its filter, as a query string
    area_param: bool = False  # the list page filters by ?area=<pk> of a grid or building


REGISTRY_AREA_KINDS = (AreaKind.GRID, AreaKind.BUILDING)

INFO: dict[str, Info] = {
    # 基础
    "households": Info(_("户"), "registry:household_list", area_param=True),
    "residents": Info(_("人"), "registry:resident_list", area_param=True),
    # 政治引领
    "party_branches": Info(_("个"), "party:index"),
    "party_members": Info(_("人"), "party:index"),
    "paired_departments": Info(_("家"), "party:index"),
    "households_without_helper": Info(_("户"), "party:coverage"),
    "unit_service_boards": Info(_("张"), "core:area_tree"),
    "buildings_missing_a_role": Info(_("栋"), "party:roster"),
    "grids_without_grid_worker": Info(_("个"), "party:roster"),
    "party_service_teams": Info(_("支"), "activities:team_list"),
    "party_team_activities_per_week": Info(_("场"), "activities:week"),
    "care_service_teams": Info(_("支"), "activities:team_list"),
    "care_team_activities": Info(_("场"), "activities:activity_list", "kind=team"),
    # 自治
    "care_people_without_watch": Info(_("人"), "activities:team_list"),
    "deliberations": Info(_("次"), "deliberation:list"),
    "deliberation_households_benefited": Info(_("户"), "deliberation:list"),
    "deliberation_topics_raised": Info(_("个"), "deliberation:list"),
    "deliberation_topics_declined": Info(_("个"), "deliberation:list", "state=declined"),
    "deliberation_major_matters": Info(_("项"), "deliberation:list", "major=1"),
    "deliberation_meetings": Info(_("次"), "deliberation:list"),
    "deliberation_objections_answered": Info(_("条"), "deliberation:list"),
    "afterschool_child_visits": Info(_("人次"), "activities:activity_list", "kind=class"),
    "camp_children": Info(_("人"), "activities:activity_list", "kind=camp"),
    "camp_volunteers": Info(_("人"), "activities:activity_list", "kind=camp"),
    "canteen_diners": Info(_("人"), "activities:activity_list", "kind=meal"),
    # 法治
    "law_events": Info(_("场次"), "activities:activity_list", "kind=law"),
    "law_event_visits": Info(_("人次"), "activities:activity_list", "kind=law"),
    "police_offices": Info(_("个")),
    "police_officers": Info(_("人")),
    "patrol_team_members": Info(_("人"), "activities:team_list"),
    "patrols": Info(_("次"), "cases:patrols"),
    "disputes_received": Info(_("起"), "cases:queue", "kind=dispute&state="),
    "disputes_mediated": Info(_("起"), "cases:queue", "kind=dispute&state=resolved"),
    "cases_received": Info(_("件"), "cases:queue"),
    "cases_resolved": Info(_("件"), "cases:queue", "state=resolved"),
    "cases_on_time_rate": Info(_("%"), "cases:board"),
    "cases_satisfaction_rate": Info(_("%"), "cases:queue", "state=reviewed"),
    # 德治
    "gratitude_events": Info(_("场次"), "activities:activity_list", "kind=gratitude"),
    "gratitude_visits": Info(_("人次"), "activities:activity_list", "kind=gratitude"),
    "art_teams": Info(_("支"), "activities:team_list"),
    "art_team_members": Info(_("人"), "activities:team_list"),
    "training_events": Info(_("场次"), "activities:activity_list", "kind=training"),
    "training_visits": Info(_("人次"), "activities:activity_list", "kind=training"),
    "honorees": Info(_("户(人)"), "honours:index"),
    "civilized_buildings": Info(_("栋"), "honours:index"),
    "honour_rounds": Info(_("轮"), "honours:index"),
    "honour_nominations": Info(_("个"), "honours:index"),
    "honour_objections": Info(_("条"), "honours:index"),
    "employment_rate": Info(_("%"), "employment:rates"),
    "employment_placements": Info(_("人次"), "employment:people"),
    "migrant_workers": Info(_("人"), "employment:people"),
    # 智治
    "emergency_callers": Info(_("人"), "alarms:devices"),
    "callers_offline": Info(_("台"), "alarms:devices"),
    "alarms_received": Info(_("次")),
    "alarms_real": Info(_("次")),
    "alarms_false_press": Info(_("次")),
    "alarms_cancelled": Info(_("次")),
    "alarm_ack_median_seconds": Info(_("秒")),
    "alarm_onsite_median_seconds": Info(_("秒")),
    "public_areas_without_camera": Info(_("处"), "cameras:public_areas", "uncovered=1"),
    "cameras": Info(_("个"), "cameras:list"),
    "household_cameras_shared": Info(_("个"), "cameras:list"),
}

# Section headings of the work report, in the article's words.
HEADINGS: dict[str, Any] = {
    "基础": _("基本情况"),
    "政治引领": _("政治引领聚合力"),
    "自治": _("“自治”强基激活力"),
    "法治": _("“法治”保障强定力"),
    "德治": _("“德治”凝心聚力"),
    "智治": _("“智治”支撑造动力"),
}

_UNIT_IN_LABEL = re.compile(r"^(?P<label>.*?)[((](?P<unit>[^()()]+)[))]$")


def split_label(label: str) -> tuple[str, str]:
    """"受理矛盾纠纷(起)" → ("受理矛盾纠纷", "起"): some apps put the unit in the label."""
    m = _UNIT_IN_LABEL.match(label)
    return (m["label"], m["unit"]) if m else (label, "")


def describe(fig: Figure) -> tuple[str, str]:
    """(label without unit, unit) of a registered figure."""
    label, unit_in_label = split_label(str(fig.label))
    info = INFO.get(fig.key, Info())
    return label, str(fig.unit or unit_in_label or info.unit)


def rows_url(key: str, area: Area | None) -> str:
    """The list page behind figure `key` for `area`, or "" when there is none (yet)."""
    fig = FIGURES.get(key)
    info = INFO.get(key, Info())
    name = (fig.rows if fig and fig.rows else "") or info.rows
    query = (fig.rows_query if fig and fig.rows else "") or info.query
    if not name:
        return ""
    try:
        url = reverse(name)
    except NoReverseMatch:
        return ""
    if info.area_param and area is not None and area.kind in REGISTRY_AREA_KINDS:
        query = f"{query}&area={area.pk}" if query else f"area={area.pk}"
    return f"{url}?{query}" if query else url


def format_value(value: float | int | None) -> str:
    """As the article writes numbers: 6820, 28, 76.8 (no thousands separator, no ".0")."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.1f}"
    return str(value)
