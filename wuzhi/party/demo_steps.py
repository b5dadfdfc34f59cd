"""The 福兴 demo's party organisation, 三联系 pairings and the duty roster of every building.

The article: 8 county departments pair with the community's 8 branches, 167 party members,
every household has a helper, every grid a full-time 网格员 and every building its 楼长, 党员,
志愿者, 警务长 and 家庭医生. All of it is written through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from wuzhi.core import services as core_services
from wuzhi.core.roles import Role
from wuzhi.demo import data as d
from wuzhi.demo.generator import DemoContext, demo_step
from wuzhi.registry import choices as c

from . import services

DEPARTMENTS = ["中共绥江县委组织部", "绥江县财政局", "绥江县人力资源和社会保障局", "绥江县民政局",
               "绥江县卫生健康局", "绥江县教育体育局", "绥江县住房和城乡建设局", "绥江县司法局"]
CADRE_NAMES = ["邓永刚", "孙丽萍", "钱正国", "冯晓燕", "蒋德明", "韩雪", "朱乾果", "夏红燕", "何志强", "吕文静",
               "施建华", "张玉兰", "孔令军", "曹敏", "严国庆", "金晓梅", "魏志远", "陶红", "姜永福", "戚秀英",
               "谢东", "邹丽", "喻成林", "柏雪松", "水长江", "窦文华", "章立新", "云霞", "苏光辉", "潘美玲",
               "葛新民", "奚晓兰"]
POLICE = [("minjing", "唐伟"), ("mj2", "曾庆华"), ("mj3", "罗斌")]
DOCTORS = [("yisheng", "肖雪梅"), ("ys2", "余晓琴"), ("ys3", "包志勇"), ("ys4", "杜春燕")]
# Households that also get a department cadre besides their party member.
CADRE_CARE_TAGS = {"独居老人", "孤儿", "事实无人抚养儿童", "特困", "重点关注"}


def _user(username: str, name: str, password: str) -> Any:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    return user or User.objects.create(username=username, first_name=name, password=password)


@demo_step(order=20)
def party(ctx: DemoContext) -> None:
    rng = ctx.rng("party")
    town = ctx.community.parent
    assert town is not None and town.parent is not None
    county = town.parent
    since = dt.date(ctx.today.year - 1, 1, 1)
    password = make_password(d.DEMO_PASSWORD)

    departments = [services.department_create(actor=None, county=county, name=n) for n in DEPARTMENTS]
    bangfu = ctx.users.get("bangfu")  # the demo login 邓永刚 is the first cadre of the first department
    cadres = {dept.pk: [services.cadre_create(actor=None, department=dept, name=CADRE_NAMES[i * 4 + k],
                                              title="帮扶干部", user=bangfu if i == k == 0 else None)
                        for k in range(4)]
              for i, dept in enumerate(departments)}

    branches = {g: services.branch_create(actor=None, area=ctx.community, name=f"福兴社区第{_cn(g)}网格党支部",
                                          linked_department=departments[g - 1]) for g in ctx.grids}
    mobile_branch = services.branch_create(actor=None, area=ctx.community, name="福兴社区流动党员党支部",
                                           linked_department=departments[len(ctx.grids)])

    # Members: the residents whose political status is 中共党员; those working away belong to the
    # mobile members' branch.
    local: dict[int, list[Any]] = {g: [] for g in ctx.grids}
    by_building: dict[int, list[Any]] = {}
    for hp, _household, people in ctx.households:
        grid, building = hp.slot[0], hp.slot[1]
        for pp, resident in people:
            if pp.political != c.Political.CPC:
                continue
            joined = dt.date(max(pp.birth.year + 20, 1975), rng.randint(1, 12), rng.randint(1, 28))
            branch = mobile_branch if pp.migrant else branches[grid]
            member = services.member_create(actor=None, branch=branch, resident=resident, joined_on=joined,
                                            is_mobile=pp.migrant)
            if not pp.migrant:
                local[grid].append(member)
                by_building.setdefault(building, []).append(member)
    for g, branch in branches.items():
        if local[g]:
            services.branch_set_secretary(actor=None, branch=branch, member=local[g][0])
    dangyuan = ctx.users.get("dangyuan")
    if dangyuan is not None and local[1]:
        member = local[1][0]
        services.member_link_user(actor=None, member=member, user=dangyuan)
        dangyuan.first_name = member.name  # the login is this resident party member
        dangyuan.save(update_fields=["first_name"])

    # 联系户: households of a grid shared round-robin among the grid's resident members; the most
    # vulnerable also get a cadre of the department paired with the grid's branch.
    counters = {g: 0 for g in ctx.grids}
    for hp, household, people in ctx.households:
        g = hp.slot[0]
        helpers = local[g]
        start = dt.date(2021, 3, 1) + dt.timedelta(days=rng.randint(0, 600))
        if helpers:
            services.pairing_create(actor=None, household=household, member=helpers[counters[g] % len(helpers)],
                                    started_on=start)
            counters[g] += 1
        tags = {t for pp, _r in people for t in pp.tags}
        if not helpers or tags & CADRE_CARE_TAGS:
            dept_cadres = cadres[departments[g - 1].pk]
            services.pairing_create(actor=None, household=household, cadre=rng.choice(dept_cadres), started_on=start)

    _roster(ctx, rng, by_building, password, since)


def _roster(ctx: DemoContext, rng: Any, members_by_building: dict[int, list[Any]], password: str,
            since: dt.date) -> None:
    """The five named people of every building, as role grants on the building."""
    residents_by_building: dict[int, list[Any]] = {}
    for hp, _household, people in ctx.households:
        for pp, resident in people:
            age = ctx.today.year - pp.birth.year
            if 30 <= age <= 65 and not pp.migrant and pp.political != c.Political.CPC:
                residents_by_building.setdefault(hp.slot[1], []).append(resident)
    police = [_user(u, n, password) for u, n in POLICE]
    doctors = [_user(u, n, password) for u, n in DOCTORS]
    for i, (b, building) in enumerate(sorted(ctx.buildings.items())):
        candidates = residents_by_building[b]
        head_resident, volunteer_resident = candidates[0], candidates[len(candidates) // 2]
        head = ctx.users["louzhang"] if b == 1 and "louzhang" in ctx.users else \
            _user(f"lz{b:02d}", head_resident.name, password)
        volunteer = ctx.users["zhiyuanzhe"] if b == 1 and "zhiyuanzhe" in ctx.users else \
            _user(f"zy{b:02d}", volunteer_resident.name, password)
        member = members_by_building[b][0]
        if member.user_id is None:
            services.member_link_user(actor=None, member=member, user=_user(f"dy{b:02d}", member.name, password))
        member.refresh_from_db()
        for role, user in ((Role.BUILDING_HEAD, head), (Role.PARTY_MEMBER, member.user), (Role.VOLUNTEER, volunteer),
                           (Role.POLICE, police[i % len(police)]), (Role.DOCTOR, doctors[i % len(doctors)])):
            core_services.grant_role(actor=None, user=user, role=role, area=building, valid_from=since)


def _cn(n: int) -> str:
    return "零一二三四五六七八九十"[n] if n <= 10 else str(n)
