"""Forms of the registry pages. Plain forms whose querysets the views narrow to the user's scope;
saving is the services' job (registry.services), never a ModelForm.save()."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, AreaKind

from . import choices as c
from . import selectors
from .models import Dwelling, Household, Resident, Tag

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _blank(choices: Any, label: Any = "——") -> list[tuple[str, Any]]:
    return [("", label), *list(choices)]


def _narrow(form: forms.Form, name: str, queryset: Any) -> None:
    """Limit a model choice field to the rows the view allows (the user's scope, one household)."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class ListedChoiceIterator(ModelChoiceIterator):
    """Reads the choices with one ordinary query instead of `QuerySet.iterator()`. On PostgreSQL
    the iterator opens a server-side cursor, which the planner optimises for the first rows
    (cursor_tuple_fraction): over the 170,000 areas of a city it walked the path index and took
    23–46 ms to find a grid's three rows. The rows are also cached on the field's queryset, so a
    view that needs the same rows (the tag table) reads them without a second query."""

    def __iter__(self) -> Any:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class FilterSelect(forms.Select):
    """A <select> built in Python: Django's default renders one template per <option>, which was
    a fifth of the household list's time. Plain options only (no groups), same attributes."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> Any:
        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        chosen = {str(v) for v in self.format_value(value)}
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (str(v), " selected" if str(v) in chosen else "", label) for v, label in self.choices))
        return format_html("<select{}>{}</select>", flatatt(final), options)


class ListedChoiceField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator
    widget = FilterSelect


class AreaChoiceField(ListedChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        # Indent buildings under their grid so the select reads like the tree.
        return ("\u3000" if obj.kind == AreaKind.BUILDING else "") + obj.short_name


def _filter_areas(user: Any) -> Any:
    # Only what the option label and the filter read (kind, name, full_name, path).
    return selectors.filter_areas(user).only("id", "kind", "name", "full_name", "path")


class TagMultipleField(forms.ModelMultipleChoiceField):
    iterator = ListedChoiceIterator
    widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})


# ---- list filters ------------------------------------------------------------------------


class HouseholdFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("姓名、拼音、证件尾号、住址、户编号")}))
    area = AreaChoiceField(label=_("网格/楼栋"), queryset=Area.objects.none(), required=False, empty_label=_("全部区域"))
    tag = ListedChoiceField(label=_("标签"), queryset=Tag.objects.all(), required=False, empty_label=_("全部标签"))
    status = forms.ChoiceField(label=_("状态"), required=False, widget=FilterSelect,
                               choices=[("", _("全部状态")), *c.HouseholdStatus.choices])

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        self.user = user
        _narrow(self, "area", _filter_areas(user))

    def tag_table(self) -> list[Tag]:
        """Every tag in display order (sort, name): the rows of the tag filter's own query, read
        once for both the <select> and the list's badges."""
        field = self.fields["tag"]
        assert isinstance(field, forms.ModelChoiceField) and field.queryset is not None
        return list(field.queryset)

    def filter(self, qs: Any) -> Any:
        f = self.cleaned_data if self.is_valid() else {}
        return selectors.filter_households(self.user, qs, q=f.get("q") or "", area=f.get("area"),
                                           tag=f.get("tag"), status=f.get("status") or "")


class ResidentFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, widget=forms.TextInput(
        attrs={"type": "search", "placeholder": _("姓名 / zhangli / zl / 证件或手机尾号 / 住址"),
               "autocomplete": "off"}))
    tag = TagMultipleField(label=_("标签(可多选)"), queryset=Tag.objects.filter(applies_to=Tag.AppliesTo.PERSON),
                           required=False)
    age_min = forms.IntegerField(label=_("年龄从"), min_value=0, max_value=150, required=False)
    age_max = forms.IntegerField(label=_("到"), min_value=0, max_value=150, required=False)
    sex = forms.ChoiceField(label=_("性别"), required=False, choices=_blank(c.Sex.choices, _("不限")))
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[("", _("全部状态")), *c.PersonStatus.choices])
    area = AreaChoiceField(label=_("网格/楼栋"), queryset=Area.objects.none(), required=False, empty_label=_("全部区域"))

    def __init__(self, data: Any, *, user: Any, shown: bool = True) -> None:
        super().__init__(data)
        # The user's grids and buildings, for the select and to check a chosen one. A live search
        # that swaps only the results (`shown` False) without an area skips building that query.
        if shown or data.get("area"):
            _narrow(self, "area", _filter_areas(user))

    def filter(self, qs: Any) -> Any:
        return self._filter().apply(qs)

    def parts(self, qs: Any) -> Any:
        return self._filter().parts(qs)

    def _filter(self) -> selectors.ResidentFilter:
        f = self.cleaned_data if self.is_valid() else {}
        return selectors.ResidentFilter(
            q=f.get("q") or "", area=f.get("area"), tag_ids=[t.pk for t in f.get("tag") or []] or None,
            age_min=f.get("age_min"), age_max=f.get("age_max"), status=f.get("status") or "", sex=f.get("sex") or "",
        )


