"""The core pages: login, home, the area tree and grants, for each role that matters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.core import services as core_services
from wuzhi.core.models import Area, Grant
from wuzhi.core.roles import Role
from wuzhi.registry import services as reg
from wuzhi.registry.models import Dwelling, ResidentTag, Tag


@pytest.fixture
def tags(db):
    return {
        "alone": Tag.objects.create(name="独居老人", visit_interval_days=30, color="danger"),
        "empty_nest": Tag.objects.create(name="空巢老人", visit_interval_days=60, color="warning"),
        "disabled": Tag.objects.create(name="残疾人", visit_interval_days=90, color="info"),
    }


def login(client, user):
    client.force_login(user)
    return client


# ---- login -------------------------------------------------------------------------------


def test_login_page_is_chinese_and_hides_demo_logins_in_production(client, people, monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.delenv("WUZHI_DEMO", raising=False)
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "用户名" in html and "密码" in html
    assert "演示账号" not in html


def test_login_page_lists_demo_logins_when_demo_flag_set(client, people, monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.setenv("WUZHI_DEMO", "1")
    html = client.get(reverse("login")).content.decode()
    assert "演示账号" in html
    assert "worker1" in html and "secretary" in html


def test_login_with_password_lands_on_home(client, people):
    response = client.post(reverse("login"), {"username": "worker1", "password": "wuzhi-test-pw"}, follow=True)
    assert response.status_code == 200
    assert response.resolver_match.url_name == "home"


def test_pages_need_login(client, tree):
    for url in (reverse("home"), reverse("core:area_tree"), reverse("registry:household_list")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# ---- home --------------------------------------------------------------------------------


def test_home_shows_area_counts_overdue_and_suggestions(client, tree, people, make_household, tags):
    household = make_household(tree.dwellings[0], [("张黎", {"birth": "19400512"})])
    make_household(tree.dwellings[8], [("李四", {}), ("李五", {})])  # grid 2: not counted for worker1
    zhang = household.head
    reg.set_resident_tags(actor=None, resident=zhang, tags=[tags["empty_nest"]])

    response = login(client, people.worker1).get(reverse("home"))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["household_count"] == 1
    assert response.context["resident_count"] == 1
    assert {row["tag"].name: row["count"] for row in response.context["care"]}["空巢老人"] == 1
    # Never visited, so overdue; and aged 80+ living alone, so 独居老人 is suggested.
    assert [r.name for r in response.context["overdue_top"]] == ["张黎"]
    assert any(s.tag == tags["alone"] and s.resident == zhang for s in response.context["suggestions"])
    assert reverse("registry:tag_confirm", args=[zhang.pk, tags["alone"].pk]) in html
    assert "1网格" in html


def test_confirming_a_suggested_tag(client, tree, people, make_household, tags):
    zhang = make_household(tree.dwellings[0], [("张黎", {"birth": "19400512"})]).head
    url = reverse("registry:tag_confirm", args=[zhang.pk, tags["alone"].pk])
    response = login(client, people.worker1).post(url, {"next": reverse("home")})
    assert response.status_code == 302
    row = ResidentTag.objects.get(resident=zhang, tag=tags["alone"])
    assert row.source == ResidentTag.Source.SUGGESTED and row.added_by == people.worker1
    # The county cadre sees no suggestions and may not confirm one.
    client.force_login(people.county)
    assert client.get(reverse("home")).context["suggestions"] == []
    assert client.post(reverse("registry:tag_confirm", args=[zhang.pk, tags["disabled"].pk])).status_code == 403


def test_home_for_user_without_grants(client, make_user):
    user = make_user("nobody")
    html = login(client, user).get(reverse("home")).content.decode()
    assert "还没有任何区域的授权" in html


# ---- area tree ---------------------------------------------------------------------------


def test_area_tree_shows_the_users_subtree(client, tree, people):
    response = login(client, people.worker1).get(reverse("core:area_tree"))
    assert response.status_code == 200
    assert response.context["area"] == tree.grids[0]
    assert "1栋" in response.content.decode()
    # Drill down to the building and unit; another grid is a 404.
    assert client.get(reverse("core:area", args=[tree.buildings[0].pk])).status_code == 200
    assert client.get(reverse("core:area", args=[tree.units[0].pk])).status_code == 200
    assert client.get(reverse("core:area", args=[tree.grids[1].pk])).status_code == 404
    assert client.get(reverse("core:area", args=[tree.community.pk])).status_code == 404


def test_secretary_manages_areas_and_dwellings(client, tree, people):
    login(client, people.secretary)
    html = client.get(reverse("core:area", args=[tree.grids[0].pk])).content.decode()
    assert "新建楼栋" in html
    response = client.post(reverse("core:area_add_child", args=[tree.grids[0].pk]),
                           {"segment": "02", "name": "2栋", "sort": "0", "floors": "6"})
    assert response.status_code == 302
    building = Area.objects.get(parent=tree.grids[0], segment="02")
    assert building.kind == "building" and building.floors == 6

    # A duplicate code is reported at the field, in Chinese.
    response = client.post(reverse("core:area_add_child", args=[tree.grids[0].pk]), {"segment": "02", "name": "重复"})
    assert response.status_code == 400
    assert "同一上级下已有此编码" in response.content.decode()

    response = client.post(reverse("core:area_edit", args=[building.pk]), {"name": "二栋", "sort": "1", "floors": "6",
                                                                              "version": building.version})
    assert response.status_code == 302
    building.refresh_from_db()
    assert building.name == "二栋"

    unit = tree.units[0]
    response = client.post(reverse("core:dwelling_add", args=[unit.pk]), {"floor": "3", "number": "301", "occupancy": "空置"})
    assert response.status_code == 302
    assert Dwelling.objects.filter(unit=unit, number="301").exists()
    response = client.post(reverse("core:dwelling_add", args=[unit.pk]), {"floor": "3", "number": "301", "occupancy": "空置"})
    assert response.status_code == 400 and "本单元已有此房号" in response.content.decode()


def test_grid_worker_cannot_manage_areas(client, tree, people):
    login(client, people.worker1)
    html = client.get(reverse("core:area", args=[tree.grids[0].pk])).content.decode()
    assert "新建楼栋" not in html
    response = client.post(reverse("core:area_add_child", args=[tree.grids[0].pk]), {"segment": "09", "name": "9栋"})
    assert response.status_code == 403
    assert not Area.objects.filter(segment="09").exists()
    response = client.post(reverse("core:area_add_child", args=[tree.grids[1].pk]), {"segment": "09", "name": "9栋"})
    assert response.status_code == 404


# ---- grants ------------------------------------------------------------------------------


def test_secretary_grants_a_role_inside_the_community(client, tree, people, make_user):
    newcomer = make_user("newcomer", name="新网格员")
    login(client, people.secretary)
    url = reverse("core:area_grants", args=[tree.grids[1].pk])
    assert "王网格" not in client.get(url).content.decode()  # worker1 is on grid 1, not listed here
    response = client.post(url, {"username": "newcomer", "role": Role.GRID_WORKER})
    assert response.status_code == 302
    grant = Grant.objects.get(user=newcomer)
    assert grant.area == tree.grids[1] and grant.granted_by == people.secretary
    assert "新网格员" in client.get(url).content.decode()

    response = client.post(url, {"username": "ghost", "role": Role.GRID_WORKER})
    assert response.status_code == 400 and "没有这个用户名" in response.content.decode()


def test_grid_head_cannot_grant_outside_their_subtree(client, tree, make_user):
    """A grid-level secretary who can also see the community (as a volunteer) is refused there,
    with the service's message at the form."""
    head = make_user("gridhead", Role.SECRETARY, tree.grids[0])
    core_services.grant_role(actor=None, user=head, role=Role.VOLUNTEER, area=tree.community)
    make_user("newcomer")
    login(client, head)
    response = client.post(reverse("core:area_grants", args=[tree.community.pk]),
                           {"username": "newcomer", "role": Role.GRID_WORKER})
    assert response.status_code == 403
    assert "您不能在" in response.content.decode()
    assert not Grant.objects.filter(user__username="newcomer").exists()
    # The sibling grid is visible to them (as a volunteer) but not theirs to grant in.
    response = client.post(reverse("core:area_grants", args=[tree.grids[1].pk]),
                           {"username": "newcomer", "role": Role.VOLUNTEER})
    assert response.status_code == 403 and "您不能在" in response.content.decode()
    # Inside their own grid it works.
    response = client.post(reverse("core:area_grants", args=[tree.grids[0].pk]),
                           {"username": "newcomer", "role": Role.VOLUNTEER})
    assert response.status_code == 302
    assert Grant.objects.get(user__username="newcomer").area == tree.grids[0]


def test_worker_cannot_open_grants_of_another_grid(client, tree, people):
    response = login(client, people.worker1).get(reverse("core:area_grants", args=[tree.grids[1].pk]))
    assert response.status_code == 404


def test_county_cadre_sees_grants_but_cannot_grant(client, tree, people, make_user):
    make_user("newcomer")
    login(client, people.county)
    url = reverse("core:area_grants", args=[tree.community.pk])
    html = client.get(url).content.decode()
    assert "李书记" in html and 'name="username"' not in html
    response = client.post(url, {"username": "newcomer", "role": Role.GRID_WORKER})
    assert response.status_code == 403
    assert not Grant.objects.filter(user__username="newcomer").exists()


def test_expired_grants_are_marked(client, tree, people, make_user):
    old = make_user("old", name="老网格员")
    core_services.grant_role(actor=None, user=old, role=Role.GRID_WORKER, area=tree.grids[0],
                             valid_from=dt.date(2020, 1, 1), valid_to=timezone.localdate() - dt.timedelta(days=1))
    html = login(client, people.secretary).get(reverse("core:area_grants", args=[tree.grids[0].pk])).content.decode()
    assert "老网格员" in html and "已过期" in html
