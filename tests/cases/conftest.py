"""Fixtures for the case flow: categories routed to a team, a team with a staff member."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wuzhi.activities import services as act
from wuzhi.activities.models import TeamKind
from wuzhi.cases import services
from wuzhi.cases.models import CaseKind, Category


@pytest.fixture
def teams(tree, people, make_user):
    mediators = act.team_create(actor=None, area=tree.community, kind=TeamKind.PARTY_SERVICE, name="纠纷调处服务队")
    repairs = act.team_create(actor=None, area=tree.community, kind=TeamKind.PARTY_SERVICE, name="人居环境服务队")
    mediator = make_user("mediator", name="张调解")  # no area grant: sees only what is routed to the team
    act.member_add(actor=None, team=mediators, user=mediator)
    fixer = make_user("fixer", name="刘师傅")
    act.member_add(actor=None, team=repairs, user=fixer)
    return SimpleNamespace(mediators=mediators, repairs=repairs, mediator=mediator, fixer=fixer)


@pytest.fixture
def categories(teams):
    return SimpleNamespace(
        light=Category.objects.create(kind=CaseKind.REPORT, name="设施损坏", team=teams.repairs, deadline_hours=48),
        policy=Category.objects.create(kind=CaseKind.REQUEST, name="政策咨询", role="grid_worker", deadline_hours=24),
        neighbour=Category.objects.create(kind=CaseKind.DISPUTE, name="邻里纠纷", team=teams.mediators,
                                          deadline_hours=15 * 24),
        proxy=Category.objects.create(kind=CaseKind.PROXY, name="高龄补贴", role="grid_worker", deadline_hours=72,
                                      checklist=["身份证", "户口簿", "银行卡"]),
        unrouted=Category.objects.create(kind=CaseKind.REQUEST, name="意见建议", deadline_hours=72),
    )


@pytest.fixture
def open_case(tree, categories):
    def make(category=None, area=None, **kw):
        kw.setdefault("description", "3栋2单元楼道灯坏了,晚上看不见")
        kw.setdefault("channel", "qr")
        kw.setdefault("reporter_phone", "13900001111")
        return services.case_open(actor=kw.pop("actor", None), category=category or categories.light,
                                  area=area or tree.units[0], **kw)

    return make
