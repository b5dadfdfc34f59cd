"""德治 honours (模范评选): quarterly rounds, nominations, the scoring sheet and the 道德评议会
vote, the 公示 with objections, and the published 光荣榜.

A round moves through RoundState by the one table in flow.py; every move is a RoundEvent row
(the timeline). Categories are data the secretary edits: whom they honour (a household, a
person or a building) and their scoring sheet (criteria with maximum points). An honour is not
a table of its own: it is a selected nomination of a round that has been published, so the
光荣榜, the history of a household and the figures all read the same rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core import crypto
from wuzhi.core.models import Area, TimelineEvent, prefix_index
from wuzhi.core.scoping import ScopedQuerySet
from wuzhi.core.validators import mask_phone


class Subject(models.TextChoices):
    HOUSEHOLD = "household", _("家庭(户)")
    PERSON = "person", _("个人")
    BUILDING = "building", _("楼栋")


class Category(models.Model):
    """One honour (文明卫生示范户, 身边好人 …): whom it honours and how nominations are scored."""

    name = models.CharField(_("评选类别"), max_length=32, unique=True)
    subject = models.CharField(_("表彰对象"), max_length=10, choices=Subject.choices)
    # [{"name": "室内整洁", "max": 20}, ...]: the scoring sheet, one row per criterion.
    criteria = models.JSONField(_("评分细则"), default=list, blank=True)
    pass_score = models.DecimalField(_("入选分数线"), max_digits=5, decimal_places=1, default=Decimal("80"),
                                     help_text=_("评分表平均总分达到此分数方可入选"))
    needs_vote = models.BooleanField(_("需道德评议会表决"), default=True,
                                     help_text=_("勾选后须经评议会表决,赞成票过半方可入选"))
    description = models.CharField(_("评选标准"), max_length=200, blank=True)
    sort = models.IntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("评选类别")
        verbose_name_plural = _("评选类别")
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def max_total(self) -> int:
        return sum(int(c.get("max", 0)) for c in self.criteria)

    def clean(self) -> None:
        names = set()
        for c in self.criteria:
            if not isinstance(c, dict) or not str(c.get("name", "")).strip():
                raise ValidationError({"criteria": "每条评分细则都要有名称"})
            if not isinstance(c.get("max"), int) or c["max"] <= 0:
                raise ValidationError({"criteria": f"“{c.get('name')}”的满分须为正整数"})
            if c["name"] in names:
                raise ValidationError({"criteria": f"评分细则“{c['name']}”重复"})
            names.add(c["name"])
        if not self.criteria and not self.needs_vote:
            raise ValidationError("评选类别至少要有评分细则或评议会表决之一")
        if self.criteria and self.pass_score > self.max_total:
            raise ValidationError({"pass_score": f"分数线不能高于满分 {self.max_total} 分"})


class RoundState(models.TextChoices):
    NOMINATING = "nominating", _("提名")
    EVALUATING = "evaluating", _("评议")
    NOTICE = "notice", _("公示")
    PUBLISHED = "published", _("已发布")
    ARCHIVED = "archived", _("已归档")


class Round(models.Model):
    """评选轮次: one community, one quarter."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="honour_rounds", verbose_name=_("社区"))
    area_path = models.CharField(max_length=255, editable=False)
    year = models.PositiveSmallIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"), choices=[(1, _("第一季度")), (2, _("第二季度")), (3, _("第三季度")),
                                                             (4, _("第四季度"))])
    title = models.CharField(_("名称"), max_length=64)
    state = models.CharField(_("状态"), max_length=12, choices=RoundState.choices, default=RoundState.NOMINATING)
    notice_days = models.PositiveSmallIntegerField(_("公示天数"), default=7)
    notice_starts_at = models.DateTimeField(_("公示开始"), null=True, blank=True)
    notice_ends_at = models.DateTimeField(_("公示截止"), null=True, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("评选轮次")
        verbose_name_plural = _("评选轮次")
        ordering = ["-year", "-quarter", "-id"]
        constraints = [models.UniqueConstraint(fields=["area", "year", "quarter"], name="honour_round_quarter")]
        indexes = [prefix_index("honour_round_path")]

    def __str__(self) -> str:
        return self.title

    def notice_open(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.state == RoundState.NOTICE and self.notice_ends_at is not None and now < self.notice_ends_at


class RoundEvent(TimelineEvent):
    """One row of a round's timeline: a transition (from → to) or a note (an objection and its
    answer happen inside the 公示 state)."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("流转")
        NOTE = "note", _("记录")

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRANSITION)
    from_state = models.CharField(_("原状态"), max_length=12, choices=RoundState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=RoundState.choices)
    label = models.CharField(_("操作"), max_length=16)

    class Meta:
        verbose_name = _("评选记录")
        verbose_name_plural = _("评选记录")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.round_id} {self.label}"


class NominatorKind(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员推荐")
    BUILDING_HEAD = "building_head", _("楼长推荐")
    RESIDENT = "resident", _("居民推荐")
    COMMITTEE = "committee", _("社区推荐")


class Result(models.TextChoices):
    PENDING = "pending", _("待评议")
    SELECTED = "selected", _("入选")
    NOT_SELECTED = "not_selected", _("未入选")


class Nomination(models.Model):
    """A nominee of one category in one round, with the reason. A resident's nomination names
    the nominee in words (`nominee_text`); a grid worker links it to the household, person or
    building before evaluation."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="nominations", verbose_name=_("轮次"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="nominations",
                                 verbose_name=_("评选类别"))
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="honour_nominations", verbose_name=_("户"))
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="honour_nominations", verbose_name=_("个人"))
    building = models.ForeignKey(Area, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="honour_nominations", verbose_name=_("楼栋"))
    nominee_text = models.CharField(_("被推荐对象(居民填写)"), max_length=64, blank=True)
    # Where the nominee lives (a unit or a building); the round's community for unlinked ones.
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", verbose_name=_("所在区域"))
    area_path = models.CharField(max_length=255, editable=False)
    # The public label, fixed when the subject is linked: "3栋2单元 张*家庭". No full name, no
    # number, so the 公示 and the 光荣榜 never need to read personal data.
    public_label = models.CharField(_("公示名称"), max_length=64, blank=True)
    reason = models.TextField(_("推荐理由"))
    nominator_kind = models.CharField(_("推荐方式"), max_length=16, choices=NominatorKind.choices)
    nominator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("推荐人"))
    nominator_name = models.CharField(_("推荐人"), max_length=32)
    nominator_phone_enc = models.TextField(blank=True, editable=False)
    nominator_phone_masked = models.CharField(_("推荐人电话"), max_length=16, blank=True, editable=False)
    result = models.CharField(_("评选结果"), max_length=14, choices=Result.choices, default=Result.PENDING)
    score_avg = models.DecimalField(_("平均得分"), max_digits=5, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(_("推荐时间"), default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("提名")
        verbose_name_plural = _("提名")
        ordering = ["round_id", "category__sort", "id"]
        indexes = [
            prefix_index("honour_nomination_path"),
            models.Index(fields=["round", "result"], name="honour_nom_round_result"),
        ]

    def __str__(self) -> str:
        return f"{self.category}·{self.public_label or self.nominee_text}"

    @property
    def linked(self) -> bool:
        return bool(self.household_id or self.resident_id or self.building_id)

    def set_nominator_phone(self, number: str) -> None:
        self.nominator_phone_enc = crypto.encrypt(number) if number else ""
        self.nominator_phone_masked = mask_phone(number) if number else ""


class Score(models.Model):
    """One evaluator's scoring sheet for one nomination: points per criterion."""

    nomination = models.ForeignKey(Nomination, on_delete=models.CASCADE, related_name="scores")
    evaluator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    evaluator_name = models.CharField(_("评分人"), max_length=32)
    points = models.JSONField(_("各项得分"), default=dict)
    total = models.DecimalField(_("总分"), max_digits=5, decimal_places=1)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("评分")
        verbose_name_plural = _("评分")
        ordering = ["nomination_id", "id"]
        constraints = [models.UniqueConstraint(fields=["nomination", "evaluator_name"], name="honour_score_once")]

    def __str__(self) -> str:
        return f"{self.evaluator_name} {self.total}"


class Council(models.Model):
    """道德评议会: the community's moral review body (elders, party members, residents' reps)."""

    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+", verbose_name=_("社区"))
    area_path = models.CharField(max_length=255, editable=False)
    name = models.CharField(_("名称"), max_length=32, default="道德评议会")
    members = models.JSONField(_("成员"), default=list, help_text="[{name, role}]")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("道德评议会")
        verbose_name_plural = _("道德评议会")

    def __str__(self) -> str:
        return self.name


class CouncilVote(models.Model):
    """The council's vote on one nomination, as counts (a show of hands is not recorded by name)."""

    nomination = models.OneToOneField(Nomination, on_delete=models.CASCADE, related_name="vote")
    council = models.ForeignKey(Council, on_delete=models.PROTECT, related_name="votes")
    votes_for = models.PositiveSmallIntegerField(_("赞成"))
    votes_against = models.PositiveSmallIntegerField(_("反对"))
    abstain = models.PositiveSmallIntegerField(_("弃权"))
    at = models.DateTimeField(_("表决时间"), default=timezone.now)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("评议会表决")
        verbose_name_plural = _("评议会表决")

    def __str__(self) -> str:
        return f"{self.votes_for}/{self.votes_against}/{self.abstain}"

    @property
    def present(self) -> int:
        return self.votes_for + self.votes_against + self.abstain

    @property
    def passed(self) -> bool:
        return self.votes_for * 2 > self.present


class Objection(models.Model):
    """An objection raised during the 公示; it must be answered before the round publishes.
    Upheld means the nominee is withdrawn (未入选)."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="objections")
    nomination = models.ForeignKey(Nomination, null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="objections", verbose_name=_("针对"))
    objector_name = models.CharField(_("异议人"), max_length=32, blank=True)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField(_("联系电话"), max_length=16, blank=True, editable=False)
    content = models.TextField(_("异议内容"))
    at = models.DateTimeField(_("提出时间"), default=timezone.now)
    answer = models.TextField(_("答复"), blank=True)
    upheld = models.BooleanField(_("异议成立"), default=False)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("公示异议")
        verbose_name_plural = _("公示异议")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.content[:20]

    def set_phone(self, number: str) -> None:
        self.phone_enc = crypto.encrypt(number) if number else ""
        self.phone_masked = mask_phone(number) if number else ""
