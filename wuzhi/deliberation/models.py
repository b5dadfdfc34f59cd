"""自治: resident deliberation, 提议—审议—合议—决议, 四议两公开 (DESIGN.md §4: workflows are data).

A topic (议题) has a state; which state may follow which is one table (flow.TRANSITIONS); every
transition, meeting, vote, disclosure and progress note is a TopicEvent row, the timeline staff
and residents read. Bodies (居民代表会议, 两委会, 党员大会, 楼栋议事会, 一约四会 …) carry their
quorum and pass rules as data; meetings record attendance (出席/委托/缺席) and votes record
for/against/abstain with their origin (举手/纸质投票/线上). Disclosures are what the public notice
board (公开栏) shows, with a notice period (公示期) for objections the 两委 must answer."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core import crypto
from wuzhi.core.models import Area, TimelineEvent, prefix_index
from wuzhi.core.scoping import ScopedQuerySet
from wuzhi.core.validators import mask_phone


class Level(models.TextChoices):
    BUILDING = "building", _("楼栋")
    AREA = "area", _("片区")
    COMMUNITY = "community", _("社区")


# The area kind a topic of each level sits on (片区 is a grid of the tree).
LEVEL_AREA_KIND: dict[str, str] = {Level.BUILDING: "building", Level.AREA: "grid", Level.COMMUNITY: "community"}


class BodyKind(models.TextChoices):
    RESIDENTS_MEETING = "residents", _("居民会议")
    REPRESENTATIVES = "representatives", _("居民代表会议")
    GROUP = "group", _("居民小组会议")
    BUILDING_COUNCIL = "building", _("楼栋议事会")
    TWO_COMMITTEES = "two_committees", _("两委会")
    PARTY_ORG = "party_org", _("社区党组织")
    PARTY_CONGRESS = "party_congress", _("党员大会")
    COUNCIL = "council", _("居民议事会")
    COVENANT = "covenant", _("居民公约理事会")
    RED_WHITE = "red_white", _("红白理事会")
    ETHICS = "ethics", _("道德评议会")
    ANTI_DRUG = "anti_drug", _("禁毒禁赌会")


# Which bodies may take the decision (决议) on a topic of each level: data, not code.
DECIDING_BODIES: dict[str, frozenset[str]] = {
    Level.BUILDING: frozenset({BodyKind.BUILDING_COUNCIL, BodyKind.GROUP, BodyKind.REPRESENTATIVES,
                               BodyKind.RESIDENTS_MEETING}),
    Level.AREA: frozenset({BodyKind.GROUP, BodyKind.COUNCIL, BodyKind.REPRESENTATIVES, BodyKind.RESIDENTS_MEETING}),
    Level.COMMUNITY: frozenset({BodyKind.REPRESENTATIVES, BodyKind.RESIDENTS_MEETING}),
}


class PassBase(models.TextChoices):
    PRESENT = "present", _("到会人员")
    MEMBERS = "members", _("全体成员")


class Body(models.Model):
    """A deliberating body with its members and its rules. Quorum: present (incl. proxies when
    `proxy_counts`) ≥ quorum_num/quorum_den of the members. Pass: in favour > (or ≥ when not
    `pass_strict`) pass_num/pass_den of the base (those present, or all members)."""

    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=20, choices=BodyKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="deliberation_bodies", verbose_name=_("范围"))
    area_path = models.CharField(max_length=255, editable=False)
    quorum_num = models.PositiveSmallIntegerField(_("法定人数(分子)"), default=1)
    quorum_den = models.PositiveSmallIntegerField(_("法定人数(分母)"), default=2)
    proxy_counts = models.BooleanField(_("委托出席计入到会人数"), default=True)
    pass_num = models.PositiveSmallIntegerField(_("通过比例(分子)"), default=1)
    pass_den = models.PositiveSmallIntegerField(_("通过比例(分母)"), default=2)
    pass_base = models.CharField(_("通过比例的基数"), max_length=8, choices=PassBase.choices, default=PassBase.PRESENT)
    pass_strict = models.BooleanField(_("须超过该比例"), default=True, help_text=_("勾选为“过半数”式(超过),不勾选为“达到”即可"))
    description = models.CharField(_("说明"), max_length=255, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("议事组织")
        verbose_name_plural = _("议事组织")
        ordering = ["area_path", "kind", "name"]
        indexes = [prefix_index("delib_body_path")]

    def __str__(self) -> str:
        return self.name

    @property
    def quorum(self) -> Fraction:
        return Fraction(self.quorum_num, self.quorum_den)

    @property
    def pass_ratio(self) -> Fraction:
        return Fraction(self.pass_num, self.pass_den)

    @property
    def rule_text(self) -> str:
        quorum = _("到会%(quorum_num)s/%(quorum_den)s以上") % {
            "quorum_num": self.quorum_num,
            "quorum_den": self.quorum_den} + (_("(含委托)") if self.proxy_counts else "")
        word = _("超过") if self.pass_strict else _("达到")
        return _("%(quorum)s;赞成票%(word)s%(pass_base)s的%(pass_num)s/%(pass_den)s为通过") % {
            "quorum": quorum, "word": word, "pass_base": self.get_pass_base_display(),
            "pass_num": self.pass_num, "pass_den": self.pass_den}


class BodyMember(models.Model):
    """A seat in a body: a resident (居民代表, 楼长 …) or a staff user (两委委员)."""

    body = models.ForeignKey(Body, on_delete=models.CASCADE, related_name="members")
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="deliberation_seats")
    name = models.CharField(_("姓名"), max_length=32)
    role = models.CharField(_("职务"), max_length=16, blank=True, help_text=_("如:主任、委员、居民代表"))
    joined_on = models.DateField(_("加入日期"), default=timezone.localdate)
    left_on = models.DateField(_("退出日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("组成人员")
        verbose_name_plural = _("组成人员")
        ordering = ["body_id", "id"]

    def __str__(self) -> str:
        return self.name


class TopicState(models.TextChoices):
    PROPOSED = "proposed", _("提议")
    CONSULTING = "consulting", _("合议")
    DECIDED = "decided", _("决议")
    IMPLEMENTING = "implementing", _("执行")
    CLOSED = "closed", _("已结束")
    DECLINED = "declined", _("不予采纳")
    MERGED = "merged", _("已合并")


# The four steps as residents read them, and which states belong to each.
STEPS = [
    (_("提议"), (TopicState.PROPOSED,)),
    (_("审议"), ()),
    (_("合议"), (TopicState.CONSULTING,)),
    (_("决议"), (TopicState.DECIDED,)),
    (_("执行"), (TopicState.IMPLEMENTING,)),
    (_("已结束"), (TopicState.CLOSED,)),
]
DECIDED_STATES = (TopicState.DECIDED, TopicState.IMPLEMENTING, TopicState.CLOSED)
OPEN_STATES = (TopicState.PROPOSED, TopicState.CONSULTING, TopicState.DECIDED, TopicState.IMPLEMENTING)


class Source(models.TextChoices):
    RESIDENT = "resident", _("居民提议")
    GRID = "grid", _("网格员提议")
    PARTY = "party", _("党员提议")
    PARTY_ORG = "party_org", _("党组织提议")
    CASES = "cases", _("群众反映汇总")


# How a proposer appears in public: by role, never by name (PIPL: the board is public).
PUBLIC_PROPOSER: dict[str, Any] = {Source.RESIDENT: "居民", Source.GRID: _("网格员"), Source.PARTY: _("党员"),
                   Source.PARTY_ORG: _("社区党组织"), Source.CASES: _("多位居民反映")}


class Topic(models.Model):
    number = models.CharField(_("编号"), max_length=20, unique=True, editable=False)
    title = models.CharField(_("议题"), max_length=64)
    description = models.TextField(_("内容"))
    level = models.CharField(_("层级"), max_length=10, choices=Level.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="topics", verbose_name=_("范围"))
    area_path = models.CharField(max_length=255, editable=False)
    community_path = models.CharField(max_length=255, editable=False, db_index=True,
                                      help_text=_("所属社区的路径:公开栏按社区列出"))
    major = models.BooleanField(_("重大事项(四议两公开)"), default=False)
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    state = models.CharField(_("状态"), max_length=12, choices=TopicState.choices, default=TopicState.PROPOSED)
    # Who proposed it. Staff see the name; the public sees only the role (PUBLIC_PROPOSER).
    proposer_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    proposer_name = models.CharField(_("提议人"), max_length=32, blank=True)
    # A resident proposing on the portal: the phone is their key to follow the topic (as in the
    # case portal), kept as ciphertext + blind index + mask; the clear number is never stored.
    proposer_phone_enc = models.TextField(blank=True, editable=False)
    proposer_phone_hash = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    proposer_phone_masked = models.CharField(_("联系电话"), max_length=16, blank=True, editable=False)
    proposed_at = models.DateTimeField(_("提议时间"), default=timezone.now)
    reviewed_at = models.DateTimeField(_("审议时间"), null=True, blank=True)
    decline_reason = models.TextField(_("不予采纳理由"), blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="merged_topics", verbose_name=_("并入"))
    decision = models.TextField(_("决议内容"), blank=True)
    decided_at = models.DateTimeField(_("决议时间"), null=True, blank=True)
    result = models.TextField(_("实施结果"), blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    households_affected = models.ManyToManyField("registry.Household", blank=True, related_name="+",
                                                 verbose_name=_("涉及户"))
    households_benefited = models.ManyToManyField("registry.Household", blank=True,
                                                  related_name="deliberation_benefits", verbose_name=_("受益户"))
    cases = models.ManyToManyField("cases.Case", blank=True, related_name="deliberation_topics",
                                   verbose_name=_("关联诉求"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("议题")
        verbose_name_plural = _("议题")
        ordering = ["-proposed_at", "-id"]
        indexes = [
            prefix_index("delib_topic_path"),
            models.Index(fields=["state", "proposed_at"], name="delib_topic_state"),
            models.Index(fields=["decided_at"], name="delib_topic_decided"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    def set_proposer_phone(self, number: str) -> None:
        self.proposer_phone_enc = crypto.encrypt(number) if number else ""
        self.proposer_phone_hash = crypto.blind_index(number, "phone") if number else ""
        self.proposer_phone_masked = mask_phone(number) if number else ""

    @property
    def public_proposer(self) -> str:
        return PUBLIC_PROPOSER.get(self.source, "居民")

    @property
    def step_index(self) -> int:
        """Which of the four-step bar is current (审议 counts as done once accepted)."""
        for i, (_label, states) in enumerate(STEPS):
            if self.state in states:
                return i
        return 0


class TopicEvent(TimelineEvent):
    """One row of the timeline: a transition (from → to), a meeting, a vote, a disclosure, a
    progress note or an objection answered. `public` rows are what the proposer and the notice
    board may read (never a person's name)."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("流转")
        MEETING = "meeting", _("会议")
        VOTE = "vote", _("表决")
        DISCLOSURE = "disclosure", _("公开")
        PROGRESS = "progress", _("实施进展")
        OBJECTION = "objection", _("异议答复")
        NOTE = "note", _("记录")

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRANSITION)
    from_state = models.CharField(_("原状态"), max_length=12, choices=TopicState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=TopicState.choices)
    label = models.CharField(_("操作"), max_length=24)

    class Meta:
        verbose_name = _("议事记录")
        verbose_name_plural = _("议事记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["topic", "at"], name="delib_event_topic_at")]

    def __str__(self) -> str:
        return f"{self.topic_id} {self.label}"


class Meeting(models.Model):
    body = models.ForeignKey(Body, on_delete=models.PROTECT, related_name="meetings", verbose_name=_("会议组织"))
    area_path = models.CharField(max_length=255, editable=False)
    topics = models.ManyToManyField(Topic, related_name="meetings", verbose_name=_("议题"))
    held_at = models.DateTimeField(_("会议时间"))
    place = models.CharField(_("地点"), max_length=64)
    host = models.CharField(_("主持人"), max_length=32, blank=True)
    minutes = models.TextField(_("会议记录"))
    opinions = models.TextField(_("主要意见"), blank=True, help_text=_("与会人员发表的意见,每条一行"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    members_total = models.PositiveIntegerField(_("应到人数"), default=0)
    present = models.PositiveIntegerField(_("亲自出席"), default=0)
    proxies = models.PositiveIntegerField(_("委托出席"), default=0)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("议事会议")
        verbose_name_plural = _("议事会议")
        ordering = ["-held_at", "-id"]
        indexes = [prefix_index("delib_meeting_path")]

    def __str__(self) -> str:
        return f"{self.body.name} {timezone.localtime(self.held_at):%Y-%m-%d}"

    @property
    def attending(self) -> int:
        """Present for the quorum: in person, plus proxies when the body counts them."""
        return self.present + (self.proxies if self.body.proxy_counts else 0)

    @property
    def quorum_needed(self) -> int:
        q = self.body.quorum * self.members_total
        return int(q) if q.denominator == 1 else int(q) + 1

    @property
    def quorum_met(self) -> bool:
        return self.members_total > 0 and self.attending >= self.quorum_needed

    @property
    def opinion_lines(self) -> list[str]:
        return [x.strip() for x in self.opinions.splitlines() if x.strip()]


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", _("出席")
    PROXY = "proxy", _("委托")
    ABSENT = "absent", _("缺席")


class MeetingAttendance(models.Model):
    """One member's attendance at one meeting (quorum counts these rows, not a typed number)."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="attendance")
    member = models.ForeignKey(BodyMember, on_delete=models.PROTECT, related_name="attendance")
    status = models.CharField(_("出席情况"), max_length=8, choices=AttendanceStatus.choices)
    proxy_name = models.CharField(_("受托人"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("出席情况")
        verbose_name_plural = _("出席情况")
        ordering = ["meeting_id", "member_id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "member"], name="delib_attendance_once")]

    def __str__(self) -> str:
        return f"{self.member} {self.get_status_display()}"


class VoteOrigin(models.TextChoices):
    HANDS = "hands", _("举手表决")
    PAPER = "paper", _("纸质投票")
    ONLINE = "online", _("线上投票")


class Choice(models.TextChoices):
    FOR = "for", _("赞成")
    AGAINST = "against", _("反对")
    ABSTAIN = "abstain", _("弃权")


class Vote(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.PROTECT, related_name="votes")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="votes")
    question = models.CharField(_("表决事项"), max_length=200)
    origin = models.CharField(_("表决方式"), max_length=8, choices=VoteOrigin.choices)
    votes_for = models.PositiveIntegerField(_("赞成"), default=0)
    votes_against = models.PositiveIntegerField(_("反对"), default=0)
    votes_abstain = models.PositiveIntegerField(_("弃权"), default=0)
    eligible = models.PositiveIntegerField(_("应到人数"))
    attending = models.PositiveIntegerField(_("到会人数"))
    passed = models.BooleanField(_("通过"))
    at = models.DateTimeField(_("表决时间"))

    class Meta:
        verbose_name = _("表决")
        verbose_name_plural = _("表决")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return _("%(question)s %(v)s") % {"question": self.question, "v": '通过' if self.passed else '未通过'}

    @property
    def tally(self) -> str:
        return _("赞成%(votes_for)s、反对%(votes_against)s、弃权%(votes_abstain)s") % {
            "votes_for": self.votes_for, "votes_against": self.votes_against,
            "votes_abstain": self.votes_abstain}


class Ballot(models.Model):
    """A member's own vote, when the vote is recorded per person (paper or online ballots)."""

    vote = models.ForeignKey(Vote, on_delete=models.CASCADE, related_name="ballots")
    member = models.ForeignKey(BodyMember, on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(_("意见"), max_length=8, choices=Choice.choices)
    origin = models.CharField(_("方式"), max_length=8, choices=VoteOrigin.choices)

    class Meta:
        verbose_name = _("选票")
        verbose_name_plural = _("选票")
        constraints = [models.UniqueConstraint(fields=["vote", "member"], name="delib_ballot_once")]

    def __str__(self) -> str:
        return f"{self.member} {self.get_choice_display()}"


class DisclosureKind(models.TextChoices):
    DECISION = "decision", _("决议公开")
    RESULT = "result", _("实施结果公开")


DEFAULT_NOTICE_DAYS = 7


class Disclosure(models.Model):
    """What the public notice board (公开栏) shows. Nothing personal: title, text, dates."""

    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="disclosures")
    kind = models.CharField(_("类型"), max_length=10, choices=DisclosureKind.choices)
    community_path = models.CharField(max_length=255, editable=False, db_index=True)
    area_path = models.CharField(max_length=255, editable=False)
    title = models.CharField(_("标题"), max_length=80)
    text = models.TextField(_("公开内容"))
    published_at = models.DateTimeField(_("公开时间"))
    notice_days = models.PositiveSmallIntegerField(_("公示期(天)"), default=DEFAULT_NOTICE_DAYS)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("公开")
        verbose_name_plural = _("公开")
        ordering = ["-published_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["topic", "kind"], name="delib_disclosure_once")]
        indexes = [models.Index(fields=["community_path", "published_at"], name="delib_disclosure_board")]

    def __str__(self) -> str:
        return self.title

    @property
    def notice_ends(self) -> dt.datetime:
        return self.published_at + dt.timedelta(days=self.notice_days)

    def in_notice(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.published_at <= now < self.notice_ends


# Long digit runs are phone or ID numbers a resident typed into their objection: never public.
_DIGITS = re.compile(r"\d[\d\s-]{5,}\d[Xx]?")


def scrub(text: str, names: list[str] | tuple[str, ...] = ()) -> str:
    """`text` without digit runs and without any of `names` (张秀英 → 张某)."""
    for name in sorted({n for n in names if len(n) >= 2 and n in text}, key=len, reverse=True):
        text = text.replace(name, name[0] + "某")
    return _DIGITS.sub("****", text)


class Objection(models.Model):
    """A resident's objection (异议) or comment (意见) during the notice period, and the 两委's
    answer. The public sees the scrubbed text and the answer; never who sent it."""

    class Kind(models.TextChoices):
        OBJECTION = "objection", _("异议")
        COMMENT = "comment", _("意见建议")

    disclosure = models.ForeignKey(Disclosure, on_delete=models.PROTECT, related_name="objections")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.OBJECTION)
    text = models.TextField(_("内容"))
    # What the board shows: the text with the names of the community's residents and any long
    # digit run (phone, ID number) masked, computed once when the objection arrives.
    public_text = models.TextField(_("公开内容"), blank=True, editable=False)
    submitted_at = models.DateTimeField(_("提交时间"), default=timezone.now)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=32, blank=True, editable=False, db_index=True)
    phone_masked = models.CharField(_("联系电话"), max_length=16, blank=True, editable=False)
    verified_resident = models.BooleanField(_("已核验为本社区居民"), default=False)
    answer = models.TextField(_("答复"), blank=True)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("异议")
        verbose_name_plural = _("异议")
        ordering = ["submitted_at", "id"]

    def __str__(self) -> str:
        return self.text[:30]

    def set_phone(self, number: str) -> None:
        self.phone_enc = crypto.encrypt(number)
        self.phone_hash = crypto.blind_index(number, "phone")
        self.phone_masked = mask_phone(number)
