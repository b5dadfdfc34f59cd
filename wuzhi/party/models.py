"""三联系: 部门联系党支部, 党支部联系党员, 党员联系群众.

County departments (县直机关) each have a party branch; each is linked to one of the community's
branches; branches hold party members; a party member or a department's helper cadre is paired
with the households they serve (联系户). Coverage is the set of households with an active pairing.

The duty roster (网格长, 网格员, and per building 楼长, 党员, 志愿者, 警务长, 家庭医生) is not a table of
its own: it is the role grants on grids and buildings (wuzhi.core.models.Grant), so the person on
a unit board is exactly the person who can see that building."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from wuzhi.core.models import Area, prefix_index
from wuzhi.core.scoping import ScopedQuerySet


class Department(models.Model):
    """县直机关 with its own party branch (the branch is a Branch with kind DEPARTMENT)."""

    name = models.CharField("单位名称", max_length=64)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="departments", verbose_name="所属县")
    area_path = models.CharField(max_length=255, editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "县直机关"
        verbose_name_plural = "县直机关"
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="department_unique_name")]
        indexes = [prefix_index("department_path")]

    def __str__(self) -> str:
        return self.name


class Branch(models.Model):
    class Kind(models.TextChoices):
        COMMUNITY = "community", "社区党支部"
        DEPARTMENT = "department", "机关党支部"

    name = models.CharField("支部名称", max_length=64)
    kind = models.CharField("类型", max_length=12, choices=Kind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="branches", verbose_name="所属区域")
    area_path = models.CharField(max_length=255, editable=False)
    department = models.OneToOneField(Department, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="branch", verbose_name="所属机关")
    secretary = models.ForeignKey("PartyMember", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name="支部书记")
    # 部门联系党支部: the department branch that pairs with this community branch.
    linked_department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="linked_branches", verbose_name="结对县直机关")
    # Optimistic lock for the branch page's edits (secretary, linked department).
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "党支部"
        verbose_name_plural = "党支部"
        ordering = ["kind", "name"]
        indexes = [prefix_index("branch_path")]

    def __str__(self) -> str:
        return self.name


class PartyMember(models.Model):
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="members", verbose_name="所在支部")
    resident = models.OneToOneField("registry.Resident", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="party_member", verbose_name="对应居民")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="party_member", verbose_name="登录账号")
    name = models.CharField("姓名", max_length=32)
    joined_on = models.DateField("入党日期", null=True, blank=True)
    is_mobile = models.BooleanField("流动党员", default=False)
    phone_masked = models.CharField("联系电话", max_length=16, blank=True)
    area_path = models.CharField(max_length=255, editable=False)
    active = models.BooleanField("在册", default=True)
    # Optimistic lock for the member page's edits (moving to another branch).
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "党员"
        verbose_name_plural = "党员"
        ordering = ["branch_id", "id"]
        indexes = [prefix_index("member_path")]

    def __str__(self) -> str:
        return self.name


class Cadre(models.Model):
    """A department's helper cadre (部门帮扶干部) who serves households like a party member does."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="cadres", verbose_name="所在单位")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="cadre", verbose_name="登录账号")
    name = models.CharField("姓名", max_length=32)
    title = models.CharField("职务", max_length=32, blank=True)
    phone_masked = models.CharField("联系电话", max_length=16, blank=True)
    area_path = models.CharField(max_length=255, editable=False)
    active = models.BooleanField("在岗", default=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "帮扶干部"
        verbose_name_plural = "帮扶干部"
        indexes = [prefix_index("cadre_path")]

    def __str__(self) -> str:
        return f"{self.name}({self.department})"


class Pairing(models.Model):
    """党员(或帮扶干部)联系户. Ending a pairing sets `ended_on`; it is never deleted, so the history
    of who served a household stays. A pairing whose household or helper moved is flagged for a
    person to confirm (`flag`), never silently dropped."""

    household = models.ForeignKey("registry.Household", on_delete=models.PROTECT, related_name="pairings", verbose_name="联系户")
    member = models.ForeignKey(PartyMember, null=True, blank=True, on_delete=models.PROTECT, related_name="pairings", verbose_name="党员")
    cadre = models.ForeignKey(Cadre, null=True, blank=True, on_delete=models.PROTECT, related_name="pairings", verbose_name="帮扶干部")
    area_path = models.CharField(max_length=255, editable=False)
    started_on = models.DateField("结对日期", default=timezone.localdate)
    ended_on = models.DateField("结束日期", null=True, blank=True)
    flag = models.CharField("待确认原因", max_length=128, blank=True)
    # Optimistic lock: the page's hidden version; a stale confirm or end is refused.
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "联系户结对"
        verbose_name_plural = "联系户结对"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(member__isnull=False, cadre__isnull=True) | models.Q(member__isnull=True, cadre__isnull=False),
                name="pairing_one_helper",
            ),
        ]
        indexes = [
            prefix_index("pairing_path"),
            models.Index(fields=["household", "ended_on"], name="pairing_household"),
        ]

    def __str__(self) -> str:
        return f"{self.helper} → {self.household_id}"

    @property
    def helper(self) -> PartyMember | Cadre | None:
        return self.member or self.cadre
