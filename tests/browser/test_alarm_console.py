"""The duty officer has the console open; a caller's press arrives over the signed webhook (as the
simulator sends it) and appears on the console within ~1 s of the commit, without a reload; the
officer acknowledges it and sees the state change. Then a responder works it on a phone."""

from __future__ import annotations

import re
import time

import pytest

from wuzhi.alarms import services
from wuzhi.alarms.models import Alarm, AlarmState, TargetKind
from wuzhi.alarms.services import StepSpec, TargetSpec
from wuzhi.alarms.simulate import HttpCallers
from wuzhi.core.roles import Role

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="需要 playwright").expect
DESKTOP = {"width": 1366, "height": 900}


def login(page, base, username):
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("wuzhi-test-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/")


@pytest.fixture
def scene(tree, people, make_user, make_household):
    duty = make_user("zhiban", Role.DUTY, tree.community, name="谢值班")
    services.chain_create(actor=None, area=tree.grids[0], name="1网格默认通知链", is_default=True, steps=[
        StepSpec(0, [TargetSpec(TargetKind.FAMILY), TargetSpec(TargetKind.DUTY)]),
        StepSpec(60, [TargetSpec(TargetKind.ROLE, role=Role.GRID_WORKER)]),
    ])
    household = make_household(tree.dwellings[1], [("王奶奶", {"birth": "19400302", "male": False}),
                                                    ("王小明", {"phone": "13912345678", "relation": "子"})])
    elder = household.members.get(name="王奶奶")
    device = services.device_register(actor=None, key="860000000000001", resident=elder, secret="device-secret",
                                      medical_notes="高血压,服用氨氯地平")
    return duty, device


def test_a_press_appears_on_the_console_and_is_acknowledged(live_server, transactional_db, browser, scene, people):
    duty, device = scene
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "zhiban")
    page.goto(f"{live_server.url}/alarms/")
    expect(page.locator("#alarm-empty")).to_be_visible()
    page.wait_for_timeout(700)  # the page's first poll has run

    # The simulator's webhook caller (`wuzhi simulate-callers --via http`): 2xx only after the commit.
    status, reply = HttpCallers(live_server.url).press(key=device.key, secret="device-secret")
    committed = time.monotonic()
    alarm = Alarm.objects.get(device=device)
    assert status == 200 and reply["ok"] and alarm.state in (AlarmState.NEW, AlarmState.NOTIFYING)
    card = page.locator(f"#alarm-{alarm.pk}")
    expect(card).to_be_visible(timeout=2_000)
    seen_after = time.monotonic() - committed
    print(f"press committed → visible on the console: {seen_after:.3f} s")
    assert seen_after < 1.5, f"呼叫在提交 {seen_after:.2f} 秒后才出现在值班台"
    expect(card).to_contain_text("王奶奶")
    expect(card).to_contain_text("1单元102室")
    expect(card).to_contain_text("高血压")
    expect(card).to_have_class(re.compile(r"wz-state-(new|notifying)"))
    expect(page.locator("#count-urgent b")).to_have_text("1")

    card.get_by_role("button", name="确认接警").click()
    expect(card.locator(".wz-state-badge")).to_have_text("已确认")
    expect(page.locator("#count-urgent b")).to_have_text("0")
    alarm.refresh_from_db()
    assert alarm.state == AlarmState.ACKNOWLEDGED and alarm.acknowledged_by == duty

    # The officer sends the grid worker; on the worker's phone it is theirs to work.
    card.get_by_label("派出人员").select_option(label="专职网格员 王网格")
    card.get_by_role("button", name="派出").click()
    expect(card).to_contain_text("派专职网格员 王网格前往")
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    phone.set_default_timeout(15_000)
    login(phone, live_server.url, "worker1")
    phone.goto(f"{live_server.url}/alarms/my/")
    mine = phone.locator(f"#alarm-{alarm.pk}")
    mine.get_by_role("button", name="我已出发").click()
    expect(mine).to_contain_text("有人出发")
    mine.get_by_role("button", name="已到达").click()
    expect(mine.locator(".wz-state-badge")).to_have_text("已到场")
    # The console, without a reload, follows the responder.
    expect(card.locator(".wz-state-badge")).to_have_text("已到场", timeout=3_000)
    mine.get_by_label("处置结果").select_option(label="真实求助")
    mine.locator("textarea[name=note]").fill("老人头晕,已陪同到社区卫生室")
    mine.get_by_role("button", name="处置完毕").click()
    expect(mine.locator(".wz-state-badge")).to_have_text("已处置")
    expect(card).to_have_count(0, timeout=8_000)  # resolved cards leave the console
    phone.context.close()
    context.close()
    assert errors == []
