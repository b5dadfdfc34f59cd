"""能致富: employment support for the working-age relocated population.

A working-age resident (16–59, from the birth date that the ID number gives) has an employment
profile (status, skills, what work they want), certificates, placements (本地帮扶车间, 外出务工
with destination and employer, 公益性岗位, 自主创业 …) and the 就业创业服务队's follow-ups, a
timeline of contacts. Trainings attended are not copied here: they are the resident's
attendance at activities of kind "training" (wuzhi.activities), read where they are shown."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import prefix_index
from wuzhi.core.scoping import ScopedQuerySet


class Status(models.TextChoices):
    EMPLOYED = "employed", _("就业")
    FLEXIBLE = "flexible", _("灵活就业")
    UNEMPLOYED = "unemployed", _("失业/待业")
    CARING = "caring", _("照料家庭")
    STUDENT = "student", _("在校学生")
    UNABLE = "unable", _("无劳动能力")


# The employment rate: employed / working-age residents able to work (students and those
# unable to work are outside the labour force). A working-age resident with no profile yet
# counts as not employed: the rate never looks better because nobody asked.
EMPLOYED_STATES = (Status.EMPLOYED, Status.FLEXIBLE)
OUTSIDE_LABOUR_FORCE = (Status.STUDENT, Status.UNABLE)
WORKING_AGE = (16, 59)


class Profile(models.Model):
    resident = models.OneToOneField("registry.Resident", on_delete=models.PROTECT, related_name="employment_profile",
                                    verbose_name=_("居民"))
    area_path = models.CharField(max_length=255, editable=False)
    status = models.CharField(_("就业状态"), max_length=12, choices=Status.choices)
    skills = models.CharField(_("技能特长"), max_length=200, blank=True, help_text=_("多项用顿号分隔,如:电焊、驾驶"))
    wish = models.CharField(_("就业意愿"), max_length=100, blank=True, help_text=_("想做的工作、希望的地点"))
    note = models.TextField(_("备注"), blank=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("就业情况")
        verbose_name_plural = _("就业情况")
        indexes = [prefix_index("employment_profile_path"), models.Index(fields=["status"], name="employment_status")]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.get_status_display()}"

    @property
    def skill_list(self) -> list[str]:
        return [s for s in self.skills.replace(",", "、").replace(",", "、").split("、") if s.strip()]


class Certificate(models.Model):
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="certificates",
                                 verbose_name=_("居民"))
    area_path = models.CharField(max_length=255, editable=False)
    name = models.CharField(_("证书名称"), max_length=64, help_text=_("如:焊工职业资格证、C1驾驶证"))
    level = models.CharField(_("等级"), max_length=16, blank=True)
    issuer = models.CharField(_("发证机关"), max_length=64, blank=True)
    issued_on = models.DateField(_("发证日期"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("技能证书")
        verbose_name_plural = _("技能证书")
        ordering = ["resident_id", "-issued_on", "id"]
        indexes = [prefix_index("employment_cert_path")]

    def __str__(self) -> str:
        return self.name


class PlacementKind(models.TextChoices):
    WORKSHOP = "workshop", _("本地帮扶车间")
    LOCAL = "local", _("本地企业")
    MIGRANT = "migrant", _("外出务工")
    PUBLIC_POST = "public_post", _("公益性岗位")
    SELF = "self", _("自主创业")
    FLEXIBLE = "flexible", _("灵活就业")


class Placement(models.Model):
    """A job found (or helped to find): where, with whom, from when to when."""

    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="placements",
                                 verbose_name=_("居民"))
    area_path = models.CharField(max_length=255, editable=False)
    kind = models.CharField(_("就业方式"), max_length=12, choices=PlacementKind.choices)
    employer = models.CharField(_("用工单位"), max_length=64, blank=True, help_text=_("帮扶车间、企业或创业项目名称"))
    post = models.CharField(_("岗位"), max_length=32, blank=True)
    province = models.CharField(_("务工省份"), max_length=16, blank=True)
    city = models.CharField(_("务工城市"), max_length=16, blank=True)
    monthly_income = models.PositiveIntegerField(_("月收入(元)"), null=True, blank=True)
    started_on = models.DateField(_("上岗日期"))
    ended_on = models.DateField(_("离岗日期"), null=True, blank=True)
    end_reason = models.CharField(_("离岗原因"), max_length=64, blank=True)
    # Optimistic lock: the page's hidden version; a stale 离岗 is refused.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("就业安置")
        verbose_name_plural = _("就业安置")
        ordering = ["-started_on", "-id"]
        indexes = [prefix_index("employment_placement_path"),
                   models.Index(fields=["kind", "ended_on"], name="employment_placement_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.employer}"

    @property
    def destination(self) -> str:
        return f"{self.province}{self.city}"

    def clean(self) -> None:
        if self.kind == PlacementKind.MIGRANT and not (self.province.strip() and self.city.strip()):
            raise ValidationError({"city": "外出务工请填写务工省份和城市"})
        if self.kind in (PlacementKind.MIGRANT, PlacementKind.WORKSHOP, PlacementKind.LOCAL) and not self.employer.strip():
            raise ValidationError({"employer": "请填写用工单位"})
        if self.ended_on and self.ended_on < self.started_on:
            raise ValidationError({"ended_on": "离岗日期不能早于上岗日期"})


class Contact(models.Model):
    """A follow-up by the 就业创业服务队 (or the grid worker): one row of the resident's timeline."""

    class Method(models.TextChoices):
        HOME = "home", _("入户走访")
        PHONE = "phone", _("电话")
        WECHAT = "wechat", _("微信")
        VISIT = "visit", _("来访")

    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="employment_contacts",
                                 verbose_name=_("居民"))
    area_path = models.CharField(max_length=255, editable=False)
    at = models.DateTimeField(_("联系时间"), default=timezone.now)
    method = models.CharField(_("方式"), max_length=8, choices=Method.choices, default=Method.PHONE)
    team = models.ForeignKey("activities.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("服务队"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(_("联系人"), max_length=32)
    content = models.TextField(_("情况"))
    next_step = models.CharField(_("下一步"), max_length=100, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("就业回访")
        verbose_name_plural = _("就业回访")
        ordering = ["-at", "-id"]
        indexes = [prefix_index("employment_contact_path"),
                   models.Index(fields=["resident", "at"], name="employment_contact_res")]

    def __str__(self) -> str:
        return f"{self.resident_id} {self.at:%Y-%m-%d}"
