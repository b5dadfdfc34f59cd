"""The registry pages: scoping (404 outside the grid), read-only roles, search, reveal, concurrent
edits, visits, the building grid, and bounded query counts on every list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import make_id_number
from wuzhi.core.models import AccessLog
from wuzhi.registry import selectors, views
from wuzhi.registry import services as reg
from wuzhi.registry.models import Household, Resident, Tag, Visit

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"}


@pytest.fixture
def tags(db):
    return {
        "alone": Tag.objects.create(name="独居老人", visit_interval_days=30, color="danger"),
        "left_behind": Tag.objects.create(name="留守儿童", visit_interval_days=30, color="warning"),
        "party": Tag.objects.create(name="党员", color="primary"),
        "low_income": Tag.objects.create(name="低保户", applies_to=Tag.AppliesTo.HOUSEHOLD, color="secondary"),
    }


@pytest.fixture
def zhang(tree, make_household, tags):
    """张黎's household on grid 1 (1栋1单元101), with his wife and a tag each."""
    household = make_household(tree.dwellings[0], [("张黎", {"birth": "19500512", "phone": "13912345678"}),
                                                   ("夏红燕", {"male": False, "birth": "19520101", "relation": "配偶"})])
    reg.set_resident_tags(actor=None, resident=household.head, tags=[tags["alone"]])
    return household


@pytest.fixture
def other(tree, make_household):
    """A household on grid 2, invisible to worker1."""
    return make_household(tree.dwellings[8], [("李四", {})])


def login(client, user):
    client.force_login(user)
    return client


