"""One-key emergency callers (孝心呼叫器): devices, contact chains, alarms, their timeline and the
notification outbox (DESIGN.md §8).

The rules these tables carry:
- a press counts once its `Press` row is committed; (device, event_id) is unique, so a device that
  retries the same press is stored once;
- at most one open alarm per device and kind (a partial unique index): further presses join it;
- the contact chain is copied onto the alarm when it opens (`Alarm.chain_snapshot`), with the
  people already resolved, so later edits or deleted users cannot break a running escalation;
- notifications are outbox rows written in the transaction that decided them; workers claim them;
- escalation timers are `Alarm.next_step_at` due-times polled by workers; `Alarm.epoch` grows at
  every change that makes pending work stale (acknowledge, on site, resolve), and a timer or a
  notification from an older epoch does nothing;
- `Alarm.feed_seq` is a commit-ordered change sequence for the duty console (`alarms_since`)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wuzhi.core import crypto
from wuzhi.core.models import Area, TimelineEvent, prefix_index
from wuzhi.core.roles import Role
from wuzhi.core.scoping import ScopedQuerySet
from wuzhi.core.validators import mask_phone


class DeviceStatus(models.TextChoices):
    ONLINE = "online", _("在线")
    OFFLINE = "offline", _("离线")


class Vendor(models.Model):
    """A maker or vendor cloud that forwards its devices' events over the signed webhook."""

    code = models.SlugField(_("厂商代码"), max_length=32, unique=True)
    name = models.CharField(_("厂商名称"), max_length=64)
    # The webhook secret, encrypted at rest: HMAC verification needs the clear value back.
    secret_enc = models.TextField(editable=False, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("呼叫器厂商")
        verbose_name_plural = _("呼叫器厂商")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def set_secret(self, secret: str) -> None:
        self.secret_enc = crypto.encrypt(secret)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_enc)


