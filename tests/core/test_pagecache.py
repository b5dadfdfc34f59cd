"""The page cache (wuzhi.core.pagecache): a page is served again unchanged exactly while nothing in
its areas has changed, never to another session, never to a user who sees beyond their areas, and
a failing cache only costs speed."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.conftest import make_id_number
from wuzhi.core import pagecache
from wuzhi.core import services as core_services
from wuzhi.party import services as party
from wuzhi.registry import services as reg

LIST = "/registry/households/"
# A page served from the cache reads only who is asking: session, user, grants, pairings.
HIT_QUERIES = 4


def signed_in(user) -> Client:
    # The fixtures' writes never commit inside a test's transaction: move their areas' versions
    # now, as their commit would have, so that only what a test does later counts.
    pagecache._flush(transaction.get_connection())
    client = Client()
    client.force_login(user)
    client.get(reverse("home"))  # the CSRF cookie, as a browser has it after its first page
    return client


def get(client: Client, url: str):
    response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.fixture
def home(tree, make_household):
    return make_household(tree.dwellings[0], [("张黎", {})])


def served_from_cache(client: Client, url: str, capture) -> bool:
    with capture() as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries) <= HIT_QUERIES


@pytest.fixture
def capture():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    return lambda: CaptureQueriesContext(connection)


def test_prefixes():
    assert pagecache.prefixes("/530626/100/") == ["/", "/530626/", "/530626/100/"]
    assert pagecache.prefixes("") == ["/"]


def test_a_page_is_reused_until_a_change_in_its_grid(people, home, tree, capture, django_capture_on_commit_callbacks):
    client = signed_in(people.worker1)
    first = get(client, LIST)
    assert served_from_cache(client, LIST, capture)
    assert client.get(LIST).content == first.content

    with django_capture_on_commit_callbacks(execute=True):
        reg.resident_create(actor=people.worker1, household=home, name="张小明",
                            id_number=make_id_number("20100101", male=False),
                            relation="子")
    assert not served_from_cache(client, LIST, capture)
    detail = reverse("registry:household_detail", args=[home.pk])
    assert "张小明" in get(client, detail).content.decode()


def test_a_change_in_another_grid_keeps_the_page(people, home, tree, make_household, capture,
                                                   django_capture_on_commit_callbacks):
    client = signed_in(people.worker1)
    get(client, LIST)
    with django_capture_on_commit_callbacks(execute=True):
        make_household(tree.dwellings[-1], [("赵六", {})])  # grid 2
    assert served_from_cache(client, LIST, capture)
    # … while the secretary, whose community holds both grids, sees it at once.
    secretary = signed_in(people.secretary)
    get(secretary, LIST)
    with django_capture_on_commit_callbacks(execute=True):
        make_household(tree.dwellings[-2], [("钱七", {})])
    assert "钱七" in get(secretary, LIST).content.decode()


def test_renaming_an_area_above_refreshes_the_pages_below(people, home, tree, capture,
                                                          django_capture_on_commit_callbacks):
    client = signed_in(people.worker1)
    get(client, LIST)
    with django_capture_on_commit_callbacks(execute=True):
        core_services.area_update(actor=None, area=tree.community, name="福兴新社区", sort=0, floors=None)
    assert not served_from_cache(client, LIST, capture)


def test_a_household_moving_out_leaves_the_old_grids_page(people, home, tree, django_capture_on_commit_callbacks):
    client = signed_in(people.worker1)
    assert "张黎" in get(client, LIST).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reg.household_update(actor=None, household=home, version=home.version, dwelling=tree.dwellings[-1])
    assert "张黎" not in get(client, LIST).content.decode()


def versions(roots: list[str]) -> list[str]:
    """The current versions of the areas at `roots`, as a page lookup reads them."""
    return pagecache._lookup(pagecache._version_keys(roots))[0]


@pytest.mark.django_db(transaction=True)
def test_versions_move_when_the_transaction_commits_and_not_on_rollback(tree):
    path = tree.grids[0].path
    before = versions([path])
    with pytest.raises(RuntimeError), transaction.atomic():
        pagecache.changed([path + "01/"])
        raise RuntimeError
    assert versions([path]) == before
    with transaction.atomic():
        pagecache.changed([path + "01/"])
        assert versions([path]) == before  # not before the commit
    after = versions([path])
    assert after != before
    assert versions([tree.grids[1].path]) == versions([tree.grids[1].path])


def test_sessions_never_share_a_page(people, home, capture):
    one, two = signed_in(people.worker1), signed_in(people.worker1)
    first = get(one, LIST)
    assert not served_from_cache(two, LIST, capture)
    assert get(two, LIST).content != first.content  # each carries its own CSRF token


def test_a_user_with_paired_households_is_not_served_from_the_cache(people, home, tree, make_user, capture):
    member_user = make_user("dangyuan")
    branch = party.branch_create(actor=None, area=tree.community, name="第一网格党支部")
    member = party.member_create(actor=None, branch=branch, name="党员甲", user=member_user)
    party.pairing_create(actor=None, household=home, member=member)
    client = signed_in(member_user)
    assert "张黎" in get(client, LIST).content.decode()
    assert not served_from_cache(client, LIST, capture)


def test_a_page_with_a_message_is_not_kept(people, home, django_capture_on_commit_callbacks):
    client = signed_in(people.worker1)
    detail = reverse("registry:household_detail", args=[home.pk])
    get(client, detail)
    with django_capture_on_commit_callbacks(execute=True):
        shown = client.post(reverse("registry:visit_create", args=[home.pk]), {
            "findings": "老人身体好", "visited_at": "2026-11-20T10:00", "kind": "入户走访"}, follow=True)
    assert "走访已记录" in shown.content.decode() and "老人身体好" in shown.content.decode()
    again = get(client, detail).content.decode()
    assert "老人身体好" in again and "走访已记录" not in again


def test_the_page_is_served_when_the_cache_is_down(people, home, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}  # nothing listens on port 9
    client = Client()
    client.force_login(people.worker1)
    assert "张黎" in get(client, LIST).content.decode()
    assert "张黎" in get(client, LIST).content.decode()


def test_turned_off(people, home, settings, capture):
    settings.WUZHI_PAGE_CACHE_SECONDS = 0
    client = signed_in(people.worker1)
    get(client, LIST)
    assert not served_from_cache(client, LIST, capture)
