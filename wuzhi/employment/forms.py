from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Contact, PlacementKind, Status

DATE = forms.DateInput(attrs={"type": "date"})


class ProfileForm(forms.Form):
    status = forms.ChoiceField(label=_("就业状态"), choices=Status.choices)
    skills = forms.CharField(label=_("技能特长"), max_length=200, required=False, help_text=_("多项用顿号分隔,如:电焊、驾驶"))
    wish = forms.CharField(label=_("就业意愿"), max_length=100, required=False)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class PlacementForm(forms.Form):
    kind = forms.ChoiceField(label=_("就业方式"), choices=PlacementKind.choices)
    employer = forms.CharField(label=_("用工单位"), max_length=64, required=False)
    post = forms.CharField(label=_("岗位"), max_length=32, required=False)
    province = forms.CharField(label=_("务工省份"), max_length=16, required=False, help_text=_("外出务工必填"))
    city = forms.CharField(label=_("务工城市"), max_length=16, required=False)
    monthly_income = forms.IntegerField(label=_("月收入(元)"), min_value=0, max_value=100000, required=False)
    started_on = forms.DateField(label=_("上岗日期"), widget=DATE)


class EndForm(forms.Form):
    ended_on = forms.DateField(label=_("离岗日期"), widget=DATE)
    end_reason = forms.CharField(label=_("离岗原因"), max_length=64)


class CertificateForm(forms.Form):
    name = forms.CharField(label=_("证书名称"), max_length=64)
    level = forms.CharField(label=_("等级"), max_length=16, required=False)
    issuer = forms.CharField(label=_("发证机关"), max_length=64, required=False)
    issued_on = forms.DateField(label=_("发证日期"), required=False, widget=DATE)


class ContactForm(forms.Form):
    method = forms.ChoiceField(label=_("方式"), choices=Contact.Method.choices)
    content = forms.CharField(label=_("情况"), widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(label=_("下一步"), max_length=100, required=False)
