"""Sentence templates of the work report, keyed by figure keys, in the article's own phrasing
("今年以来,受理矛盾纠纷13起,调解成功12起").

A template names figures as {key}; it is written only when every figure it names exists (the
app that registers it has landed) and its condition, if any, holds. Besides figure keys a
template may use {area} (the area's name) and {period} (今年以来 / 2025年 / 2026年1月至3月).
Numbers are written as the article writes them: 6820, 28, 76.8."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .catalog import format_value

Values = dict[str, Any]


@dataclass(frozen=True)
class Sentence:
    governance: str
    text: Any  # a lazy translation with {placeholders}
    when: Callable[[Values], bool] | None = None

    @property
    def keys(self) -> list[str]:
        return [name for _lit, name, _spec, _conv in string.Formatter().parse(str(self.text))
                if name and name not in ("area", "period")]

    @property
    def needs(self) -> list[str]:
        return self.keys + ([self.when.key] if isinstance(self.when, When) else [])


@dataclass(frozen=True)
class When:
    """A condition on one figure; the sentence needs that figure too."""

    key: str
    zero: bool

    def __call__(self, values: Values) -> bool:
        return (values[self.key] == 0) if self.zero else bool(values[self.key])


def _zero(key: str) -> When:
    return When(key, True)


def _positive(key: str) -> When:
    return When(key, False)


SENTENCES: list[Sentence] = [
    # 基础
    Sentence("基础", _("{area}有人口{households}户{residents}人")),
    Sentence("基础", _("下辖{party_branches}个党支部,党员{party_members}人"), _positive("party_branches")),
    # 政治引领
    Sentence("政治引领", _("建立部门联系党支部、党支部联系党员、党员联系群众的“三联系”工作机制,由{paired_departments}家县直机关党支部"
                          "结对联系{party_branches}个党支部,{party_branches}个党支部联系{party_members}名党员,"
                          "{party_members}名党员联系{residents}名群众"), _positive("paired_departments")),
    Sentence("政治引领", _("实现每一户群众身后都有一户帮扶干部或党员全程提供服务"), _zero("households_without_helper")),
    Sentence("政治引领", _("尚有{households_without_helper}户未落实联系人,正在逐户落实"),
             _positive("households_without_helper")),
    Sentence("政治引领", _("按照“户数相当、位置相邻”的原则,设置单元楼管理服务牌{unit_service_boards}张")),
    Sentence("政治引领", _("每个网格配备1名专职网格员"), _zero("grids_without_grid_worker")),
    Sentence("政治引领", _("尚有{grids_without_grid_worker}个网格未配备专职网格员"), _positive("grids_without_grid_worker")),
    Sentence("政治引领", _("每栋楼明确楼长、党员、志愿者、警务长、家庭医生各1名"), _zero("buildings_missing_a_role")),
    Sentence("政治引领", _("尚有{buildings_missing_a_role}栋楼“五员”不全"), _positive("buildings_missing_a_role")),
    Sentence("政治引领", _("组建{party_service_teams}支党员服务队,每周开展“共建、共治、共享”志愿服务活动"
                          "{party_team_activities_per_week}场"), _positive("party_service_teams")),
    Sentence("政治引领", _("组建{care_service_teams}支爱心服务队,开展关爱“一老一小”爱心奉献志愿服务活动{care_team_activities}场"),
             _positive("care_service_teams")),
    Sentence("政治引领", _("统筹做好搬迁群众就业工作,劳动年龄搬迁人口就业率{employment_rate}%"), _positive("employment_rate")),
    Sentence("政治引领", _("{period}就业安置{employment_placements}人次,外出务工{migrant_workers}人"),
             _positive("employment_placements")),
    # 自治
    Sentence("自治", _("{period},聚焦居民急难愁盼问题开展楼栋、片区、社区三级议事协商{deliberations}次,"
                      "惠及群众{deliberation_households_benefited}户"), _positive("deliberations")),
    Sentence("自治", _("严格执行“四议两公开”民主决策议事制度,收集居民议题{deliberation_topics_raised}个,"
                      "召开议事会议{deliberation_meetings}次,{deliberation_major_matters}项重大事项经“四议两公开”决策"),
             _positive("deliberation_topics_raised")),
    Sentence("自治", _("空巢老人、留守儿童、残疾人等重点服务对象均已落实邻里守望结对帮扶"), _zero("care_people_without_watch")),
    Sentence("自治", _("尚有{care_people_without_watch}名空巢老人、留守儿童、残疾人等重点服务对象未落实邻里守望结对"),
             _positive("care_people_without_watch")),
    Sentence("自治", _("“四点半”希望小课堂服务儿童{afterschool_child_visits}人次"), _positive("afterschool_child_visits")),
    Sentence("自治", _("{camp_volunteers}名志愿者为{camp_children}名孤儿、事实无人抚养等困境儿童开展夏令营活动"),
             _positive("camp_children")),
    Sentence("自治", _("“新时代幸福餐厅”为{canteen_diners}名留守老人、留守儿童和生活不能自理人群提供就餐服务"),
             _positive("canteen_diners")),
    # 法治
    Sentence("法治", _("开展道路交通安全、家庭教育促进法、禁毒等普法宣传主题活动{law_events}场次,服务{law_event_visits}人次"),
             _positive("law_events")),
    Sentence("法治", _("设立警务室{police_offices}个,派驻警力{police_officers}人"), _positive("police_offices")),
    Sentence("法治", _("由警务室民警与平安建设服务队组成{patrol_team_members}人的巡防队伍,每晚对小区主干道、楼栋小巷等重点区域"
                      "巡逻防控,共开展巡逻{patrols}次"),
             _positive("patrol_team_members")),
    Sentence("法治", _("{period},受理矛盾纠纷{disputes_received}起,调解成功{disputes_mediated}起")),
    Sentence("法治", _("受理群众诉求、报事和帮办代办事项{cases_received}件,办结{cases_resolved}件,"
                      "按期办结率{cases_on_time_rate}%"), _positive("cases_received")),
    Sentence("法治", _("回访满意率{cases_satisfaction_rate}%"), _positive("cases_resolved")),
    # 德治
    Sentence("德治", _("举办感恩教育培训会{gratitude_events}场次,受益群众{gratitude_visits}人次"), _positive("gratitude_events")),
    Sentence("德治", _("成立{art_teams}支{art_team_members}人的文艺队伍"), _positive("art_teams")),
    Sentence("德治", _("开展“市民培训”“家风家教宣讲会”“先进典型宣讲会”等活动{training_events}场次,"
                      "参加群众{training_visits}人次"), _positive("training_events")),
    Sentence("德治", _("开展“文明卫生示范户”“身边好人”等模范评选{honour_rounds}轮,共评选出{honorees}户(人)和文明楼栋"
                      "{civilized_buildings}栋"), _positive("honour_rounds")),
    Sentence("德治", _("开展“文明卫生示范户”“身边好人”等模范评选,共评选出{honorees}户(人)和文明楼栋{civilized_buildings}栋"),
             lambda v: bool(v["honorees"]) and "honour_rounds" not in v),
    Sentence("德治", _("开展“文明卫生示范户”“身边好人”等模范评选,共评选出{honorees}户(人)"),
             lambda v: bool(v["honorees"]) and "civilized_buildings" not in v),
    # 智治
    Sentence("智治", _("为{emergency_callers}名独居老人安装孝心呼叫器(一键紧急求助)"), _positive("emergency_callers")),
    Sentence("智治", _("{period},呼叫器一键呼叫{alarms_received}次,其中真实求助{alarms_real}次,"
                      "从呼叫到值班员确认接警的中位时间为{alarm_ack_median_seconds}秒"), _positive("alarms_received")),
    Sentence("智治", _("深入推进社区“小探头”安装,在用探头{cameras}个,其中群众自愿共享{household_cameras_shared}个"),
             _positive("cameras")),
    Sentence("智治", _("社区“小探头”实现公共区域全覆盖"), _zero("public_areas_without_camera")),
    Sentence("智治", _("尚有{public_areas_without_camera}处公共区域未覆盖探头"), _positive("public_areas_without_camera")),
]


def period_phrase(start: dt.date, end: dt.date, today: dt.date | None = None) -> str:
    """今年以来 for the running year, 2025年 for a whole past year, else the span in words."""
    today = today or timezone.localdate()
    whole_year = (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year
    if whole_year and start.year == today.year:
        return str(_("今年以来"))
    if whole_year:
        return str(_("%(y)s年") % {"y": start.year})
    if start.day == 1 and (end + dt.timedelta(days=1)).day == 1:
        if (start.year, start.month) == (end.year, end.month):
            return str(_("%(y)s年%(m)s月") % {"y": start.year, "m": start.month})
        if start.year == end.year:
            return str(_("%(y)s年%(m1)s月至%(m2)s月") % {"y": start.year, "m1": start.month, "m2": end.month})
    return str(_("%(a)s至%(b)s") % {"a": f"{start.year}年{start.month}月{start.day}日",
                                    "b": f"{end.year}年{end.month}月{end.day}日"})


def write(governance: str, values: Values, *, area: str, period: str) -> list[str]:
    """The sentences of one section whose figures all exist, each ending in 。"""
    out: list[str] = []
    seen: set[str] = set()
    for s in SENTENCES:
        if s.governance != governance or any(k not in values for k in s.needs):
            continue
        if s.when is not None and not s.when(values):
            continue
        shown = {k: format_value(values[k]) for k in s.keys}
        text = str(s.text).format(area=area, period=period, **shown)
        if text in seen:
            continue
        seen.add(text)
        out.append(text + "。")
    return out


def used_keys() -> set[str]:
    return {k for s in SENTENCES for k in s.keys}
