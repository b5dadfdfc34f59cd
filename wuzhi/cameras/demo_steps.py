"""福兴's 小探头 (article, 智治 paragraph): every public area covered (探头全覆盖公共区域), and
residents sharing their own cameras of their own free will, one of whom has since withdrawn.

Public areas: the gates, the square, the car parks, the ring road and the service centre on the
community; each unit's hall (楼道) and lift (电梯). Each gets a public camera. Some 独居老人
households own a camera at their door and share it with the duty station and the police."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.registry.models import Household

from . import services
from .models import CameraKind, PublicAreaKind

K = PublicAreaKind
COMMUNITY_PLACES: list[tuple[str, str, str, str]] = [
    # (kind, name, camera location, note)
    (K.ENTRANCE, "东大门", "东大门门岗上方,朝向大门内外", "车辆和行人主出入口"),
    (K.ENTRANCE, "南门", "南门立杆,朝向人行通道", "人行出入口"),
    (K.ENTRANCE, "西侧人行门", "西侧人行门顶部", ""),
    (K.SQUARE, "中心广场", "广场东侧灯杆,俯视广场", "广场舞、集会场所"),
    (K.PARKING, "地面停车场", "停车场入口立杆", ""),
    (K.PARKING, "地下停车场", "地下车库出入口", ""),
    (K.ROAD, "环形主干道", "主干道与南门交叉口", ""),
    (K.FACILITY, "党群服务中心门前", "服务中心门廊", ""),
    (K.FACILITY, "儿童游乐区", "游乐区旁灯杆", "四点半小课堂旁"),
]
PUBLIC_MODELS = [("海康威视", "DS-2CD3T47"), ("大华", "DH-IPC-HFW2433"), ("宇视", "IPC2124")]
HOME_MODELS = [("萤石", "C6CN"), ("乐橙", "TA1"), ("小米", "智能摄像机云台版")]
SHARED = 12  # 独居老人 households sharing a door camera
UNSHARED = 3  # owners who registered a camera but chose not to share it (自觉自愿)


@demo_step(75)
def cameras(ctx: DemoContext) -> None:
    rng = ctx.rng("cameras")
    n = 0

    def public_camera(area, location, covers, ip):  # type: ignore[no-untyped-def]
        nonlocal n
        n += 1
        vendor, model = PUBLIC_MODELS[n % len(PUBLIC_MODELS)]
        return services.camera_register(
            actor=None, kind=CameraKind.PUBLIC, area=area, location=location, public_areas=covers,
            vendor=vendor, model=model, stream_url=f"rtsp://{ip}:554/Streaming/Channels/101",
            installed_on=ctx.today - dt.timedelta(days=rng.randint(400, 700)))

    for i, (kind, name, location, note) in enumerate(COMMUNITY_PLACES, start=1):
        pa = services.public_area_create(actor=None, area=ctx.community, kind=kind, name=name, note=note)
        public_camera(ctx.community, location, [pa], f"10.53.0.{10 + i}")
    halls = {}
    for (b, u), unit in sorted(ctx.units.items()):
        hall = services.public_area_create(actor=None, area=unit, kind=K.CORRIDOR, name="单元门厅",
                                           note="单元门和楼梯口")
        lift = services.public_area_create(actor=None, area=unit, kind=K.ELEVATOR, name="电梯")
        halls[unit.pk] = hall
        public_camera(unit, "单元门厅顶部,朝向单元门", [hall], f"10.53.{b}.{u * 10 + 1}")
        public_camera(unit, "电梯轿厢内", [lift], f"10.53.{b}.{u * 10 + 2}")

    # Household cameras: 独居老人 first (the families asked for a way to look in on them).
    alone = [h for hp, h, _people in ctx.households if any("独居老人" in m.tags for m in hp.members)]
    owners = rng.sample(alone, min(len(alone), SHARED + UNSHARED))
    households = {h.pk: h for h in Household.objects.filter(pk__in=[h.pk for h in owners]).select_related("head")}
    shared = 0
    withdrawn = None
    for i, owner in enumerate(owners):
        household = households[owner.pk]
        vendor, model = HOME_MODELS[i % len(HOME_MODELS)]
        camera = services.camera_register(
            actor=None, kind=CameraKind.HOUSEHOLD, household=household, location="户门上方,朝向楼道",
            public_areas=[halls[household.area_id]] if household.area_id in halls else [],
            vendor=vendor, model=model, stream_url=f"rtsp://192.168.1.{60 + i}:554/h264/ch1/main/av_stream",
            installed_on=ctx.today - dt.timedelta(days=rng.randint(120, 360)))
        if i >= SHARED:
            continue
        starts = ctx.today - dt.timedelta(days=rng.randint(60, 110))  # after the install
        head = household.head
        consent = services.consent_record(
            actor=None, camera=camera, signed_by=head.name if head else "户主",
            purpose="老人独居,紧急求助时值班室和民警可查看门口情况", viewer_roles=["duty", "police", "grid_worker"],
            starts_on=starts, principles=["依法依规", "自觉自愿", "积极稳妥", "保护隐私", "合理引导"])
        if i == SHARED - 1:
            # One family took its consent back after the daughter moved home (自觉自愿, any time).
            at = timezone.make_aware(dt.datetime.combine(starts + dt.timedelta(days=40), dt.time(10, 30)))
            withdrawn = services.consent_withdraw(actor=None, consent=consent, reason="子女已回家照顾,不再共享",
                                                  at=min(at, timezone.now()))
        else:
            shared += 1
    ctx.write(f"  小探头:公共区域 {len(COMMUNITY_PLACES) + 2 * len(ctx.units)} 处全部覆盖,公共探头 {n} 个;"
              f"居民自有探头 {len(owners)} 个,授权共享 {shared} 个" + (",撤回 1 个" if withdrawn else ""))