# ---- households ----------------------------------------------------------------------------


class HouseholdFieldsForm(forms.Form):
    hukou_address = forms.CharField(label=_("户籍地"), max_length=128, required=False)
    origin_county = forms.CharField(label=_("搬迁来源县"), max_length=32, required=False)
    origin_town = forms.CharField(label=_("搬迁来源乡镇"), max_length=32, required=False)
    origin_village = forms.CharField(label=_("搬迁来源村"), max_length=32, required=False)
    relocation_batch = forms.CharField(label=_("搬迁批次"), max_length=32, required=False)
    moved_in_on = forms.DateField(label=_("入住日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    service_fields: tuple[str, ...] = ("hukou_address", "origin_county", "origin_town", "origin_village", "relocation_batch",
                      "moved_in_on", "note")

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.service_fields}


class DwellingChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Dwelling) -> str:
        return f"{obj.unit.name}{obj.number}室 · {obj.get_occupancy_display()}"


class HouseholdCreateForm(HouseholdFieldsForm):
    dwelling = DwellingChoiceField(label=_("户室"), queryset=Dwelling.objects.none(), empty_label=_("请选择户室"))

    field_order = ["dwelling"]

    def __init__(self, data: Any = None, *, dwellings: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "dwelling", dwellings)


class HeadChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Resident) -> str:
        return f"{obj.name}({obj.relation})"


class HouseholdEditForm(HouseholdFieldsForm):
    head = HeadChoiceField(label=_("户主"), queryset=Resident.objects.none(), required=False, empty_label=_("未指定"))
    status = forms.ChoiceField(label=_("状态"), choices=c.HouseholdStatus.choices)
    tags = TagMultipleField(label=_("户标签"), queryset=Tag.objects.filter(applies_to=Tag.AppliesTo.HOUSEHOLD),
                            required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)

    service_fields = (*HouseholdFieldsForm.service_fields, "status")
    field_order = ["head", "status"]

    def __init__(self, data: Any = None, *, household: Household, **kwargs: Any) -> None:
        if data is None:
            kwargs.setdefault("initial", {
                **{name: getattr(household, name) for name in self.service_fields},
                "head": household.head_id, "version": household.version,
                "tags": list(household.tags.all()),
            })
        super().__init__(data, **kwargs)
        _narrow(self, "head", household.members.order_by("id"))


# ---- residents -----------------------------------------------------------------------------


