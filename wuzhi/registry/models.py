"""房屋 → 户 → 人: dwellings hang off units of the area tree, households live in dwellings,
residents belong to households. Every row carries its area's materialised path (`area_path`) so
the scope chokepoint and the subtree lists are one indexed prefix match."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.models import Area, prefix_index
from wuzhi.core.scoping import ScopedQuerySet
from wuzhi.core.validators import IdNumber, age_on, mask_phone

from . import choices as c


class Dwelling(models.Model):
    """户室: exists whether empty, owner-occupied or rented."""

    unit = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="dwellings", verbose_name="单元")
    floor = models.SmallIntegerField("楼层")
    number = models.CharField("房号", max_length=16)
    occupancy = models.CharField("使用状态", max_length=8, choices=c.Occupancy.choices, default=c.Occupancy.EMPTY)
    area_m2 = models.DecimalField("面积(㎡)", max_digits=6, decimal_places=1, null=True, blank=True)
    area_path = models.CharField(max_length=255, editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "户室"
        verbose_name_plural = "户室"
        ordering = ["area_path", "floor", "number"]
        constraints = [models.UniqueConstraint(fields=["unit", "number"], name="dwelling_unique_number")]
        indexes = [prefix_index("dwelling_path", "area_path")]

    def __str__(self) -> str:
        return f"{self.unit.short_name}{self.number}室" if "unit" in self._state.fields_cache else f"{self.number}室"


class Tag(models.Model):
    """Multi-valued, hierarchical labels: 困境儿童 ⊃ 孤儿, 事实无人抚养儿童."""

    class AppliesTo(models.TextChoices):
        PERSON = "person", "人员"
        HOUSEHOLD = "household", "户"

    name = models.CharField("标签", max_length=32, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name="上级标签")
    applies_to = models.CharField("适用于", max_length=12, choices=AppliesTo.choices, default=AppliesTo.PERSON)
    visit_interval_days = models.PositiveSmallIntegerField(
        "走访周期(天)", null=True, blank=True, help_text="带此标签的人员所在户超过该天数未走访即为逾期"
    )
    color = models.CharField("颜色", max_length=16, default="secondary")
    sort = models.IntegerField(default=0)

    class Meta:
        verbose_name = "标签"
        verbose_name_plural = "标签"
        ordering = ["sort", "name"]

    def __str__(self) -> str:
        return self.name


class Household(models.Model):
    number = models.CharField("户编号", max_length=32, unique=True)
    dwelling = models.ForeignKey(Dwelling, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="households", verbose_name="户室")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="households", verbose_name="所在区域")
    area_path = models.CharField(max_length=255, editable=False)
    address = models.CharField("住址", max_length=128, editable=False)
    address_key = models.CharField(max_length=255, editable=False, help_text="按楼栋单元房号排序的键")
    head = models.ForeignKey("Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name="户主")
    hukou_address = models.CharField("户籍地", max_length=128, blank=True)
    origin_county = models.CharField("搬迁来源县", max_length=32, blank=True)
    origin_town = models.CharField("搬迁来源乡镇", max_length=32, blank=True)
    origin_village = models.CharField("搬迁来源村", max_length=32, blank=True)
    relocation_batch = models.CharField("搬迁批次", max_length=32, blank=True)
    moved_in_on = models.DateField("入住日期", null=True, blank=True)
    status = models.CharField("状态", max_length=8, choices=c.HouseholdStatus.choices, default=c.HouseholdStatus.PRESENT)
    tags = models.ManyToManyField(Tag, blank=True, related_name="households", verbose_name="户标签")
    last_visited_at = models.DateTimeField("最近走访", null=True, blank=True)
    note = models.TextField("备注", blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    audit_m2m = ("tags",)

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"
        ordering = ["address_key", "id"]
        indexes = [
            prefix_index("household_path", "area_path"),
            models.Index(fields=["address_key", "id"], name="household_keyset"),
            models.Index(fields=["status"], name="household_status"),
            models.Index(fields=["last_visited_at"], name="household_last_visit"),
        ]

    def __str__(self) -> str:
        return f"{self.address}({self.number})"

    @property
    def origin(self) -> str:
        return "".join(x for x in (self.origin_county, self.origin_town, self.origin_village) if x)


# What a search page needs of each match before it knows the page (core.pagination.keyset_page
# with parts): its scope, status and list order. Carried in the search indexes, PostgreSQL
# answers a city-wide search of thousands of matches from the index alone (an index-only scan).
SEARCH_COVER = ["id", "household", "status", "area_path"]


class Resident(models.Model):
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members", verbose_name="所属户")
    relation = models.CharField("与户主关系", max_length=12, choices=c.Relation.choices, default=c.Relation.HEAD)
    name = models.CharField("姓名", max_length=32)
    name_pinyin = models.CharField(max_length=96, editable=False)
    name_initials = models.CharField(max_length=32, editable=False)
    # 身份证号: ciphertext, blind index, masked display and the last 4 digits for tail search.
    id_number_enc = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=32, unique=True, editable=False)
    id_number_masked = models.CharField("身份证号", max_length=18, editable=False)
    id_tail = models.CharField(max_length=4, editable=False)
    birth_date = models.DateField("出生日期", editable=False)
    sex = models.CharField("性别", max_length=1, choices=c.Sex.choices, editable=False)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=32, blank=True, editable=False)
    phone_masked = models.CharField("手机", max_length=16, blank=True, editable=False)
    phone_tail = models.CharField(max_length=4, blank=True, editable=False)
    landline_enc = models.TextField(blank=True, editable=False)
    landline_masked = models.CharField("座机", max_length=20, blank=True, editable=False)
    ethnicity = models.CharField("民族", max_length=8, choices=c.Ethnicity.choices, default="汉族")
    education = models.CharField("文化程度", max_length=12, choices=c.Education.choices, blank=True)
    employment = models.CharField("就业状况", max_length=12, choices=c.Employment.choices, blank=True)
    health = models.CharField("健康状况", max_length=8, choices=c.Health.choices, default=c.Health.HEALTHY)
    disability = models.CharField("残疾类别", max_length=8, choices=c.Disability.choices, blank=True)
    disability_grade = models.CharField("残疾等级", max_length=4, choices=c.DisabilityGrade.choices, blank=True)
    political = models.CharField("政治面貌", max_length=8, choices=c.Political.choices, default=c.Political.MASSES)
    residence = models.CharField("户籍与居住", max_length=8, choices=c.Residence.choices, default=c.Residence.BOTH)
    hukou_address = models.CharField("户籍地", max_length=128, blank=True)
    status = models.CharField("状态", max_length=4, choices=c.PersonStatus.choices, default=c.PersonStatus.PRESENT)
    tags: models.ManyToManyField[Tag, ResidentTag] = models.ManyToManyField(Tag, through="ResidentTag", blank=True, related_name="residents", verbose_name="标签")
    area_path = models.CharField(max_length=255, editable=False)
    note = models.TextField("备注", blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    audit_m2m = ("tags",)

    class Meta:
        verbose_name = "居民"
        verbose_name_plural = "居民"
        ordering = ["household_id", "id"]
        indexes = [
            prefix_index("resident_path", "area_path"),
            prefix_index("resident_pinyin_cover", "name_pinyin", include=SEARCH_COVER),
            prefix_index("resident_initials_cover", "name_initials", include=SEARCH_COVER),
            models.Index(fields=["name"], name="resident_name"),
            models.Index(fields=["id_tail"], name="resident_id_tail_cover", include=SEARCH_COVER),
            models.Index(fields=["phone_hash"], name="resident_phone_hash"),
            models.Index(fields=["phone_tail"], name="resident_phone_tail_cover", include=SEARCH_COVER),
            models.Index(fields=["birth_date"], name="resident_birth"),
            models.Index(fields=["status"], name="resident_status"),
        ]

    def __str__(self) -> str:
        return self.name

    # Derived fields are set only here so the ciphertext, digest, mask and tail never disagree.
    def set_id_number(self, parsed: IdNumber) -> None:
        self.id_number_enc = crypto.encrypt(parsed.number)
        self.id_number_hash = crypto.blind_index(parsed.number, "id")
        self.id_number_masked = parsed.masked
        self.id_tail = parsed.tail
        self.birth_date = parsed.birth_date
        self.sex = parsed.sex

    def set_phone(self, number: str) -> None:
        self.phone_enc = crypto.encrypt(number)
        self.phone_hash = crypto.blind_index(number, "phone")
        self.phone_masked = mask_phone(number) if number else ""
        self.phone_tail = number[-4:] if number else ""

    def set_landline(self, number: str) -> None:
        self.landline_enc = crypto.encrypt(number)
        self.landline_masked = mask_phone(number) if number else ""

    def set_name(self, name: str) -> None:
        from wuzhi.core.pinyin import name_keys

        self.name = name.strip()
        self.name_pinyin, self.name_initials = name_keys(self.name)

    @property
    def age(self) -> int:
        return age_on(self.birth_date, timezone.localdate())


class ResidentTag(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "手动"
        SUGGESTED = "suggested", "系统建议后确认"
        IMPORT = "import", "导入"

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resident", "tag"], name="resident_tag_unique")]
        indexes = [models.Index(fields=["tag", "resident"], name="resident_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.resident_id}:{self.tag_id}"


class Visit(models.Model):
    """走访: one or more staff saw a household (and some of its members) and noted what they found."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="visits", verbose_name="户")
    area_path = models.CharField(max_length=255, editable=False)
    visited_at = models.DateTimeField("走访时间", default=timezone.now)
    kind = models.CharField("方式", max_length=8, choices=c.VisitKind.choices, default=c.VisitKind.HOME)
    visitors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="visits", verbose_name="走访人")
    residents = models.ManyToManyField(Resident, blank=True, related_name="visits", verbose_name="见到的人员")
    findings = models.TextField("走访情况")
    follow_up_needed = models.BooleanField("需要跟进", default=False)
    follow_up_note = models.CharField("跟进事项", max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "走访记录"
        verbose_name_plural = "走访记录"
        ordering = ["-visited_at", "-id"]
        indexes = [prefix_index("visit_path", "area_path"), models.Index(fields=["household", "visited_at"])]

    def __str__(self) -> str:
        return f"{timezone.localtime(self.visited_at):%Y-%m-%d} 走访"


class ImportJob(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "排队中"
        RUNNING = "running", "处理中"
        FAILED = "failed", "有错误,未导入"
        APPLIED = "applied", "已全部导入"
        CRASHED = "crashed", "系统错误,未导入"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", verbose_name="导入到")
    area_path = models.CharField(max_length=255, editable=False)
    filename = models.CharField(max_length=255)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    households_created = models.PositiveIntegerField(default=0)
    residents_created = models.PositiveIntegerField(default=0)
    residents_updated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="[{row, column, value, message}]")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} · {self.get_status_display()}"
