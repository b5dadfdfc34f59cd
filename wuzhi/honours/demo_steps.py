"""The 福兴 demo's quarterly honours (article, 德治 paragraph: "每季度开展一次…模范评选活动,共评选出
'卫生示范户''身边好人''好婆媳'等80户(人)和文明楼栋5栋").

Five categories with their scoring sheets; a 道德评议会 of nine; one round per quarter of this
year. The rounds of the quarters already over are published (the latest still on the board,
older ones archived) and honour exactly 80 distinct households and people and 5 buildings;
the round of the current quarter is in its 公示, with one objection raised and answered. Every
nomination is scored and, where the category asks for it, voted on; a few fall short, so the
sheets decide. Written through the services, with the grid workers, the building head and
residents (through the portal) as nominators."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.registry import choices as rc

from . import services
from .models import Category, Council, Result, Round, RoundState, Subject

S = RoundState

# (name, subject, criteria, needs_vote, standard)
CATEGORIES: list[tuple[str, Subject, list[tuple[str, int]], bool, str]] = [
    ("文明卫生示范户", Subject.HOUSEHOLD, [("室内整洁", 30), ("门前三包", 25), ("垃圾分类", 20), ("邻里和睦", 25)],
     False, "室内外干净整洁,主动做好门前三包和垃圾分类"),
    ("身边好人", Subject.PERSON, [("助人为乐", 30), ("见义勇为", 20), ("诚实守信", 25), ("敬业奉献", 25)],
     True, "在助人为乐、见义勇为、诚实守信、敬业奉献、孝老爱亲方面事迹突出"),
    ("好婆媳", Subject.HOUSEHOLD, [("孝老爱亲", 40), ("家庭和睦", 35), ("邻里口碑", 25)],
     True, "婆媳互敬互爱,家庭和睦,在邻里中有良好口碑"),
    ("清廉家庭", Subject.HOUSEHOLD, [("廉洁守法", 40), ("家风家教", 35), ("勤俭持家", 25)],
     True, "遵纪守法、廉洁自律,注重家风家教,戒奢、戒贪、戒惰"),
    ("文明楼栋", Subject.BUILDING, [("楼道卫生", 30), ("设施爱护", 20), ("邻里互助", 25), ("无违规事项", 25)],
     False, "楼道整洁无杂物,无电动车入户充电,邻里互助氛围好"),
]
# Selected honorees per published round, by category (households and people); sums to 80 over three
# rounds (27 + 27 + 26), with the 文明楼栋 as 2 + 2 + 1.
QUOTAS = [
    {"文明卫生示范户": 12, "身边好人": 7, "好婆媳": 4, "清廉家庭": 4, "文明楼栋": 2},
    {"文明卫生示范户": 12, "身边好人": 7, "好婆媳": 4, "清廉家庭": 4, "文明楼栋": 2},
    {"文明卫生示范户": 12, "身边好人": 7, "好婆媳": 4, "清廉家庭": 3, "文明楼栋": 1},
]
# Nominations that fall short in each round (the sheet or the vote says no).
SHORT = {"文明卫生示范户": 2, "身边好人": 1, "好婆媳": 1, "文明楼栋": 1}
NOTICE_QUOTA = {"文明卫生示范户": 10, "身边好人": 6, "好婆媳": 3, "清廉家庭": 3, "文明楼栋": 1}
REASONS = {
    "文明卫生示范户": ["家中常年干净整洁,主动打扫楼道和门前卫生,垃圾分类做得好", "坚持门前三包,带动邻居一起整治楼道杂物",
                "家庭卫生评比连续三个月第一,阳台无杂物,物品摆放整齐"],
    "身边好人": ["常年义务照顾楼上独居老人,帮忙买菜送药", "拾到钱包及时交还失主,分文不取",
             "主动加入志愿服务队,疫情期间坚持值守卡点", "发现邻居家中漏电起火,第一时间扑救并疏散群众"],
    "好婆媳": ["婆婆卧病多年,儿媳悉心照料、无微不至,婆媳相处融洽", "婆媳互相体谅,共同操持家务,邻里称赞"],
    "清廉家庭": ["夫妻廉洁自律、相互提醒,注重对孩子的廉洁教育,戒奢、戒贪、戒惰",
             "家风正、家教严,勤俭持家,从不收受他人财物"],
    "文明楼栋": ["楼道干净整洁无杂物,无电动车入户充电,邻里互帮互助", "楼栋居民自发组织卫生清扫,连续三个月无投诉"],
}
COUNCIL = [("王德明", "老党员"), ("李秀英", "居民代表"), ("张国华", "退休教师"), ("陈桂芳", "妇联执委"),
           ("杨建军", "楼长代表"), ("赵玉兰", "居民代表"), ("刘志强", "党员代表"), ("吴红梅", "志愿者代表"),
           ("周明", "社区民警")]


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _quarter_start(year: int, q: int) -> dt.date:
    return dt.date(year, 3 * q - 2, 1)


@demo_step(order=60)
def honours(ctx: DemoContext) -> None:
    rng = ctx.rng("honours")
    cats = {name: services.category_save(actor=None, name=name, subject=subject, criteria=[
        {"name": n, "max": m} for n, m in criteria], pass_score=80, needs_vote=vote, description=std, sort=i)
        for i, (name, subject, criteria, vote, std) in enumerate(CATEGORIES)}
    council = services.council_create(actor=None, area=ctx.community,
                                      members=[{"name": n, "role": r} for n, r in COUNCIL])
    pool = _Pool(ctx, rng)

    now = timezone.now()
    today = ctx.today
    current_q = (today.month - 1) // 3 + 1
    published_qs = list(range(1, current_q)) or [1]
    # Three published rounds carry the 80: earlier quarters share the quotas in order (one or two
    # finished quarters take them all, so the year's total holds whatever the date).
    quotas = _spread(QUOTAS, len(published_qs))
    last = len(published_qs) - 1
    for i, q in enumerate(published_qs):
        start = _quarter_start(today.year, q)
        if q == current_q:  # early in the first quarter: squeeze the timeline into the days so far
            span = max((now - _at(start, 0)).total_seconds() / 86400 - 1, 0.5)
            days = [span * f for f in (0.1, 0.3, 0.45, 0.95)]
        else:
            days = [60, 74, 80, 88]
        marks = [_at(start, 9) + dt.timedelta(days=d) for d in days]
        notice_days = 7 if q < current_q else max(1, min(7, int(days[3] - days[2])))
        rnd = _round(ctx, rng, pool, cats, council, q, quotas[i], marks, shortfall=True, notice_days=notice_days)
        assert rnd.notice_ends_at is not None
        # (Only on the first days of January can the notice end after "now"; it is still this year.)
        publish_at = max(marks[3], rnd.notice_ends_at)
        services.round_advance(actor=ctx.users["shuji"], round=rnd, to=S.PUBLISHED, at=publish_at)
        if i < last:
            archive_at = min(publish_at + dt.timedelta(days=85), now - dt.timedelta(hours=1))
            services.round_advance(actor=ctx.users["shuji"], round=rnd, to=S.ARCHIVED, at=max(archive_at, publish_at))

    if current_q > 1:
        # The running quarter: nominated three weeks ago, evaluated, in 公示 since three days ago.
        marks = [now - dt.timedelta(days=d) for d in (20, 9, 3)]
        rnd = _round(ctx, rng, pool, cats, council, current_q, NOTICE_QUOTA, marks, shortfall=False)
        first = rnd.nominations.filter(result=Result.SELECTED, category__name="身边好人").first()
        objection = services.objection_raise(
            round=rnd, nomination=first, objector_name="匿名", at=now - dt.timedelta(days=2),
            content="听说被推荐人家里楼道堆放杂物,是否符合评选条件?")
        services.objection_answer(
            actor=ctx.users["shuji"], objection=objection, at=now - dt.timedelta(days=1),
            answer="经网格员现场核实,楼道杂物系邻居临时堆放,已清理;被推荐人事迹属实,异议不成立,维持公示结果。")


def _spread(quotas: list[dict[str, int]], n: int) -> list[dict[str, int]]:
    if n >= len(quotas):
        return quotas + [{} for _ in range(n - len(quotas))]
    merged = [dict(q) for q in quotas[:n]]
    for extra in quotas[n:]:
        for k, v in extra.items():
            merged[-1][k] = merged[-1].get(k, 0) + v
    return merged


class _Pool:
    """Distinct nominees for the whole year, so that 80 honours are 80 households and people."""

    def __init__(self, ctx: DemoContext, rng: random.Random) -> None:
        present = [(hp, h, people) for hp, h, people in ctx.households
                   if h.status == rc.HouseholdStatus.PRESENT and h.head_id and hp.relocation_batch]
        rng.shuffle(present)
        self.in_law = [x for x in present if any(r.relation == rc.Relation.CHILD_IN_LAW for _p, r in x[2])]
        self.households = [x for x in present if x not in self.in_law]
        self.people = [r for _hp, _h, people in present[::-1] for _p, r in people
                       if 25 <= ctx.today.year - r.birth_date.year <= 75][::7]
        self.buildings = list(ctx.buildings.values())
        rng.shuffle(self.buildings)

    def take(self, category: Category) -> Any:
        if category.subject == Subject.BUILDING:
            return self.buildings.pop()
        if category.subject == Subject.PERSON:
            return self.people.pop()
        if category.name == "好婆媳" and self.in_law:
            return self.in_law.pop()[1]
        return self.households.pop()[1]


def _nominator(ctx: DemoContext, subject: Any) -> Any:
    """The building head nominates in their own building; elsewhere the grid worker."""
    path = subject.path if hasattr(subject, "path") else subject.area_path
    building_1 = ctx.buildings[min(ctx.buildings)]
    if path.startswith(building_1.path):
        return ctx.users["louzhang"]
    for g, grid in ctx.grids.items():
        if path.startswith(grid.path):
            return ctx.users[f"wgy{g}"]
    return ctx.users["shuji"]


def _round(ctx: DemoContext, rng: random.Random, pool: _Pool, cats: dict[str, Category], council: Council,
           quarter: int, quota: dict[str, int], marks: list[dt.datetime], *, shortfall: bool,
           notice_days: int = 7) -> Round:
    rnd = services.round_open(actor=ctx.users["shuji"], area=ctx.community, year=ctx.today.year, quarter=quarter,
                              notice_days=notice_days, at=marks[0])
    plan: list[tuple[Category, bool]] = []
    for name, cat in cats.items():
        plan += [(cat, True)] * quota.get(name, 0)
        if shortfall:
            plan += [(cat, False)] * SHORT.get(name, 0)
    nominations = []
    for k, (cat, good) in enumerate(plan):
        subject = pool.take(cat)
        at = marks[0] + dt.timedelta(hours=2 + k)
        reason = rng.choice(REASONS[cat.name])
        kw = {"household": subject} if cat.subject == Subject.HOUSEHOLD else (
            {"resident": subject} if cat.subject == Subject.PERSON else {"building": subject})
        if k % 9 == 4 and cat.subject != Subject.BUILDING:
            # A resident's nomination from the unit QR page, verified by the grid worker.
            unit = subject.area if cat.subject == Subject.HOUSEHOLD else subject.household.area
            n = services.nomination_add(actor=None, round=rnd, category=cat, unit=unit, reason=reason, at=at,
                                        nominee_text="本单元的邻居,具体见理由", nominator_name="本单元居民",
                                        nominator_phone=f"139{rng.randint(10000000, 99999999)}")
            n = services.nomination_link(actor=_nominator(ctx, unit), nomination=n, **kw)
        else:
            n = services.nomination_add(actor=_nominator(ctx, subject), round=rnd, category=cat, reason=reason,
                                        at=at, **kw)
        nominations.append((n, good))
    services.round_advance(actor=ctx.users["shuji"], round=rnd, to=S.EVALUATING, at=marks[1])
    evaluators = [(ctx.users["shuji"], ""), (None, "两委委员 " + COUNCIL[0][0]), (None, "居民代表 " + COUNCIL[1][0])]
    for k, (n, good) in enumerate(nominations):
        at = marks[1] + dt.timedelta(hours=1, minutes=k)
        # A short one fails on its sheet if it has one, otherwise on the vote.
        fail_sheet = not good and (not n.category.needs_vote or k % 2 == 0)
        for actor, name in evaluators:
            points = {c["name"]: _points(rng, c["max"], fail_sheet) for c in n.category.criteria}
            services.score_record(actor=actor, nomination=n, points=points, evaluator_name=name, at=at)
        if n.category.needs_vote:
            yes = rng.randint(7, 9) if (good or fail_sheet) else rng.randint(2, 4)
            rest = 9 - yes
            against = rng.randint(0, rest)
            services.vote_record(actor=ctx.users["shuji"], nomination=n, council=council, votes_for=yes,
                                 votes_against=against, abstain=rest - against, at=at)
    return services.round_advance(actor=ctx.users["shuji"], round=rnd, to=S.NOTICE, at=marks[2])


def _points(rng: random.Random, top: int, low: bool) -> int:
    share = rng.uniform(0.55, 0.74) if low else rng.uniform(0.86, 1.0)
    return min(top, round(top * share))