class ResidentForm(forms.Form):
    """One form for create and edit. On edit the ID and phone fields stay blank unless the worker
    types a new value: the current value is only shown masked, as the placeholder."""

    name = forms.CharField(label=_("姓名"), max_length=32)
    id_number = forms.CharField(label=_("身份证号"), max_length=24,
                                widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text",
                                                              "class": "wz-masked"}))
    phone = forms.CharField(label=_("手机"), max_length=20, required=False,
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    landline = forms.CharField(label=_("座机"), max_length=24, required=False,
                               widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}))
    relation = forms.ChoiceField(label=_("与户主关系"), choices=c.Relation.choices)
    ethnicity = forms.ChoiceField(label=_("民族"), choices=c.Ethnicity.choices, initial="汉族")
    political = forms.ChoiceField(label=_("政治面貌"), choices=c.Political.choices, initial=c.Political.MASSES)
    education = forms.ChoiceField(label=_("文化程度"), choices=_blank(c.Education.choices), required=False)
    employment = forms.ChoiceField(label=_("就业状况"), choices=_blank(c.Employment.choices), required=False)
    health = forms.ChoiceField(label=_("健康状况"), choices=c.Health.choices, initial=c.Health.HEALTHY)
    disability = forms.ChoiceField(label=_("残疾类别"), choices=_blank(c.Disability.choices, _("无")), required=False)
    disability_grade = forms.ChoiceField(label=_("残疾等级"), choices=_blank(c.DisabilityGrade.choices), required=False)
    residence = forms.ChoiceField(label=_("户籍与居住"), choices=c.Residence.choices, initial=c.Residence.BOTH)
    hukou_address = forms.CharField(label=_("户籍地"), max_length=128, required=False)
    status = forms.ChoiceField(label=_("状态"), choices=c.PersonStatus.choices, initial=c.PersonStatus.PRESENT)
    tags = TagMultipleField(label=_("标签"), queryset=Tag.objects.filter(applies_to=Tag.AppliesTo.PERSON),
                            required=False)
    note = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    plain_fields = ("relation", "ethnicity", "education", "employment", "health", "disability",
                    "disability_grade", "political", "residence", "hukou_address", "status", "note")

    def __init__(self, data: Any = None, *, resident: Resident | None = None, **kwargs: Any) -> None:
        self.resident = resident
        if resident is not None and data is None:
            kwargs.setdefault("initial", {
                "name": resident.name, "version": resident.version, "tags": list(resident.tags.all()),
                **{name: getattr(resident, name) for name in self.plain_fields},
            })
        super().__init__(data, **kwargs)
        if resident is not None:
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)
            self.fields["clear_phone"] = forms.BooleanField(label=_("清空手机号"), required=False)
            self.fields["clear_landline"] = forms.BooleanField(label=_("清空座机"), required=False)
            for name, masked in (("id_number", resident.id_number_masked), ("phone", resident.phone_masked),
                                 ("landline", resident.landline_masked)):
                field = self.fields[name]
                field.required = False
                field.widget.attrs["placeholder"] = masked or _("未登记")
                field.help_text = _("不修改请留空")

    def service_kwargs(self) -> dict[str, Any]:
        """Arguments for resident_create / resident_update: None means "keep the current value"."""
        d = self.cleaned_data
        out: dict[str, Any] = {name: d[name] for name in self.plain_fields}
        out["name"] = d["name"]
        out["tags"] = list(d["tags"])
        if self.resident is None:
            out.update(id_number=d["id_number"], phone=d["phone"], landline=d["landline"])
            return out
        out["id_number"] = d["id_number"].strip() or None
        out["phone"] = "" if d.get("clear_phone") else (d["phone"].strip() or None)
        out["landline"] = "" if d.get("clear_landline") else (d["landline"].strip() or None)
        return out


# ---- visits --------------------------------------------------------------------------------


class MemberChoiceField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})

    def label_from_instance(self, obj: Resident) -> str:
        return f"{obj.name}({obj.relation})"


class UserChoiceField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})

    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class VisitForm(forms.Form):
    findings = forms.CharField(label=_("走访情况"), widget=forms.Textarea(
        attrs={"rows": 6, "placeholder": _("见到了谁、身体和生活情况、提出了什么诉求……")}))
    residents = MemberChoiceField(label=_("见到的成员"), queryset=Resident.objects.none(), required=False)
    follow_up_needed = forms.BooleanField(label=_("需要跟进"), required=False)
    follow_up_note = forms.CharField(label=_("跟进事项"), max_length=255, required=False)
    visited_at = forms.DateTimeField(label=_("走访时间"), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                format=DATETIME_LOCAL))
    kind = forms.ChoiceField(label=_("方式"), choices=c.VisitKind.choices, initial=c.VisitKind.HOME)
    co_visitors = UserChoiceField(label=_("同行人员(可选)"), queryset=Resident.objects.none(), required=False)

    def __init__(self, data: Any = None, *, members: Any, colleagues: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"visited_at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(data, **kwargs)
        _narrow(self, "residents", members)
        _narrow(self, "co_visitors", colleagues)
