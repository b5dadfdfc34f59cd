from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, AreaKind
from wuzhi.registry.models import Household

from .models import Category, Nomination, Subject


class RoundForm(forms.Form):
    community = forms.ModelChoiceField(label=_("社区"), queryset=Area.objects.none())
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(label=_("季度"), coerce=int,
                                     choices=[(1, "第一季度"), (2, "第二季度"), (3, "第三季度"), (4, "第四季度")])
    notice_days = forms.IntegerField(label=_("公示天数"), min_value=1, max_value=30, initial=7)

    def __init__(self, *args: Any, communities: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities  # type: ignore[attr-defined]


class NominateForm(forms.Form):
    """Staff nomination: the category decides which of household, person or building is asked."""

    category = forms.ModelChoiceField(label=_("评选类别"), queryset=Category.objects.filter(active=True))
    household = forms.ModelChoiceField(label=_("户(家庭类)"), queryset=Household.objects.none(), required=False)
    person_name = forms.CharField(label=_("个人姓名(个人类)"), max_length=32, required=False,
                                  help_text=_("先选择所在的户,再填写此人的姓名"))
    building = forms.ModelChoiceField(label=_("楼栋(文明楼栋)"), queryset=Area.objects.none(), required=False)
    reason = forms.CharField(label=_("推荐理由"), widget=forms.Textarea(attrs={"rows": 4}),
                             help_text=_("写明具体事迹,不少于10个字"))

    def __init__(self, *args: Any, households: Any, buildings: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households  # type: ignore[attr-defined]
        self.fields["building"].queryset = buildings  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        super().clean()
        d = self.cleaned_data
        cat: Category | None = d.get("category")
        if cat is None:
            return d
        if cat.subject == Subject.BUILDING and not d.get("building"):
            self.add_error("building", _("请选择楼栋"))
        if cat.subject in (Subject.HOUSEHOLD, Subject.PERSON) and not d.get("household"):
            self.add_error("household", _("请选择户"))
        if cat.subject == Subject.PERSON and d.get("household"):
            name = (d.get("person_name") or "").strip()
            member = d["household"].members.filter(name=name).first() if name else None
            if member is None:
                self.add_error("person_name", _("该户没有叫这个名字的成员"))
            d["resident"] = member
        return d


class PortalNominateForm(forms.Form):
    category = forms.ModelChoiceField(label=_("推荐评选"), queryset=Category.objects.filter(active=True),
                                      empty_label=None, widget=forms.RadioSelect)
    nominee_text = forms.CharField(label=_("推荐谁"), max_length=64,
                                   help_text=_("如:本单元302室王阿姨家;推荐文明楼栋请写楼栋号"))
    reason = forms.CharField(label=_("推荐理由"), widget=forms.Textarea(attrs={"rows": 4}),
                             help_text=_("说说他(她)的具体事迹,不少于10个字"))
    nominator_name = forms.CharField(label=_("您的姓名"), max_length=32)
    nominator_phone = forms.CharField(label=_("您的手机号码"), max_length=20,
                                      help_text=_("仅供网格员核实情况,不会公开"))


class LinkForm(forms.Form):
    household = forms.ModelChoiceField(label=_("户"), queryset=Household.objects.none(), required=False)
    person_name = forms.CharField(label=_("个人姓名"), max_length=32, required=False)
    building = forms.ModelChoiceField(label=_("楼栋"), queryset=Area.objects.none(), required=False)

    def __init__(self, *args: Any, nomination: Nomination, households: Any, buildings: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["household"].queryset = households  # type: ignore[attr-defined]
        self.fields["building"].queryset = buildings  # type: ignore[attr-defined]
        subject = nomination.category.subject
        if subject == Subject.BUILDING:
            del self.fields["household"], self.fields["person_name"]
        else:
            del self.fields["building"]
            if subject == Subject.HOUSEHOLD:
                del self.fields["person_name"]
        self.subject = subject

    def clean(self) -> dict[str, Any]:
        super().clean()
        d = self.cleaned_data
        if self.subject == Subject.PERSON and d.get("household"):
            member = d["household"].members.filter(name=(d.get("person_name") or "").strip()).first()
            if member is None:
                self.add_error("person_name", _("该户没有叫这个名字的成员"))
            d["resident"] = member
        return d


class ScoreForm(forms.Form):
    """One input per criterion of the category's scoring sheet."""

    evaluator_name = forms.CharField(label=_("评分人"), max_length=32, required=False,
                                     help_text=_("代录他人评分表时填写评分人姓名;不填即为本人"))

    def __init__(self, *args: Any, category: Category, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i, c in enumerate(category.criteria):
            self.fields[f"c{i}"] = forms.IntegerField(label=f"{c['name']}(满分{c['max']})", min_value=0,
                                                      max_value=c["max"])
        self.criteria = category.criteria

    def points(self) -> dict[str, int]:
        return {c["name"]: self.cleaned_data[f"c{i}"] for i, c in enumerate(self.criteria)}


class VoteForm(forms.Form):
    votes_for = forms.IntegerField(label=_("赞成"), min_value=0)
    votes_against = forms.IntegerField(label=_("反对"), min_value=0)
    abstain = forms.IntegerField(label=_("弃权"), min_value=0, initial=0)


class AdvanceForm(forms.Form):
    to = forms.CharField(widget=forms.HiddenInput)
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AnswerForm(forms.Form):
    answer = forms.CharField(label=_("核查情况和答复"), widget=forms.Textarea(attrs={"rows": 3}))
    upheld = forms.BooleanField(label=_("异议成立(取消该对象入选)"), required=False)


class ObjectionForm(forms.Form):
    nomination = forms.ModelChoiceField(label=_("针对哪一位(可不选)"), queryset=Nomination.objects.none(),
                                        required=False)
    content = forms.CharField(label=_("异议内容"), widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=_("请写明具体事实,社区将核实后答复"))
    objector_name = forms.CharField(label=_("您的姓名(可不填)"), max_length=32, required=False)
    phone = forms.CharField(label=_("联系电话(可不填)"), max_length=20, required=False,
                            help_text=_("留下电话,社区核实后会告知您结果;不会公开"))

    def __init__(self, *args: Any, nominations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["nomination"].queryset = nominations  # type: ignore[attr-defined]
        self.fields["nomination"].label_from_instance = (  # type: ignore[attr-defined]
            lambda n: f"{n.category.name}·{n.public_label}")


def building_choices(qs: Any) -> Any:
    return qs.filter(kind=AreaKind.BUILDING).order_by("path")
