"""One model family behind every 场次 and 人次 figure (DESIGN.md §7).

A team (党员服务队, 爱心服务队, 文艺队, 巡防队, a building's 3+N group …) has members; an activity
(who ran it, which team, which governance, where, when) has attendance: named people, or a
counted headcount when names were not taken. Classes, meals, camp days, law events, trainings
and team activities are activities of different kinds, not separate silos."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core.models import Area, prefix_index
from wuzhi.core.scoping import ScopedQuerySet


class Governance(models.TextChoices):
    POLITICAL = "political", _("政治引领")
    SELF = "self", _("自治")
    LAW = "law", _("法治")
    MORAL = "moral", _("德治")
    SMART = "smart", _("智治")


class TeamKind(models.TextChoices):
    PARTY_SERVICE = "party_service", _("党员服务队")
    CARE = "care", _("爱心服务队")
    MICRO_GROUP = "micro_group", _("楼栋3+N微治理小组")
    WATCH = "watch", _("邻里守望服务队")
    ART = "art", _("文艺队")
    PATROL = "patrol", _("巡防队")
    VOLUNTEER = "volunteer", _("志愿服务队")


class Team(models.Model):
    kind = models.CharField(_("类别"), max_length=16, choices=TeamKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="teams", verbose_name=_("所属区域"))
    area_path = models.CharField(max_length=255, editable=False)
    governance = models.CharField(_("治理类别"), max_length=10, choices=Governance.choices, default=Governance.POLITICAL)
    description = models.CharField(_("简介"), max_length=255, blank=True)
    active = models.BooleanField(_("在册"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务队")
        verbose_name_plural = _("服务队")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="team_unique_name")]
        indexes = [prefix_index("team_path")]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A member is a resident of the community, a staff user, or (for outside volunteers such as
    university students) just a name with their organisation."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.PROTECT, related_name="team_memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="team_memberships")
    name = models.CharField(_("姓名"), max_length=32)
    organisation = models.CharField(_("所在单位"), max_length=64, blank=True)
    role = models.CharField(_("队内职务"), max_length=16, default="队员")
    joined_on = models.DateField(_("加入日期"), default=timezone.localdate)
    left_on = models.DateField(_("退出日期"), null=True, blank=True)
    # Optimistic lock: the page's hidden version; a stale leave is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("队员")
        verbose_name_plural = _("队员")
        ordering = ["team_id", "id"]

    def __str__(self) -> str:
        return f"{self.team} · {self.name}"


class ActivityKind(models.TextChoices):
    TEAM = "team", _("服务队活动")
    CLASS = "class", _("课堂")
    MEAL = "meal", _("就餐")
    CAMP = "camp", _("夏令营")
    LAW = "law", _("普法宣传")
    GRATITUDE = "gratitude", _("感恩教育")
    TRAINING = "training", _("培训宣讲")
    ART = "art", _("文艺排练演出")
    FESTIVAL = "festival", _("节日活动")
    PATROL = "patrol", _("巡逻")
    # 就业技能培训 (能致富) is its own kind: the article's "12场" trainings are the 德治 ones
    # (市民培训, 宣讲会 …), and mixing the two would inflate that figure.
    SKILL = "skill", _("技能培训")


class Activity(models.Model):
    kind = models.CharField(_("类型"), max_length=12, choices=ActivityKind.choices)
    title = models.CharField(_("名称"), max_length=128)
    governance = models.CharField(_("治理类别"), max_length=10, choices=Governance.choices)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="activities", verbose_name=_("服务队"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="activities", verbose_name=_("区域"))
    area_path = models.CharField(max_length=255, editable=False)
    venue = models.CharField(_("地点"), max_length=64, blank=True)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    partner = models.CharField(_("合作单位"), max_length=128, blank=True)
    program = models.ForeignKey("Program", null=True, blank=True, on_delete=models.PROTECT, related_name="sessions",
                                verbose_name=_("所属项目"))
    headcount = models.PositiveIntegerField(_("未记名人数"), default=0, help_text=_("未逐一登记姓名时的清点人数"))
    # Optimistic lock for the headcount box: two people counting the same session.
    version = models.PositiveIntegerField(default=1)
    note = models.TextField(_("活动内容"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("活动")
        verbose_name_plural = _("活动")
        ordering = ["-starts_at", "-id"]
        indexes = [
            prefix_index("activity_path"),
            models.Index(fields=["kind", "starts_at"], name="activity_kind_time"),
            models.Index(fields=["team", "starts_at"], name="activity_team_time"),
            models.Index(fields=["program", "starts_at"], name="activity_program_time"),
        ]

    def __str__(self) -> str:
        return self.title


class Attendance(models.Model):
    class Role(models.TextChoices):
        PARTICIPANT = "participant", _("参与/服务对象")
        VOLUNTEER = "volunteer", _("志愿者")
        TUTOR = "tutor", _("辅导老师")
        STAFF = "staff", _("工作人员")

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="attendance")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.PROTECT, related_name="attendance")
    member = models.ForeignKey(TeamMember, null=True, blank=True, on_delete=models.PROTECT, related_name="attendance")
    enrolment = models.ForeignKey("Enrolment", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="attendance")
    name = models.CharField(_("姓名"), max_length=32)
    role = models.CharField(_("身份"), max_length=12, choices=Role.choices, default=Role.PARTICIPANT)
    hours = models.DecimalField(_("服务时长(小时)"), max_digits=5, decimal_places=1, default=0)

    class Meta:
        verbose_name = _("签到")
        verbose_name_plural = _("签到")
        constraints = [
            # A person is marked once per session, whichever list they were picked from.
            models.UniqueConstraint(fields=["activity", "resident"], name="attendance_once_per_resident",
                                    condition=models.Q(resident__isnull=False)),
            models.UniqueConstraint(fields=["activity", "member"], name="attendance_once_per_member",
                                    condition=models.Q(member__isnull=False)),
            models.UniqueConstraint(fields=["activity", "enrolment"], name="attendance_once_per_enrolment",
                                    condition=models.Q(enrolment__isnull=False)),
        ]
        indexes = [models.Index(fields=["activity", "role"], name="attendance_role")]

    def __str__(self) -> str:
        return f"{self.activity} · {self.name}"


class CarePairing(models.Model):
    """福家邻里守望: a team member looks after a neighbour (空巢老人, 留守儿童, 残疾人 …) day to day.
    Ended pairings are kept (ended_on) so the history of who looked after whom stays."""

    member = models.ForeignKey(TeamMember, on_delete=models.PROTECT, related_name="cared", verbose_name=_("守望人"))
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, related_name="carers",
                                 verbose_name=_("关爱对象"))
    area_path = models.CharField(max_length=255, editable=False)
    started_on = models.DateField(_("结对日期"), default=timezone.localdate)
    ended_on = models.DateField(_("结束日期"), null=True, blank=True)
    # Optimistic lock: the page's hidden version; a stale end is refused.
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("邻里守望结对")
        verbose_name_plural = _("邻里守望结对")
        ordering = ["member_id", "id"]
        indexes = [prefix_index("care_pairing_path"), models.Index(fields=["resident", "ended_on"], name="care_pairing_resident")]

    def __str__(self) -> str:
        return f"{self.member.name} → {self.resident.name}"


class ProgramKind(models.TextChoices):
    AFTERSCHOOL = "afterschool", _("四点半课堂")
    CANTEEN = "canteen", _("幸福餐厅")
    CAMP = "camp", _("夏令营")
    CLASS = "class", _("其他课堂")


# The kind of activity a program's sessions are.
PROGRAM_SESSION_KIND: dict[str, str] = {
    ProgramKind.AFTERSCHOOL: ActivityKind.CLASS, ProgramKind.CANTEEN: ActivityKind.MEAL,
    ProgramKind.CAMP: ActivityKind.CAMP, ProgramKind.CLASS: ActivityKind.CLASS,
}


class Program(models.Model):
    """A recurring service with an enrolment list: 四点半希望小课堂, 新时代幸福餐厅, a summer camp.
    Its sessions are ordinary Activities (kind class / meal / camp) linked here, so their 人次
    count through the one attendance mechanism."""

    kind = models.CharField(_("项目类别"), max_length=12, choices=ProgramKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="programs", verbose_name=_("所属区域"))
    area_path = models.CharField(max_length=255, editable=False)
    governance = models.CharField(_("治理类别"), max_length=10, choices=Governance.choices, default=Governance.SELF)
    venue = models.CharField(_("地点"), max_length=64, blank=True)
    schedule = models.CharField(_("时间安排"), max_length=64, blank=True, help_text=_("如:每周五 16:30–18:30"))
    session_time = models.TimeField(_("默认开始时间"), null=True, blank=True)
    session_minutes = models.PositiveSmallIntegerField(_("每次时长(分钟)"), default=120)
    partner = models.CharField(_("合作单位"), max_length=128, blank=True)
    meal_price = models.DecimalField(_("餐标(元/餐)"), max_digits=6, decimal_places=2, default=0,
                                     help_text=_("幸福餐厅每餐的标准,用于月度结算"))
    starts_on = models.DateField(_("开始日期"), default=timezone.localdate)
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    description = models.TextField(_("简介"), blank=True)
    active = models.BooleanField(_("进行中"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务项目")
        verbose_name_plural = _("服务项目")
        ordering = ["kind", "-starts_on", "name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="program_unique_name")]
        indexes = [prefix_index("program_path")]

    def __str__(self) -> str:
        return self.name

    @property
    def session_kind(self) -> str:
        return PROGRAM_SESSION_KIND.get(self.kind, ActivityKind.CLASS)


class Funding(models.TextChoices):
    """Who pays a diner's meals at the 幸福餐厅."""

    WELFARE = "welfare", _("民政兜底")
    SUBSIDY = "subsidy", _("政府补贴")
    CHARITY = "charity", _("爱心捐助")
    SELF = "self", _("个人自付")


