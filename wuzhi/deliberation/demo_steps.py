"""The 福兴 demo's deliberations (article, 自治 paragraph): "聚焦居民停车难、社区公共区域设施损坏等
问题开展楼栋、片区、社区三级议事协商12次,惠及群众140余户", and the 集体经济红利反哺社区治理 major
matter through 四议两公开.

Bodies first (两委会, 党组织, 党员大会, 居民代表会议, a 居民小组会议 per 片区 and a 楼栋议事会 per
building that meets, the 一约四会), then twelve topics taken from 提议 to 决议 this year, all
through the services, with meetings, attendance, votes and disclosures; their benefited
households are drawn without overlap so the distinct count is exactly BENEFITED. Around them, a
few topics in earlier steps, one declined with its reason, one merged, and one decision still in
its notice period with an objection answered."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from wuzhi.demo.generator import DemoContext, demo_step

from . import services
from .models import (
    AttendanceStatus,
    Body,
    BodyKind,
    DisclosureKind,
    Level,
    Source,
    Topic,
    TopicState,
    VoteOrigin,
)

A = AttendanceStatus

# (level, where: building no. / grid no. / None, title, description, decision, result, benefited households)
DECIDED: list[tuple[str, int | None, str, str, str, str, int]] = [
    (Level.BUILDING, 2, "2栋楼道灯改为声控感应灯", "2栋楼道灯老化,晚上上下楼看不见,老人多次摔倒,建议统一更换为声控感应灯。",
     "由社区协调物业统一更换2栋1至11层楼道灯为声控感应灯,费用从楼栋公共维修资金列支。",
     "2栋33盏楼道灯已全部更换为声控感应灯,经楼长验收合格。", 16),
    (Level.AREA, 3, "3网格广场舞时间和音量约定", "晚上广场舞音响太大、结束太晚,影响老人和学生休息,建议约定时间和音量。",
     "广场舞活动时间为每晚19:30至21:00,音量不超过55分贝,由文艺队负责人轮流值守。",
     "已在小广场张贴约定,文艺队配备分贝仪,近一个月未再收到噪音反映。", 12),
    (Level.BUILDING, 5, "5栋单元门禁维修", "5栋三个单元门禁刷卡失灵,门关不上,外来人员随意进出。",
     "更换5栋三个单元的门禁主板和闭门器,由物业在两周内完成。", "三个单元门禁已修复,闭门器已更换。", 12),
    (Level.AREA, 1, "1网格停车难:划定停车位", "1网格楼下车辆乱停,早上车开不出去,消防通道常被占用(多位居民反映)。",
     "在1网格道路一侧划定停车位42个,消防通道施划禁停标线,由平安建设服务队劝导。",
     "已划定停车位42个、禁停标线120米,早高峰拥堵明显缓解。", 11),
    (Level.BUILDING, 8, "8栋楼道堆物清理", "8栋楼道长期堆放纸箱和旧家具,堵塞消防通道。",
     "8栋开展楼道清理日,三日内各户自行清理,逾期由楼栋议事会组织统一清运。", "楼道杂物已全部清理,建立每月巡查制度。", 10),
    (Level.AREA, 6, "6网格健身器材维修", "6网格小广场健身器材损坏多件,存在安全隐患。",
     "申请社区公益金维修更换6网格健身器材8件,更换前设置警示标识。", "8件健身器材已维修更换并验收。", 15),
    (Level.BUILDING, 11, "11栋屋面漏水维修", "11栋顶层多户反映屋面漏水,墙面发霉。",
     "11栋屋面防水整体翻修,费用按楼栋维修资金使用办法列支,施工期间由楼长协调。", "屋面防水已翻修,顶层住户确认不再漏水。", 14),
    (Level.AREA, 4, "4网格垃圾清运时间调整", "4网格垃圾桶早上满溢,清运时间太晚,有异味。",
     "4网格垃圾清运调整为每天早7点、晚7点两次,增设垃圾桶6个。", "清运时间已调整,新增垃圾桶已投放。", 9),
    (Level.COMMUNITY, None, "集体经济红利反哺社区治理", "社区集体经济年度分红拟安排一部分用于社区治理和困难群众关爱,"
     "由社区党组织提议,按“四议两公开”程序办理。",
     "从集体经济年度收益中安排8万元:5万元用于老旧楼道和公共设施维修,3万元用于独居老人、困难家庭关爱服务。",
     "8万元已按决议使用完毕:维修公共设施12处,为13户困难家庭提供关爱服务,账目已公开。", 13),
    (Level.BUILDING, 15, "15栋楼前停车划线", "15栋楼前空地车辆乱停,老人孩子出行不安全。",
     "15栋楼前划定停车位16个,设置减速带2处。", "停车位和减速带已施工完成。", 8),
    (Level.COMMUNITY, None, "社区大门电动车充电棚建设", "电动车在楼道充电有火灾隐患,建议在社区大门旁建设集中充电棚。",
     "在社区东门旁建设电动车集中充电棚1处、充电口40个,按电量收费。", "", 10),
    (Level.COMMUNITY, None, "修订居民公约:文明养犬", "有居民反映养犬不拴绳、随地便溺,建议在居民公约中增加文明养犬条款。",
     "居民公约增加文明养犬条款:出户拴绳、及时清理粪便、夜间不扰邻;由道德评议会监督。", "", 15),
]
BENEFITED = sum(row[-1] for row in DECIDED)  # 145, "140余户"
OBJECTION = ("建议把夜间不扰邻的时间写清楚,比如晚上10点以后。", "已采纳,公约条款明确为22:00至次日7:00,"
             "修订后的条文将随实施结果一并公开。")


def _people(rng: random.Random, ctx: DemoContext, path: str, n: int, skip: set[int]) -> list[Any]:
    """n residents (adults, one per household) living under `path`, drawn with the step's RNG."""
    pool = [people[0][1] for _hp, h, people in ctx.households
            if people and h.area_path.startswith(path) and h.pk not in skip]
    return rng.sample(pool, min(n, len(pool)))


