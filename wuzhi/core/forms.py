"""Forms for the area tree and grants. Plain forms, never ModelForms: the views hand the cleaned
data to core.services / registry.services, which validate again, save and audit."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from wuzhi.core.roles import STAFF_ROLES
from wuzhi.registry import choices as c


class AreaChildForm(forms.Form):
    segment = forms.CharField(label=_("编码"), max_length=12, help_text=_("本级编码,只含数字和字母,如网格“03”、单元“2”"))
    name = forms.CharField(label=_("名称"), max_length=64)
    sort = forms.IntegerField(label=_("排序"), initial=0, required=False)
    floors = forms.IntegerField(label=_("楼层数"), min_value=1, max_value=200, required=False,
                                help_text=_("仅楼栋需要填写"))


class AreaEditForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    sort = forms.IntegerField(label=_("排序"), required=False)
    floors = forms.IntegerField(label=_("楼层数"), min_value=1, max_value=200, required=False)
    note = forms.CharField(label=_("备注"), max_length=255, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)  # the version the page showed


class DwellingForm(forms.Form):
    floor = forms.IntegerField(label=_("楼层"), min_value=-5, max_value=200)
    number = forms.CharField(label=_("房号"), max_length=16, help_text=_("如 301"))
    occupancy = forms.ChoiceField(label=_("使用状态"), choices=c.Occupancy.choices, initial=c.Occupancy.EMPTY)


class GrantForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150, help_text=_("已有账号的用户名"))
    role = forms.ChoiceField(label=_("角色"), choices=[(r.value, r.label) for r in STAFF_ROLES])
    valid_from = forms.DateField(label=_("生效日期"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("valid_from") and data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            self.add_error("valid_to", _("截止日期不能早于生效日期"))
        return data


class ProfileForm(forms.Form):
    phone = forms.CharField(label=_("工作电话"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    publish_phone = forms.BooleanField(label=_("我同意在所负责楼栋的单元服务牌上公开此电话"), required=False)
