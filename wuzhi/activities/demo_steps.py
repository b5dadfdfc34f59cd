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
from .models import Attendance, Enrolment, Funding, ProgramKind, TeamKind
from .venues import LAW_VENUES

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


# ---- programs and events (自治: 四点半, 幸福餐厅, 夏令营; 法治: 法治文化园; 德治: 感恩教育, 文艺队,
# 宣讲培训, 节日活动). Classes, meals and camp days name every person; the big public events count
# heads, as a worker with a clicker at the door would.

LAW_TOPICS = [("道路交通安全", "县公安局交警大队"), ("家庭教育促进法", "县妇联"), ("禁毒宣传", "县禁毒办"),
              ("防范电信网络诈骗", "县公安局"), ("民法典进社区", "县司法局"), ("未成年人保护法", "县人民法院"),
              ("安全生产法", "县应急管理局"), ("反家庭暴力法", "县妇联"), ("法律援助知多少", "县司法局")]
GRATITUDE_EVENTS = [("政策宣讲会", "党群服务中心"), ("文明礼仪进社区", "社区广场"), ("我来为你上课", "新时代文明实践站"),
                    ("我来为你唱首歌", "社区广场"), ("感党恩·听党话·跟党走", "文体活动中心")]
TRAININGS = [("市民培训:文明生活习惯养成", "绥江县委组织部"), ("双创知识问答比赛", "县卫生健康局"),
             ("家风家教宣讲会", "绥江县委组织部"), ("先进典型宣讲会", "绥江县委组织部"),
             ("市民培训:垃圾分类与健康生活", "县卫生健康局"), ("家风家教宣讲会", "县妇联"),
             ("市民培训:城市生活安全常识", "绥江县委组织部"), ("双创知识问答比赛", "县卫生健康局"),
             ("先进典型宣讲会", "绥江县委组织部"), ("市民培训:就医与医保", "县卫生健康局"),
             ("家风家教宣讲会", "绥江县委组织部"), ("先进典型宣讲会", "县卫生健康局")]
ART_TEAMS = [("彩虹文艺队", 25), ("栖霞文艺队", 23), ("阳光文艺队", 22)]  # 70 members
LAW_VISITS = 2578
CAMP_DAYS = ["开营仪式与破冰游戏", "安全教育与自护课堂", "手工绘画与阅读", "红色故事会", "结营汇报演出"]
# 4 university students home for the summer, and 7 volunteers of 四川农业大学 (the article).
CAMP_STUDENTS = [("李思雨", "云南大学"), ("王浩然", "昭通学院"), ("陈佳怡", "西南大学"), ("杨子轩", "曲靖师范学院")]
CAMP_SAU = ["张雨萱", "刘子涵", "赵一鸣", "黄诗琪", "周俊杰", "吴欣怡", "徐梓涵"]


