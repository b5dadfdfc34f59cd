"""Forms of the case pages and the resident portal. They only collect input; the services
validate the flow and write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area

from .models import (
    CaseKind,
    Category,
    Channel,
    DisputeParty,
    DisputeType,
    Fulfilment,
    Outcome,
    Referral,
    RiskLevel,
    Satisfaction,
    Supervision,
)

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
PHOTO_TYPES = "image/*"
MAX_PHOTO_BYTES = 8 * 1024 * 1024


class CategoryField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return str(obj)


class AreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return obj.short_name


PHOTO_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "heic")


def _photo(value: Any) -> Any:
    if value and value.size > MAX_PHOTO_BYTES:
        raise forms.ValidationError(_("照片不能超过 8 MB"))
    if value and value.name.rsplit(".", 1)[-1].lower() not in PHOTO_EXTENSIONS:
        raise forms.ValidationError(_("请上传 jpg、png、webp 或 heic 格式的照片"))
    return value


class CaseOpenForm(forms.Form):
    """代报: a grid worker records a case on a resident's behalf (or a walk-in, a call, 12345)."""

    category = CategoryField(label=_("事项分类"), queryset=Category.objects.filter(active=True))
    area = AreaField(label=_("发生地点"), queryset=Area.objects.none())
    place = forms.CharField(label=_("具体位置"), max_length=64, required=False,
                            widget=forms.TextInput(attrs={"placeholder": _("如:3楼楼道、地下车库入口")}))
    description = forms.CharField(label=_("具体情况"), widget=forms.Textarea(attrs={"rows": 4}))
    reporter_name = forms.CharField(label=_("反映人"), max_length=32, required=False)
    reporter_phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    channel = forms.ChoiceField(label=_("来源渠道"), choices=Channel.choices, initial=Channel.GRID)
    external_number = forms.CharField(label=_("外部编号"), max_length=40, required=False,
                                      help_text=_("12345工单号,或帮办代办时办事部门的受理号"))
    documents = forms.CharField(label=_("已收材料"), required=False, help_text=_("帮办代办:已收到的材料,用顿号分隔"))
    photo = forms.FileField(label=_("照片"), required=False, validators=[_photo],
                            widget=forms.ClearableFileInput(attrs={"accept": PHOTO_TYPES, "capture": "environment"}))

    def __init__(self, *args: Any, areas: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]


class PortalReportForm(forms.Form):
    category = CategoryField(label=_("反映什么"), queryset=Category.objects.filter(
        active=True, kind__in=(CaseKind.REPORT, CaseKind.REQUEST)))
    description = forms.CharField(label=_("具体情况"), widget=forms.Textarea(
        attrs={"rows": 4, "placeholder": _("请说明在哪里、什么问题,例如:3楼楼道灯不亮")}))
    place = forms.CharField(label=_("具体位置(可选)"), max_length=64, required=False)
    reporter_name = forms.CharField(label=_("您的称呼(可选)"), max_length=32, required=False)
    reporter_phone = forms.CharField(label=_("手机号码"), max_length=20,
                                     help_text=_("用于查询办理进度和回访,不会公开"))
    photo = forms.FileField(label=_("照片(可选)"), required=False, validators=[_photo],
                            widget=forms.ClearableFileInput(attrs={"accept": PHOTO_TYPES}))


class TrackForm(forms.Form):
    number = forms.CharField(label=_("事项编号"), max_length=20)
    phone = forms.CharField(label=_("反映时留的手机号码"), max_length=20)


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部类型")), *CaseKind.choices])
    category = forms.ChoiceField(label=_("分类"), required=False)
    level = forms.ChoiceField(label=_("督办"), required=False, choices=[("", _("全部督办")), *Supervision.choices])
    mine = forms.BooleanField(label=_("只看我承办的"), required=False)

    def __init__(self, *args: Any, states: Sequence[tuple[str, str | Promise]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("全部待办")), *states]  # type: ignore[attr-defined]
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", _("全部分类")), *((str(c.pk), str(c)) for c in Category.objects.filter(active=True))]
        for name in ("state", "kind", "category", "level"):
            self.fields[name].widget.attrs["class"] = "form-select"
        self.fields["mine"].widget.attrs["class"] = "form-check-input"


