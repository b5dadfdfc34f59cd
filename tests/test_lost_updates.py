"""Lost updates (issue 10, item 3): two people open the same edit page, both save. The first save
wins; the second is refused with the Chinese "somebody changed it" message and overwrites
nothing. The version each save carries is read from the page's own HTML (the hidden input), so
a page that forgets to send it fails here too."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from honours.conftest import honours, new_round  # noqa: F401  (fixtures)
from party.conftest import org  # noqa: F401  (fixtures)
from rest_framework.test import APIClient

from wuzhi.cases.models import CaseKind, Category
from wuzhi.core.roles import Role
from wuzhi.honours.models import Nomination, Result

pytestmark = pytest.mark.django_db

STALE = "已被其他人修改,您的修改未保存"


def version_on_page(html: str, action: str | None = None) -> str:
    """The hidden version of the form posting to `action` (the first form with one if None)."""
    start = html.index(f'action="{action}"') if action else 0
    match = re.search(r'name="version" value="(\d+)"|value="(\d+)" name="version"', html[start:])
    assert match, f"no hidden version in the form {action or ''}"
    return match.group(1) or match.group(2)


@pytest.fixture
def two(make_user, tree, people):
    """Two secretaries of the same community, each in their own browser."""
    other = make_user("secretary2", Role.SECRETARY, tree.community, name="张副书记")
    a, b = Client(), Client()
    a.force_login(people.secretary)
    b.force_login(other)
    return a, b


def test_area_edit_second_save_from_the_same_page_is_refused(two, tree):
    a, b = two
    grid = tree.grids[0]
    page = reverse("core:area", args=[grid.pk])
    action = reverse("core:area_edit", args=[grid.pk])
    seen_a = version_on_page(a.get(page).content.decode(), action)
    seen_b = version_on_page(b.get(page).content.decode(), action)
    assert a.post(action, {"name": "第一网格", "sort": 1, "note": "", "version": seen_a}).status_code == 302
    refused = b.post(action, {"name": "一网格(旧名)", "sort": 9, "note": "覆盖", "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    grid.refresh_from_db()
    assert (grid.name, grid.sort, grid.note) == ("第一网格", 1, "")
    # Reloaded, the page carries the new version and the save goes through.
    fresh = version_on_page(b.get(page).content.decode(), action)
    assert b.post(action, {"name": "第一网格", "sort": 2, "note": "", "version": fresh}).status_code == 302


def test_area_api_update_needs_the_current_version(tree, people):
    api = APIClient()
    api.force_login(people.secretary)
    url = f"/api/areas/{tree.grids[0].pk}/"
    version = api.get(url).json()["version"]
    assert api.patch(url, {"note": "没有版本"}, format="json").status_code == 400
    assert api.patch(url, {"version": version, "note": "甲的备注"}, format="json").status_code == 200
    stale = api.patch(url, {"version": version, "note": "乙的备注"}, format="json")
    assert stale.status_code == 409 and STALE in stale.json()["detail"]
    tree.grids[0].refresh_from_db()
    assert tree.grids[0].note == "甲的备注"


def test_case_category_edit_second_save_is_refused(two):
    a, b = two
    category = Category.objects.create(kind=CaseKind.REQUEST, name="政策咨询", role="grid_worker", deadline_hours=24)
    url = reverse("cases:category_edit", args=[category.pk])
    seen_a = version_on_page(a.get(url).content.decode())
    seen_b = version_on_page(b.get(url).content.decode())
    form = {"kind": CaseKind.REQUEST, "name": "政策咨询", "role": "grid_worker", "deadline_hours": 48, "sort": 0,
            "active": "on", "checklist": ""}
    assert a.post(url, {**form, "version": seen_a}).status_code == 302
    refused = b.post(url, {**form, "deadline_hours": 12, "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    category.refresh_from_db()
    assert category.deadline_hours == 48 and category.version == 2


def test_branch_secretary_and_link_second_save_is_refused(two, org):  # noqa: F811
    a, b = two
    page = reverse("party:branch_detail", args=[org.b1.pk])
    sec_action = reverse("party:branch_secretary", args=[org.b1.pk])
    link_action = reverse("party:branch_link", args=[org.b1.pk])
    html_a, html_b = a.get(page).content.decode(), b.get(page).content.decode()
    assert a.post(sec_action, {"member": org.ma.pk, "version": version_on_page(html_a, sec_action)}).status_code == 302
    # B's page is older than A's save: both of its forms are stale now.
    refused = b.post(link_action, {"department": org.finance.pk, "version": version_on_page(html_b, link_action)})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    refused = b.post(sec_action, {"member": "", "version": version_on_page(html_b, sec_action)})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    org.b1.refresh_from_db()
    assert org.b1.secretary_id == org.ma.pk and org.b1.linked_department_id == org.civil.pk


def test_party_member_move_second_save_is_refused(two, org, tree):  # noqa: F811
    from wuzhi.party import services as party

    b3 = party.branch_create(actor=None, area=tree.community, name="第三网格党支部")
    a, b = two
    page = reverse("party:member_detail", args=[org.ma.pk])
    action = reverse("party:member_move", args=[org.ma.pk])
    seen_a = version_on_page(a.get(page).content.decode(), action)
    seen_b = version_on_page(b.get(page).content.decode(), action)
    assert a.post(action, {"branch": org.b2.pk, "version": seen_a}).status_code == 302
    refused = b.post(action, {"branch": b3.pk, "version": seen_b})
    assert refused.status_code == 400 and STALE in refused.content.decode()
    org.ma.refresh_from_db()
    assert org.ma.branch_id == org.b2.pk


def test_nomination_decline_from_a_stale_page_is_refused(two, honours, new_round, people):  # noqa: F811
    from wuzhi.honours import services as hs

    a, b = two
    rnd = new_round()
    n = hs.nomination_add(actor=people.worker1, round=rnd, category=honours.cats.hygiene, household=honours.h1,
                          reason="家中常年干净整洁,带动邻居清理楼道")
    url = reverse("honours:nomination", args=[n.pk])
    html_b = b.get(url).content.decode()  # B opens the page and hesitates
    seen_a = version_on_page(a.get(url).content.decode())
    assert a.post(url, {"action": "decline", "note": "非本社区居民", "version": seen_a}).status_code == 302
    n.refresh_from_db()
    assert n.result == Result.NOT_SELECTED
    before = n.version
    response = b.post(url, {"action": "decline", "note": "重复提名", "version": version_on_page(html_b)}, follow=True)
    assert STALE in response.content.decode()
    n = Nomination.objects.get(pk=n.pk)
    assert n.version == before


def test_topic_households_second_save_is_refused(two, tree, people, make_household):
    from wuzhi.deliberation import services as ds
    from wuzhi.deliberation.models import Level, Source

    h1 = make_household(tree.dwellings[0], [("张黎", {})])
    h2 = make_household(tree.dwellings[4], [("李明", {})])  # the building's second unit
    topic = ds.topic_propose(actor=people.secretary, title="1栋楼道灯改造", description="楼道灯坏了很久,晚上看不见",
                             level=Level.BUILDING, area=tree.buildings[0], source=Source.GRID)
    a, b = two
    url = reverse("deliberation:households", args=[topic.pk])
    seen_a = version_on_page(a.get(url).content.decode())
    seen_b = version_on_page(b.get(url).content.decode())
    assert a.post(url, {"affected": [tree.units[0].pk], "version": seen_a}).status_code == 302
    # B's page still shows nothing ticked; saving it would silently drop A's households.
    refused = b.post(url, {"benefited": [tree.units[1].pk], "version": seen_b}, follow=True)
    assert STALE in refused.content.decode()
    topic.refresh_from_db()
    assert list(topic.households_affected.all()) == [h1]
    assert not topic.households_benefited.exists() and h2.pk
