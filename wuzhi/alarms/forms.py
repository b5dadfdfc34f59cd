"""Forms of the console, device and chain pages. They collect input; the engine's services
validate the flow and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from wuzhi.core import crypto
from wuzhi.core.models import Area
from wuzhi.core.roles import Role

from .models import Chain, ChainStep, ChainTarget, Resolution, TargetKind
from .services import StepSpec, TargetSpec

ACTIONS = [("ack", _("确认接警")), ("depart", _("我已出发")), ("onsite", _("已到达")), ("resolve", _("处置完毕")),
           ("note", _("记录")), ("dispatch", _("派人前往"))]
MAX_STEPS = 4
CHAIN_ROLES = [(r.value, r.label) for r in (Role.GRID_WORKER, Role.BUILDING_HEAD, Role.DOCTOR, Role.POLICE,
                                            Role.SECRETARY, Role.VOLUNTEER, Role.PARTY_MEMBER)]


class ActionForm(forms.Form):
    action = forms.ChoiceField(choices=ACTIONS)
    note = forms.CharField(max_length=500, required=False)
    resolution = forms.ChoiceField(choices=[("", "")] + list(Resolution.choices), required=False)
    responder = forms.CharField(max_length=20, required=False)
    version = forms.IntegerField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "resolve" and not data.get("resolution"):
            raise forms.ValidationError(_("请选择处置结果"))
        if data.get("action") == "note" and not (data.get("note") or "").strip():
            raise forms.ValidationError(_("请填写记录内容"))
        if data.get("action") == "dispatch" and not data.get("responder"):
            raise forms.ValidationError(_("请选择要派出的人员"))
        return data


class DeviceFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, choices=[
        ("", _("全部状态")), ("ok", _("正常")), ("offline", _("离线")), ("low_battery", _("电量低")),
        ("tamper", _("防拆报警"))])
    q = forms.CharField(label=_("设备号或使用人"), required=False, max_length=32,
                        widget=forms.TextInput(attrs={"placeholder": _("设备号或使用人姓名")}))


class ChainChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Chain) -> str:
        return f"{obj.name}{'(网格默认)' if obj.is_default else ''}"


class DeviceChainForm(forms.Form):
    chain = ChainChoice(label=_("专用通知链"), queryset=Chain.objects.none(), required=False,
                        empty_label=_("使用网格默认通知链"))
    medical_notes = forms.CharField(label=_("健康与用药提示"), required=False, max_length=500,
                                    widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text=_("值班员和赶到现场的人需要知道的病史、用药、过敏;只有值班、医生、民警、网格员等可见"))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, chains: QuerySet[Chain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chain"].queryset = chains  # type: ignore[attr-defined]


class GridChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Area) -> str:
        return obj.short_name if obj.kind != "community" else obj.name


class UserChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


class ChainForm(forms.Form):
    """A chain and up to MAX_STEPS steps, each with its wait and its targets. Steps left without
    targets are dropped; the first step always runs at once."""

    area = GridChoice(label=_("所属网格"), queryset=Area.objects.none())
    name = forms.CharField(label=_("名称"), max_length=64)
    is_default = forms.BooleanField(label=_("作为网格默认通知链"), required=False)
    onsite_seconds = forms.IntegerField(label=_("确认后到场时限(秒)"), min_value=0, max_value=7200, initial=600)
    repeat_seconds = forms.IntegerField(label=_("末步重复间隔(秒)"), min_value=0, max_value=7200, initial=300)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, grids: QuerySet[Area], users: QuerySet[Any], editing: bool = False,
                 existing: list[ChainStep] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Stored phone targets are offered as "keep" boxes (masked): the clear number is never
        # put into the page, and an edit does not silently drop them.
        self.kept: dict[int, dict[str, ChainTarget]] = {}
        for i, step in enumerate((existing or [])[:MAX_STEPS], start=1):
            phones = {str(t.pk): t for t in step.targets.all() if t.kind == TargetKind.PHONE and t.phone_enc}
            if phones:
                self.kept[i] = phones
        if editing:
            del self.fields["area"]
        else:
            self.fields["area"].queryset = grids  # type: ignore[attr-defined]
        for i in range(1, MAX_STEPS + 1):
            self.fields[f"s{i}_wait"] = forms.IntegerField(
                label=_("等待(秒)"), min_value=0, max_value=86400, required=False,
                help_text=_("上一步后仍无人确认,等待多少秒") if i > 1 else _("第一步立即通知"))
            self.fields[f"s{i}_family"] = forms.BooleanField(label=_("家属"), required=False)
            self.fields[f"s{i}_duty"] = forms.BooleanField(label=_("值班室"), required=False)
            self.fields[f"s{i}_roles"] = forms.MultipleChoiceField(
                label=_("网格内的角色"), choices=CHAIN_ROLES, required=False, widget=forms.CheckboxSelectMultiple)
            self.fields[f"s{i}_users"] = UserChoices(label=_("指定人员"), queryset=users, required=False,
                                                     widget=forms.SelectMultiple(attrs={"size": 4}))
            self.fields[f"s{i}_phones"] = forms.CharField(
                label=_("其他电话"), required=False, max_length=400, widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("每行一个:称呼 电话,如“物业值班 13900000000”"))
            if i in self.kept:
                self.fields[f"s{i}_keep"] = forms.MultipleChoiceField(
                    label=_("保留已登记的电话"), required=False, widget=forms.CheckboxSelectMultiple,
                    choices=[(pk, f"{t.name} {t.phone_masked}") for pk, t in self.kept[i].items()],
                    initial=list(self.kept[i]))

    def steps(self) -> list[list[Any]]:
        """Bound fields grouped by step, for the template."""
        names = ("wait", "family", "duty", "roles", "users", "keep", "phones")
        return [[self[f"s{i}_{n}"] for n in names if f"s{i}_{n}" in self.fields] for i in range(1, MAX_STEPS + 1)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for i in range(1, MAX_STEPS + 1):
            for line in (data.get(f"s{i}_phones") or "").splitlines():
                if line.strip() and len(line.split()) < 2:
                    self.add_error(f"s{i}_phones", _("请按“称呼 电话”填写,每行一个"))
        if not self.step_specs():
            raise forms.ValidationError(_("通知链至少要有一步,并选择通知对象"))
        return data

    def step_specs(self) -> list[StepSpec]:
        d = self.cleaned_data
        out: list[StepSpec] = []
        for i in range(1, MAX_STEPS + 1):
            targets: list[TargetSpec] = []
            if d.get(f"s{i}_family"):
                targets.append(TargetSpec(TargetKind.FAMILY))
            if d.get(f"s{i}_duty"):
                targets.append(TargetSpec(TargetKind.DUTY))
            targets += [TargetSpec(TargetKind.ROLE, role=r) for r in d.get(f"s{i}_roles") or []]
            targets += [TargetSpec(TargetKind.USER, user=u) for u in d.get(f"s{i}_users") or []]
            for pk in d.get(f"s{i}_keep") or []:
                t = self.kept[i][pk]
                targets.append(TargetSpec(TargetKind.PHONE, name=t.name, phone=crypto.decrypt(t.phone_enc), sms=t.sms))
            for line in (d.get(f"s{i}_phones") or "").splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    targets.append(TargetSpec(TargetKind.PHONE, name=" ".join(parts[:-1]), phone=parts[-1]))
            if targets:
                out.append(StepSpec(int(d.get(f"s{i}_wait") or 0), targets))
        return out

    @staticmethod
    def blank_initial() -> dict[str, Any]:
        return {"s1_wait": 0, "s1_family": True, "s1_duty": True, "s2_wait": 60,
                "s2_roles": [Role.GRID_WORKER, Role.BUILDING_HEAD], "s3_wait": 120,
                "s3_roles": [Role.DOCTOR, Role.POLICE, Role.SECRETARY], "onsite_seconds": 600, "repeat_seconds": 300}

    @staticmethod
    def initial_for(steps: list[ChainStep], chain: Chain) -> dict[str, Any]:
        """The form's values from a stored chain (targets of a user since removed are kept by id)."""
        initial: dict[str, Any] = {"name": chain.name, "is_default": chain.is_default, "version": chain.version,
                                   "onsite_seconds": chain.onsite_seconds, "repeat_seconds": chain.repeat_seconds}
        for i, step in enumerate(steps[:MAX_STEPS], start=1):
            targets = list(step.targets.all())
            initial[f"s{i}_wait"] = step.wait_seconds
            initial[f"s{i}_family"] = any(t.kind == TargetKind.FAMILY for t in targets)
            initial[f"s{i}_duty"] = any(t.kind == TargetKind.DUTY for t in targets)
            initial[f"s{i}_roles"] = [t.role for t in targets if t.kind == TargetKind.ROLE]
            initial[f"s{i}_users"] = [t.user_id for t in targets if t.kind == TargetKind.USER and t.user_id]
        return initial
