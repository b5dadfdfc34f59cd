"""A resident scans the unit's QR code, opens the 光荣榜 from the unit page and nominates a
neighbour on their phone; the grid worker verifies the nomination on theirs. Later, once the
round is published, the public board shows the household as "1栋1单元 张*家庭" and no name."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from wuzhi.honours import services
from wuzhi.honours.models import Nomination, RoundState, Subject

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect


def test_resident_nominates_and_the_board_shows_a_masked_label(live_server, transactional_db, tree, people,
                                                              make_household, phone_page):
    services.category_save(actor=None, name="文明卫生示范户", subject=Subject.HOUSEHOLD,
                           criteria=[{"name": "室内整洁", "max": 100}], pass_score=80, needs_vote=False)
    household = make_household(tree.dwellings[0], [("张黎明", {"birth": "19700512"})], relocation_batch="2019年")
    start = timezone.now() - dt.timedelta(days=20)
    rnd = services.round_open(actor=people.secretary, area=tree.community, year=start.year,
                              quarter=(start.month - 1) // 3 + 1, at=start)
    unit = tree.units[0]
    page = phone_page

    page.goto(f"{live_server.url}/p/h/u/{unit.code}/")
    page.get_by_role("link", name="推荐身边好人").tap()
    page.get_by_text("文明卫生示范户").tap()
    page.get_by_label("推荐谁").fill("101室张大哥家")
    page.get_by_label("推荐理由").fill("家里常年干净整洁,还主动打扫楼道卫生")
    page.get_by_label("您的姓名").fill("李阿姨")
    page.get_by_label("您的手机号码").fill("13911112222")
    page.get_by_role("button", name="提交推荐").tap()
    expect(page.get_by_text("感谢您的推荐")).to_be_visible()
    nomination = Nomination.objects.get(round=rnd)
    assert nomination.nominee_text == "101室张大哥家" and not nomination.linked

    # The grid worker verifies it on the phone.
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").fill("worker1")
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/honours/nominations/{nomination.pk}/")
    page.get_by_label("户").select_option(str(household.pk))
    page.get_by_role("button", name="确认").tap()
    expect(page.get_by_role("heading", name="文明卫生示范户:1栋1单元 张*家庭")).to_be_visible()

    # Scored, 公示 for seven days, published; the public board shows the masked label only.
    services.round_advance(actor=people.secretary, round=rnd, to=RoundState.EVALUATING, at=start + dt.timedelta(days=1))
    services.score_record(actor=people.secretary, nomination=nomination, points={"室内整洁": 92})
    rnd = services.round_advance(actor=people.secretary, round=rnd, to=RoundState.NOTICE,
                                 at=start + dt.timedelta(days=2))
    services.round_advance(actor=people.secretary, round=rnd, to=RoundState.PUBLISHED,
                           at=start + dt.timedelta(days=10))
    page.goto(f"{live_server.url}/p/h/{tree.community.code}/")
    expect(page.locator(".hb-names li", has_text="1栋1单元 张*家庭")).to_have_count(1)
    assert "张黎明" not in page.content() and "13911112222" not in page.content()
