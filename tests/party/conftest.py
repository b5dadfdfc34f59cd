"""A small 三联系 organisation on top of the shared two-grid tree, built through the services.

    绥江县民政局 ──结对── 第一网格党支部: 马建林 (党员, has the login `dangyuan`, lives in 1栋101)
    绥江县财政局 (no branch linked)       第二网格党支部: 陈外出 (流动党员, no login, not a resident)
    民政局 cadres: 邓永刚 (login `bangfu`), 孙丽萍 (no login)

Households: h1 1栋1单元101 (马建林's own), h2 1栋1单元102 (grid 1), h3 2栋1单元101 (grid 2),
h4 2栋1单元102 (grid 2). Pairings: 马建林 → h3 (across grids, on purpose), 孙丽萍 → h1.
h2 and h4 have no helper."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wuzhi.party import services


@pytest.fixture
def org(tree, people, make_household, make_user):
    civil = services.department_create(actor=None, county=tree.county, name="绥江县民政局")
    finance = services.department_create(actor=None, county=tree.county, name="绥江县财政局")
    b1 = services.branch_create(actor=None, area=tree.community, name="第一网格党支部", linked_department=civil)
    b2 = services.branch_create(actor=None, area=tree.community, name="第二网格党支部")
    h1 = make_household(tree.dwellings[0], [("马建林", {"birth": "19700101"})])
    h2 = make_household(tree.dwellings[1], [("张黎", {"birth": "19480312"})])
    h3 = make_household(tree.dwellings[8], [("李明", {"birth": "19850101"}), ("王芳", {"relation": "女"})])
    h4 = make_household(tree.dwellings[9], [("赵四", {})])
    member_user = make_user("dangyuan", name="马建林")
    ma = services.member_create(actor=None, branch=b1, resident=h1.head, user=member_user)
    chen = services.member_create(actor=None, branch=b2, name="陈外出", is_mobile=True)
    cadre_user = make_user("bangfu", name="邓永刚")
    deng = services.cadre_create(actor=None, department=civil, name="邓永刚", user=cadre_user)
    sun = services.cadre_create(actor=None, department=civil, name="孙丽萍")
    p_ma = services.pairing_create(actor=None, household=h3, member=ma)
    p_sun = services.pairing_create(actor=None, household=h1, cadre=sun)
    return SimpleNamespace(civil=civil, finance=finance, b1=b1, b2=b2, h1=h1, h2=h2, h3=h3, h4=h4,
                           ma=ma, chen=chen, deng=deng, sun=sun, member_user=member_user, cadre_user=cadre_user,
                           p_ma=p_ma, p_sun=p_sun)
