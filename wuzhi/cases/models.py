"""One case flow for 诉求, 报事, 帮办代办 and 矛盾纠纷 (DESIGN.md §4: workflows are data).

A case has a state (CaseState); which state may follow which is one table (flow.TRANSITIONS);
every transition and every 督办 step is a CaseEvent row, and those rows are the timeline the
staff and the resident read. Categories carry the routing (category → team and/or role) and the
deadline, so the secretary changes them as data, not code."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from wuzhi.core import crypto
from wuzhi.core.models import Area, TimelineEvent, prefix_index
from wuzhi.core.roles import Role
from wuzhi.core.scoping import ScopedQuerySet
from wuzhi.core.validators import mask_phone


class CaseKind(models.TextChoices):
    REQUEST = "request", _("诉求")
    REPORT = "report", _("报事")
    PROXY = "proxy", _("帮办代办")
    DISPUTE = "dispute", _("矛盾纠纷")


class Channel(models.TextChoices):
    QR = "qr", _("居民扫码")
    GRID = "grid", _("网格员代报")
    WALK_IN = "walk_in", _("来访")
    PHONE = "phone", _("电话")
    PATROL = "patrol", _("巡逻发现")
    HOTLINE = "hotline", _("12345转办")


class CaseState(models.TextChoices):
    ACCEPTED = "accepted", _("已受理")
    ASSIGNED = "assigned", _("已分派")
    IN_PROGRESS = "in_progress", _("处理中")
    SUSPENDED = "suspended", _("挂起")
    RESOLVED = "resolved", _("已办结")
    REVIEWED = "reviewed", _("已回访")
    ARCHIVED = "archived", _("已归档")
    MERGED = "merged", _("已并案")


# States in which a case is still somebody's work and its deadline runs.
OPEN_STATES = (CaseState.ACCEPTED, CaseState.ASSIGNED, CaseState.IN_PROGRESS)
DONE_STATES = (CaseState.RESOLVED, CaseState.REVIEWED, CaseState.ARCHIVED)


class Supervision(models.TextChoices):
    NORMAL = "normal", _("普通")
    YELLOW = "yellow", _("黄牌督办")
    RED = "red", _("红牌督办")


SUPERVISION_RANK = {Supervision.NORMAL: 0, Supervision.YELLOW: 1, Supervision.RED: 2}


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class Category(models.Model):
    """What a case is about, where it goes and how long it may take: data the secretary edits."""

    kind = models.CharField(_("类型"), max_length=10, choices=CaseKind.choices)
    name = models.CharField(_("名称"), max_length=32)
    team = models.ForeignKey("activities.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="case_categories", verbose_name=_("默认承办队伍"))
    role = models.CharField(_("承办角色"), max_length=32, choices=Role.choices, blank=True,
                            help_text=_("没有承办队伍时,由该区域内持此角色的人员承办"))
    deadline_hours = models.PositiveIntegerField(_("办理时限(小时)"), default=72)
    checklist = models.JSONField(_("材料清单"), default=list, blank=True, help_text=_("帮办代办需要准备的材料,每项一行"))
    sort = models.IntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)
    # Optimistic lock: routing and deadlines are edited from the category page by several staff.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("事项分类")
        verbose_name_plural = _("事项分类")
        ordering = ["kind", "sort", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="case_category_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}·{self.name}"

    @property
    def deadline(self) -> dt.timedelta:
        return dt.timedelta(hours=self.deadline_hours)

    @property
    def deadline_label(self) -> str:
        h = self.deadline_hours
        if h % 24 == 0:
            return ngettext("%(n)d天", "%(n)d天", h // 24) % {"n": h // 24}
        return ngettext("%(n)d小时", "%(n)d小时", h) % {"n": h}


class Case(models.Model):
    number = models.CharField(_("编号"), max_length=20, unique=True, editable=False)
    kind = models.CharField(_("类型"), max_length=10, choices=CaseKind.choices)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases", verbose_name=_("分类"))
    channel = models.CharField(_("来源渠道"), max_length=10, choices=Channel.choices)
    external_number = models.CharField(_("外部编号"), max_length=40, blank=True,
                                       help_text=_("12345工单号,或帮办代办时办事部门的受理号"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="cases", verbose_name=_("发生地点"))
    area_path = models.CharField(max_length=255, editable=False)
    place = models.CharField(_("具体位置"), max_length=64, blank=True)
    household = models.ForeignKey("registry.Household", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="cases", verbose_name=_("户"))
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="cases", verbose_name=_("居民"))
    reporter_name = models.CharField(_("反映人"), max_length=32, blank=True)
    # The reporter's phone, as Resident keeps it: ciphertext, blind index for the tracking
    # lookup, and a mask for lists. The clear number is never stored.
    reporter_phone_enc = models.TextField(blank=True, editable=False)
    reporter_phone_hash = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    reporter_phone_masked = models.CharField(_("联系电话"), max_length=16, blank=True, editable=False)
    title = models.CharField(_("事项"), max_length=64)
    description = models.TextField(_("具体情况"))
    documents = models.JSONField(_("已收材料"), default=list, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=CaseState.choices, default=CaseState.ACCEPTED)
    assigned_team = models.ForeignKey("activities.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="cases", verbose_name=_("承办队伍"))
    assigned_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="assigned_cases", verbose_name=_("承办人"))
    opened_at = models.DateTimeField(_("受理时间"), default=timezone.now)
    due_at = models.DateTimeField(_("办理期限"))
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    supervision = models.CharField(_("督办"), max_length=8, choices=Supervision.choices, default=Supervision.NORMAL)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="merged_cases", verbose_name=_("并入"))
    result = models.TextField(_("办理结果"), blank=True)
    satisfaction = models.CharField(_("满意度"), max_length=12, choices=Satisfaction.choices, blank=True)
    patrol = models.ForeignKey("activities.Activity", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="cases", verbose_name=_("巡逻记录"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("事项")
        verbose_name_plural = _("事项")
        ordering = ["-opened_at", "-id"]
        indexes = [
            prefix_index("case_path"),
            models.Index(fields=["state", "due_at"], name="case_state_due"),
            models.Index(fields=["kind", "opened_at"], name="case_kind_opened"),
            models.Index(fields=["assigned_team", "state"], name="case_team_state"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def set_reporter_phone(self, number: str) -> None:
        self.reporter_phone_enc = crypto.encrypt(number)
        self.reporter_phone_hash = crypto.blind_index(number, "phone")
        self.reporter_phone_masked = mask_phone(number) if number else ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now: dt.datetime | None = None) -> bool:
        return self.is_open and self.due_at < (now or timezone.now())


class CasePhoto(models.Model):
    """A photo of the problem. Its own row (not a Case column) so a case can have several and
    the audit diff of a case never carries file objects."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(_("照片"), upload_to="cases/%Y/%m/")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("现场照片")
        verbose_name_plural = _("现场照片")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.file.name


