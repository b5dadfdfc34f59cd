from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import pagecache
from .roles import Role
from .scoping import ScopedQuerySet


def prefix_index(name: str, field: str = "area_path", include: list[str] | None = None) -> models.Index:
    """An index for `field__startswith` (subtrees, pinyin prefixes). varchar_pattern_ops makes
    LIKE 'prefix%' use it on PostgreSQL whatever the collation; other databases ignore it, and
    the covering `include` columns too."""
    return models.Index(fields=[field], name=name, opclasses=["varchar_pattern_ops"], include=include)


class AreaKind(models.TextChoices):
    COUNTY = "county", "县"
    TOWN = "town", "乡镇"
    COMMUNITY = "community", "社区"
    GRID = "grid", "网格"
    BUILDING = "building", "楼栋"
    UNIT = "unit", "单元"


# Which kind may hang under which: the tree's shape is data, checked on every save.
CHILD_KIND: dict[str | None, AreaKind] = {
    None: AreaKind.COUNTY,
    AreaKind.COUNTY: AreaKind.TOWN,
    AreaKind.TOWN: AreaKind.COMMUNITY,
    AreaKind.COMMUNITY: AreaKind.GRID,
    AreaKind.GRID: AreaKind.BUILDING,
    AreaKind.BUILDING: AreaKind.UNIT,
}


class Area(models.Model):
    """One node of county → town → community → grid → building → unit.

    `path` is the materialised chain of segment codes ("/530626/100/012/03/05/2/"), so a
    subtree is one indexed prefix match, and `code` is the same chain without separators
    (530626100012 is the 12-digit statistical code of a community)."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    kind = models.CharField("层级", max_length=16, choices=AreaKind.choices)
    segment = models.CharField("编码", max_length=12, help_text="本级编码,如社区的3位代码")
    code = models.CharField("区域代码", max_length=64, unique=True, editable=False)
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    name = models.CharField("名称", max_length=64)
    full_name = models.CharField(max_length=255, editable=False)
    sort = models.IntegerField("排序", default=0)
    floors = models.PositiveSmallIntegerField("楼层数", null=True, blank=True)
    note = models.CharField("备注", max_length=255, blank=True)
    # Optimistic lock for the edit form and the API: several staff maintain the same tree.
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()
    scope_path_field = "path"

    class Meta:
        verbose_name = "区域"
        verbose_name_plural = "区域"
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["parent", "segment"], name="area_unique_segment")]
        indexes = [prefix_index("area_path_prefix", "path")]

    def __str__(self) -> str:
        return self.full_name or self.name

    def clean(self) -> None:
        expected = CHILD_KIND.get(self.parent.kind if self.parent else None)
        if expected is None:
            raise ValidationError({"parent": "单元下不能再建立下级区域,户室请在单元页面添加"})
        if self.kind != expected:
            raise ValidationError({"kind": f"{self.parent or '顶层'}下只能建立“{expected.label}”"})
        if not self.segment.isalnum():
            raise ValidationError({"segment": "编码只能包含数字和字母"})

    def compute_path(self) -> None:
        parent_path = self.parent.path if self.parent else "/"
        self.path = f"{parent_path}{self.segment}/"
        self.code = self.path.replace("/", "")
        self.depth = self.path.count("/") - 1
        self.full_name = f"{self.parent.full_name}{self.name}" if self.parent else self.name
        if self.kind in (AreaKind.COUNTY,):
            self.full_name = self.name

    @property
    def short_name(self) -> str:
        """Name within its community: 3网格5栋2单元."""
        return self.full_name.split("社区", 1)[-1] if "社区" in self.full_name else self.name

    def ancestor_paths(self) -> list[str]:
        parts = self.path.strip("/").split("/")
        return ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]

    def is_within(self, path: str) -> bool:
        return self.path.startswith(path)


class GrantQuerySet(models.QuerySet["Grant"]):
    def active(self, on: dt.date | None = None) -> GrantQuerySet:
        on = on or timezone.localdate()
        return self.filter(Q(valid_from__lte=on), Q(valid_to__isnull=True) | Q(valid_to__gte=on))


class Grant(models.Model):
    """A user holds a role over an area subtree for a period."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants")
    role = models.CharField("角色", max_length=32, choices=Role.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="grants", verbose_name="区域")
    valid_from = models.DateField("生效日期", default=timezone.localdate)
    valid_to = models.DateField("截止日期", null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = "角色授权"
        verbose_name_plural = "角色授权"
        indexes = [models.Index(fields=["user", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.area}"


class TimelineEvent(models.Model):
    """The columns every workflow's timeline row shares (who, when, what they wrote); each
    workflow's event model adds its object, its kind and its own from/to states and labels."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_name = models.CharField(_("操作人"), max_length=32, blank=True)
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        abstract = True


class ChangeLogQuerySet(ScopedQuerySet):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        created = super().bulk_create(objs, *args, **kwargs)
        pagecache.changed_by_logs(created)
        return created


class ChangeLog(models.Model):
    """Field-level diff of every change to registry data, written by services (core.audit).
    Writing one also tells the page cache its area changed (core.pagecache)."""

    class Op(models.TextChoices):
        CREATE = "create", "新建"
        UPDATE = "update", "修改"
        DELETE = "delete", "删除"

    model = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    op = models.CharField(max_length=8, choices=Op.choices)
    changes = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    area_path = models.CharField(max_length=255, blank=True)
    note = models.CharField(max_length=200, blank=True)

    objects = ChangeLogQuerySet.as_manager()

    class Meta:
        verbose_name = "变更记录"
        verbose_name_plural = "变更记录"
        indexes = [models.Index(fields=["model", "object_id", "at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_op_display()} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        pagecache.changed_by_logs([self])


class AccessLog(models.Model):
    """Reads of sensitive data: revealing an ID or phone number, exporting a list."""

    class Kind(models.TextChoices):
        REVEAL = "reveal", "查看敏感信息"
        EXPORT = "export", "导出"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    model = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    field = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    area_path = models.CharField(max_length=255, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "敏感信息访问记录"
        verbose_name_plural = "敏感信息访问记录"
        indexes = [models.Index(fields=["model", "object_id"]), models.Index(fields=["actor", "at"])]
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.object_repr}"


class StaffProfile(models.Model):
    """What a staff member chooses to publish about themselves. The work phone appears on the
    unit service boards only with the holder's own consent (PIPL: publishing a personal number
    needs it), and the time of consent is kept."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    phone = models.CharField("工作电话", max_length=20, blank=True)
    publish_phone = models.BooleanField("同意在单元服务牌上公开", default=False)
    consented_at = models.DateTimeField("同意时间", null=True, blank=True)
    # Two-step login (wuzhi.core.auth): the TOTP secret encrypted like ID numbers (the `_enc` suffix
    # puts it under key rotation and keeps it out of audit diffs), and the last accepted time step
    # so a code cannot be used twice, even within its 30-second window.
    totp_secret_enc = models.CharField("两步验证密钥(加密)", max_length=255, blank=True, editable=False)
    totp_last_step = models.BigIntegerField(null=True, blank=True, editable=False)
    totp_enabled_at = models.DateTimeField("启用两步验证时间", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "工作人员资料"
        verbose_name_plural = "工作人员资料"

    def __str__(self) -> str:
        return str(self.user)

    @property
    def published_phone(self) -> str:
        return self.phone if self.publish_phone else ""
