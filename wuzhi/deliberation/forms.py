"""Forms of the deliberation pages and the resident side. They only collect input; the services
validate the flow and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area

from .models import (
    DEFAULT_NOTICE_DAYS,
    AttendanceStatus,
    BodyKind,
    DisclosureKind,
    Level,
    Objection,
    PassBase,
    Source,
    VoteOrigin,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class AreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return f"{obj.get_kind_display()} · {obj.short_name if obj.kind != 'community' else obj.name}"


class TopicForm(forms.Form):
    """A staff member raises a topic (网格员, 党员, 党组织)."""

    title = forms.CharField(label=_("议题"), max_length=64,
                            widget=forms.TextInput(attrs={"placeholder": _("如:3栋楼道灯改造")}))
    description = forms.CharField(label=_("情况和建议"), widget=forms.Textarea(attrs={"rows": 4}))
    level = forms.ChoiceField(label=_("议事层级"), choices=Level.choices)
    area = AreaField(label=_("范围"), queryset=Area.objects.none(), help_text=_("楼栋级选楼栋,片区级选网格,社区级选社区"))
    source = forms.ChoiceField(label=_("提议人身份"), choices=[(s.value, s.label) for s in Source
                                                        if s not in (Source.RESIDENT, Source.CASES)])
    major = forms.BooleanField(label=_("重大事项(按“四议两公开”办理)"), required=False)

    def __init__(self, *args: Any, areas: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if areas is not None:
            self.fields["area"].queryset = areas  # type: ignore[attr-defined]


class FromCasesForm(TopicForm):
    cases: forms.ModelMultipleChoiceField = forms.ModelMultipleChoiceField(
        label=_("汇总的诉求"), queryset=None, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, cases: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["source"], self.fields["major"]
        field: Any = self.fields["cases"]
        field.queryset = cases
        field.label_from_instance = lambda c: f"{c.number} {c.title}({c.area.short_name})"


class MeetingForm(forms.Form):
    held_at = forms.DateTimeField(label=_("会议时间"), input_formats=[DATETIME_LOCAL],
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    place = forms.CharField(label=_("地点"), max_length=64, initial=_("社区议事厅"))
    host = forms.CharField(label=_("主持人"), max_length=32, required=False)
    minutes = forms.CharField(label=_("会议记录"), widget=forms.Textarea(attrs={"rows": 4}))
    opinions = forms.CharField(label=_("主要意见"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text=_("每条一行"))

    def __init__(self, *args: Any, members: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        kwargs.setdefault("initial", {}).setdefault("held_at", timezone.localtime().strftime(DATETIME_LOCAL))
        super().__init__(*args, **kwargs)
        self.members = list(members)
        for m in self.members:
            self.fields[f"att_{m.pk}"] = forms.ChoiceField(
                label=f"{m.name}{'(' + m.role + ')' if m.role else ''}", choices=AttendanceStatus.choices,
                initial=AttendanceStatus.PRESENT, widget=forms.RadioSelect)
            self.fields[f"proxy_{m.pk}"] = forms.CharField(label=_("受托人"), max_length=32, required=False)

    def attendance(self) -> dict[int, str]:
        return {m.pk: self.cleaned_data[f"att_{m.pk}"] for m in self.members}

    def proxies(self) -> dict[int, str]:
        return {m.pk: self.cleaned_data.get(f"proxy_{m.pk}", "") for m in self.members}

    def member_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(m, self[f"att_{m.pk}"], self[f"proxy_{m.pk}"]) for m in self.members]


class VoteForm(forms.Form):
    origin = forms.ChoiceField(label=_("表决方式"), choices=VoteOrigin.choices)
    votes_for = forms.IntegerField(label=_("赞成"), min_value=0)
    votes_against = forms.IntegerField(label=_("反对"), min_value=0, initial=0)
    votes_abstain = forms.IntegerField(label=_("弃权"), min_value=0, initial=0)
    decision = forms.CharField(label=_("决议内容"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                               help_text=_("表决通过时必填"))


class PublishForm(forms.Form):
    kind = forms.ChoiceField(label=_("公开类型"), choices=DisclosureKind.choices)
    text = forms.CharField(label=_("公开内容"), widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("公开栏不显示居民姓名和电话,请勿在内容中填写个人信息"))
    notice_days = forms.IntegerField(label=_("公示期(天)"), min_value=1, max_value=30, initial=DEFAULT_NOTICE_DAYS)


class BodyForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    kind = forms.ChoiceField(label=_("类型"), choices=BodyKind.choices)
    area = AreaField(label=_("范围"), queryset=Area.objects.none())
    quorum_num = forms.IntegerField(label=_("法定人数(分子)"), min_value=1, initial=2)
    quorum_den = forms.IntegerField(label=_("法定人数(分母)"), min_value=1, initial=3)
    proxy_counts = forms.BooleanField(label=_("委托出席计入到会人数"), required=False, initial=True)
    pass_num = forms.IntegerField(label=_("通过比例(分子)"), min_value=1, initial=1)
    pass_den = forms.IntegerField(label=_("通过比例(分母)"), min_value=1, initial=2)
    pass_base = forms.ChoiceField(label=_("通过比例的基数"), choices=PassBase.choices)
    pass_strict = forms.BooleanField(label=_("须超过该比例(过半数)"), required=False, initial=True)
    description = forms.CharField(label=_("说明"), max_length=255, required=False)
    new_members = forms.CharField(label=_("增加组成人员"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text=_("每行一人:姓名 职务,如“王秀英 居民代表”"))

    def __init__(self, *args: Any, areas: Any = None, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if areas is not None:
            self.fields["area"].queryset = areas  # type: ignore[attr-defined]
        if editing:
            del self.fields["area"]

    def people(self) -> list[dict[str, str]]:
        out = []
        for line in self.cleaned_data.get("new_members", "").splitlines():
            parts = line.split()
            if parts:
                out.append({"name": parts[0], "role": " ".join(parts[1:])})
        return out

    def body_fields(self) -> dict[str, Any]:
        keys = ["name", "kind", "quorum_num", "quorum_den", "proxy_counts", "pass_num", "pass_den", "pass_base",
                "pass_strict", "description"]
        return {k: self.cleaned_data[k] for k in keys}


# ---- resident side --------------------------------------------------------------------------

class ProposeForm(forms.Form):
    level = forms.ChoiceField(label=_("这是哪一级的事"), choices=Level.choices, initial=Level.BUILDING,
                              widget=forms.RadioSelect, help_text=_("本楼栋的事、本片区(网格)的事,还是全社区的事"))
    title = forms.CharField(label=_("议题"), max_length=64,
                            widget=forms.TextInput(attrs={"placeholder": _("如:楼下停车难,建议划线停车")}))
    description = forms.CharField(label=_("情况和建议"), widget=forms.Textarea(attrs={"rows": 5}))
    phone = forms.CharField(label=_("手机号码"), max_length=20,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
                            help_text=_("用于查询议题进展,不会公开"))


class TrackForm(forms.Form):
    number = forms.CharField(label=_("议题编号"), max_length=20)
    phone = forms.CharField(label=_("手机号码"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"}))


class ObjectionForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=Objection.Kind.choices, initial=Objection.Kind.OBJECTION,
                             widget=forms.RadioSelect)
    text = forms.CharField(label=_("您的意见"), widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("公开时不显示您的姓名和电话"))
    phone = forms.CharField(label=_("手机号码"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"}),
                            help_text=_("用于核实居民身份,不会公开"))
