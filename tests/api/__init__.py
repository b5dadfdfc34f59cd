"""Helpers shared by the API tests: token clients and a two-grid registry built through the services."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from conftest import make_id_number
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from wuzhi.registry import services as reg
from wuzhi.registry.models import Tag

# Grid 1 and grid 2 people are told apart by names, pinyin, ID and phone numbers that share
# nothing, so "absent from the other grid's results" cannot pass by accident.
GRID2_PHONE = "13977770002"
GRID1_PHONE = "13866660001"


def client_for(user: Any) -> APIClient:
    """A client that authenticates like an integration does: a DRF token per request, so the user
    (and the grants cached on it) is loaded fresh every time."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def build_registry(tree: Any, people: Any, make_household: Any) -> SimpleNamespace:
    """Grid 1: 张黎 (1970, 独居老人) and 夏红燕 in 1栋1单元101; grid 2: 王芳 (孤儿) and 李明 in
    2栋1单元101; one visit in each grid; 困境儿童 ⊃ 孤儿 and a household tag 低保户."""
    elderly = Tag.objects.create(name="独居老人", visit_interval_days=30)
    hardship = Tag.objects.create(name="困境儿童")
    orphan = Tag.objects.create(name="孤儿", parent=hardship)
    dibao = Tag.objects.create(name="低保户", applies_to=Tag.AppliesTo.HOUSEHOLD)

    zhang_id = make_id_number("19700512")
    wang_id = make_id_number("20150302", male=False)
    h1 = make_household(tree.dwellings[0], [
        ("张黎", {"id_number": zhang_id, "phone": GRID1_PHONE}),
        ("夏红燕", {"birth": "19720101", "male": False, "relation": "配偶"}),
    ])
    h2 = make_household(tree.dwellings[8], [
        ("李明", {"birth": "19850101"}),
        ("王芳", {"id_number": wang_id, "phone": GRID2_PHONE, "relation": "女"}),
    ])
    zhang = h1.members.get(name="张黎")
    wang = h2.members.get(name="王芳")
    reg.set_resident_tags(actor=None, resident=zhang, tags=[elderly])
    reg.set_resident_tags(actor=None, resident=wang, tags=[orphan])
    h2 = reg.household_update(actor=None, household=h2, version=h2.version, tags=[dibao])
    now = timezone.now()
    # Visits need a real actor: visit_record(actor=None) fails full_clean on created_by (reported).
    v1 = reg.visit_record(actor=people.worker1, household=h1, findings="身体健康", visited_at=now - dt.timedelta(days=3))
    v2 = reg.visit_record(actor=people.worker2, household=h2, findings="学习正常", visited_at=now - dt.timedelta(days=2))
    h1.refresh_from_db()
    h2.refresh_from_db()
    return SimpleNamespace(
        h1=h1, h2=h2, zhang=zhang, xia=h1.members.get(name="夏红燕"), wang=wang, li=h2.members.get(name="李明"),
        zhang_id=zhang_id, wang_id=wang_id, v1=v1, v2=v2,
        tags=SimpleNamespace(elderly=elderly, hardship=hardship, orphan=orphan, dibao=dibao),
    )
