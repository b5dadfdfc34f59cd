"""The 福兴 demo's case flow, police office and patrols (article, 法治 paragraph).

Categories with their routing; a year of plausible 诉求, 报事, 帮办代办 and 矛盾纠纷 written
through the services (exactly 13 disputes received this year, 12 mediated successfully); one
警务室 with 3 officers; a 20-member 巡防队 (the officers and 17 of the 平安建设服务队) with a
patrol every night. Cases of the last days are left open in every state and 督办 runs once,
so the queue and the board have something to show."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from wuzhi.activities import services as act
from wuzhi.activities.models import Team, TeamKind
from wuzhi.demo.generator import DemoContext, demo_step

from . import services
from .models import Case, CaseKind, CaseState, Category, Channel, Outcome, Satisfaction

S = CaseState

# (kind, name, team, role, deadline in hours, checklist)
CATEGORIES: list[tuple[str, str, str, str, int, list[str]]] = [
    (CaseKind.REQUEST, "政策咨询", "", "grid_worker", 24, []),
    (CaseKind.REQUEST, "利益诉求", "政策宣传服务队", "", 72, []),
    (CaseKind.REQUEST, "求助", "", "grid_worker", 24, []),
    (CaseKind.REQUEST, "意见建议", "", "secretary", 168, []),
    (CaseKind.REQUEST, "投诉", "", "secretary", 72, []),
    (CaseKind.REPORT, "设施损坏", "人居环境服务队", "", 48, []),
    (CaseKind.REPORT, "环境卫生", "人居环境服务队", "", 24, []),
    (CaseKind.REPORT, "安全隐患", "平安建设服务队", "", 12, []),
    (CaseKind.REPORT, "停车秩序", "平安建设服务队", "", 48, []),
    (CaseKind.REPORT, "噪音扰民", "平安建设服务队", "", 24, []),
    (CaseKind.PROXY, "低保申请", "", "grid_worker", 360, ["身份证", "户口簿", "家庭收入证明", "银行卡"]),
    (CaseKind.PROXY, "医保社保", "", "grid_worker", 168, ["身份证", "户口簿"]),
    (CaseKind.PROXY, "残疾证办理", "", "grid_worker", 360, ["身份证", "户口簿", "近期免冠照片", "医院诊断证明"]),
    (CaseKind.PROXY, "高龄补贴", "", "grid_worker", 168, ["身份证", "户口簿", "银行卡"]),
    (CaseKind.DISPUTE, "邻里纠纷", "纠纷调处服务队", "", 360, []),
    (CaseKind.DISPUTE, "婚姻家庭纠纷", "纠纷调处服务队", "", 360, []),
    (CaseKind.DISPUTE, "赡养纠纷", "纠纷调处服务队", "", 360, []),
    (CaseKind.DISPUTE, "物业纠纷", "纠纷调处服务队", "", 360, []),
    (CaseKind.DISPUTE, "劳资纠纷", "纠纷调处服务队", "", 360, []),
]

TEXTS: dict[str, list[tuple[str, str]]] = {
    "政策咨询": [("咨询医保缴费", "询问今年城乡居民医保缴费标准和截止时间"),
             ("咨询就业补贴", "询问外出务工交通补贴怎么申请"),
             ("咨询搬迁户子女入学", "孩子明年上小学,询问入学报名需要什么材料")],
    "利益诉求": [("帮扶车间工资发放", "反映帮扶车间上月工资尚未发放"),
             ("后续扶持政策落实", "反映搬迁后续产业扶持资金未到位")],
    "求助": [("独居老人需要买药", "楼上独居老人腿脚不便,请人帮忙买药"),
           ("家中水管爆裂求助", "家中水管爆裂,家里只有老人和孩子")],
    "意见建议": [("建议增设健身器材", "小广场健身器材太少,老人锻炼要排队"),
             ("建议延长活动室开放时间", "希望文体活动中心晚上开放到九点")],
    "投诉": [("物业服务不到位", "投诉物业打扫不及时,楼道垃圾两天没人清"),
           ("夜间烧烤油烟", "小区门口烧烤摊油烟大,影响休息")],
    "设施损坏": [("楼道灯不亮", "楼道声控灯坏了,晚上上下楼看不见"),
             ("电梯故障", "电梯运行有异响,停在两层之间"),
             ("单元门禁损坏", "单元门禁刷卡没反应,门关不上"),
             ("下水道堵塞", "一楼下水道堵塞,污水外溢")],
    "环境卫生": [("垃圾桶满溢", "垃圾桶满了没有及时清运,有异味"),
             ("楼道堆放杂物", "楼道里堆了纸箱和旧家具")],
    "安全隐患": [("电动车楼道充电", "有人把电动车推进楼道充电,有火灾隐患"),
             ("消防通道被占", "消防通道停了车,堵住了通道"),
             ("高空抛物", "楼上有人往下扔东西,差点砸到孩子")],
    "停车秩序": [("乱停车堵住出口", "车辆乱停,早上车开不出去")],
    "噪音扰民": [("夜间装修噪音", "晚上十点后还在装修,影响休息"),
             ("广场舞音响太大", "晚上广场舞音响太大")],
    "低保申请": [("代办低保申请", "家庭收入低,帮办最低生活保障申请")],
    "医保社保": [("代办医保报销", "住院费用帮办医保报销手续"), ("代办养老保险认证", "帮老人办理养老保险资格认证")],
    "残疾证办理": [("代办残疾证", "帮助肢体残疾居民申领残疾人证")],
    "高龄补贴": [("代办高龄补贴", "老人年满80周岁,帮办高龄津贴申请")],
}
RESULTS = {
    CaseKind.REQUEST: ["已当面解释政策,居民表示清楚", "已协调相关部门,给予答复", "已上门帮助解决"],
    CaseKind.REPORT: ["已安排维修,现已恢复正常", "已清理完毕", "已现场劝导整改,隐患已消除"],
    CaseKind.PROXY: ["材料已代为提交,审批通过", "已办结,结果已告知本人"],
}
DISPUTES: list[tuple[str, str, str, str, str, str]] = [
    # (category, type, title, situation, cause, terms)
    ("邻里纠纷", "neighbour", "楼上漏水纠纷", "楼上卫生间漏水致楼下天花板发霉", "防水层老化,双方对赔偿金额有分歧",
     "楼上住户于十日内修复卫生间防水\n楼上住户赔偿楼下粉刷费用800元"),
    ("邻里纠纷", "neighbour", "楼道堆物纠纷", "邻居长期在楼道堆放杂物,双方多次争吵", "公共空间使用观念不同",
     "三日内清理楼道杂物\n今后不在公共楼道堆放物品"),
    ("婚姻家庭纠纷", "family", "夫妻矛盾", "丈夫外出务工多年,夫妻因家庭开支发生争吵", "长期分居,沟通不足",
     "丈夫每月按时寄回生活费2000元\n双方每周视频通话,共同照顾子女"),
    ("赡养纠纷", "support", "老人赡养纠纷", "三兄弟对父母赡养费分担有分歧", "各自经济条件不同,对分担比例不满",
     "三兄弟每人每月支付赡养费300元\n老人住院费用三人平均分担"),
    ("物业纠纷", "property", "物业费纠纷", "部分住户以服务差为由拒交物业费", "物业服务标准与住户期望不一致",
     "物业公司一个月内整改楼道保洁\n住户按期缴纳物业费"),
    ("劳资纠纷", "labour", "帮扶车间工资纠纷", "帮扶车间两名工人反映加班费未结算", "计件与加班计算方式不清",
     "车间于十五日内结清加班费1200元\n书面明确计件和加班计算办法"),
    ("邻里纠纷", "neighbour", "噪音纠纷", "楼上孩子跑跳声大,楼下老人休息受影响", "作息时间不同", "楼上铺设地垫\n晚九点后避免跑跳"),
    ("邻里纠纷", "neighbour", "停车位纠纷", "两户因楼下停车位占用发生口角", "停车位不足", "按社区划定车位停放\n互相礼让"),
    ("婚姻家庭纠纷", "family", "婆媳矛盾", "婆媳因照看孩子方式不同发生矛盾", "教育观念差异",
     "儿子多承担照看孩子的责任\n家庭事务共同商量"),
    ("赡养纠纷", "support", "赡养老人纠纷", "独居老人反映子女不探望、不给生活费", "子女外出务工,联系少",
     "子女每月支付生活费500元\n每月至少回家探望一次"),
    ("物业纠纷", "property", "电梯维修费纠纷", "电梯维修费用分摊产生争议", "低层住户不愿分摊", "按楼层系数分摊维修费\n物业公示维修账目"),
    ("邻里纠纷", "neighbour", "宠物扰邻纠纷", "邻居养狗夜间吠叫、随地便溺", "养犬不文明", "养犬户拴绳遛狗并清理粪便\n夜间将犬只关在室内"),
    ("劳资纠纷", "labour", "装修工钱纠纷", "装修工人与业主因工钱结算发生纠纷", "口头约定不清", ""),  # 调解不成
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "志强", "桂芳", "明", "丽", "海燕", "国华", "兴", "红梅", "德军", "玉兰"]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"


@demo_step(order=40)
def cases_police_and_patrols(ctx: DemoContext) -> None:
    rng = ctx.rng("cases")
    teams = {t.name: t for t in Team.objects.filter(area_path=ctx.community.path)}
    categories = {}
    for sort, (kind, name, team, role, hours, checklist) in enumerate(CATEGORIES):
        categories[name] = Category.objects.create(kind=kind, name=name, team=teams.get(team), role=role,
                                                   deadline_hours=hours, checklist=checklist, sort=sort)
    patrol_team = _police_and_patrol(ctx, teams, rng)
    now = timezone.now()
    opened = _everyday_cases(ctx, categories, rng, now)
    opened += _disputes(ctx, categories, rng, now)
    patrols = _patrols(ctx, patrol_team, categories, rng, now)
    raised = services.escalate_overdue(now=now)
    ctx.write(f"  事项 {opened} 件,巡逻 {patrols} 次,督办 {raised} 件")


def _police_and_patrol(ctx: DemoContext, teams: dict[str, Team], rng: random.Random) -> Team:
    """警务室1个,派驻警力3人;民警与平安建设服务队组成20人的巡防队伍."""
    patrol_team = act.team_create(actor=None, area=ctx.community, kind=TeamKind.PATROL, name="福兴社区巡防队",
                                  governance="law", description="警务室民警与平安建设服务队组成,每晚巡逻")
    office = services.police_office_create(actor=None, area=ctx.community, name="福兴社区警务室",
                                           phone="0870-7621110", patrol_team=patrol_team)
    officers = [("唐伟", ctx.users.get("minjing"), "警务室负责人"), ("邓开明", None, "社区民警"),
                ("熊志勇", None, "辅警")]
    for name, user, title in officers:
        services.officer_add(actor=None, office=office, name=name, user=user, title=title)
        act.member_add(actor=None, team=patrol_team, name=name, user=user, organisation="中城派出所",
                       role="民警" if title != "辅警" else "辅警")
    safety = teams["平安建设服务队"]
    crew = list(safety.members.filter(left_on__isnull=True).order_by("id"))
    # The service team grows to 17 with residents who volunteer for the night patrols.
    taken = {m.resident_id for m in crew}
    volunteers = [r for _hp, _h, people in ctx.households for pp, r in people
                  if pp.sex == "M" and 25 <= ctx.today.year - pp.birth.year <= 55 and not pp.migrant
                  and r.pk not in taken]
    for resident in rng.sample(volunteers, max(0, 17 - len(crew))):
        crew.append(act.member_add(actor=None, team=safety, resident=resident, role="巡逻队员"))
    for m in crew[:17]:
        act.member_add(actor=None, team=patrol_team, resident=m.resident, role="队员")
    return patrol_team


def _at(now: dt.datetime, days_ago: float, rng: random.Random) -> dt.datetime:
    """A plausible office-hours moment `days_ago` days before now (never in the future)."""
    day = timezone.localtime(now - dt.timedelta(days=days_ago))
    moment = day.replace(hour=rng.randint(8, 19), minute=rng.randint(0, 59), second=0, microsecond=0)
    return min(moment, now - dt.timedelta(minutes=30))


def _worker_for(ctx: DemoContext, area_path: str) -> Any:
    for g, grid in ctx.grids.items():
        if area_path.startswith(grid.path):
            return ctx.users[f"wgy{g}"]
    return ctx.users["shuji"]


def _label(user: Any) -> str:
    return user.first_name or user.username


def _everyday_cases(ctx: DemoContext, categories: dict[str, Category], rng: random.Random, now: dt.datetime) -> int:
    units = list(ctx.units.values())
    residents = [r for _hp, _h, people in ctx.households for _pp, r in people]
    weights: dict[str, int] = {CaseKind.REQUEST: 8, CaseKind.REPORT: 11, CaseKind.PROXY: 4}
    pool = [c for c in categories.values() if c.kind in weights]
    total = 0
    for i in range(300):
        category = rng.choices(pool, weights=[weights[c.kind] for c in pool])[0]
        title, text = rng.choice(TEXTS[category.name])
        unit = rng.choice(units)
        days_ago = 365 * (1 - i / 300) ** 1.2  # more recent cases are denser, as use grows
        at = _at(now, days_ago, rng)
        worker = _worker_for(ctx, unit.path)
        channel = rng.choices([Channel.QR, Channel.GRID, Channel.WALK_IN, Channel.PHONE, Channel.HOTLINE],
                              weights=[30, 35, 15, 15, 5])[0]
        if category.kind == CaseKind.PROXY:
            channel = Channel.GRID
        resident = rng.choice(residents) if channel != Channel.QR else None
        case = services.case_open(
            actor=None, actor_name="居民" if channel == Channel.QR else _label(worker), category=category,
            channel=channel, area=unit, title=title, description=text, resident=resident,
            reporter_name=resident.name if resident else _name(rng), reporter_phone=_phone(rng), at=at,
            external_number=f"12345-{at:%Y%m%d}-{rng.randint(1000, 9999)}" if channel == Channel.HOTLINE else "",
            documents=category.checklist[: rng.randint(1, len(category.checklist))] if category.checklist else [])
        total += 1
        if category.kind == CaseKind.REPORT and rng.random() < 0.06:
            # A neighbour reports the same thing an hour later: merged, answered with the main case.
            dup_at = min(at + dt.timedelta(hours=1), now - dt.timedelta(minutes=5))
            dup = services.case_open(actor=None, actor_name="居民", category=category, channel=Channel.QR,
                                     area=unit, title=title, description=text, reporter_phone=_phone(rng), at=dup_at)
            services.case_merge(actor=None, main=case, duplicates=[dup], note="同一问题重复反映", at=dup_at)
            total += 1
        _work(case, worker, rng, now)
    return total


def _work(case: Case, worker: Any, rng: random.Random, now: dt.datetime) -> None:
    """Carry a case as far as its age allows: most old ones are resolved, reviewed, archived."""
    deadline = case.category.deadline
    handler = case.assigned_team.name if case.assigned_team else _label(case.assigned_user or worker)
    age = now - case.opened_at
    results = RESULTS[CaseKind(case.kind)]
    if case.state == S.ACCEPTED:  # no route: the grid worker solves it on the spot (自办自结)
        services.case_transition(actor=None, case=case, to=S.RESOLVED, note=rng.choice(results),
                                 at=case.opened_at + dt.timedelta(minutes=30), actor_name=_label(worker))
        _review(case, worker, rng, now)
        return
    spend = deadline * rng.uniform(0.15, 1.3)
    if age < deadline * 0.1:
        return  # just arrived
    start = case.opened_at + min(deadline * 0.1, age / 2)
    services.case_transition(actor=None, case=case, to=S.IN_PROGRESS, at=start, actor_name=handler)
    if age < dt.timedelta(days=20) and rng.random() < 0.25:
        return  # stalled: overdue by now, so the 督办 board has yellow and red cards to show
    if case.opened_at + spend > now:
        if rng.random() < 0.1:
            services.case_transition(actor=None, case=case, to=S.SUSPENDED, note="等待配件/上级部门答复",
                                     at=start + (now - start) / 2, actor_name=handler)
        return  # still being worked on (and perhaps overdue)
    services.case_transition(actor=None, case=case, to=S.RESOLVED, note=rng.choice(results),
                             at=case.opened_at + spend, actor_name=handler)
    _review(case, worker, rng, now)


def _review(case: Case, worker: Any, rng: random.Random, now: dt.datetime) -> None:
    at = (case.resolved_at or now) + dt.timedelta(days=1)
    if at > now:
        return
    answer = rng.choices([Satisfaction.SATISFIED, Satisfaction.BASIC, Satisfaction.UNSATISFIED], weights=[80, 15, 5])[0]
    services.case_review(actor=None, case=case, satisfaction=answer, at=at, actor_name=_label(worker),
                         note="电话回访" if answer != Satisfaction.UNSATISFIED else "问题反复出现")
    if answer == Satisfaction.UNSATISFIED:
        again = at + dt.timedelta(days=1)
        if again > now:
            return
        services.case_transition(actor=None, case=case, to=S.RESOLVED, note="重新处理,已彻底解决", at=again,
                                 actor_name=_label(worker))
        at = again + dt.timedelta(days=1)
        if at > now:
            return
        services.case_review(actor=None, case=case, satisfaction=Satisfaction.BASIC, at=at, actor_name=_label(worker))
    if now - at > dt.timedelta(days=30):
        services.case_transition(actor=None, case=case, to=S.ARCHIVED, at=at + dt.timedelta(days=30),
                                 actor_name="李秀芬")


def _disputes(ctx: DemoContext, categories: dict[str, Category], rng: random.Random, now: dt.datetime) -> int:
    """Exactly 13 disputes received since 1 January, 12 mediated successfully (article), plus
    two from late last year so the year boundary is exercised."""
    jan1 = timezone.make_aware(dt.datetime(ctx.today.year, 1, 1, 8))
    span = max(now - jan1, dt.timedelta(hours=2))
    people = [(r, h) for _hp, h, ppl in ctx.households for _pp, r in ppl
              if 30 <= ctx.today.year - _pp.birth.year <= 75]
    mediators = ["张黎", "夏红燕", "李秀芬"]
    plans = [(jan1 - dt.timedelta(days=40 + 20 * k), DISPUTES[k]) for k in range(2)]
    plans += [(jan1 + span * (k + 0.5) / 14, d) for k, d in enumerate(DISPUTES)]
    for opened_at, (cat, dtype, title, situation, cause, terms) in plans:
        (a, ha), (b, _hb) = rng.sample(people, 2)
        dispute = services.dispute_open(
            actor=None, category=categories[cat], channel=rng.choice([Channel.WALK_IN, Channel.GRID, Channel.PHONE]),
            area=ha.area, dispute_type=dtype, situation=situation, cause=cause, title=title,
            risk=rng.choice(["low", "low", "medium"]), reporter_name=a.name, reporter_phone=_phone(rng),
            at=opened_at, resident=a, household=ha,
            parties=[{"name": a.name, "role": "applicant", "resident": a, "address": ha.address,
                      "needs": "希望对方道歉,被公平对待", "interests": "解决实际损失"},
                     {"name": b.name, "role": "respondent", "resident": b, "needs": "不希望被指责",
                      "interests": "费用分担合理"}])
        # Sessions and the outcome within a fortnight, never later than now.
        session_at = min(opened_at + dt.timedelta(days=2), opened_at + (now - opened_at) / 3)
        services.mediation_record(actor=None, dispute=dispute, held_at=session_at, mediator_name=rng.choice(mediators),
                                  committee="、".join(rng.sample(mediators, 2)), notes="分别听取双方意见,讲清法律规定和邻里情分")
        concluded = min(opened_at + dt.timedelta(days=5), opened_at + (now - opened_at) * 2 / 3)
        if terms:
            services.dispute_conclude(actor=None, dispute=dispute, outcome=Outcome.SUCCESS, terms=terms,
                                      performance="按协议约定期限履行", at=concluded)
            follow = concluded + dt.timedelta(days=15)
            if follow < now:
                services.followup_record(actor=None, dispute=dispute, status="done", note="已按协议履行", at=follow)
        else:
            services.dispute_conclude(actor=None, dispute=dispute, outcome=Outcome.FAILED, referral="litigation",
                                      at=concluded)
        review_at = concluded + dt.timedelta(days=3)
        if review_at < now:  # the dispute's applicant is called back like any other reporter
            services.case_review(actor=None, case=dispute.case, at=review_at, actor_name="李秀芬",
                                 satisfaction=Satisfaction.SATISFIED if terms else Satisfaction.BASIC)
            if now - review_at > dt.timedelta(days=30):
                services.case_transition(actor=None, case=dispute.case, to=S.ARCHIVED,
                                         at=review_at + dt.timedelta(days=30), actor_name="李秀芬")
    return len(plans)


FINDINGS = ["发现3栋楼道电动车充电,已劝离并上报", "小广场路灯不亮,已上报", "发现消防通道被车辆占用,已上报",
            "一单元门禁损坏,门无法关闭,已上报"]


def _patrols(ctx: DemoContext, team: Team, categories: dict[str, Category], rng: random.Random,
             now: dt.datetime) -> int:
    """Every night since 1 January: 20:00–22:30, an officer and five team members."""
    members = list(team.members.order_by("id"))
    officers, others = members[:3], members[3:]
    routes = ["主干道—小广场—1至7栋", "8至14栋楼栋小巷—地下车库", "15至21栋—东门—帮扶车间", "全小区环线"]
    day, n = dt.date(ctx.today.year, 1, 1), 0
    while day < ctx.today:
        start = timezone.make_aware(dt.datetime.combine(day, dt.time(20, 0)))
        finding = FINDINGS[n % len(FINDINGS)] if rng.random() < 0.06 else ""
        activity = services.patrol_record(actor=None, team=team, area=ctx.community, starts_at=start,
                                          ends_at=start + dt.timedelta(hours=2, minutes=30),
                                          route=routes[n % len(routes)], findings=finding,
                                          members=[officers[n % 3], *rng.sample(others, 5)])
        if finding:
            building = rng.choice(list(ctx.buildings.values()))
            category = categories["安全隐患"]
            case = services.case_open(actor=None, actor_name="巡防队", category=category, channel=Channel.PATROL,
                                      area=building, description=finding, patrol=activity,
                                      at=start + dt.timedelta(hours=1), reporter_name="福兴社区巡防队")
            _work(case, ctx.users["shuji"], rng, now)
        day += dt.timedelta(days=1)
        n += 1
    return n
