"""小探头: the community's cameras, the public areas they watch, and the residents' consent to share
a household camera (article, 智治 paragraph: 依法依规、自觉自愿、积极稳妥、保护隐私、合理引导).

No video is stored here, only where a camera is, what it covers and, encrypted, the address of its
stream. A household camera's stream is shown only while its owner's consent runs, only to the
roles the owner named, and every look is an AccessLog row."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, prefix_index
from wuzhi.core.roles import Role
from wuzhi.core.scoping import ScopedQuerySet

# The article's five principles for 小探头, shown on the consent form and stored on each record.
PRINCIPLES = ["依法依规", "自觉自愿", "积极稳妥", "保护隐私", "合理引导"]

# Who may watch a public-area camera inside their area: the people who answer for safety there.
# A household camera is watched only by the roles its owner's consent lists.
PUBLIC_VIEW_ROLES = (Role.SECRETARY, Role.GRID_WORKER, Role.POLICE, Role.DUTY)
# What the consent form offers: staff roles that could have a reason to look.
CONSENT_ROLES = (Role.DUTY, Role.POLICE, Role.GRID_WORKER, Role.SECRETARY, Role.BUILDING_HEAD)


class PublicAreaKind(models.TextChoices):
    ENTRANCE = "entrance", _("出入口")
    SQUARE = "square", _("广场")
    PARKING = "parking", _("停车场")
    CORRIDOR = "corridor", _("楼道")
    ELEVATOR = "elevator", _("电梯")
    ROAD = "road", _("道路")
    FACILITY = "facility", _("公共设施")
    OTHER = "other", _("其他")


class PublicArea(models.Model):
    """A place every resident may walk, which the community means to have watched."""

    kind = models.CharField(_("类型"), max_length=10, choices=PublicAreaKind.choices)
    name = models.CharField(_("名称"), max_length=48)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="public_areas", verbose_name=_("所在区域"))
    area_path = models.CharField(max_length=255, editable=False)
    note = models.CharField(_("说明"), max_length=120, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("公共区域")
        verbose_name_plural = _("公共区域")
        ordering = ["area_path", "kind", "name"]
        indexes = [prefix_index("cam_publicarea_path")]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="cam_publicarea_unique_name")]

    def __str__(self) -> str:
        return f"{self.area.short_name}{self.name}"


class CameraKind(models.TextChoices):
    PUBLIC = "public", _("公共区域探头")
    HOUSEHOLD = "household", _("居民自有探头")


def mask_stream(url: str) -> str:
    """What a list may show of a stream address: its scheme only ("rtsp://•••")."""
    scheme = urlsplit(url).scheme if url else ""
    return f"{scheme}://•••" if scheme else ""


class Camera(models.Model):
    number = models.CharField(_("编号"), max_length=24, unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=CameraKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="cameras", verbose_name=_("所在区域"))
    area_path = models.CharField(max_length=255, editable=False)
    location = models.CharField(_("安装位置"), max_length=80, help_text=_("如:东大门门岗上方,朝向小区内"))
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="cameras", verbose_name=_("所属户"))
    vendor = models.CharField(_("品牌"), max_length=32, blank=True)
    model = models.CharField(_("型号"), max_length=32, blank=True)
    # Ciphertext (core.crypto) of the RTSP/HTTP address; the clear address is never stored.
    stream_enc = models.TextField(blank=True, editable=False)
    stream_masked = models.CharField(_("视频流地址"), max_length=16, blank=True, editable=False)
    public_areas = models.ManyToManyField(PublicArea, blank=True, related_name="cameras", verbose_name=_("覆盖的公共区域"))
    installed_on = models.DateField(_("安装日期"), null=True, blank=True)
    active = models.BooleanField(_("在用"), default=True)
    note = models.CharField(_("备注"), max_length=120, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    audit_m2m = ("public_areas",)

    class Meta:
        verbose_name = _("探头")
        verbose_name_plural = _("探头")
        ordering = ["area_path", "number"]
        indexes = [prefix_index("cam_camera_path")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="household", household__isnull=False)
                           | models.Q(kind="public", household__isnull=True)),
                name="cam_camera_owner_matches_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.location}"


class ConsentQuerySet(ScopedQuerySet):
    def running(self, on: dt.date | None = None) -> ConsentQuerySet:
        """Consents in force on `on`: begun, not ended, not withdrawn."""
        on = on or timezone.localdate()
        return self.filter(models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=on), starts_on__lte=on,
                           withdrawn_at__isnull=True)


class Consent(models.Model):
    """A household's agreement to share its camera: for what, with whom, from when to when. A
    withdrawal ends it at once; the record stays, so who could look when is always known."""

    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="consents", verbose_name=_("探头"))
    household = models.ForeignKey("registry.Household", on_delete=models.PROTECT, related_name="camera_consents",
                                  verbose_name=_("授权户"))
    area_path = models.CharField(max_length=255, editable=False)
    signed_by = models.CharField(_("签字人"), max_length=32)
    purpose = models.CharField(_("共享用途"), max_length=120)
    viewer_roles = models.JSONField(_("可查看的角色"), default=list)
    starts_on = models.DateField(_("开始日期"), default=timezone.localdate)
    ends_on = models.DateField(_("截止日期"), null=True, blank=True)
    principles = models.JSONField(_("已告知的原则"), default=list)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("登记人"))
    recorded_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("撤回登记人"))
    withdraw_reason = models.CharField(_("撤回原因"), max_length=120, blank=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("探头共享授权")
        verbose_name_plural = _("探头共享授权")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["camera", "withdrawn_at"])]

    def __str__(self) -> str:
        return f"{self.camera.number} · {self.signed_by}"

    def is_running(self, on: dt.date | None = None) -> bool:
        on = on or timezone.localdate()
        return self.withdrawn_at is None and self.starts_on <= on and (self.ends_on is None or self.ends_on >= on)

    @property
    def status(self) -> str:
        if self.withdrawn_at is not None:
            return "已撤回"
        today = timezone.localdate()
        if self.starts_on > today:
            return "未开始"
        if self.ends_on is not None and self.ends_on < today:
            return "已到期"
        return "有效"

    @property
    def viewer_role_labels(self) -> list[str]:
        return [Role(r).label for r in self.viewer_roles if r in Role.values]