class ReviewForm(forms.Form):
    satisfaction = forms.ChoiceField(label=_("满意度"), choices=Satisfaction.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("意见"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DisputeForm(forms.Form):
    """张黎's intake: 基本情况, each party's 心理需求 and 核心利益, 矛盾成因, type and risk."""

    dispute_type = forms.ChoiceField(label=_("纠纷类型"), choices=DisputeType.choices)
    risk = forms.ChoiceField(label=_("风险等级"), choices=RiskLevel.choices)
    situation = forms.CharField(label=_("基本情况"), widget=forms.Textarea(attrs={"rows": 3}))
    cause = forms.CharField(label=_("矛盾成因"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    PARTY_ROWS = 3

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = [DisputeParty.PartyRole.APPLICANT, DisputeParty.PartyRole.RESPONDENT, DisputeParty.PartyRole.THIRD]
        for i in range(self.PARTY_ROWS):
            required = i < 2
            self.fields[f"p{i}_role"] = forms.ChoiceField(label=_("身份"), choices=DisputeParty.PartyRole.choices,
                                                          initial=roles[i])
            self.fields[f"p{i}_name"] = forms.CharField(label=gettext("当事人%(n)d姓名") % {"n": i + 1}, max_length=32, required=required)
            self.fields[f"p{i}_address"] = forms.CharField(label=_("住址"), max_length=64, required=False)
            self.fields[f"p{i}_needs"] = forms.CharField(label=_("心理需求"), max_length=200, required=False)
            self.fields[f"p{i}_interests"] = forms.CharField(label=_("核心利益"), max_length=200, required=False)

    def party_rows(self) -> list[list[Any]]:
        return [[self[f"p{i}_{f}"] for f in ("role", "name", "address", "needs", "interests")]
                for i in range(self.PARTY_ROWS)]

    def parties(self) -> list[dict[str, Any]]:
        d = self.cleaned_data
        return [{f: d[f"p{i}_{f}"] for f in ("role", "name", "address", "needs", "interests")}
                for i in range(self.PARTY_ROWS) if d.get(f"p{i}_name")]


class MediationForm(forms.Form):
    held_at = forms.DateTimeField(label=_("调解时间"), input_formats=[DATETIME_LOCAL],
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL))
    committee = forms.CharField(label=_("到场调委会成员"), max_length=200, required=False)
    notes = forms.CharField(label=_("调解经过"), widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"held_at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(*args, **kwargs)


class ConcludeForm(forms.Form):
    outcome = forms.ChoiceField(label=_("调解结果"), choices=[(Outcome.SUCCESS, _("调解成功")), (Outcome.FAILED, _("调解不成"))],
                                widget=forms.RadioSelect)
    terms = forms.CharField(label=_("协议内容(每条一行)"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    performance = forms.CharField(label=_("履行方式和期限"), max_length=200, required=False)
    referral = forms.ChoiceField(label=_("调解不成时的引导途径"), choices=[("", "—"), *Referral.choices], required=False)


class FollowUpForm(forms.Form):
    status = forms.ChoiceField(label=_("履行情况"), choices=[c for c in Fulfilment.choices if c[0]])
    note = forms.CharField(label=_("说明"), required=False)


class CategoryForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=CaseKind.choices)
    name = forms.CharField(label=_("名称"), max_length=32)
    team = forms.ModelChoiceField(label=_("默认承办队伍"), queryset=Category.objects.none(), required=False)
    role = forms.ChoiceField(label=_("承办角色"), required=False)
    deadline_hours = forms.IntegerField(label=_("办理时限(小时)"), min_value=1, max_value=24 * 90)
    checklist = forms.CharField(label=_("材料清单(每项一行)"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    sort = forms.IntegerField(label=_("排序"), initial=0)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)  # the version the page showed

    def __init__(self, *args: Any, teams: Any, **kwargs: Any) -> None:
        from wuzhi.core.roles import STAFF_ROLES

        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["role"].choices = [("", "—"), *((r.value, r.label) for r in STAFF_ROLES)]  # type: ignore[attr-defined]

    def clean_checklist(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["checklist"].splitlines() if line.strip()]


class StatsForm(forms.Form):
    """Which period and which part of the tree the case statistics cover."""

    start = forms.DateField(label=_("从"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    end = forms.DateField(label=_("到"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    area = forms.ChoiceField(label=_("区域"), required=False)

    def __init__(self, *args: Any, areas: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [(a.code, a.short_name or a.name) for a in areas]  # type: ignore[attr-defined]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select" if field is self.fields["area"] else "form-control"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("开始日期不能晚于结束日期"))
        return data
