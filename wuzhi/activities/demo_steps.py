"""The 福兴 demo's service teams and their activities.

The article: six party service teams running 28 "共建、共治、共享" activities every week, five
care teams with 12 "一老一小" activities in the year, and a "3+N" micro-governance group in
every building. Written through the services; attendance names the volunteers and counts the
people served."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.party.models import PartyMember

from . import services
from .models import Attendance, TeamKind

PARTY_TEAMS = [
    ("政策宣传服务队", ["惠民政策入户宣讲", "医保缴费政策解读", "就业补贴政策宣传", "防返贫监测政策宣传"]),
    ("人居环境服务队", ["楼道卫生清扫", "小区绿化带整治", "垃圾分类宣传", "楼栋杂物清理"]),
    ("纠纷调处服务队", ["邻里矛盾排查", "楼栋议事调解", "法律咨询服务", "家庭纠纷上门劝解"]),
    ("平安建设服务队", ["夜间平安巡逻", "消防安全检查", "电动车充电隐患排查", "防诈骗宣传"]),
    ("就业创业服务队", ["帮扶车间岗位对接", "外出务工信息登记", "技能培训报名动员", "创业贷款政策咨询"]),
    ("青年志愿服务队", ["四点半课堂辅导", "关爱留守儿童陪伴", "文明劝导志愿服务", "助老上门服务"]),
]
CARE_TEAMS = ["奉献之心", "互助之心", "关爱之心", "敬老之心", "慈爱之心"]
CARE_ACTIVITIES = ["为独居老人理发送餐", "留守儿童生日会", "重阳敬老慰问", "六一儿童节关爱活动",
                   "空巢老人健康义诊", "困境儿童学习用品捐赠", "老人智能手机使用教学", "端午包粽子送老人",
                   "暑期儿童安全教育", "冬季送温暖入户", "老人防跌倒居家改造", "亲子阅读陪伴"]
VENUES = ["党群服务中心", "新时代文明实践站", "社区广场", "各楼栋", "法治文化园", "文体活动中心"]
SLOTS = [(9, 0), (10, 30), (14, 30), (19, 30)]  # four activities a day is 28 a week


def _at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


@demo_step(order=30)
def teams_and_activities(ctx: DemoContext) -> None:
    rng = ctx.rng("activities")
    members = list(PartyMember.objects.filter(area_path__startswith=ctx.community.path, is_mobile=False,
                                              resident__isnull=False).select_related("resident").order_by("id"))
    party_teams = []
    for i, (name, _titles) in enumerate(PARTY_TEAMS):
        team = services.team_create(actor=None, area=ctx.community, kind=TeamKind.PARTY_SERVICE, name=f"{name}")
        crew = [services.member_add(actor=None, team=team, resident=m.resident, role="队长" if k == 0 else "队员")
                for k, m in enumerate(members[i::len(PARTY_TEAMS)][:12])]
        party_teams.append((team, crew))

    workers = [ctx.users[f"wgy{g}"] for g in sorted(ctx.grids)]
    care_teams = []
    for i, name in enumerate(CARE_TEAMS):
        team = services.team_create(actor=None, area=ctx.community, kind=TeamKind.CARE, name=f"{name}爱心服务队",
                                    governance="moral")
        crew = [services.member_add(actor=None, team=team, user=workers[i % len(workers)], role="队长")]
        crew += [services.member_add(actor=None, team=team, resident=m.resident)
                 for m in members[100 + i * 5:100 + i * 5 + 5]]
        care_teams.append((team, crew))

    _micro_groups(ctx)
    _neighbour_watch(ctx)

    # Party teams: four activities every day of the year so far, so every full week has 28.
    day = dt.date(ctx.today.year, 1, 1)
    n = 0
    while day < ctx.today:
        for hour, minute in SLOTS:
            team, crew = party_teams[n % len(party_teams)]
            titles = PARTY_TEAMS[n % len(party_teams)][1]
            activity = services.activity_record(
                actor=None, area=ctx.community, kind="team", team=team, title=titles[(n // 6) % len(titles)],
                starts_at=_at(day, hour, minute), ends_at=_at(day, hour + 1, minute),
                venue=rng.choice(VENUES), headcount=rng.randint(8, 40),
                note="“共建、共治、共享”志愿服务活动",
            )
            services.attendance_mark(actor=None, activity=activity, members=rng.sample(crew, 4),
                                     role=Attendance.Role.VOLUNTEER, hours=1.5)
            n += 1
        day += dt.timedelta(days=1)

    # Care teams: 12 "一老一小" activities in the year, about one a month, serving named people.
    cared = [r for _hp, _h, people in ctx.households for pp, r in people
             if {"独居老人", "空巢老人", "留守儿童", "孤儿", "事实无人抚养儿童"} & set(pp.tags)]
    days_so_far = (ctx.today - dt.date(ctx.today.year, 1, 1)).days
    for k, title in enumerate(CARE_ACTIVITIES):
        team, crew = care_teams[k % len(care_teams)]
        day = dt.date(ctx.today.year, 1, 1) + dt.timedelta(days=(days_so_far - 1) * k // len(CARE_ACTIVITIES) + 3)
        activity = services.activity_record(actor=None, area=ctx.community, kind="team", team=team, title=title,
                                            governance="moral", starts_at=_at(day, 9, 30), venue=rng.choice(VENUES))
        services.attendance_mark(actor=None, activity=activity, members=crew, role=Attendance.Role.VOLUNTEER, hours=3)
        services.attendance_mark(actor=None, activity=activity, residents=rng.sample(cared, 12))


def _micro_groups(ctx: DemoContext) -> None:
    """福兴微治理: per building a "3+N" group: 小组长, 居民代表, 党员 and N resident volunteers."""
    rng = ctx.rng("micro-groups")
    by_building: dict[int, list[Any]] = {}
    for hp, _h, people in ctx.households:
        by_building.setdefault(hp.slot[1], []).extend(
            r for pp, r in people if 25 <= ctx.today.year - pp.birth.year <= 65 and not pp.migrant)
    for b, building in sorted(ctx.buildings.items()):
        team = services.team_create(actor=None, area=building, kind=TeamKind.MICRO_GROUP,
                                    name=f"{building.name}“3+N”微治理小组", governance="self")
        picks = rng.sample(by_building[b], 3 + rng.randint(3, 6))
        for role, resident in zip(["小组长", "居民代表", "党员"] + ["志愿者"] * 10, picks, strict=False):
            services.member_add(actor=None, team=team, resident=resident, role=role)


def _neighbour_watch(ctx: DemoContext) -> None:
    """福家邻里守望志愿服务队: two neighbours per building, each looking after the 空巢老人, 留守儿童
    and 残疾人 (and 独居老人) of their own building."""
    rng = ctx.rng("neighbour-watch")
    team = services.team_create(actor=None, area=ctx.community, kind=TeamKind.WATCH, name="福家邻里守望志愿服务队",
                                governance="self")
    by_building: dict[int, list[Any]] = {}
    cared: dict[int, list[Any]] = {}
    for hp, _h, people in ctx.households:
        for pp, r in people:
            if set(pp.tags) & set(services.CARE_TAGS):
                cared.setdefault(hp.slot[1], []).append(r)
            elif 30 <= ctx.today.year - pp.birth.year <= 60 and not pp.migrant:
                by_building.setdefault(hp.slot[1], []).append(r)
    for b in sorted(ctx.buildings):
        watchers = [services.member_add(actor=None, team=team, resident=r, role="守望员")
                    for r in rng.sample(by_building[b], 2)]
        for k, resident in enumerate(cared.get(b, [])):
            services.care_pair(actor=None, member=watchers[k % 2], resident=resident)