class Enrolment(models.Model):
    """Someone on a program's list: a child of the class, a diner, a camper, or a teacher or
    volunteer (a resident, a staff login, or an outsider with their organisation). Ended
    enrolments are kept (to_on) so a session's roll call shows who was enrolled on its day."""

    class Role(models.TextChoices):
        LEARNER = "learner", _("学员")
        DINER = "diner", _("就餐者")
        CAMPER = "camper", _("营员")
        TEACHER = "teacher", _("老师")
        VOLUNTEER = "volunteer", _("志愿者")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("项目"))
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="enrolments", verbose_name=_("居民"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="enrolments", verbose_name=_("工作人员账号"))
    name = models.CharField(_("姓名"), max_length=32)
    role = models.CharField(_("身份"), max_length=12, choices=Role.choices)
    organisation = models.CharField(_("所在单位"), max_length=64, blank=True)
    funding = models.CharField(_("经费类别"), max_length=10, choices=Funding.choices, blank=True)
    from_on = models.DateField(_("加入日期"), default=timezone.localdate)
    to_on = models.DateField(_("退出日期"), null=True, blank=True)
    # Optimistic lock: the page's hidden version; a stale end is refused.
    version = models.PositiveIntegerField(default=1)
    note = models.CharField(_("备注"), max_length=128, blank=True)
    area_path = models.CharField(max_length=255, editable=False)

    objects = ScopedQuerySet.as_manager()

    # Roles that take part (counted in 人次) and roles that serve (hours, not 人次).
    TAKING_PART = (Role.LEARNER, Role.DINER, Role.CAMPER)

    class Meta:
        verbose_name = _("项目名单")
        verbose_name_plural = _("项目名单")
        ordering = ["program_id", "from_on", "id"]
        constraints = [
            # One open enrolment per resident and program (a re-enrolment follows an ended one).
            models.UniqueConstraint(fields=["program", "resident"], name="enrolment_open_once",
                                    condition=models.Q(resident__isnull=False, to_on__isnull=True)),
        ]
        indexes = [prefix_index("enrolment_path"), models.Index(fields=["program", "to_on"], name="enrolment_open")]

    def __str__(self) -> str:
        return f"{self.program} · {self.name}"

    @property
    def takes_part(self) -> bool:
        return self.role in self.TAKING_PART

    @property
    def attendance_role(self) -> str:
        if self.takes_part:
            return Attendance.Role.PARTICIPANT
        return Attendance.Role.TUTOR if self.role == self.Role.TEACHER else Attendance.Role.VOLUNTEER

    def enrolled_on(self, day: dt.date) -> bool:
        return self.from_on <= day and (self.to_on is None or self.to_on >= day)
