"""A small honours setup on the shared tree: the five categories as data, a council of five, a
household in each grid and an open round."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from wuzhi.honours import services
from wuzhi.honours.models import Subject


@pytest.fixture
def honours(tree, people, make_household):
    cats = SimpleNamespace(
        hygiene=services.category_save(actor=None, name="文明卫生示范户", subject=Subject.HOUSEHOLD,
                                       criteria=[{"name": "室内整洁", "max": 50}, {"name": "门前三包", "max": 50}],
                                       pass_score=80, needs_vote=False, sort=0),
        good=services.category_save(actor=None, name="身边好人", subject=Subject.PERSON,
                                    criteria=[{"name": "事迹", "max": 100}], pass_score=80, needs_vote=True, sort=1),
        building=services.category_save(actor=None, name="文明楼栋", subject=Subject.BUILDING,
                                        criteria=[{"name": "楼道卫生", "max": 100}], pass_score=80, needs_vote=False,
                                        sort=2),
    )
    council = services.council_create(actor=None, area=tree.community, members=[
        {"name": n, "role": "居民代表"} for n in ("王德明", "李秀英", "张国华", "陈桂芳", "杨建军")])
    h1 = make_household(tree.dwellings[0], [("张黎明", {"birth": "19700512"}), ("张小军", {"birth": "19980101"})],
                        relocation_batch="2019年第一批")
    h2 = make_household(tree.dwellings[8], [("欧阳娜娜", {"birth": "19800101", "male": False})],
                        relocation_batch="2019年第一批")
    return SimpleNamespace(cats=cats, council=council, h1=h1, h2=h2)


@pytest.fixture
def new_round(tree, people):
    def make(quarter: int = 1, **kw):
        # Opened before test_flow.T0 (1 March 2026), where the timelines of the tests start.
        kw.setdefault("at", timezone.make_aware(dt.datetime(2026, 2, 27, 9, 0)))
        return services.round_open(actor=people.secretary, area=tree.community, year=2026, quarter=quarter, **kw)

    return make