def fill(tree, tags, n, visitor):
    """n households in grid 1, each with two tagged members and a visit: enough rows to show that
    a page's query count does not grow with them."""
    units = tree.units[:2]
    households = []
    for i in range(n):
        dwelling = reg.dwelling_create(actor=None, unit=units[i % 2], floor=3 + i // 4, number=f"{3 + i // 4}{i:02d}")
        household = reg.household_create(actor=None, dwelling=dwelling)
        reg.household_update(actor=None, household=household, version=household.version, tags=[tags["low_income"]])
        for j, name in enumerate(("王大", "王二")):
            reg.resident_create(actor=None, household=household, name=f"{name}{i}", id_number=make_id_number(),
                                relation="户主" if j == 0 else "子", tags=[tags["party"], tags["left_behind"]])
        reg.visit_record(actor=visitor, household=household, findings="一切正常",
                         residents=list(household.members.all()))
        households.append(household)
    return households


# ---- scoping -----------------------------------------------------------------------------


def test_pages_render_for_grid_worker(client, tree, people, zhang):
    login(client, people.worker1)
    resident = zhang.head
    for url in (
        reverse("registry:household_list"), reverse("registry:resident_list"), reverse("registry:visit_list"),
        reverse("registry:overdue"), reverse("registry:household_create"),
        reverse("registry:household_detail", args=[zhang.pk]), reverse("registry:household_edit", args=[zhang.pk]),
        reverse("registry:resident_create", args=[zhang.pk]), reverse("registry:visit_create", args=[zhang.pk]),
        reverse("registry:resident_detail", args=[resident.pk]), reverse("registry:resident_edit", args=[resident.pk]),
        reverse("registry:building", args=[tree.buildings[0].pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<html" in response.content.decode()


@pytest.mark.parametrize("who", ["secretary", "county", "head", "worker2"])
def test_read_pages_render_for_every_role(client, tree, people, zhang, who):
    login(client, getattr(people, who))
    for url in (reverse("home"), reverse("registry:household_list"), reverse("registry:resident_list"),
                reverse("registry:visit_list"), reverse("registry:overdue"), reverse("core:area_tree")):
        assert client.get(url).status_code == 200, url
    detail = client.get(reverse("registry:household_detail", args=[zhang.pk]))
    # worker2 is on grid 2: 张黎's household (grid 1) does not exist for them.
    assert detail.status_code == (404 if who == "worker2" else 200)


def test_another_grid_is_404_for_worker1(client, tree, people, zhang, other):
    login(client, people.worker1)
    resident = other.head
    for url in (
        reverse("registry:household_detail", args=[other.pk]), reverse("registry:household_edit", args=[other.pk]),
        reverse("registry:visit_create", args=[other.pk]), reverse("registry:resident_create", args=[other.pk]),
        reverse("registry:resident_detail", args=[resident.pk]), reverse("registry:resident_edit", args=[resident.pk]),
        reverse("registry:building", args=[tree.buildings[1].pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("registry:reveal", args=[resident.pk, "id_number"])).status_code == 404
    html = client.get(reverse("registry:household_list")).content.decode()
    assert "1栋1单元101室" in html and "2栋" not in html
    html = client.get(reverse("registry:resident_list")).content.decode()
    assert "张黎" in html and "李四" not in html


def test_building_head_sees_only_their_building(client, tree, people, zhang, other):
    login(client, people.head)
    assert client.get(reverse("registry:building", args=[tree.buildings[0].pk])).status_code == 200
    assert client.get(reverse("registry:building", args=[tree.buildings[1].pk])).status_code == 404
    assert client.get(reverse("registry:household_detail", args=[other.pk])).status_code == 404


def test_county_cadre_reads_but_cannot_edit(client, tree, people, zhang):
    login(client, people.county)
    detail = client.get(reverse("registry:household_detail", args=[zhang.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200 and "张黎" in html
    for button in ("编辑户信息", "添加成员", "记录走访", "显示完整号码"):
        assert button not in html
    assert "登记新户" not in client.get(reverse("registry:household_list")).content.decode()

    version = zhang.version
    assert client.get(reverse("registry:household_edit", args=[zhang.pk])).status_code == 403
    response = client.post(reverse("registry:household_edit", args=[zhang.pk]),
                           {"version": version, "status": "在住", "note": "县里改的"})
    assert response.status_code == 403
    assert "没有权限" in response.content.decode()
    zhang.refresh_from_db()
    assert zhang.note == "" and zhang.version == version

    response = client.post(reverse("registry:visit_create", args=[zhang.pk]),
                           {"findings": "看看", "visited_at": "2025-01-01T10:00", "kind": "入户走访"})
    assert response.status_code == 403
    assert not Visit.objects.exists()
    response = client.post(reverse("registry:resident_create", args=[zhang.pk]),
                           {"name": "新人", "id_number": make_id_number()})
    assert response.status_code == 403
    assert client.post(reverse("registry:resident_edit", args=[zhang.head_id]), {"name": "改名"}).status_code == 403
    assert client.get(reverse("registry:household_create")).status_code == 403


# ---- search and lists --------------------------------------------------------------------


def test_search_by_pinyin_initials_finds_zhang_li(client, tree, people, zhang, make_household):
    make_household(tree.dwellings[1], [("王芳", {})])
    login(client, people.worker1)
    response = client.get(reverse("registry:resident_list"), {"q": "zl"})
    names = [r.name for r in response.context["page"].rows]
    assert names == ["张黎"]
    assert [r.name for r in client.get(reverse("registry:resident_list"), {"q": "zhangli"}).context["page"].rows] == ["张黎"]
    # The household list searches residents too, and addresses.
    rows = client.get(reverse("registry:household_list"), {"q": "zl"}).context["page"].rows
    assert [h.pk for h in rows] == [zhang.pk]
    rows = client.get(reverse("registry:household_list"), {"q": "1单元102"}).context["page"].rows
    assert [h.head.name for h in rows] == ["王芳"]
    # Phone tail search.
    rows = client.get(reverse("registry:resident_list"), {"q": "5678"}).context["page"].rows
    assert [r.name for r in rows] == ["张黎"]


def test_live_search_returns_only_the_results_block(client, people, zhang):
    response = login(client, people.worker1).get(reverse("registry:resident_list"), {"q": "zl"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "张黎" in html and "<html" not in html and "导出Excel" in html
    response = client.get(reverse("registry:household_list"), {"q": "zl"}, **HTMX)
    assert "<html" not in response.content.decode() and "1栋1单元101室" in response.content.decode()


def test_resident_filters(client, tree, people, zhang, tags):
    login(client, people.worker1)
    url = reverse("registry:resident_list")
    assert [r.name for r in client.get(url, {"tag": tags["alone"].pk}).context["page"].rows] == ["张黎"]
    assert [r.name for r in client.get(url, {"sex": "F"}).context["page"].rows] == ["夏红燕"]
    assert client.get(url, {"age_min": "0", "age_max": "30"}).context["page"].rows == []
    assert len(client.get(url, {"age_min": "60"}).context["page"].rows) == 2
    assert len(client.get(url, {"area": tree.buildings[0].pk}).context["page"].rows) == 2
    # An area outside the user's scope is not a valid choice: the filter is ignored, not widened.
    rows = client.get(url, {"area": tree.buildings[1].pk}).context["page"].rows
    assert {r.name for r in rows} == {"张黎", "夏红燕"}


def test_household_filters_and_export_link(client, tree, people, zhang, tags, make_household):
    make_household(tree.dwellings[1], [("王芳", {})])
    login(client, people.worker1)
    url = reverse("registry:household_list")
    response = client.get(url, {"tag": tags["alone"].pk, "area": tree.buildings[0].pk})
    assert [h.pk for h in response.context["page"].rows] == [zhang.pk]
    html = response.content.decode()
    assert f'/registry/export/households.xlsx?tag={tags["alone"].pk}&amp;area={tree.buildings[0].pk}&amp;status=' in html
    badge_html = html.split("1栋1单元101室", 1)[1]
    assert "独居老人" in badge_html
    response = client.get(reverse("registry:resident_list"), {"q": "zl"})
    assert "/registry/export/residents.xlsx?q=zl&amp;status=" in response.content.decode()


def test_household_list_keyset_pages(client, tree, people, tags, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    households = fill(tree, tags, 5, people.worker1)
    login(client, people.worker1)
    url = reverse("registry:household_list")
    seen = []
    response = client.get(url)
    while True:
        page = response.context["page"]
        seen += [h.pk for h in page.rows]
        if not page.next_token:
            break
        assert "下一页" in response.content.decode()
        response = client.get(url, {"after": page.next_token})
    expected = [h.pk for h in sorted(households, key=lambda h: (h.address_key, h.pk))]
    assert seen == expected


def test_resident_search_pages_through_every_part_of_the_union(client, tree, people, make_household, monkeypatch,
                                                              django_assert_max_num_queries):
    """A 4-digit search matches ID tails, phone tails and addresses; the page takes its keys from
    each part and then reads only its rows, in (household, person) order, page after page."""
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    number = next(n for n in (make_id_number("19700101", seq=s) for s in range(101, 200, 2)) if n[-1].isdigit())
    tail = number[-4:]
    phone = "1390000" + tail
    mine = []
    for i, dwelling in enumerate(tree.dwellings[:4]):
        household = make_household(dwelling, [(f"张{i}", {}), (f"李{i}", {"phone": phone})])
        mine += list(household.members.order_by("id"))
    mine[0] = reg.resident_update(actor=None, resident=mine[0], version=mine[0].version, id_number=number)
    make_household(tree.dwellings[-1], [("王外", {"phone": phone})])  # grid 2: not worker1's
    matching = [r for r in mine if r.id_tail == tail or r.name.startswith("李")]
    assert len(matching) == 5
    login(client, people.worker1)
    client.get(reverse("home"))  # warm the session
    url = reverse("registry:resident_list")
    seen, after = [], None
    while True:
        # session, user (with grants and pairings); the keys, the rows with their tags; the
        # filter's choices (tags, areas)
        with django_assert_max_num_queries(6):
            response = client.get(url, {"q": tail, **({"after": after} if after else {})})
        page = response.context["page"]
        seen += [r.pk for r in page.rows]
        after = page.next_token
        if not after:
            break
    assert seen == [r.pk for r in sorted(matching, key=lambda r: (r.household_id, r.pk))]
    # The live search swaps only the results: no filter choices to read.
    with django_assert_max_num_queries(4):
        response = client.get(url, {"q": tail}, **HTMX)
    assert [r.pk for r in response.context["page"].rows] == seen[:2]
    assert 'class="wz-rs-address"' in response.content.decode()


def test_a_page_reads_its_rows_after_its_keys_and_drops_a_row_that_moved_between(tree, tags, make_household):
    """The resident list takes a page's keys, then its rows with their addresses and tags in one
    statement (selectors.resident_rows). A person whose household changed between the two reads
    may have left the scope the keys were read in: not shown."""
    from wuzhi.core.pagination import keyset_page

    first = make_household(tree.dwellings[0], [("张一", {}), ("张二", {})])
    second = make_household(tree.dwellings[1], [("李一", {})])
    one, two = first.members.order_by("id")
    reg.set_resident_tags(actor=None, resident=two, tags=[tags["party"], tags["alone"]])
    rows = selectors.resident_rows([one.pk, two.pk, second.head_id])
    assert rows[two.pk].address == first.address and rows[second.head_id].address == second.address
    assert [t.name for t in rows[two.pk].tag_list] == [t.name for t in sorted(
        [tags["party"], tags["alone"]], key=lambda t: (t.sort, t.name))]
    assert rows[one.pk].tag_list == [] and rows[one.pk].id_number_masked == one.id_number_masked

    def moving_load(pks):
        Resident.objects.filter(pk=two.pk).update(household=second)  # a colleague's move, in between
        return selectors.resident_rows(pks)

    page = keyset_page(Resident.objects.all(), ["household_id", "id"], None, 10, load=moving_load)
    assert [r.pk for r in page.rows] == [one.pk, second.head_id]


def test_never_visited_household_is_red(client, people, zhang):
    response = login(client, people.worker1).get(reverse("registry:household_list"))
    [row] = response.context["page"].rows
    assert row.overdue and row.member_count == 2
    assert "从未走访" in response.content.decode()


def test_household_list_row_shows_members_badges_and_overdue_once(client, tree, people, zhang, tags):
    """Each household is one row (a card on phones through CSS, not a second copy); its badges are
    the household's own tags and its present members' tags, each once, in tag order; a member who
    moved out counts neither in the size nor in the badges nor in the due date."""
    reg.household_update(actor=None, household=zhang, version=zhang.version, tags=[tags["low_income"]])
    wife = zhang.members.get(name="夏红燕")
    reg.set_resident_tags(actor=None, resident=wife, tags=[tags["alone"], tags["party"]])
    moved = reg.resident_create(actor=None, household=zhang, name="张小", id_number=make_id_number("20100101"),
                                relation="子", tags=[tags["left_behind"]])
    reg.resident_update(actor=None, resident=moved, version=moved.version, status="迁出")
    reg.visit_record(actor=people.worker1, household=zhang, findings="走访", residents=[zhang.head])
    Household.objects.filter(pk=zhang.pk).update(last_visited_at=timezone.now() - dt.timedelta(days=40))

    response = login(client, people.worker1).get(reverse("registry:household_list"))
    [row] = response.context["page"].rows
    assert row.member_count == 2
    assert [t.name for t in row.badges] == sorted(["独居老人", "党员", "低保户"])  # all sort 0: by name
    assert row.overdue  # 独居老人 is due every 30 days; the last visit was 40 days ago
    html = response.content.decode()
    assert html.count(f'href="/registry/households/{zhang.pk}/"') == 1
    assert html.count("独居老人") == 1 + html.count(f'<option value="{tags["alone"].pk}">独居老人')
    assert "留守儿童</span>" not in html
    assert "2人" in html and zhang.number in html

    tags["alone"].visit_interval_days = 60
    tags["alone"].save()
    assert not client.get(reverse("registry:household_list")).context["page"].rows[0].overdue


def test_filter_choices_are_read_without_a_server_side_cursor(client, tree, people, zhang, tags, monkeypatch):
    """QuerySet.iterator() opens a server-side cursor on PostgreSQL, planned for the first rows:
    over a city's areas that took tens of milliseconds for a grid's three rows. The filters'
    <select>s read their rows with an ordinary query."""
    from django.db import connection

    def refuse(*args, **kwargs):
        raise AssertionError("a choice field read its rows through QuerySet.iterator()")

    monkeypatch.setattr(connection, "chunked_cursor", refuse)
    login(client, people.worker1)
    for url in (reverse("registry:household_list"), reverse("registry:resident_list")):
        response = client.get(url, {"area": tree.buildings[0].pk, "tag": tags["alone"].pk})
        assert response.status_code == 200
        html = response.content.decode()
        assert f'<option value="{tree.buildings[0].pk}" selected>' in html
        assert tree.grids[1].short_name not in html  # grid 2 is outside worker1's scope


# ---- bounded queries ---------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 15])
def test_list_pages_run_a_bounded_number_of_queries(client, tree, people, tags, n, django_assert_max_num_queries):
    households = fill(tree, tags, n, people.worker1)
    login(client, people.worker1)
    pages = {
        # the session, then the user with their grants and whether they have pairings (one
        # statement: core.sessions), then the page's own queries
        reverse("registry:household_list"): 7,
        reverse("registry:household_list") + "?q=wd&tag=" + str(tags["party"].pk): 9,
        # the page's keys, then its rows with their addresses and tags; the filter's choices
        reverse("registry:resident_list"): 6,
        reverse("registry:resident_list") + "?q=wd&tag=" + str(tags["party"].pk): 8,
        reverse("registry:visit_list"): 5,
        reverse("registry:overdue"): 5,
        reverse("registry:building", args=[tree.buildings[0].pk]): 9,  # + its honours (one query)
        reverse("home"): 13,  # + the tag tree, for parent tags that count their sub-tags
    }
    client.get(reverse("home"))  # warm the session
    responses = {}
    for url, bound in pages.items():
        with django_assert_max_num_queries(bound):
            responses[url] = client.get(url)
        assert responses[url].status_code == 200
    if n == 15:
        assert len(responses[reverse("registry:household_list")].context["page"].rows) == 15
        assert len(responses[reverse("registry:visit_list")].context["page"].rows) == 15
    # Shown again unchanged, a cached page costs what identifying the user costs, whatever n is
    # (searches are not kept: each is typed once).
    for url in (reverse("registry:household_list"), reverse("registry:resident_list")):
        with django_assert_max_num_queries(2):
            assert client.get(url).content == responses[url].content
    assert households


@pytest.mark.parametrize("n", [3, 15])
def test_household_detail_queries_do_not_grow_with_members_and_visits(client, tree, people, tags, n,
                                                                       django_assert_max_num_queries):
    household = reg.household_create(actor=None, dwelling=tree.dwellings[0])
    for i in range(n):
        resident = reg.resident_create(actor=None, household=household, name=f"成员{i}", id_number=make_id_number(),
                                       relation="户主" if i == 0 else "子", tags=[tags["party"]])
        reg.resident_update(actor=None, resident=resident, version=resident.version, note=f"第{i}次修改")
        reg.visit_record(actor=people.worker1, household=household, findings=f"第{i}次走访", residents=[resident])
    login(client, people.worker1)
    client.get(reverse("home"))
    with django_assert_max_num_queries(13):  # + the household's honours (one query)
        response = client.get(reverse("registry:household_detail", args=[household.pk]))
    assert response.status_code == 200
    assert len(response.context["members"]) == n and len(response.context["visits"]) == n


# ---- household detail, reveal, edit -------------------------------------------------------


def test_household_detail_shows_members_visits_and_history(client, people, zhang):
    reg.household_update(actor=people.worker1, household=zhang, version=zhang.version, relocation_batch="第三批")
    reg.visit_record(actor=people.worker1, household=zhang, findings="老人身体不错", residents=[zhang.head])
    html = login(client, people.worker1).get(reverse("registry:household_detail", args=[zhang.pk])).content.decode()
    assert "张黎" in html and "夏红燕" in html
    assert "1950****" not in html  # ID numbers are masked …
    assert zhang.head.id_number_masked in html
    assert "139****5678" in html
    assert "老人身体不错" in html and "王网格" in html
    assert "搬迁批次" in html and "第三批" in html  # … and the change history reads field: old → new
    for button in ("编辑户信息", "添加成员", "记录走访", "显示完整号码"):
        assert button in html
    # Links and reveal targets are built once per page, so check they still point at each member.
    head = zhang.head
    assert f'href="{reverse("registry:resident_detail", args=[head.pk])}"' in html
    assert f'hx-post="{reverse("registry:reveal", args=[head.pk, "id_number"])}"' in html
    assert f'hx-post="{reverse("registry:reveal", args=[head.pk, "phone"])}"' in html
    assert "<dt>户主</dt><dd>张黎</dd>" in html


def test_reveal_logs_an_access_row(client, people, zhang):
    resident = zhang.head
    login(client, people.worker1)
    response = client.post(reverse("registry:reveal", args=[resident.pk, "phone"]), HTTP_HX_REQUEST="true",
                           REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 200
    assert "13912345678" in response.content.decode()
    log = AccessLog.objects.get()
    assert log.actor == people.worker1 and log.field == "phone" and log.object_id == str(resident.pk)
    assert log.ip == "10.0.0.8"
    response = client.post(reverse("registry:reveal", args=[resident.pk, "id_number"]))
    assert response.status_code == 200 and resident.id_number_masked[-4:] in response.content.decode()
    assert "*" not in response.content.decode().split(">", 1)[1]
    assert client.get(reverse("registry:reveal", args=[resident.pk, "phone"])).status_code == 405
    assert client.post(reverse("registry:reveal", args=[resident.pk, "password"])).status_code == 404


def test_reveal_refused_for_county_cadre(client, people, zhang):
    response = login(client, people.county).post(reverse("registry:reveal", args=[zhang.head_id, "id_number"]))
    assert response.status_code == 403
    assert "13912345678" not in response.content.decode()
    assert not AccessLog.objects.exists()


def _household_post(household, **changes):
    data = {"version": household.version, "status": household.status, "head": household.head_id,
            "relocation_batch": household.relocation_batch, "note": household.note}
    data.update(changes)
    return data


def test_household_edit_saves_through_the_service(client, people, zhang, tags):
    login(client, people.worker1)
    response = client.post(reverse("registry:household_edit", args=[zhang.pk]),
                           _household_post(zhang, relocation_batch="第二批", moved_in_on="2019-06-01",
                                           tags=[tags["low_income"].pk]))
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.relocation_batch == "第二批" and zhang.moved_in_on == dt.date(2019, 6, 1)
    assert list(zhang.tags.all()) == [tags["low_income"]]
    assert zhang.version == 2


def test_concurrent_edit_is_refused_with_the_message_and_keeps_input(client, people, zhang):
    login(client, people.worker1)
    form = client.get(reverse("registry:household_edit", args=[zhang.pk])).context["form"]
    stale_version = form.initial["version"]
    # Someone else saves first.
    reg.household_update(actor=people.secretary, household=Household.objects.get(pk=zhang.pk),
                         version=stale_version, note="书记先改了")
    response = client.post(reverse("registry:household_edit", args=[zhang.pk]),
                           _household_post(zhang, version=stale_version, note="我的修改"))
    html = response.content.decode()
    assert response.status_code == 400
    assert "已被其他人修改" in html
    assert "我的修改" in html  # the user's input is still in the form
    zhang.refresh_from_db()
    assert zhang.note == "书记先改了"


def test_resident_concurrent_edit_refused(client, people, zhang):
    resident = zhang.head
    login(client, people.worker1)
    reg.resident_update(actor=None, resident=Resident.objects.get(pk=resident.pk), version=resident.version,
                        note="别人改的")
    response = client.post(reverse("registry:resident_edit", args=[resident.pk]), {
        "version": resident.version, "name": "张黎", "relation": "户主", "ethnicity": "汉族", "political": "群众",
        "health": "健康", "residence": "户在人在", "status": "在住", "note": "我改的"})
    assert response.status_code == 400 and "已被其他人修改" in response.content.decode()


# ---- residents ---------------------------------------------------------------------------


RESIDENT_BASE = {"relation": "子", "ethnicity": "汉族", "political": "群众", "health": "健康",
                 "residence": "户在人在", "status": "在住"}


def test_resident_create_shows_service_errors_at_the_field(client, people, zhang, tags):
    login(client, people.worker1)
    url = reverse("registry:resident_create", args=[zhang.pk])
    response = client.post(url, {**RESIDENT_BASE, "name": "张小黎", "id_number": "530626200001011234"})
    assert response.status_code == 400
    form = response.context["form"]
    assert "校验位" in form.errors["id_number"][0]
    # A duplicate ID number names the person who already has it.
    response = client.post(url, {**RESIDENT_BASE, "name": "张小黎", "id_number": _id_of(zhang.head)})
    assert "该身份证号已登记:张黎" in response.context["form"].errors["id_number"][0]
    response = client.post(url, {**RESIDENT_BASE, "name": "张小黎", "id_number": make_id_number("20100101"),
                                 "phone": "12345", "tags": [tags["left_behind"].pk]})
    assert "phone" in response.context["form"].errors
    response = client.post(url, {**RESIDENT_BASE, "name": "张小黎", "id_number": make_id_number("20100101"),
                                 "phone": "13800001111", "tags": [tags["left_behind"].pk]})
    assert response.status_code == 302
    child = Resident.objects.get(name="张小黎")
    assert child.household == zhang and child.phone_masked == "138****1111"
    assert list(child.tags.all()) == [tags["left_behind"]]


def _id_of(resident):
    from wuzhi.core import crypto

    return crypto.decrypt(resident.id_number_enc)


def test_resident_edit_blank_sensitive_fields_keep_their_values(client, people, zhang):
    resident = zhang.head
    login(client, people.worker1)
    url = reverse("registry:resident_edit", args=[resident.pk])
    html = client.get(url).content.decode()
    assert f'placeholder="{resident.id_number_masked}"' in html and 'placeholder="139****5678"' in html
    response = client.post(url, {**RESIDENT_BASE, "relation": "户主", "version": resident.version, "name": "张黎",
                                 "id_number": "", "phone": "", "education": "小学"})
    assert response.status_code == 302
    resident.refresh_from_db()
    assert resident.phone_masked == "139****5678" and resident.education == "小学"
    response = client.post(url, {**RESIDENT_BASE, "relation": "户主", "version": resident.version, "name": "张黎",
                                 "phone": "13700002222"})
    resident.refresh_from_db()
    assert resident.phone_masked == "137****2222"
    client.post(url, {**RESIDENT_BASE, "relation": "户主", "version": resident.version, "name": "张黎",
                      "clear_phone": "on"})
    resident.refresh_from_db()
    assert resident.phone_masked == ""


def test_resident_detail(client, people, zhang):
    html = login(client, people.worker1).get(reverse("registry:resident_detail", args=[zhang.head_id])).content.decode()
    assert "张黎" in html and "独居老人" in html and "1栋1单元101室" in html


def test_household_create_from_the_building_grid(client, tree, people):
    login(client, people.worker1)
    dwelling = tree.dwellings[3]
    url = reverse("registry:household_create")
    response = client.get(url, {"dwelling": dwelling.pk})
    assert response.status_code == 200 and response.context["building"] == tree.buildings[0]
    response = client.post(url, {"building": tree.buildings[0].pk, "dwelling": dwelling.pk,
                                 "origin_county": "大关县", "relocation_batch": "第一批"})
    household = Household.objects.get(dwelling=dwelling)
    assert response.status_code == 302 and response["Location"] == reverse("registry:resident_create", args=[household.pk])
    assert household.origin_county == "大关县"
    # A dwelling of another grid cannot be chosen.
    response = client.get(url, {"dwelling": tree.dwellings[9].pk})
    assert response.status_code == 404


# ---- visits ------------------------------------------------------------------------------


def test_visit_form_records_a_visit(client, people, zhang):
    login(client, people.worker1)
    url = reverse("registry:visit_create", args=[zhang.pk])
    form = client.get(url).context["form"]
    assert form.initial["visited_at"].date() == timezone.localdate()
    when = timezone.localtime() - dt.timedelta(hours=1)
    response = client.post(url, {
        "findings": "老人血压偏高,已提醒按时吃药", "residents": [zhang.head_id], "follow_up_needed": "on",
        "follow_up_note": "下周陪同去卫生院", "visited_at": when.strftime("%Y-%m-%dT%H:%M"), "kind": "入户走访",
        "co_visitors": [people.secretary.pk],
    })
    assert response.status_code == 302 and response["Location"].endswith("#visits")
    visit = Visit.objects.get()
    assert visit.follow_up_needed and visit.follow_up_note == "下周陪同去卫生院"
    assert set(visit.visitors.all()) == {people.worker1, people.secretary}
    assert list(visit.residents.all()) == [zhang.head]
    zhang.refresh_from_db()
    assert zhang.last_visited_at == visit.visited_at
    assert timezone.localtime(visit.visited_at).strftime("%H:%M") == when.strftime("%H:%M")
    html = client.get(response["Location"]).content.decode()
    assert "老人血压偏高" in html and "走访已记录" in html


def test_visit_form_shows_service_errors(client, people, zhang):
    login(client, people.worker1)
    url = reverse("registry:visit_create", args=[zhang.pk])
    now = timezone.localtime()
    response = client.post(url, {"findings": "看望", "follow_up_needed": "on", "kind": "入户走访",
                                 "visited_at": now.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 400
    assert "需要跟进时请写明跟进事项" in response.context["form"].errors["follow_up_note"][0]
    response = client.post(url, {"findings": "看望", "kind": "入户走访",
                                 "visited_at": (now + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    assert "走访时间不能晚于现在" in response.context["form"].errors["visited_at"][0]
    assert not Visit.objects.exists()


def test_overdue_list_and_visit_list(client, tree, people, zhang, tags):
    login(client, people.worker1)
    response = client.get(reverse("registry:overdue"))
    assert [r.name for r in response.context["page"].rows] == ["张黎"]
    assert "从未走访" in response.content.decode()
    reg.visit_record(actor=people.worker1, household=zhang, findings="按时走访", follow_up_needed=True,
                     follow_up_note="送米")
    assert client.get(reverse("registry:overdue")).context["page"].rows == []
    html = client.get(reverse("registry:visit_list")).content.decode()
    assert "按时走访" in html and "送米" in html
    assert len(client.get(reverse("registry:visit_list"), {"follow_up": "1"}).context["page"].rows) == 1


# ---- building grid -----------------------------------------------------------------------


def test_building_grid_colours(client, tree, people, zhang, make_household):
    rented = reg.dwelling_create(actor=None, unit=tree.units[1], floor=2, number="203", occupancy="出租")
    make_household(rented, [("租客", {})])
    response = login(client, people.worker1).get(reverse("registry:building", args=[tree.buildings[0].pk]))
    html = response.content.decode()
    cells = {cell["dwelling"].pk: cell["css"] for column in response.context["grid"]["units"]
             for _floor, row in column["floors"] for cell in row}
    assert cells[zhang.dwelling_id] == "wz-cell-care"
    assert cells[rented.pk] == "wz-cell-rented"
    assert cells[tree.dwellings[2].pk] == "wz-cell-empty"
    assert reverse("registry:household_detail", args=[zhang.pk]) in html
    # Empty dwellings offer to register a household; floors are listed top first.
    assert reverse("registry:household_create") + f"?dwelling={tree.dwellings[2].pk}" in html
    assert response.context["grid"]["floors"] == [2, 1]
    assert response.context["stats"] == {"dwellings": 9, "households": 2, "care": 1, "rented": 1}


def test_resident_rows_escape_every_value():
    """The resident list's rows are made in Python (views._RESIDENT_ROW), not by the template
    language: every value must still be escaped, attributes included."""
    from types import SimpleNamespace

    evil = '<img src=x onerror="alert(1)">'
    row = SimpleNamespace(pk=7, household_id=3, name=evil, status="迁出", sex="女", relation=evil,
                          birth_date=dt.date(1990, 1, 1), address=evil, id_number_masked=evil, phone_masked="",
                          tag_list=[Tag(name=evil, color='x" onmouseover="y')])
    html = views._resident_rows_html([row])
    assert "<img" not in html and 'onmouseover="' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 5  # name, relation, address, ID, tag
    assert 'href="/registry/residents/7/"' in html and 'href="/registry/households/3/"' in html
    assert "—" in html and "badge text-bg-secondary" in html  # no phone; not present: a status badge