class Chain(models.Model):
    """通知链: ordered steps, each with a wait and its targets. A grid has one default chain; a
    device may have its own (`Device.chain`)."""

    name = models.CharField(_("名称"), max_length=64)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="alarm_chains", verbose_name=_("网格"))
    area_path = models.CharField(max_length=255, editable=False)
    is_default = models.BooleanField(_("网格默认通知链"), default=False)
    onsite_seconds = models.PositiveIntegerField(
        _("确认后到场时限(秒)"), default=600, help_text=_("确认后超过该时间仍无人到场,再次升级通知"))
    repeat_seconds = models.PositiveIntegerField(
        _("末步重复间隔(秒)"), default=300, help_text=_("最后一步后仍无人确认,每隔该时间再次通知最后一步的人员"))
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知链")
        verbose_name_plural = _("通知链")
        ordering = ["area_path", "name"]
        indexes = [prefix_index("alarm_chain_path")]
        constraints = [
            models.UniqueConstraint(fields=["area"], condition=Q(is_default=True), name="alarm_chain_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class ChainStep(models.Model):
    chain = models.ForeignKey(Chain, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("顺序"))
    wait_seconds = models.PositiveIntegerField(
        _("等待(秒)"), default=0, help_text=_("上一步通知后仍无人确认,等待多少秒执行本步;第一步一般为0(立即)"))

    class Meta:
        verbose_name = _("通知步骤")
        verbose_name_plural = _("通知步骤")
        ordering = ["chain_id", "order"]
        constraints = [models.UniqueConstraint(fields=["chain", "order"], name="alarm_chain_step_order")]

    def __str__(self) -> str:
        return f"第{self.order}步"


class TargetKind(models.TextChoices):
    FAMILY = "family", _("家属(同户有手机号的成员)")
    DUTY = "duty", _("值班室")
    ROLE = "role", _("该网格持有角色的人员")
    USER = "user", _("指定人员")
    PHONE = "phone", _("指定电话")


class ChainTarget(models.Model):
    step = models.ForeignKey(ChainStep, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(_("对象"), max_length=8, choices=TargetKind.choices)
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+", verbose_name=_("人员"))
    name = models.CharField(_("称呼"), max_length=32, blank=True)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField(_("电话"), max_length=16, blank=True, editable=False)
    sms = models.BooleanField(_("发短信"), default=True)

    class Meta:
        verbose_name = _("通知对象")
        verbose_name_plural = _("通知对象")
        ordering = ["step_id", "id"]

    def __str__(self) -> str:
        return self.name or self.get_kind_display()

    def set_phone(self, number: str) -> None:
        self.phone_enc = crypto.encrypt(number)
        self.phone_masked = mask_phone(number) if number else ""


class Device(models.Model):
    """A caller: its identity (key/IMEI), who it belongs to and where, and its health."""

    key = models.CharField(_("设备号/IMEI"), max_length=32, unique=True)
    vendor = models.ForeignKey(Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="devices",
                               verbose_name=_("厂商"))
    model_name = models.CharField(_("型号"), max_length=32, blank=True)
    sim_enc = models.TextField(blank=True, editable=False)
    sim_masked = models.CharField(_("SIM卡号"), max_length=16, blank=True, editable=False)
    # Per-device secret for signed webhook calls, encrypted at rest (HMAC needs it in clear).
    secret_enc = models.TextField(blank=True, editable=False)
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="callers", verbose_name=_("使用人"))
    dwelling = models.ForeignKey("registry.Dwelling", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="callers", verbose_name=_("安装户室"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="callers", verbose_name=_("所在区域"))
    area_path = models.CharField(max_length=255, editable=False)
    # The community's code is the middle of the MQTT topic: <prefix>/<community>/callers/<key>/<event>.
    community_code = models.CharField(max_length=32, editable=False)
    chain = models.ForeignKey(Chain, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices",
                              verbose_name=_("专用通知链"), help_text=_("不填则使用所在网格的默认通知链"))
    medical_notes = models.TextField(_("健康与用药提示"), blank=True, help_text=_("值班员和赶到现场的人需要知道的病史、用药、过敏"))
    heartbeat_seconds = models.PositiveIntegerField(_("心跳间隔(秒)"), default=300)
    status = models.CharField(_("状态"), max_length=8, choices=DeviceStatus.choices, default=DeviceStatus.ONLINE)
    last_seen_at = models.DateTimeField(_("最近在线"), null=True, blank=True)
    # last_seen_at + 3 heartbeat intervals: the health check finds overdue devices on an index.
    offline_at = models.DateTimeField(null=True, blank=True, editable=False)
    battery = models.PositiveSmallIntegerField(_("电量(%)"), null=True, blank=True)
    low_battery = models.BooleanField(_("低电量"), default=False)
    tamper = models.BooleanField(_("防拆报警"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    installed_on = models.DateField(_("安装日期"), default=timezone.localdate)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("呼叫器")
        verbose_name_plural = _("呼叫器")
        ordering = ["area_path", "key"]
        indexes = [
            prefix_index("alarm_device_path"),
            models.Index(fields=["status", "offline_at"], name="alarm_device_health"),
        ]

    def __str__(self) -> str:
        return self.key

    def set_sim(self, number: str) -> None:
        self.sim_enc = crypto.encrypt(number)
        self.sim_masked = mask_phone(number) if number else ""

    def set_secret(self, secret: str) -> None:
        self.secret_enc = crypto.encrypt(secret)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_enc)

    @property
    def heartbeat_interval(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.heartbeat_seconds)


class AlarmKind(models.TextChoices):
    PRESS = "press", _("一键呼叫")
    OFFLINE = "offline", _("设备离线")
    LOW_BATTERY = "low_battery", _("电量低")
    TAMPER = "tamper", _("防拆报警")


class Severity(models.TextChoices):
    CRITICAL = "critical", _("紧急")
    WARNING = "warning", _("提醒")


class AlarmState(models.TextChoices):
    NEW = "new", _("新呼叫")
    NOTIFYING = "notifying", _("通知中")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    ON_SITE = "on_site", _("已到场")
    RESOLVED = "resolved", _("已处置")


OPEN_STATES = (AlarmState.NEW, AlarmState.NOTIFYING, AlarmState.ACKNOWLEDGED, AlarmState.ON_SITE)
# States in which the chain still escalates (nobody has taken the alarm yet).
UNACKED_STATES = (AlarmState.NEW, AlarmState.NOTIFYING)


class Resolution(models.TextChoices):
    REAL = "real", _("真实求助")
    FALSE_PRESS = "false_press", _("误按")
    TEST = "test", _("测试")
    CANCELLED = "cancelled", _("老人本人取消")
    RECOVERED = "recovered", _("设备恢复正常")


class Alarm(models.Model):
    kind = models.CharField(_("类型"), max_length=12, choices=AlarmKind.choices, default=AlarmKind.PRESS)
    severity = models.CharField(_("级别"), max_length=8, choices=Severity.choices, default=Severity.CRITICAL)
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("呼叫器"))
    resident = models.ForeignKey("registry.Resident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="alarms", verbose_name=_("呼叫人"))
    dwelling = models.ForeignKey("registry.Dwelling", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="alarms", verbose_name=_("户室"))
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("区域"))
    area_path = models.CharField(max_length=255, editable=False)
    # What the console shows even if the resident row changes later.
    person_name = models.CharField(_("呼叫人"), max_length=32, blank=True)
    address = models.CharField(_("地址"), max_length=128, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=AlarmState.choices, default=AlarmState.NEW)
    resolution = models.CharField(_("处置结果"), max_length=12, choices=Resolution.choices, blank=True)
    opened_at = models.DateTimeField(_("呼叫时间"), default=timezone.now)
    pressed_at = models.DateTimeField(_("按键时间(设备)"), null=True, blank=True)
    press_count = models.PositiveIntegerField(_("按键次数"), default=1)
    last_press_at = models.DateTimeField(_("最近按键"), null=True, blank=True)
    first_notified_at = models.DateTimeField(_("首次通知"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", verbose_name=_("确认人"))
    departed_at = models.DateTimeField(_("出发时间"), null=True, blank=True)
    on_site_at = models.DateTimeField(_("到场时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处置时间"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("处置人"))
    result_note = models.TextField(_("处置情况"), blank=True)
    # [{"order", "wait", "targets": [{"kind", "label", "name", "user_id", "phone_enc", "phone_masked", "sms"}]}],
    # plus the chain's timings; written once at open.
    chain_snapshot = models.JSONField(default=dict, editable=False)
    chain_name = models.CharField(_("通知链"), max_length=64, blank=True)
    step_index = models.PositiveSmallIntegerField(_("已执行步骤数"), default=0)
    next_step_at = models.DateTimeField(_("下次升级"), null=True, blank=True)
    epoch = models.PositiveIntegerField(default=0, editable=False)
    feed_seq = models.BigIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("呼叫")
        verbose_name_plural = _("呼叫")
        ordering = ["-opened_at", "-id"]
        indexes = [
            prefix_index("alarm_path"),
            models.Index(fields=["next_step_at"], name="alarm_due", condition=Q(next_step_at__isnull=False)),
            models.Index(fields=["feed_seq"], name="alarm_feed"),
            models.Index(fields=["state", "opened_at"], name="alarm_state_opened"),
            models.Index(fields=["kind", "opened_at"], name="alarm_kind_opened"),
        ]
        constraints = [
            # One open alarm per device and kind: a second press joins it. The index also makes
            # two racing first presses safe: the loser's INSERT fails and it joins the winner.
            models.UniqueConstraint(
                fields=["device", "kind"], condition=Q(state__in=[s.value for s in OPEN_STATES]),
                name="alarm_one_open_per_device"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.person_name or self.device_id}"

    @property
    def is_open(self) -> bool:
        return self.state != AlarmState.RESOLVED

    def elapsed(self, now: dt.datetime | None = None) -> dt.timedelta:
        end = self.resolved_at or now or timezone.now()
        return end - self.opened_at


class Press(models.Model):
    """Every press the system accepted, once: the dedupe record of (device, device event id)."""

    class Via(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        HTTP = "http", "HTTP"
        CONSOLE = "console", _("手工登记")

    class Kind(models.TextChoices):
        PRESS = "press", _("按键")
        CANCEL = "cancel", _("取消")

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="presses")
    event_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PRESS)
    alarm = models.ForeignKey(Alarm, null=True, blank=True, on_delete=models.CASCADE, related_name="presses")
    via = models.CharField(max_length=8, choices=Via.choices)
    pressed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("按键记录")
        verbose_name_plural = _("按键记录")
        constraints = [models.UniqueConstraint(fields=["device", "event_id"], name="alarm_press_dedupe")]

    def __str__(self) -> str:
        return f"{self.device_id}:{self.event_id}"


class AlarmEvent(TimelineEvent):
    """One row of the alarm's timeline: a transition, a joined press, a notification step, a note."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("状态变化")
        PRESS = "press", _("再次按键")
        ESCALATE = "escalate", _("升级通知")
        DISPATCH = "dispatch", _("派人前往")
        DEPART = "depart", _("出发")
        NOTE = "note", _("记录")

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRANSITION)
    from_state = models.CharField(_("原状态"), max_length=12, choices=AlarmState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=AlarmState.choices, blank=True)
    label = models.CharField(_("操作"), max_length=32)

    class Meta:
        verbose_name = _("呼叫处置记录")
        verbose_name_plural = _("呼叫处置记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["alarm", "at"], name="alarm_event_alarm_at")]

    def __str__(self) -> str:
        return f"{self.alarm_id} {self.label}"


class NotifyChannel(models.TextChoices):
    CONSOLE = "console", _("值班台/手机页面")
    SMS = "sms", _("短信")


class NotifyStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    CANCELLED = "cancelled", _("已停止")


class Notification(models.Model):
    """Outbox row: one message to one person on one channel. `key` is the idempotency key the
    channel and provider receive, so a resend after a crash is recognised as the same message.

    `purpose` ALERT rows belong to the alarm's `epoch` and are dropped when the epoch moved on
    (acknowledged, on site, resolved); INFO rows (the elder cancelled, the alarm was resolved)
    are sent whatever the alarm's state."""

    class Purpose(models.TextChoices):
        ALERT = "alert", _("呼叫通知")
        INFO = "info", _("告知")

    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="notifications")
    epoch = models.PositiveIntegerField(default=0)
    step = models.PositiveSmallIntegerField(_("步骤"), default=0)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.ALERT)
    channel = models.CharField(_("渠道"), max_length=8, choices=NotifyChannel.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="alarm_notifications")
    # Duty-station rows are addressed to the station (all duty staff of the area), not a user.
    to_duty = models.BooleanField(default=False)
    name = models.CharField(_("接收人"), max_length=32, blank=True)
    phone_enc = models.TextField(blank=True, editable=False)
    phone_masked = models.CharField(_("电话"), max_length=16, blank=True)
    text = models.CharField(_("内容"), max_length=300)
    key = models.CharField(max_length=64, unique=True)
    status = models.CharField(_("状态"), max_length=10, choices=NotifyStatus.choices, default=NotifyStatus.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True)
    provider_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    area_path = models.CharField(max_length=255, editable=False)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("呼叫通知")
        verbose_name_plural = _("呼叫通知")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["due_at"], name="alarm_outbox_pending",
                         condition=Q(status__in=["pending", "sending"])),
            models.Index(fields=["user", "created_at"], name="alarm_notify_user"),
            models.Index(fields=["alarm", "step"], name="alarm_notify_alarm"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.name}"


class FeedCounter(models.Model):
    """One row whose counter stamps `Alarm.feed_seq`. It is updated as the last statement of a
    transaction that changed an alarm, so its row lock is held only until commit and the sequence
    follows commit order: a console that read up to N never misses a later-committed change below N."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("呼叫变更序号")
        verbose_name_plural = _("呼叫变更序号")

    def __str__(self) -> str:
        return str(self.value)
