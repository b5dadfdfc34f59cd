"""Forms of the camera pages. They collect input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area
from wuzhi.core.roles import Role

from .models import CONSENT_ROLES, PRINCIPLES, CameraKind, PublicArea, PublicAreaKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AreaField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return obj.short_name if obj.kind != "community" else obj.name


class PublicAreasField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: PublicArea) -> str:
        return f"{obj.area.short_name if obj.area.kind != 'community' else ''}{obj.name}"


class CameraFilterForm(forms.Form):
    area = AreaField(label=_("区域"), queryset=Area.objects.none(), required=False, empty_label=_("全部区域"))
    kind = forms.ChoiceField(label=_("类型"), required=False,
                             choices=[("", _("全部类型")), *CameraKind.choices])
    q = forms.CharField(label=_("位置或编号"), required=False, max_length=40,
                        widget=forms.TextInput(attrs={"placeholder": _("位置、编号或品牌")}))

    def __init__(self, *args: Any, areas: QuerySet[Area], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField)
                                          else "form-control")


class CameraForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=CameraKind.choices, widget=forms.RadioSelect)
    area = AreaField(label=_("所在区域"), queryset=Area.objects.none(), required=False,
                     help_text=_("公共区域探头填写;居民自有探头按所属户的住址"))
    household_number = forms.CharField(label=_("所属户编号"), max_length=32, required=False,
                                       help_text=_("居民自有探头填写,见户籍页面的户编号"))
    location = forms.CharField(label=_("安装位置"), max_length=80,
                               widget=forms.TextInput(attrs={"placeholder": _("如:东大门门岗上方,朝向小区内")}))
    public_areas = PublicAreasField(label=_("覆盖的公共区域"), queryset=PublicArea.objects.none(), required=False,
                                    widget=forms.CheckboxSelectMultiple)
    vendor = forms.CharField(label=_("品牌"), max_length=32, required=False)
    model = forms.CharField(label=_("型号"), max_length=32, required=False)
    stream_url = forms.CharField(label=_("视频流地址"), max_length=400, required=False,
                                 widget=forms.TextInput(attrs={"placeholder": "rtsp://…", "autocomplete": "off"}),
                                 help_text=_("加密保存,只向有权查看的人员显示,每次查看都会记录"))
    installed_on = forms.DateField(label=_("安装日期"), required=False, widget=DATE)
    active = forms.BooleanField(label=_("在用"), required=False, initial=True)
    note = forms.CharField(label=_("备注"), max_length=120, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, areas: QuerySet[Area], public_areas: QuerySet[PublicArea],
                 editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]
        self.fields["public_areas"].queryset = public_areas  # type: ignore[attr-defined]
        if editing:
            # Where a camera stands and whose it is do not change; a moved camera is a new record.
            for name in ("kind", "area", "household_number"):
                del self.fields[name]
            self.fields["stream_url"].help_text = _("留空则保留原地址;填写则替换")
        else:
            del self.fields["active"]
        for name, field in self.fields.items():
            if name in ("kind", "public_areas", "active") or isinstance(field.widget, forms.HiddenInput):
                continue
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField)
                                          else "form-control")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == CameraKind.HOUSEHOLD and not data.get("household_number"):
            self.add_error("household_number", _("居民自有探头请填写所属户编号"))
        if data.get("kind") == CameraKind.PUBLIC and not data.get("area"):
            self.add_error("area", _("请选择探头所在区域"))
        return data


class PublicAreaForm(forms.Form):
    area = AreaField(label=_("所在区域"), queryset=Area.objects.none())
    kind = forms.ChoiceField(label=_("类型"), choices=PublicAreaKind.choices)
    name = forms.CharField(label=_("名称"), max_length=48, widget=forms.TextInput(attrs={"placeholder": _("如:东大门")}))
    note = forms.CharField(label=_("说明"), max_length=120, required=False)

    def __init__(self, *args: Any, areas: QuerySet[Area], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = areas  # type: ignore[attr-defined]
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "form-select" if isinstance(field, forms.ChoiceField)
                                          else "form-control")


class ConsentForm(forms.Form):
    signed_by = forms.CharField(label=_("签字人"), max_length=32, help_text=_("户主或户内成年成员"))
    purpose = forms.CharField(label=_("共享用途"), max_length=120,
                              widget=forms.TextInput(attrs={"placeholder": _("如:老人独居,紧急时值班室可查看门口情况")}))
    viewer_roles = forms.MultipleChoiceField(label=_("可查看的角色"), widget=forms.CheckboxSelectMultiple,
                                             choices=[(r.value, r.label) for r in CONSENT_ROLES],
                                             initial=[Role.DUTY, Role.POLICE])
    starts_on = forms.DateField(label=_("开始日期"), widget=DATE, initial=timezone.localdate)
    ends_on = forms.DateField(label=_("截止日期"), widget=DATE, required=False, help_text=_("不填则长期有效,可随时撤回"))
    principles = forms.MultipleChoiceField(label=_("已向居民说明"), widget=forms.CheckboxSelectMultiple,
                                           choices=[(p, p) for p in PRINCIPLES],
                                           error_messages={"required": _("请向居民逐条说明五项原则并勾选确认")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("signed_by", "purpose", "starts_on", "ends_on"):
            self.fields[name].widget.attrs.setdefault("class", "form-control")


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("撤回原因(可不填)"), max_length=120, required=False)
