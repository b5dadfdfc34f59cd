"""The 福兴 demo's 孝心呼叫器 (article, 智治 paragraph: 为50名独居老人安装孝心呼叫器).

A caller for each of the 50 residents tagged 独居老人, installed in their dwelling; a default
contact chain per grid built from the demo's people (step 1 at once: family and the duty station
谢春兰; step 2 after 60 s: the grid worker and the 楼长; step 3 after 120 s: the family doctor,
the 民警 and the secretary); and a few past calls of every outcome with their timelines, written
through the services with past times. Demo callers report a daily heartbeat, so a demo left
alone for a few days does not turn into fifty offline alarms."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from wuzhi.core.roles import Role
from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.registry.models import Resident

from . import escalation, outbox, services
from .models import Press, Resolution, TargetKind
from .services import StepSpec, TargetSpec

NOTES = ["高血压,每日服用降压药", "糖尿病,注射胰岛素,注意低血糖", "冠心病,随身备硝酸甘油", "腿脚不便,行走需拐杖",
         "轻度认知障碍,说话需耐心", "慢阻肺,冬季易发作", "青霉素过敏", "听力差,电话需大声"]


def _chain_steps() -> list[StepSpec]:
    return [
        StepSpec(0, [TargetSpec(TargetKind.FAMILY), TargetSpec(TargetKind.DUTY)]),
        StepSpec(60, [TargetSpec(TargetKind.ROLE, role=Role.GRID_WORKER),
                      TargetSpec(TargetKind.ROLE, role=Role.BUILDING_HEAD)]),
        StepSpec(120, [TargetSpec(TargetKind.ROLE, role=Role.DOCTOR), TargetSpec(TargetKind.ROLE, role=Role.POLICE),
                       TargetSpec(TargetKind.ROLE, role=Role.SECRETARY)]),
    ]


@demo_step(70)
def emergency_callers(ctx: DemoContext) -> None:
    rng = ctx.rng("alarms")
    for g, grid in sorted(ctx.grids.items()):
        services.chain_create(actor=None, area=grid, name=f"{g}网格默认通知链", steps=_chain_steps(), is_default=True,
                              onsite_seconds=900, repeat_seconds=300)
    vendor = services.vendor_create(actor=None, code="xiaoxin", name="孝心呼叫器(演示厂商)")
    elders = list(Resident.objects.filter(area_path__startswith=ctx.community.path, residenttag__tag__name="独居老人")
                  .select_related("household__dwelling__unit").order_by("household__address_key", "id"))
    installed = ctx.today - dt.timedelta(days=200)
    devices = []
    for i, elder in enumerate(elders):
        device = services.device_register(
            actor=None, key=f"8630{rng.randrange(10**10, 10**11)}", resident=elder, vendor=vendor, model_name="XX-1",
            sim=f"1440{rng.randrange(10**6, 10**7)}", heartbeat_seconds=86400, medical_notes=rng.choice(NOTES))
        device.installed_on = installed + dt.timedelta(days=i % 20)
        device.save(update_fields=["installed_on"])
        devices.append(device)
    ctx.write(f"  孝心呼叫器 {len(devices)} 台,通知链 {len(ctx.grids)} 条")
    if not devices:
        return
    duty = ctx.users.get("zhiban")

    def worker_of(device) -> object:
        grid = next((g for g, a in ctx.grids.items() if device.area_path.startswith(a.path)), 1)
        return ctx.users.get(f"wgy{grid}")
    now = timezone.now()

    def call(device, days_ago: float, minutes: int) -> tuple:
        t = now - dt.timedelta(days=days_ago)
        t = t.replace(hour=rng.randrange(7, 22), minute=minutes % 60, second=rng.randrange(60), microsecond=0)
        if days_ago == 0:  # the call still being handled: a few minutes ago
            t = now - dt.timedelta(minutes=minutes)
        alarm = services.alarm_press(device=device, event_id=f"demo-{device.key}-{t:%Y%m%d%H%M}", via=Press.Via.MQTT,
                                     now=t).alarm
        outbox.dispatch_once(now=t + dt.timedelta(seconds=2), limit=200)
        return alarm, t

    def s(seconds: int, t: dt.datetime) -> dt.datetime:
        return t + dt.timedelta(seconds=seconds)

    # 真实求助: nobody acknowledged in the first minute, step 2 reached the grid worker.
    alarm, t = call(devices[0], 41, 12)
    worker = worker_of(devices[0])
    escalation.run_due(now=s(61, t))
    outbox.dispatch_once(now=s(63, t), limit=200)
    services.acknowledge(actor=worker, alarm=alarm, now=s(75, t), note="电话无人接,马上过去")
    services.depart(actor=worker, alarm=alarm, now=s(80, t))
    services.on_site(actor=worker, alarm=alarm, now=s(330, t))
    services.resolve(actor=worker, alarm=alarm, now=s(1500, t), resolution=Resolution.REAL,
                     note="老人在卫生间摔倒,意识清醒,联系家庭医生到场检查后送县医院,已通知其子女")
    # 误按
    alarm, t = call(devices[min(12, len(devices) - 1)], 23, 40)
    services.acknowledge(actor=duty, alarm=alarm, now=s(18, t), note="电话回访:打扫卫生碰到按键")
    services.resolve(actor=duty, alarm=alarm, now=s(95, t), resolution=Resolution.FALSE_PRESS, note="老人平安,误按")
    # 月度测试
    alarm, t = call(devices[min(25, len(devices) - 1)], 12, 5)
    services.acknowledge(actor=duty, alarm=alarm, now=s(9, t))
    services.resolve(actor=duty, alarm=alarm, now=s(30, t), resolution=Resolution.TEST, note="网格员上门月度测试,设备正常")
    # 老人本人取消
    elder = devices[min(33, len(devices) - 1)]
    alarm, t = call(elder, 6, 25)
    services.cancel(device=elder, event_id=f"demo-cancel-{t:%Y%m%d%H%M}", via=Press.Via.MQTT, now=s(25, t))
    outbox.dispatch_once(now=s(27, t), limit=200)
    # 已到场,仍在处置(值班台上能看到的一条)
    alarm, t = call(devices[min(40, len(devices) - 1)], 0, 6)
    worker = worker_of(devices[min(40, len(devices) - 1)])
    services.acknowledge(actor=duty, alarm=alarm, now=s(20, t))
    services.depart(actor=worker, alarm=alarm, now=s(40, t))
    services.on_site(actor=worker, alarm=alarm, now=s(260, t), note="老人胸闷,已联系家庭医生")
    # 电量低(对网格员的提醒)
    weak = devices[min(47, len(devices) - 1)]
    services.heartbeat_flush([services.Beat(key=weak.key, at=now - dt.timedelta(hours=3), battery=14)], now=now)
    outbox.dispatch_once(now=now, limit=200)