class CaseEvent(TimelineEvent):
    """One row of the timeline: a transition (from → to), a 督办 step or a note."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("流转")
        SUPERVISE = "supervise", _("督办")
        NOTE = "note", _("记录")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRANSITION)
    from_state = models.CharField(_("原状态"), max_length=12, choices=CaseState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=CaseState.choices)
    label = models.CharField(_("操作"), max_length=16)

    class Meta:
        verbose_name = _("办理记录")
        verbose_name_plural = _("办理记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["case", "at"], name="case_event_case_at")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.label}"


class DisputeType(models.TextChoices):
    NEIGHBOUR = "neighbour", _("邻里纠纷")
    FAMILY = "family", _("婚姻家庭纠纷")
    SUPPORT = "support", _("赡养纠纷")
    PROPERTY = "property", _("物业纠纷")
    RELOCATION = "relocation", _("征迁纠纷")
    LABOUR = "labour", _("劳资纠纷")
    DEBT = "debt", _("债务纠纷")
    OTHER = "other", _("其他纠纷")


class RiskLevel(models.TextChoices):
    LOW = "low", pgettext_lazy("风险等级", "低")
    MEDIUM = "medium", pgettext_lazy("风险等级", "中")
    HIGH = "high", pgettext_lazy("风险等级", "高")


class Outcome(models.TextChoices):
    PENDING = "pending", _("调解中")
    SUCCESS = "success", _("调解成功")
    FAILED = "failed", _("调解不成")


class Referral(models.TextChoices):
    LITIGATION = "litigation", _("引导诉讼")
    ARBITRATION = "arbitration", _("引导仲裁")
    PETITION = "petition", _("引导信访")


class Fulfilment(models.TextChoices):
    UNKNOWN = "", _("未回访")
    ONGOING = "ongoing", _("正在履行")
    DONE = "done", _("已履行完毕")
    BROKEN = "broken", _("未按协议履行")


class Dispute(models.Model):
    """张黎's method: the 基本情况, each party's 心理需求 and 核心利益, the 矛盾成因, then mediation."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="dispute")
    dispute_type = models.CharField(_("纠纷类型"), max_length=12, choices=DisputeType.choices)
    risk = models.CharField(_("风险等级"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW)
    situation = models.TextField(_("基本情况"))
    cause = models.TextField(_("矛盾成因"), blank=True)
    outcome = models.CharField(_("调解结果"), max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    concluded_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    terms = models.TextField(_("协议内容"), blank=True, help_text=_("每条一行"))
    performance = models.CharField(_("履行方式和期限"), max_length=200, blank=True)
    referral = models.CharField(_("引导途径"), max_length=12, choices=Referral.choices, blank=True)
    fulfilment = models.CharField(_("履行情况"), max_length=8, choices=Fulfilment.choices, blank=True)

    class Meta:
        verbose_name = _("矛盾纠纷")
        verbose_name_plural = _("矛盾纠纷")

    def __str__(self) -> str:
        return f"{self.case.number} {self.get_dispute_type_display()}"

    @property
    def term_lines(self) -> list[str]:
        return [t.strip() for t in self.terms.splitlines() if t.strip()]


class DisputeParty(models.Model):
    class PartyRole(models.TextChoices):
        APPLICANT = "applicant", _("申请人")
        RESPONDENT = "respondent", _("被申请人")
        THIRD = "third", _("第三人")

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("身份"), max_length=12, choices=PartyRole.choices)
    name = models.CharField(_("姓名"), max_length=32)
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    address = models.CharField(_("住址"), max_length=64, blank=True)
    needs = models.CharField(_("心理需求"), max_length=200, blank=True)
    interests = models.CharField(_("核心利益"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("当事人")
        verbose_name_plural = _("当事人")
        ordering = ["dispute_id", "role", "id"]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.name}"


class MediationSession(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("调解时间"))
    place = models.CharField(_("地点"), max_length=64, default="人民调解室")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("调解员"))
    mediator_name = models.CharField(_("调解员"), max_length=32)
    committee = models.CharField(_("到场调委会成员"), max_length=200, blank=True)
    notes = models.TextField(_("调解经过"))

    class Meta:
        verbose_name = _("调解记录")
        verbose_name_plural = _("调解记录")
        ordering = ["held_at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.held_at:%Y-%m-%d}"


class FollowUp(models.Model):
    """履行回访: is the agreement being kept?"""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    at = models.DateTimeField(_("回访时间"), default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    status = models.CharField(_("履行情况"), max_length=8, choices=Fulfilment.choices)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("履行回访")
        verbose_name_plural = _("履行回访")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.get_status_display()}"


class PoliceOffice(models.Model):
    """警务室. Its patrols are activities of kind "patrol" of `patrol_team` (activities app)."""

    name = models.CharField(_("名称"), max_length=64)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="police_offices", verbose_name=_("所在区域"))
    area_path = models.CharField(max_length=255, editable=False)
    phone = models.CharField(_("值班电话"), max_length=20, blank=True)
    patrol_team = models.ForeignKey("activities.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="police_offices", verbose_name=_("巡防队"))

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("警务室")
        verbose_name_plural = _("警务室")

    def __str__(self) -> str:
        return self.name


class PoliceOfficer(models.Model):
    office = models.ForeignKey(PoliceOffice, on_delete=models.CASCADE, related_name="officers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    name = models.CharField(_("姓名"), max_length=32)
    title = models.CharField(_("职务"), max_length=16, default="社区民警")
    area_path = models.CharField(max_length=255, editable=False)
    active = models.BooleanField(_("在岗"), default=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("驻室民警")
        verbose_name_plural = _("驻室民警")

    def __str__(self) -> str:
        return self.name


class CaseNotice(models.Model):
    """What the reporter is told when their case moves (受理, 办结, 重新办理, 并案答复): shown on
    the portal's case page, and an outbox row for the SMS channel (notify.deliver_pending)."""

    class Sms(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")
        NONE = "none", _("无需发送")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notices")
    at = models.DateTimeField(default=timezone.now)
    text = models.CharField(_("内容"), max_length=200)
    sms = models.CharField(_("短信"), max_length=8, choices=Sms.choices, default=Sms.PENDING)
    sms_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("群众告知")
        verbose_name_plural = _("群众告知")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["sms", "at"], name="case_notice_outbox")]

    def __str__(self) -> str:
        return self.text
