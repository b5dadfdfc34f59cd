"""Forms of the team and activity pages. Plain forms whose querysets the views narrow to the user's
scope; saving is the services' job (activities.services), never a ModelForm.save()."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, AreaKind
from wuzhi.registry.forms import DATETIME_LOCAL
from wuzhi.registry.models import Resident

from .models import ActivityKind, Attendance, Enrolment, Funding, Governance, ProgramKind, Team, TeamKind
from .services import DEFAULT_GOVERNANCE
from .venues import EVENT_KINDS, LAW_VENUES

# Which governance a kind of team reports under unless the secretary says otherwise (the demo's
# choices: care teams are 德治, a building's 3+N group is 自治, patrols are 法治).
TEAM_GOVERNANCE = {
    TeamKind.PARTY_SERVICE: Governance.POLITICAL, TeamKind.CARE: Governance.MORAL,
    TeamKind.MICRO_GROUP: Governance.SELF, TeamKind.WATCH: Governance.SELF, TeamKind.ART: Governance.MORAL,
    TeamKind.PATROL: Governance.LAW, TeamKind.VOLUNTEER: Governance.MORAL,
}
# Roles a team commonly gives; the field stays free text.
MEMBER_ROLES = ["队长", "副队长", "队员", "联络员", "小组长", "居民代表", "党员", "志愿者"]
# Areas an activity or a team is placed at: not counties or towns (too coarse), not units.
PLACE_KINDS = [AreaKind.COMMUNITY, AreaKind.GRID, AreaKind.BUILDING]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *list(choices)]


def _narrow(form: forms.Form, name: str, queryset: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Team) -> str:
        return f"{obj.name}({obj.get_kind_display()})"


class PlaceChoiceField(forms.ModelChoiceField):
    """Communities, grids and buildings, indented like the tree. (Area.short_name is the name
    inside a community, which is empty for the community itself.)"""

    def label_from_instance(self, obj: Area) -> str:
        if obj.kind == AreaKind.COMMUNITY:
            return obj.name
        return ("\u3000" if obj.kind == AreaKind.BUILDING else "") + (obj.short_name or obj.name)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


def _month_range(value: str) -> tuple[dt.date, dt.date] | None:
    """"2026-05" → (1 May, 1 June)."""
    match = _MONTH.match(value or "")
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        return None
    first = dt.date(year, month, 1)
    return first, (first + dt.timedelta(days=32)).replace(day=1)


# ---- teams -----------------------------------------------------------------------------------


class TeamForm(forms.Form):
    kind = forms.ChoiceField(label=_("类别"), choices=TeamKind.choices)
    name = forms.CharField(label=_("名称"), max_length=64,
                           widget=forms.TextInput(attrs={"placeholder": _("如:政策宣传服务队、彩虹文艺队")}))
    area = PlaceChoiceField(label=_("所属区域"), queryset=Area.objects.none(), empty_label=None)
    governance = forms.ChoiceField(label=_("治理类别"), required=False,
                                   choices=_blank(Governance.choices, _("按类别自动")))
    description = forms.CharField(label=_("简介"), max_length=255, required=False)

    def __init__(self, data: Any = None, *, areas: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "area", areas)

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"area": d["area"], "kind": d["kind"], "name": d["name"], "description": d["description"],
                "governance": d["governance"] or TEAM_GOVERNANCE.get(d["kind"], Governance.POLITICAL)}


class MemberForm(forms.Form):
    """One form for the three kinds of member; `source` says which fields apply."""

    SOURCES = [("resident", _("本社区居民")), ("user", _("工作人员")), ("outside", _("外来志愿者"))]
    source = forms.ChoiceField(label=_("队员来源"), choices=SOURCES, initial="resident", widget=forms.RadioSelect)
    resident = forms.ModelChoiceField(label=_("居民"), queryset=Resident.objects.none(), required=False,
                                      widget=forms.HiddenInput)
    user = StaffChoiceField(label=_("工作人员"), queryset=get_user_model().objects.none(), required=False,
                            empty_label=_("请选择"))
    name = forms.CharField(label=_("姓名"), max_length=32, required=False)
    organisation = forms.CharField(label=_("所在单位"), max_length=64, required=False,
                                   widget=forms.TextInput(attrs={"placeholder": _("如:昭通学院、县人民医院")}))
    role = forms.CharField(label=_("队内职务"), max_length=16, initial="队员",
                           widget=forms.TextInput(attrs={"list": "member-roles"}))

    def __init__(self, data: Any = None, *, residents: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "resident", residents)
        _narrow(self, "user", users)

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        source = d.get("source")
        if source == "resident" and not d.get("resident"):
            self.add_error("resident", _("请先查找并选择一位居民"))
        elif source == "user" and not d.get("user"):
            self.add_error("user", _("请选择工作人员"))
        elif source == "outside" and not (d.get("name") or "").strip():
            self.add_error("name", _("请填写姓名"))
        return d

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {"role": d["role"].strip() or "队员", "organisation": d["organisation"].strip()}
        if d["source"] == "resident":
            out["resident"] = d["resident"]
        elif d["source"] == "user":
            out["user"] = d["user"]
        else:
            out["name"] = d["name"]
        return out


# ---- activities ------------------------------------------------------------------------------


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("活动类型"), choices=ActivityKind.choices, initial=ActivityKind.TEAM)
    title = forms.CharField(label=_("活动名称"), max_length=128,
                            widget=forms.TextInput(attrs={"placeholder": _("如:惠民政策入户宣讲")}))
    team = TeamChoiceField(label=_("服务队"), queryset=Team.objects.none(), required=False,
                           empty_label=_("不属于服务队"))
    governance = forms.ChoiceField(label=_("治理类别"), required=False,
                                   choices=_blank(Governance.choices, _("按活动类型自动")))
    area = PlaceChoiceField(label=_("区域"), queryset=Area.objects.none(), required=False,
                           empty_label=_("与服务队相同"))
    venue = forms.CharField(label=_("地点"), max_length=64, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("如:党群服务中心"), "list": "venues"}))
    starts_at = forms.DateTimeField(label=_("开始时间"), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    ends_at = forms.DateTimeField(label=_("结束时间"), required=False,
                                  input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    partner = forms.CharField(label=_("合作单位"), max_length=128, required=False,
                              widget=forms.TextInput(attrs={"placeholder": _("如:县司法局、昭通学院")}))
    note = forms.CharField(label=_("活动内容"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, data: Any = None, *, teams: Any, areas: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "team", teams)
        _narrow(self, "area", areas)
        # The page's script fills the governance from the kind; the map rides on the select.
        self.fields["kind"].widget.attrs["data-governance"] = ",".join(
            f"{k}:{v}" for k, v in DEFAULT_GOVERNANCE.items())

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if not d.get("area"):
            team = d.get("team")
            if team is None:
                self.add_error("area", _("请选择活动所在区域"))
            else:
                d["area"] = team.area
        return d

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {name: d[name] for name in ("kind", "title", "team", "governance", "area", "venue", "starts_at",
                                           "ends_at", "partner", "note")}


class ActivityFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=_blank(ActivityKind.choices, _("全部类型")))
    team = TeamChoiceField(label=_("服务队"), queryset=Team.objects.none(), required=False,
                           empty_label=_("全部服务队"))
    governance = forms.ChoiceField(label=_("治理类别"), required=False,
                                   choices=_blank(Governance.choices, _("全部")))
    month = forms.CharField(label=_("月份"), required=False, widget=forms.DateInput(attrs={"type": "month"}))

    def __init__(self, data: Any, *, teams: Any) -> None:
        super().__init__(data)
        _narrow(self, "team", teams)

    def clean_month(self) -> str:
        value = self.cleaned_data.get("month") or ""
        if value and _month_range(value) is None:
            raise forms.ValidationError(_("月份格式为 2026-05"))
        return value

    def filter(self, qs: Any) -> Any:
        from .selectors import in_days

        f = self.cleaned_data if self.is_valid() else {}
        if f.get("kind"):
            qs = qs.filter(kind=f["kind"])
        if f.get("team"):
            qs = qs.filter(team=f["team"])
        if f.get("governance"):
            qs = qs.filter(governance=f["governance"])
        span = _month_range(f.get("month") or "")
        if span:
            qs = in_days(qs, *span)
        return qs

    @property
    def active(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(k) for k in ("kind", "team", "governance", "month"))


# ---- roll call -------------------------------------------------------------------------------


class MarkForm(forms.Form):
    """One tap on the roll call: who (a team member, a resident found by search, or a name typed
    in), as what, and for volunteers how many hours."""

    member = forms.IntegerField(required=False)
    enrolment = forms.IntegerField(required=False)
    resident = forms.IntegerField(required=False)
    name = forms.CharField(label=_("姓名"), max_length=32, required=False)
    role = forms.ChoiceField(choices=[(Attendance.Role.PARTICIPANT, Attendance.Role.PARTICIPANT.label),
                                      (Attendance.Role.VOLUNTEER, Attendance.Role.VOLUNTEER.label)],
                             required=False)
    hours = forms.DecimalField(label=_("服务时长"), min_value=Decimal("0"), max_value=Decimal("24"),
                               decimal_places=1, required=False)

    def role_and_hours(self, default_role: str, default_hours: Decimal) -> tuple[str, Decimal]:
        """Participants serve no hours; a volunteer's blank hours are the activity's length."""
        d = self.cleaned_data
        role = d.get("role") or default_role
        if role == Attendance.Role.PARTICIPANT:
            return role, Decimal("0")
        hours = d.get("hours")
        return role, default_hours if hours is None else hours


class HeadcountForm(forms.Form):
    headcount = forms.IntegerField(label=_("未记名人数"), min_value=0, max_value=100000,
                                   widget=forms.NumberInput(attrs={"inputmode": "numeric"}))


class NameForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=32,
                           widget=forms.TextInput(attrs={"placeholder": _("不在名单中的人,如外来志愿者")}))


# ---- volunteer record ------------------------------------------------------------------------


class VolunteerFilterForm(forms.Form):
    team = TeamChoiceField(label=_("服务队"), queryset=Team.objects.none(), required=False,
                           empty_label=_("全部服务队"))
    date_from = forms.DateField(label=_("从"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("到"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, teams: Any) -> None:
        super().__init__(data)
        _narrow(self, "team", teams)

    def span(self) -> tuple[dt.date, dt.date]:
        """The period, this year so far unless given."""
        f = self.cleaned_data if self.is_valid() else {}
        today = timezone.localdate()
        return f.get("date_from") or today.replace(month=1, day=1), f.get("date_to") or today

    def filter(self, attendance: Any) -> Any:
        from .selectors import day_start

        f = self.cleaned_data if self.is_valid() else {}
        first, last = self.span()
        attendance = attendance.filter(activity__starts_at__gte=day_start(first),
                                       activity__starts_at__lt=day_start(last + dt.timedelta(days=1)))
        if f.get("team"):
            attendance = attendance.filter(activity__team=f["team"])
        return attendance

    def description(self) -> str:
        f = self.cleaned_data if self.is_valid() else {}
        first, last = self.span()
        parts = [f"{first:%Y-%m-%d}至{last:%Y-%m-%d}"]
        if f.get("team"):
            parts.append(f"服务队:{f['team'].name}")
        return ";".join(parts)


# ---- programs (四点半课堂, 幸福餐厅, 夏令营) -------------------------------------------------------

# Which roles a program's list offers, by the kind of program.
PROGRAM_ROLES: dict[str, list[Enrolment.Role]] = {
    ProgramKind.AFTERSCHOOL: [Enrolment.Role.LEARNER, Enrolment.Role.TEACHER, Enrolment.Role.VOLUNTEER],
    ProgramKind.CANTEEN: [Enrolment.Role.DINER, Enrolment.Role.VOLUNTEER],
    ProgramKind.CAMP: [Enrolment.Role.CAMPER, Enrolment.Role.VOLUNTEER, Enrolment.Role.TEACHER],
    ProgramKind.CLASS: [Enrolment.Role.LEARNER, Enrolment.Role.TEACHER, Enrolment.Role.VOLUNTEER],
}


class ProgramForm(forms.Form):
    kind = forms.ChoiceField(label=_("项目类别"), choices=ProgramKind.choices)
    name = forms.CharField(label=_("名称"), max_length=64,
                           widget=forms.TextInput(attrs={"placeholder": _("如:四点半希望小课堂")}))
    area = PlaceChoiceField(label=_("所属区域"), queryset=Area.objects.none(), empty_label=None)
    venue = forms.CharField(label=_("地点"), max_length=64, required=False,
                            widget=forms.TextInput(attrs={"list": "venues"}))
    schedule = forms.CharField(label=_("时间安排"), max_length=64, required=False,
                               widget=forms.TextInput(attrs={"placeholder": _("如:每周五 16:30–18:30")}))
    session_time = forms.TimeField(label=_("每次开始时间"), required=False,
                                   widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    session_minutes = forms.IntegerField(label=_("每次时长(分钟)"), min_value=10, max_value=24 * 60, initial=120)
    partner = forms.CharField(label=_("合作单位"), max_length=128, required=False)
    meal_price = forms.DecimalField(label=_("餐标(元/餐)"), min_value=Decimal("0"), max_digits=6, decimal_places=2,
                                    required=False, help_text=_("仅幸福餐厅填写,用于月度结算"))
    starts_on = forms.DateField(label=_("开始日期"), widget=forms.DateInput(attrs={"type": "date"}),
                                initial=timezone.localdate)
    ends_on = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    description = forms.CharField(label=_("简介"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, data: Any = None, *, areas: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "area", areas)

    def service_kwargs(self) -> dict[str, Any]:
        d = dict(self.cleaned_data)
        d["meal_price"] = d.get("meal_price") or Decimal("0")
        return d


class EnrolForm(forms.Form):
    """Add someone to a program's list: a resident found by search, a staff login, or an outsider
    with their organisation (university volunteers)."""

    SOURCES = [("resident", _("本社区居民")), ("user", _("工作人员")), ("outside", _("外来老师/志愿者"))]
    source = forms.ChoiceField(label=_("来源"), choices=SOURCES, initial="resident", widget=forms.RadioSelect)
    resident = forms.ModelChoiceField(label=_("居民"), queryset=Resident.objects.none(), required=False,
                                      widget=forms.HiddenInput)
    user = StaffChoiceField(label=_("工作人员"), queryset=get_user_model().objects.none(), required=False,
                            empty_label=_("请选择"))
    name = forms.CharField(label=_("姓名"), max_length=32, required=False)
    organisation = forms.CharField(label=_("所在单位"), max_length=64, required=False,
                                   widget=forms.TextInput(attrs={"placeholder": _("如:四川农业大学")}))
    role = forms.ChoiceField(label=_("身份"), choices=Enrolment.Role.choices)
    funding = forms.ChoiceField(label=_("经费类别"), choices=_blank(Funding.choices, _("不适用")), required=False)
    from_on = forms.DateField(label=_("加入日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any = None, *, program: Any, residents: Any, users: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "resident", residents)
        _narrow(self, "user", users)
        roles = PROGRAM_ROLES.get(program.kind, list(Enrolment.Role))
        role = self.fields["role"]
        assert isinstance(role, forms.ChoiceField)
        role.choices = [(r.value, r.label) for r in roles]
        role.initial = roles[0].value
        if program.kind != ProgramKind.CANTEEN:
            del self.fields["funding"]

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        source, role = d.get("source"), d.get("role")
        if source == "resident" and not d.get("resident"):
            self.add_error("resident", _("请先查找并选择一位居民"))
        elif source == "user" and not d.get("user"):
            self.add_error("user", _("请选择工作人员"))
        elif source == "outside" and not (d.get("name") or "").strip():
            self.add_error("name", _("请填写姓名"))
        if source != "resident" and role in Enrolment.TAKING_PART:
            self.add_error("role", _("学员、就餐者和营员须从居民中选择"))
        return d

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        out: dict[str, Any] = {"role": d["role"], "organisation": d["organisation"].strip(),
                               "funding": d.get("funding") or "", "from_on": d.get("from_on")}
        if d["source"] == "resident":
            out["resident"] = d["resident"]
        elif d["source"] == "user":
            out["user"] = d["user"]
        else:
            out["name"] = d["name"]
        return out


class EventForm(forms.Form):
    """An event recorded on a phone as it happens: kind, what, where, with whom, how many."""

    kind = forms.ChoiceField(label=_("活动类型"), widget=forms.RadioSelect,
                             choices=[(k, ActivityKind(k).label) for k in EVENT_KINDS], initial="law")
    title = forms.CharField(label=_("活动名称"), max_length=128, widget=forms.TextInput(attrs={"list": "event-titles"}))
    venue = forms.CharField(label=_("地点"), max_length=64, required=False,
                            widget=forms.TextInput(attrs={"list": "event-venues"}))
    partner = forms.CharField(label=_("合作单位"), max_length=128, required=False,
                              widget=forms.TextInput(attrs={"list": "event-partners"}))
    team = TeamChoiceField(label=_("文艺队/服务队"), queryset=Team.objects.none(), required=False,
                           empty_label=_("无"))
    area = PlaceChoiceField(label=_("区域"), queryset=Area.objects.none(), empty_label=None)
    starts_at = forms.DateTimeField(label=_("时间"), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    headcount = forms.IntegerField(label=_("参加人数"), min_value=0, max_value=100000, required=False,
                                   help_text=_("清点的人数;要逐一登记姓名的,保存后在点名页添加"),
                                   widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    def __init__(self, data: Any = None, *, teams: Any, areas: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "team", teams)
        _narrow(self, "area", areas)

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if d.get("kind") == "law" and d.get("venue") and d["venue"] not in LAW_VENUES and "法治" not in d["venue"]:
            # Law-education events happen at the 法治文化园; anywhere else is worth a second look.
            self.add_error("venue", _("普法活动请选择法治文化园的场地:普法知识站、法治长廊或法治园梯"))
        return d

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"kind": d["kind"], "title": d["title"], "venue": d["venue"], "partner": d["partner"],
                "team": d["team"], "area": d["area"], "starts_at": d["starts_at"], "headcount": d["headcount"] or 0}