def _spread(ctx: DemoContext, n: int, k: int, offset: int = 3) -> dt.date:
    """The k-th of n days spread over the year so far (all before today)."""
    first = dt.date(ctx.today.year, 1, 1)
    span = max((ctx.today - first).days - 1, 1)
    return min(first + dt.timedelta(days=span * k // n + offset), ctx.today - dt.timedelta(days=1))


def _school_term(day: dt.date) -> bool:
    """Not in the winter (mid Jan–late Feb) or summer (July–August) holidays, nor the National Day week."""
    md = (day.month, day.day)
    return not ((1, 17) <= md <= (2, 22) or (7, 5) <= md <= (8, 31) or (10, 1) <= md <= (10, 7))


@demo_step(order=35)
def programs_and_events(ctx: DemoContext) -> None:
    people = [(pp, r) for _hp, _h, members in ctx.households for pp, r in members]
    year_start = dt.date(ctx.today.year, 1, 1)
    _afterschool(ctx, people, year_start)
    _canteen(ctx, people, year_start)
    _camp(ctx, people)
    _art_teams(ctx, people)
    _events(ctx)


def _age(ctx: DemoContext, pp: Any) -> int:
    return ctx.plan.ref.year - pp.birth.year


def _afterschool(ctx: DemoContext, people: list[Any], year_start: dt.date) -> None:
    rng = ctx.rng("afterschool")
    program = services.program_create(
        actor=None, area=ctx.community, kind=ProgramKind.AFTERSCHOOL, name="四点半希望小课堂", venue="新时代文明实践站",
        schedule="每周五 16:30–18:30", session_time=dt.time(16, 30), session_minutes=120, partner="青年志愿服务队",
        starts_on=year_start, description="作业辅导、交流陪伴、文娱活动,解决家长下班与孩子放学时间不同步的难题")
    kids = [r for pp, r in people if 6 <= _age(ctx, pp) <= 12 and not pp.migrant]
    left_behind = [r for pp, r in people if "留守儿童" in pp.tags and 6 <= _age(ctx, pp) <= 12]
    chosen = left_behind[:18] + [r for r in rng.sample(kids, 40) if r not in left_behind][:12]
    children = [services.enrol(actor=None, program=program, role=Enrolment.Role.LEARNER, resident=r, from_on=year_start)
                for r in chosen]
    tutors = []
    if "zhiyuanzhe" in ctx.users:
        tutors.append(services.enrol(actor=None, program=program, role=Enrolment.Role.TEACHER,
                                     user=ctx.users["zhiyuanzhe"], organisation="社区志愿者", from_on=year_start))
    young = [r for pp, r in people if 20 <= _age(ctx, pp) <= 28 and not pp.migrant]
    tutors += [services.enrol(actor=None, program=program, role=Enrolment.Role.VOLUNTEER, resident=r,
                              organisation="青年志愿服务队", from_on=year_start) for r in rng.sample(young, 3)]
    tutors.append(services.enrol(actor=None, program=program, role=Enrolment.Role.TEACHER, name="罗老师",
                                 organisation="县第二小学", from_on=year_start))
    fridays = []
    day = year_start + dt.timedelta(days=(4 - year_start.weekday()) % 7)
    while day < ctx.today:
        if _school_term(day):
            fridays.append(day)
        day += dt.timedelta(days=7)
    # "服务儿童500余人次": enough children each Friday for more than 500 over the year so far.
    base = max(15, -(-530 // max(len(fridays), 1)))
    for day in fridays:
        session = services.session_open(actor=None, program=program, day=day)
        present = rng.sample(children, min(len(children), base + rng.randint(0, 4)))
        services.attendance_mark(actor=None, activity=session, enrolments=present)
        services.attendance_mark(actor=None, activity=session, enrolments=rng.sample(tutors, 3), hours=2)


def _canteen(ctx: DemoContext, people: list[Any], year_start: dt.date) -> None:
    """新时代幸福餐厅: 60 留守老人, 留守儿童 and 寡孤独残 diners, lunch on weekdays."""
    rng = ctx.rng("canteen")
    program = services.program_create(
        actor=None, area=ctx.community, kind=ProgramKind.CANTEEN, name="新时代幸福餐厅", venue="党群服务中心一楼幸福餐厅",
        schedule="工作日午餐 11:30–12:30", session_time=dt.time(11, 30), session_minutes=60, partner="县民政局",
        meal_price=12, starts_on=year_start, description="“我为群众办实事”:解决老弱病残幼“吃饭难”")
    picked: list[tuple[Any, Any]] = []
    for tag, n in [("特困", 8), ("独居老人", 9), ("残疾人", 6), ("留守老人", 25), ("留守儿童", 12)]:
        pool = [(pp, r) for pp, r in people if tag in pp.tags and all(r is not q for _p, q in picked)
                and (tag != "残疾人" or _age(ctx, pp) >= 55)]
        picked += pool[:n]
    diners = []
    for i, (pp, r) in enumerate(picked):
        funding = (Funding.WELFARE if "特困" in pp.tags else Funding.SUBSIDY if "低保" in pp.tags
                   else Funding.CHARITY if "留守儿童" in pp.tags else Funding.SELF)
        # Most came when the canteen opened; the last few joined during the year.
        joined = year_start if i < 50 else _spread(ctx, 12, i - 50, offset=10)
        diners.append(services.enrol(actor=None, program=program, role=Enrolment.Role.DINER, resident=r,
                                     funding=funding, from_on=joined))
    day = year_start
    while day < ctx.today:
        if day.weekday() < 5:
            meal = services.session_open(actor=None, program=program, day=day, title="午餐")
            enrolled = [e for e in diners if e.from_on <= day]
            # Everyone eats on their first day; after that most days.
            present = [e for e in enrolled if e.from_on == day or rng.random() < 0.85]
            services.attendance_mark(actor=None, activity=meal, enrolments=present)
        day += dt.timedelta(days=1)


def _camp(ctx: DemoContext, people: list[Any]) -> None:
    """The summer camp for the 38 孤儿 and 事实无人抚养儿童, run by 11 volunteers."""
    rng = ctx.rng("camp")
    july = dt.date(ctx.today.year, 7, 20)
    first = july if ctx.today > july + dt.timedelta(days=5) else max(dt.date(ctx.today.year, 1, 1),
                                                                      ctx.today - dt.timedelta(days=6))
    program = services.program_create(
        actor=None, area=ctx.community, kind=ProgramKind.CAMP, name="“‘未’你而来,守护花开”主题夏令营",
        venue="新时代文明实践站", schedule="暑期连续5天 9:00–16:00", session_time=dt.time(9, 0), session_minutes=420,
        partner="四川农业大学", starts_on=first, ends_on=first + dt.timedelta(days=len(CAMP_DAYS) - 1),
        description="为孤儿、事实无人抚养等困境儿童开展的主题夏令营")
    campers = [services.enrol(actor=None, program=program, role=Enrolment.Role.CAMPER, resident=r, from_on=first)
               for pp, r in people if {"孤儿", "事实无人抚养儿童"} & set(pp.tags)]
    helpers = [services.enrol(actor=None, program=program, role=Enrolment.Role.VOLUNTEER, name=name,
                              organisation=org, note="大学生志愿者", from_on=first) for name, org in CAMP_STUDENTS]
    helpers += [services.enrol(actor=None, program=program, role=Enrolment.Role.VOLUNTEER, name=name,
                               organisation="四川农业大学", from_on=first) for name in CAMP_SAU]
    for k, title in enumerate(CAMP_DAYS):
        day = first + dt.timedelta(days=k)
        if day >= ctx.today:
            break
        session = services.session_open(actor=None, program=program, day=day, title=f"夏令营第{k + 1}天:{title}")
        present = campers if k == 0 else [e for e in campers if rng.random() < 0.92]
        services.attendance_mark(actor=None, activity=session, enrolments=present)
        crew = helpers if k == 0 else [e for e in helpers if rng.random() < 0.85]
        services.attendance_mark(actor=None, activity=session, enrolments=crew, hours=7)


def _art_teams(ctx: DemoContext, people: list[Any]) -> None:
    """彩虹, 栖霞, 阳光: 70 dancers and singers, rehearsing every other week."""
    rng = ctx.rng("art-teams")
    pool = [r for pp, r in people if 35 <= _age(ctx, pp) <= 68 and not pp.migrant and pp.sex == "F"]
    pool = rng.sample(pool, sum(n for _name, n in ART_TEAMS))
    teams = []
    for name, n in ART_TEAMS:
        team = services.team_create(actor=None, area=ctx.community, kind=TeamKind.ART, name=name, governance="moral",
                                    description="带领搬迁群众跳广场舞、排练文艺节目")
        crew = [services.member_add(actor=None, team=team, resident=r, role="队长" if k == 0 else "队员",
                                    joined_on=dt.date(ctx.today.year - 1, rng.randint(3, 12), rng.randint(1, 28)))
                for k, r in enumerate(pool[:n])]
        pool = pool[n:]
        teams.append((team, crew))
    year_start = dt.date(ctx.today.year, 1, 1)
    for t, (team, crew) in enumerate(teams):
        day = year_start + dt.timedelta(days=(t * 2 + 1 - year_start.weekday()) % 7)  # Tue, Thu, Sat
        while day < ctx.today:
            rehearsal = services.activity_record(actor=None, area=ctx.community, kind="art", team=team, title="广场舞排练",
                                                 starts_at=_at(day, 19, 30), ends_at=_at(day, 21, 0), venue="社区广场")
            services.attendance_mark(actor=None, activity=rehearsal, members=rng.sample(crew, len(crew) * 3 // 4))
            day += dt.timedelta(days=14)
    # The festival shows: every team performs, the square watches.
    for title, month, mday in [("过新年·感党恩", 2, 14), ("浓情端午·尽情放粽", 6, 19)]:
        day = dt.date(ctx.today.year, month, mday)
        if day >= ctx.today:
            continue
        show = services.activity_record(actor=None, area=ctx.community, kind="festival", title=f"{title}文艺活动",
                                        starts_at=_at(day, 19, 0), ends_at=_at(day, 21, 30), venue="社区广场",
                                        headcount=rng.randint(300, 420), note="彩虹、栖霞、阳光文艺队联合演出")
        services.attendance_mark(actor=None, activity=show, members=[m for _t, crew in teams for m in crew])


def _split(rng: Any, total: int, n: int, low: int) -> list[int]:
    """`total` split into n parts of at least `low`, deterministic for the stream."""
    weights = [rng.random() + 0.5 for _ in range(n)]
    spare = total - low * n
    parts = [low + int(spare * w / sum(weights)) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _events(ctx: DemoContext) -> None:
    rng = ctx.rng("events")
    # 法治文化园: "一站、一廊、一梯", 15 events serving exactly 2578.
    for k, heads in enumerate(_split(rng, LAW_VISITS, 15, 110)):
        topic, partner = LAW_TOPICS[k % len(LAW_TOPICS)]
        day = _spread(ctx, 15, k, offset=8)
        services.activity_record(actor=None, area=ctx.community, kind="law", title=f"{topic}普法宣传",
                                 venue=LAW_VENUES[k % len(LAW_VENUES)], partner=partner, headcount=heads,
                                 starts_at=_at(day, 9, 30), ends_at=_at(day, 11, 30), note="联合普法强基挂钩单位开展")
    for k, (title, venue) in enumerate(GRATITUDE_EVENTS):
        day = _spread(ctx, len(GRATITUDE_EVENTS), k, offset=20)
        services.activity_record(actor=None, area=ctx.community, kind="gratitude", title=f"感恩教育培训会:{title}",
                                 venue=venue, headcount=rng.randint(445, 480), starts_at=_at(day, 15, 0),
                                 ends_at=_at(day, 17, 0))
    for k, (title, partner) in enumerate(TRAININGS):
        day = _spread(ctx, len(TRAININGS), k, offset=12)
        services.activity_record(actor=None, area=ctx.community, kind="training", title=title, partner=partner,
                                 venue=rng.choice(["党群服务中心", "新时代文明实践站", "文体活动中心"]),
                                 headcount=rng.randint(210, 235), starts_at=_at(day, 14, 30), ends_at=_at(day, 16, 30))
