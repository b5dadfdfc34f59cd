"""The resident portal page of a unit, reached from the QR code on its board: no login, no
resident data, a friendly 404 for a code that names no unit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from wuzhi.core.roles import Role
from wuzhi.core.validators import id_check_digit
from wuzhi.party import boards


@pytest.fixture
def unit_with_people(tree, people, make_household):
    """Unit 1 of building 1 with a household living in it (whose data must never show)."""
    # Digits chosen to appear nowhere else on the page (the unit code and hotline are digits too).
    first17 = "53062619700512777"
    household = make_household(tree.dwellings[0], [
        ("安开秀", {"phone": "13912345678", "id_number": first17 + id_check_digit(first17), "male": False}),
        ("安小明", {}),
    ])
    return tree.units[0], household


def test_unit_page_needs_no_login_and_names_the_place_and_its_staff(client, tree, people, unit_with_people):
    unit, _household = unit_with_people
    response = client.get(reverse("portal:unit", args=[unit.code]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("福兴社区", "1网格", "1栋 1单元", "王网格", "楼长甲", "0870-7622345",
                 "反映问题", "提出建议/议题", "查看公告", "我的诉求"):
        assert text in html, text
    # Each action is its app's resident page, the unit carried along.
    for href in (reverse("cases:portal_report", args=[unit.code]), reverse("delib_portal:propose", args=[unit.code]),
                 reverse("delib_portal:board", args=[tree.community.code]),
                 reverse("honours_public:unit_board", args=[unit.code]), reverse("cases:portal_track"),
                 reverse("delib_portal:track")):
        assert f'href="{href}"' in html, href


def test_unit_page_shows_no_resident_data(client, tree, people, unit_with_people):
    unit, household = unit_with_people
    html = client.get(reverse("portal:unit", args=[unit.code])).content.decode()
    head = household.head
    assert "安开秀" not in html and "安小明" not in html
    assert "13912345678" not in html and "5678" not in html
    assert head.id_number_masked[-4:].startswith("777") and head.id_number_masked[-4:] not in html
    assert "101室" not in html  # not even which dwellings exist


def test_a_unit_without_staff_says_so(client, tree, people):
    html = client.get(reverse("portal:unit", args=[tree.units[2].code])).content.decode()
    assert "赵网格" in html and "待补充" in html  # building 2 has no 楼长


def test_unknown_code_is_a_friendly_404(client, tree):
    response = client.get(reverse("portal:unit", args=["999999"]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "未找到该单元" in html and "999999" in html


def test_a_code_that_is_not_a_unit_is_404(client, tree):
    assert client.get(reverse("portal:unit", args=[tree.community.code])).status_code == 404
    assert client.get(reverse("portal:unit", args=[tree.buildings[0].code])).status_code == 404


def test_unknown_code_is_escaped(client, db):
    response = client.get("/p/u/%3Cscript%3E/")
    assert response.status_code == 404
    assert "<script>" not in response.content.decode().split("<body>", 1)[1]


def test_board_qr_address_is_this_page(tree, people, settings):
    settings.PUBLIC_URL = "https://wuzhi.example.gov.cn"
    board = boards.board_for(tree.units[3])
    assert board.portal_url == "https://wuzhi.example.gov.cn" + reverse("portal:unit", args=[tree.units[3].code])
    assert board.duty(Role.GRID_WORKER).names == "赵网格"
