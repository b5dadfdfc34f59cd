"""The 福兴 demo's employment support (能致富).

The labour census of every working-age resettled resident (status from what the registry's
plan says they do), skills and certificates for some, a few hundred placements written one by
one (帮扶车间 in the community, 外出务工 to the provinces Zhaotong people go to, 公益性岗位,
自主创业), and the 就业创业服务队's follow-up calls to those out of work."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from wuzhi.activities.models import Team
from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.registry import choices as rc

from . import services
from .models import Contact, PlacementKind, Status

E = rc.Employment
STATUS = {E.LOCAL: Status.EMPLOYED, E.WORKSHOP: Status.EMPLOYED, E.MIGRANT: Status.EMPLOYED,
          E.SELF: Status.EMPLOYED, E.PUBLIC_POST: Status.EMPLOYED, E.FARMING: Status.FLEXIBLE,
          E.UNEMPLOYED: Status.UNEMPLOYED, E.STUDENT: Status.STUDENT, E.UNABLE: Status.UNABLE,
          E.RETIRED: Status.CARING}
SKILLS = ["电焊", "砌筑", "驾驶", "缝纫", "厨师", "家政", "电工", "种植养殖", "美容美发", "水电安装", "电商直播"]
CERTS = [("焊工职业资格证", "五级", "昭通市人力资源和社会保障局"), ("C1驾驶证", "", "昭通市公安局交通管理支队"),
         ("中式烹调师", "五级", "绥江县人力资源和社会保障局"), ("育婴员", "五级", "绥江县人力资源和社会保障局"),
         ("电工证", "初级", "应急管理部门")]
WORKSHOPS = ["福兴社区竹编帮扶车间", "福兴社区服装加工帮扶车间", "福兴社区电子元件帮扶车间"]
LOCAL = ["绥江县城市管理局(环卫)", "中城镇农贸市场", "绥江县物流园", "绥江县建筑公司"]
MIGRANT = [("浙江省", "宁波市", "宁波某电器有限公司"), ("广东省", "东莞市", "东莞某电子厂"),
           ("福建省", "泉州市", "泉州某鞋业公司"), ("江苏省", "苏州市", "苏州某精密制造公司"),
           ("四川省", "宜宾市", "宜宾某汽车零部件公司"), ("云南省", "昆明市", "昆明某建筑公司")]
PUBLIC_POSTS = ["保洁员", "护林员", "楼栋管理员", "公益性巡逻员"]
SELF = ["便民小超市", "早餐店", "快递代收点", "修车铺"]
PLACEMENT_OF = {E.WORKSHOP: PlacementKind.WORKSHOP, E.LOCAL: PlacementKind.LOCAL, E.MIGRANT: PlacementKind.MIGRANT,
                E.PUBLIC_POST: PlacementKind.PUBLIC_POST, E.SELF: PlacementKind.SELF}
CALLS = ["了解求职意向,推荐帮扶车间岗位", "电话询问近况,告知本月招聘会时间", "动员参加技能培训", "入户了解家庭情况,登记就业需求"]


@demo_step(order=61)
def employment(ctx: DemoContext) -> None:
    rng = ctx.rng("employment")
    now = timezone.now()
    rows = []
    candidates = []
    for _hp, household, people in ctx.households:
        if not household.relocation_batch:
            continue
        for pp, resident in people:
            status = STATUS.get(pp.employment)  # type: ignore[call-overload]
            if status is None or not services.is_working_age(resident):
                continue
            skills = "、".join(rng.sample(SKILLS, rng.randint(1, 2))) if rng.random() < 0.35 else ""
            rows.append((resident, status, skills))
            if pp.employment in PLACEMENT_OF or status == Status.UNEMPLOYED:
                candidates.append((pp.employment, resident))
    services.profiles_import(actor=None, rows=rows, at=now - dt.timedelta(days=300))

    # A few hundred placements written one by one, as the team records them.
    placed = [c for c in candidates if c[0] in PLACEMENT_OF]
    rng.shuffle(placed)
    year_start = dt.date(ctx.today.year, 1, 1)
    span = max((ctx.today - year_start).days, 1)
    for employment, resident in placed[:320]:
        kind = PLACEMENT_OF[E(employment)]
        started = year_start + dt.timedelta(days=rng.randrange(span))
        kw: dict[str, str] = {}
        if kind == PlacementKind.WORKSHOP:
            kw = {"employer": rng.choice(WORKSHOPS), "post": "车间工人"}
        elif kind == PlacementKind.LOCAL:
            kw = {"employer": rng.choice(LOCAL), "post": "工人"}
        elif kind == PlacementKind.MIGRANT:
            province, city, employer = rng.choice(MIGRANT)
            kw = {"province": province, "city": city, "employer": employer, "post": "普工"}
        elif kind == PlacementKind.PUBLIC_POST:
            kw = {"employer": "福兴社区", "post": rng.choice(PUBLIC_POSTS)}
        else:
            kw = {"employer": rng.choice(SELF), "post": "经营者"}
        services.placement_add(actor=None, resident=resident, kind=kind, started_on=started,
                               monthly_income=rng.choice([1800, 2200, 2600, 3000, 3500, 4500, 5200]),
                               at=timezone.make_aware(dt.datetime.combine(started, dt.time(10))), **kw)

    # Certificates mostly belong to people who found work with them.
    for _e, resident in rng.sample(placed[:320], min(60, len(placed))):
        name, level, issuer = rng.choice(CERTS)
        services.certificate_add(actor=None, resident=resident, name=name, level=level, issuer=issuer,
                                 issued_on=year_start - dt.timedelta(days=rng.randrange(30, 1500)))

    team = Team.objects.filter(area=ctx.community, name="就业创业服务队").first()
    jobless = [r for e, r in candidates if e == E.UNEMPLOYED]
    for k, resident in enumerate(jobless[:120]):
        for j in range(rng.randint(1, 3)):
            at = now - dt.timedelta(days=rng.randrange(1, span + 1), hours=j)
            services.contact_add(actor=None, actor_name=team.name if team else "就业创业服务队", team=team,
                                 resident=resident, at=at, content=CALLS[(k + j) % len(CALLS)],
                                 method=rng.choice(list(Contact.Method)),
                                 next_step="推荐岗位后再次回访" if j == 0 else "")