def _body(ctx: DemoContext, *, actor: Any, name: str, kind: str, area: Any, members: list[dict[str, Any]],
          start: dt.date, **rules: Any) -> Body:
    body = services.body_save(actor=actor, area=area, name=name, kind=kind, **rules)
    services.members_add(actor=actor, body=body, people=members, on=start)
    return body


def _attendance(rng: random.Random, body: Body, *, quorum: bool = True) -> tuple[dict[int, str], dict[int, str]]:
    """About one in eight absent and one in ten by proxy (quorum kept); without quorum, fewer
    than a third come."""
    members = list(body.members.order_by("id"))
    if not quorum:
        return {m.pk: str(A.PRESENT if i < len(members) // 3 else A.ABSENT) for i, m in enumerate(members)}, {}
    absent = set(rng.sample(range(1, len(members)), len(members) // 8)) if len(members) > 1 else set()
    rest = [i for i in range(1, len(members)) if i not in absent]
    proxy = set(rng.sample(rest, len(members) // 10))
    att = {m.pk: str(A.ABSENT if i in absent else A.PROXY if i in proxy else A.PRESENT) for i, m in enumerate(members)}
    return att, {members[i].pk: "家属代为出席" for i in proxy}


@demo_step(order=50)
def deliberations(ctx: DemoContext) -> None:
    rng = ctx.rng("deliberation")
    now = timezone.now()
    start = timezone.make_aware(dt.datetime(now.year, 1, 1, 8, 0))
    span = now - start

    def t(frac: float) -> dt.datetime:
        return start + span * min(frac, 0.999)

    shuji = ctx.users.get("shuji")
    workers = {g: ctx.users.get(f"wgy{g}") for g in ctx.grids}
    community = ctx.community
    day0 = start.date()
    staff = [{"user": u, "role": r} for u, r in ((shuji, "书记、主任"), (workers.get(1), "委员"),
                                               (workers.get(2), "委员"), (workers.get(3), "委员")) if u is not None]
    staff += [{"name": n, "role": "委员"} for n in ("杨德军", "陈桂芳", "周海燕")]
    two = _body(ctx, actor=shuji, name="福兴社区两委会", kind=BodyKind.TWO_COMMITTEES, area=community, members=staff,
                start=day0, quorum_num=1, quorum_den=2)
    party_org = _body(ctx, actor=shuji, name="福兴社区党总支委员会", kind=BodyKind.PARTY_ORG, area=community,
                      members=staff[:5], start=day0, quorum_num=2, quorum_den=3)
    from wuzhi.party.models import PartyMember

    pm = list(PartyMember.objects.filter(area_path__startswith=community.path, active=True).order_by("id"))
    congress_members = [{"name": m.name, "resident": m.resident, "user": m.user, "role": "党员"} for m in pm] or \
        [{"resident": r, "role": "党员"} for r in _people(rng, ctx, community.path, 40, set())]
    congress = _body(ctx, actor=shuji, name="福兴社区党员大会", kind=BodyKind.PARTY_CONGRESS, area=community,
                     members=congress_members, start=day0, quorum_num=1, quorum_den=2,
                     description="有表决权的党员到会超过半数方可召开")
    reps = _body(ctx, actor=shuji, name="福兴社区居民代表会议", kind=BodyKind.REPRESENTATIVES, area=community,
                 members=[{"resident": r, "role": "居民代表"} for r in _people(rng, ctx, community.path, 35, set())],
                 start=day0, quorum_num=2, quorum_den=3, description="居民代表三分之二以上到会,到会代表过半数同意为通过")
    for name, kind in (("福兴社区居民公约理事会", BodyKind.COVENANT), ("福兴社区红白理事会", BodyKind.RED_WHITE),
                       ("福兴社区道德评议会", BodyKind.ETHICS), ("福兴社区禁毒禁赌会", BodyKind.ANTI_DRUG)):
        _body(ctx, actor=shuji, name=name, kind=kind, area=community, start=day0,
              members=[{"resident": r, "role": "成员"} for r in _people(rng, ctx, community.path, 7, set())])

    local: dict[tuple[str, int], Body] = {}

    def local_body(level: str, no: int) -> Body:
        if (level, no) not in local:
            if level == Level.BUILDING:
                area, kind, name = ctx.buildings[no], BodyKind.BUILDING_COUNCIL, f"{no}栋楼栋议事会"
                size, role = 7, "楼栋议事会成员"
            else:
                area, kind, name = ctx.grids[no], BodyKind.GROUP, f"{no}网格居民小组会议"
                size, role = 11, "居民小组代表"
            local[(level, no)] = _body(ctx, actor=shuji, name=name, kind=kind, area=area, start=day0,
                                       members=[{"resident": r, "role": role}
                                                for r in _people(rng, ctx, area.path, size, set())],
                                       quorum_num=2, quorum_den=3)
        return local[(level, no)]

    def meet(body: Body, topic: Topic, at: dt.datetime, minutes: str, opinions: str = "", quorum: bool = True) -> Any:
        att, proxies = _attendance(rng, body, quorum=quorum)
        return services.meeting_record(actor=shuji, body=body, topics=[topic], held_at=at, place="社区议事厅"
                                       if body.area_id == community.pk else "楼栋议事点", minutes=minutes,
                                       opinions=opinions, attendance=att, proxies=proxies, host="李书记")

    def vote(meeting: Any, topic: Topic, decision: str) -> None:
        against = rng.randint(0, meeting.attending // 6)
        abstain = rng.randint(0, meeting.attending // 6)
        services.vote_record(actor=shuji, meeting=meeting, topic=topic, origin=rng.choice(
            [VoteOrigin.HANDS, VoteOrigin.HANDS, VoteOrigin.PAPER]), decision=decision,
            votes_for=meeting.attending - against - abstain, votes_against=against, votes_abstain=abstain)

    used: set[int] = set()

    def benefit(path: str, n: int) -> list[Any]:
        pool = [h for _hp, h, _p in ctx.households if h.area_path.startswith(path) and h.pk not in used]
        chosen = rng.sample(pool, n)
        used.update(h.pk for h in chosen)
        return chosen

    last = len(DECIDED) - 1
    for i, (level, where, title, desc, decision, result, n) in enumerate(DECIDED):
        no = where or 0
        area = ctx.buildings[no] if level == Level.BUILDING else ctx.grids[no] if level == Level.AREA else community
        when = _clock(t, now, start, 0.04 + 0.075 * i, recent=i == last)
        grid_no = no if level == Level.AREA else next((g for g, b in _grid_of(ctx).items() if no in b), 1)
        proposer = workers.get(grid_no) if level != Level.COMMUNITY else shuji
        major = title == "集体经济红利反哺社区治理"
        topic = _propose(ctx, level=level, area=area, title=title, desc=desc, major=major, proposer=proposer,
                         at=when(0), rng=rng)
        if "停车难" in title:
            _duplicate(topic, shuji, at=when(0))
        topic_benefit = benefit(area.path if level != Level.COMMUNITY else community.path, n)
        services.topic_set_households(actor=shuji, topic=topic, benefited=topic_benefit,
                                      affected=topic_benefit + benefit_preview(ctx, area.path, topic_benefit, rng))
        if major:
            _major(ctx, topic, party_org=party_org, two=two, congress=congress, reps=reps, when=when, meet=meet,
                   vote=vote, shuji=shuji, decision=decision, result=result)
            continue
        services.topic_transition(actor=shuji, topic=topic, to=TopicState.CONSULTING, at=when(1),
                                  note="属于居民共同关心的公共事务,同意提交议事")
        body = local_body(level, no) if level != Level.COMMUNITY else reps
        m = meet(body, topic, when(2), minutes=f"围绕“{title}”听取情况介绍,逐一发表意见,形成决议草案并表决。",
                 opinions="多数成员赞成\n个别成员提出分阶段实施的建议\n请社区做好费用公示")
        vote(m, topic, decision)
        services.disclosure_publish(actor=shuji, topic=topic, kind=DisclosureKind.DECISION, text=decision,
                                    at=when(2) + dt.timedelta(hours=20))
        if i == last:
            d = topic.disclosures.get()
            objection = services.objection_submit(disclosure=d, text=OBJECTION[0], phone=_phone_of(ctx, rng),
                                                  at=when(4))
            services.objection_answer(actor=shuji, objection=objection, answer=OBJECTION[1], at=when(5))
            continue
        services.topic_transition(actor=shuji, topic=topic, to=TopicState.IMPLEMENTING, at=when(4),
                                  note="由社区牵头、物业和服务队配合实施")
        if not result:
            services.progress_note(actor=shuji, topic=topic, note="已完成选址和方案设计,正在施工", at=when(6))
            continue
        services.progress_note(actor=shuji, topic=topic, note="已开工,进度过半", at=when(6))
        services.disclosure_publish(actor=shuji, topic=topic, kind=DisclosureKind.RESULT, text=result, at=when(9))
        services.topic_transition(actor=shuji, topic=topic, to=TopicState.CLOSED, note=result, at=when(9))

    _earlier_steps(ctx, rng, t, shuji, workers, local_body, meet)
    decided = Topic.objects.filter(decided_at__isnull=False).count()
    ctx.write(f"  议事协商 {decided} 次,惠及 {len(used)} 户,议事组织 {Body.objects.count()} 个")


def _clock(t: Callable[[float], dt.datetime], now: dt.datetime, start: dt.datetime, f: float,
           recent: bool) -> Callable[[float], dt.datetime]:
    """The k-th step of a topic's path: topics spread over the year so far, steps a few days
    apart; the recent one (its 公示期 still running) takes its steps over the last six days."""
    def spread(k: float) -> dt.datetime:
        return t(f + 0.006 * k)

    def last_days(k: float) -> dt.datetime:
        return max(start, now - dt.timedelta(days=6 - k)) if now - start > dt.timedelta(days=10) else t(0.9 + 0.01 * k)

    return last_days if recent else spread


def _grid_of(ctx: DemoContext) -> dict[int, set[int]]:
    """Building numbers of each grid (by the tree, not by arithmetic)."""
    out: dict[int, set[int]] = {}
    for b, area in ctx.buildings.items():
        g = next(g for g, grid in ctx.grids.items() if area.path.startswith(grid.path))
        out.setdefault(g, set()).add(b)
    return out


def benefit_preview(ctx: DemoContext, path: str, benefited: list[Any], rng: random.Random) -> list[Any]:
    """Households affected besides those benefited: a few neighbours in the same area."""
    ids = {h.pk for h in benefited}
    pool = [h for _hp, h, _p in ctx.households if h.area_path.startswith(path) and h.pk not in ids]
    return rng.sample(pool, min(5, len(pool)))


def _phone_of(ctx: DemoContext, rng: random.Random) -> str:
    """A demo resident's own number (so the objection verifies as a resident of the community)."""
    people = [p for hp, _h, members in ctx.households for p, _r in members if p.phone]
    return rng.choice(people).phone if people else "13800000000"


def _propose(ctx: DemoContext, *, level: str, area: Any, title: str, desc: str, major: bool, proposer: Any,
             at: dt.datetime, rng: random.Random) -> Topic:
    if major:
        return services.topic_propose(actor=proposer, title=title, description=desc, level=level, area=area,
                                      source=Source.PARTY_ORG, major=True, at=at)
    if "停车难" in title:
        from wuzhi.cases.models import Case

        cases = list(Case.objects.filter(area_path__startswith=area.path, category__name="停车秩序")
                     .order_by("opened_at", "id")[:5])
        if len(cases) >= 2:
            return services.topic_from_cases(actor=proposer, cases=cases, title=title, description=desc, level=level,
                                             area=area, at=at)
    if level == Level.COMMUNITY and "养犬" in title:
        # Raised by a resident on the portal (scanning the unit's QR code).
        return services.topic_propose(actor=None, actor_name=services.RESIDENT, title=title, description=desc,
                                      level=level, area=area, source=Source.RESIDENT, proposer_name=services.RESIDENT,
                                      proposer_phone=_phone_of(ctx, rng), at=at)
    source = rng.choice([Source.GRID, Source.PARTY]) if level != Level.COMMUNITY else Source.PARTY
    return services.topic_propose(actor=proposer, title=title, description=desc, level=level, area=area,
                                  source=source, at=at)


def _major(ctx: DemoContext, topic: Topic, *, party_org: Body, two: Body, congress: Body, reps: Body,
           when: Callable[[float], dt.datetime], meet: Any, vote: Any, shuji: Any, decision: str,
           result: str) -> None:
    """四议两公开, each record before the next."""
    meet(party_org, topic, when(0.5), minutes="党总支委员会研究集体经济分红使用方向,提出反哺社区治理的初步方案。")
    services.topic_transition(actor=shuji, topic=topic, to=TopicState.CONSULTING, at=when(1),
                              note="党组织提议,提交两委会议商议")
    meet(two, topic, when(2), minutes="两委会议商议方案,细化资金用途和监督办法。",
         opinions="维修资金优先用于老旧楼道\n关爱服务对象由网格员摸排确定")
    meet(congress, topic, when(3), minutes="党员大会审议两委商议后的方案,党员发表意见。",
         opinions="同意方案\n建议每季度公开资金使用情况")
    m = meet(reps, topic, when(4), minutes="居民代表会议对方案进行表决。")
    vote(m, topic, decision)
    services.disclosure_publish(actor=shuji, topic=topic, kind=DisclosureKind.DECISION, text=decision,
                                at=when(4) + dt.timedelta(hours=20))
    services.topic_transition(actor=shuji, topic=topic, to=TopicState.IMPLEMENTING, at=when(6),
                              note="按决议拨付资金,由监委会全程监督")
    services.progress_note(actor=shuji, topic=topic, note="公共设施维修已完成7处", at=when(8))
    services.disclosure_publish(actor=shuji, topic=topic, kind=DisclosureKind.RESULT, text=result, at=when(11))
    services.topic_transition(actor=shuji, topic=topic, to=TopicState.CLOSED, note=result, at=when(11))


def _earlier_steps(ctx: DemoContext, rng: random.Random, t: Callable[[float], dt.datetime], shuji: Any,
                   workers: dict[int, Any], local_body: Callable[[str, int], Body], meet: Any) -> None:
    """What the list should also show: a resident's fresh proposal waiting for 审议, a topic in 合议
    whose first meeting lacked its quorum, one declined with its reason, one merged."""
    b7 = ctx.buildings[7]
    services.topic_propose(actor=None, actor_name=services.RESIDENT, title="7栋电梯间加装扶手",
                           description="楼里老人多,电梯间和单元门口台阶没有扶手,建议加装。", level=Level.BUILDING,
                           area=b7, source=Source.RESIDENT, proposer_phone=_phone_of(ctx, rng),
                           proposer_name=services.RESIDENT, at=t(0.985))
    b14 = ctx.buildings[14]
    grid14 = next(g for g, bs in _grid_of(ctx).items() if 14 in bs)
    topic = services.topic_propose(actor=workers.get(grid14), title="14栋楼道墙面粉刷",
                                   description="14栋楼道墙面脱落、乱涂乱画,建议统一粉刷。", level=Level.BUILDING,
                                   area=b14, source=Source.GRID, at=t(0.95))
    services.topic_transition(actor=shuji, topic=topic, to=TopicState.CONSULTING, at=t(0.955),
                              note="同意提交楼栋议事会")
    meet(local_body(Level.BUILDING, 14), topic, t(0.965), minutes="到会人数不足,只听取情况介绍,未表决,择期再议。",
         quorum=False)
    declined = services.topic_propose(actor=None, actor_name=services.RESIDENT, title="小区内设置收费停车场",
                                      description="建议在小区内道路设置收费停车位,收入用于小区管理。",
                                      level=Level.COMMUNITY, area=ctx.community, source=Source.RESIDENT,
                                      proposer_name=services.RESIDENT, proposer_phone=_phone_of(ctx, rng), at=t(0.3))
    services.topic_transition(actor=shuji, topic=declined, to=TopicState.DECLINED, at=t(0.31),
                              note="小区内道路是消防通道和公共道路,不能设置收费停车场;停车难问题已在"
                                   "片区议事中统筹解决。")


def _duplicate(parking: Topic, shuji: Any, *, at: dt.datetime) -> None:
    """The same matter raised again by a party member while the first is waiting: 审议 merges it."""
    dup = services.topic_propose(actor=shuji, title="楼下车辆乱停", description="楼下车辆乱停,早上车开不出去。",
                                 level=parking.level, area=parking.area, source=Source.PARTY,
                                 at=at + dt.timedelta(hours=3))
    services.topic_merge(actor=shuji, topic=dup, into=parking, note="与群众反映汇总的停车难议题相同,合并办理",
                         at=at + dt.timedelta(hours=5))
