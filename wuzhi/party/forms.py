"""Forms of the party pages. Plain forms whose choices the views narrow to what the user sees
(the scope chokepoint); saving is wuzhi.party.services' job, never a ModelForm.save()."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, AreaKind
from wuzhi.registry.models import Resident

from .models import Branch, Department, PartyMember
from .selectors import Candidate


def _narrow(form: forms.Form, name: str, queryset: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = queryset


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        # Grids read "3网格" indented under their community, like the area tree.
        if obj.kind in (AreaKind.GRID, AreaKind.BUILDING):
            return "\u3000" + obj.short_name
        return obj.full_name


class DepartmentForm(forms.Form):
    county = AreaChoiceField(label=_("所属县"), queryset=Area.objects.none(), empty_label=None)
    name = forms.CharField(label=_("单位名称"), max_length=64,
                           widget=forms.TextInput(attrs={"placeholder": _("如:绥江县民政局")}))

    def __init__(self, data: Any = None, *, counties: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "county", counties)


class BranchForm(forms.Form):
    area = AreaChoiceField(label=_("所属社区"), queryset=Area.objects.none(), empty_label=None)
    name = forms.CharField(label=_("支部名称"), max_length=64,
                           widget=forms.TextInput(attrs={"placeholder": _("如:福兴社区第一网格党支部")}))
    linked_department = forms.ModelChoiceField(label=_("结对县直机关"), queryset=Department.objects.none(),
                                               required=False, empty_label=_("暂不结对"))

    def __init__(self, data: Any = None, *, areas: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "area", areas)
        _narrow(self, "linked_department", departments)


class CadreForm(forms.Form):
    department = forms.ModelChoiceField(label=_("所在单位"), queryset=Department.objects.none(), empty_label=None)
    name = forms.CharField(label=_("姓名"), max_length=32)
    title = forms.CharField(label=_("职务"), max_length=32, required=False, initial=_("帮扶干部"))

    def __init__(self, data: Any = None, *, departments: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "department", departments)


class MemberForm(forms.Form):
    """A party member is a resident picked by search (name, pinyin, ID tail …) or, for someone
    not living in the community, just a name."""

    branch = forms.ModelChoiceField(label=_("所在支部"), queryset=Branch.objects.none(), empty_label=None)
    resident = forms.ModelChoiceField(label=_("对应居民"), queryset=Resident.objects.none(), required=False,
                                      widget=forms.HiddenInput)
    name = forms.CharField(label=_("姓名"), max_length=32, required=False,
                           help_text=_("不在本社区居住的党员直接填写姓名;选了居民可不填"))
    joined_on = forms.DateField(label=_("入党日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    is_mobile = forms.BooleanField(label=_("流动党员(外出务工等)"), required=False)

    def __init__(self, data: Any = None, *, branches: Any, residents: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "branch", branches)
        _narrow(self, "resident", residents)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("resident") and not (data.get("name") or "").strip() and "name" not in self.errors:
            self.add_error("name", _("请搜索选择一名居民,或填写党员姓名"))
        return data


class VersionForm(forms.Form):
    """Carries the version of the record the page showed: a save from a stale page is refused."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class BranchLinkForm(VersionForm):
    department = forms.ModelChoiceField(label=_("结对县直机关"), queryset=Department.objects.none(),
                                        required=False, empty_label=_("不结对"))

    def __init__(self, data: Any = None, *, departments: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "department", departments)


class SecretaryForm(VersionForm):
    member = forms.ModelChoiceField(label=_("支部书记"), queryset=PartyMember.objects.none(), required=False,
                                    empty_label=_("暂无"))

    def __init__(self, data: Any = None, *, members: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "member", members)


class BranchChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Branch) -> str:
        return obj.name


class MemberMoveForm(VersionForm):
    branch = BranchChoiceField(label=_("转入支部"), queryset=Branch.objects.none(), empty_label=None)

    def __init__(self, data: Any = None, *, branches: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        _narrow(self, "branch", branches)


class AssignForm(forms.Form):
    """指派联系人. The field is a text input tied to one <datalist> of candidates shared by every
    row of the coverage page (a <select> per row would repeat hundreds of options thirty times);
    the browser filters the list as the secretary types, and the submitted label is resolved
    back to the person here."""

    helper = forms.CharField(label=_("联系人"), max_length=200, widget=forms.TextInput(
        attrs={"list": "wz-helpers", "autocomplete": "off", "placeholder": _("输入姓名搜索党员或帮扶干部")}))

    def __init__(self, data: Any = None, *, candidates: list[Candidate], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.candidates = {c.label: c for c in candidates}

    def clean_helper(self) -> Candidate:
        label = self.cleaned_data["helper"].strip()
        found = self.candidates.get(label)
        if found is None:
            # A bare name is enough when only one person of that name is offered.
            same = [c for c in self.candidates.values() if c.helper.name == label]
            found = same[0] if len(same) == 1 else None
        if found is None:
            raise forms.ValidationError(_("请从列表中选择一名党员或帮扶干部"))
        return found


class PairingEndForm(forms.Form):
    reason = forms.CharField(label=_("结束原因"), max_length=200, widget=forms.TextInput(
        attrs={"placeholder": _("如:党员外出务工,改由他人联系")}))
