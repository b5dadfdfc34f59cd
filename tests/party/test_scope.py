"""The relation rules of wuzhi/party/scope.py: a pairing lets its helper see and visit a household
wherever it lives, through every door (the chokepoint, the registry pages, the API), and nothing
more: no editing, no revealing, no access once the pairing has ended. Area grants are untouched:
a grid worker still sees only their grid."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.api import client_for, ids
from wuzhi.core.errors import NotAllowed
from wuzhi.party import services
from wuzhi.party.models import Branch, PartyMember
from wuzhi.registry import services as reg
from wuzhi.registry.models import Household, Resident, Visit


def fresh(user):
    """The relation rule caches the paired households on the user object, per request; a new
    object is what the next request would see."""
    return get_user_model().objects.get(pk=user.pk)


def visible(model, user, action="view") -> set[int]:
    return set(model.objects.visible_to(fresh(user), action).values_list("pk", flat=True))


def test_party_member_sees_their_paired_household_in_another_grid(client, org):
    user = org.member_user
    assert visible(Household, user) == {org.h3.pk}
    assert visible(Resident, user) == set(org.h3.members.values_list("pk", flat=True))
    assert visible(Household, user, "change") == set() and visible(Household, user, "reveal") == set()

    client.force_login(user)
    assert client.get(reverse("registry:household_detail", args=[org.h3.pk])).status_code == 200
    assert client.get(reverse("registry:resident_detail", args=[org.h3.head_id])).status_code == 200
    assert client.get(reverse("registry:household_detail", args=[org.h4.pk])).status_code == 404
    assert {h.pk for h in client.get(reverse("registry:household_list")).context["page"].rows} == {org.h3.pk}
    assert ids(client_for(user).get("/api/households/")) == {org.h3.pk}


def test_party_member_records_a_visit_but_cannot_edit_or_reveal(client, org):
    user = fresh(org.member_user)
    visit = reg.visit_record(actor=user, household=org.h3, findings="了解就业需求")
    assert visit.household_id == org.h3.pk
    response = client_for(org.member_user).post("/api/visits/", {"household": org.h3.pk, "findings": "电话回访",
                                                                 "kind": "电话联系"}, format="json")
    assert response.status_code == 201, response.content
    assert Visit.objects.filter(household=org.h3).count() == 2

    with pytest.raises(NotAllowed):
        reg.household_update(actor=fresh(user), household=org.h3, version=org.h3.version, note="改")
    with pytest.raises(NotAllowed):
        reg.reveal(actor=fresh(user), resident=org.h3.head, field="id_number")
    client.force_login(user)
    assert client.get(reverse("registry:household_edit", args=[org.h3.pk])).status_code == 403
    assert client.post(reverse("registry:reveal", args=[org.h3.head_id, "id_number"])).status_code == 403
    assert client_for(org.member_user).post(f"/api/residents/{org.h3.head_id}/reveal/",
                                            {"field": "id_number"}, format="json").status_code == 403


def test_department_cadre_sees_every_household_paired_with_their_department(org):
    # 邓永刚 himself is paired with nobody; his colleague 孙丽萍 serves h1.
    assert visible(Household, org.cadre_user) == {org.h1.pk}
    services.pairing_create(actor=None, household=org.h4, cadre=org.deng)
    assert visible(Household, org.cadre_user) == {org.h1.pk, org.h4.pk}
    # A party member's pairing is not the department's.
    assert org.h3.pk not in visible(Household, org.cadre_user)


def test_branch_secretary_sees_their_branch_and_its_members(org, make_user):
    user = make_user("zhibushuji", name="支部书记")
    secretary = services.member_create(actor=None, branch=org.b2, name="支部书记", user=user)
    services.branch_set_secretary(actor=None, branch=org.b2, member=secretary)
    assert visible(Branch, user) == {org.b2.pk}
    assert visible(PartyMember, user) == {org.chen.pk, secretary.pk}
    assert visible(PartyMember, user, "change") == set()
    # Members of another branch stay hidden, and so do the households (no pairing of her own).
    assert org.ma.pk not in visible(PartyMember, user) and visible(Household, user) == set()


def test_grid_worker_still_cannot_see_the_other_grids_households(tree, people, org):
    assert visible(Household, people.worker1) == {org.h1.pk, org.h2.pk}
    assert org.h4.pk not in visible(Household, people.worker1)  # grid 2, no helper
    assert org.h3.pk not in visible(Household, people.worker1)  # grid 2, paired with someone else


def test_an_ended_pairing_gives_no_access(client, people, org):
    services.pairing_end(actor=people.secretary, pairing=org.p_ma, reason="换人联系")
    assert visible(Household, org.member_user) == set()
    assert visible(Resident, org.member_user) == set()
    with pytest.raises(NotAllowed):
        reg.visit_record(actor=fresh(org.member_user), household=org.h3, findings="再来看看")
    client.force_login(org.member_user)
    assert client.get(reverse("registry:household_detail", args=[org.h3.pk])).status_code == 404
    assert ids(client_for(org.member_user).get("/api/households/")) == set()


def test_party_member_sees_only_their_own_pairings_on_the_coverage_page(client, org):
    client.force_login(org.member_user)
    response = client.get(reverse("party:coverage"))
    assert response.status_code == 200
    assert response.context["stats"]["households"] == 1 and response.context["stats"]["uncovered"] == 0
    assert [r["name"] for r in response.context["load"]] == ["马建林"]
    assert not response.context["may_assign"]


def test_the_signed_in_users_statement_tells_who_has_pairings(people, org, django_assert_num_queries):
    """core.sessions loads the user with a test of party.scope: whoever has no open pairing
    (nearly everyone) costs no pairing query; whoever has one gets their households when asked."""
    from wuzhi.core.sessions import UserBackend
    from wuzhi.party.scope import paired_household_ids

    backend = UserBackend()
    worker = backend.get_user(people.worker1.pk)
    with django_assert_num_queries(0):
        assert paired_household_ids(worker) == []
    member, cadre = backend.get_user(org.member_user.pk), backend.get_user(org.cadre_user.pk)
    with django_assert_num_queries(2):
        assert paired_household_ids(member) == [org.h3.pk]
        assert paired_household_ids(cadre) == [org.h1.pk]  # his department's, through a colleague
    services.pairing_end(actor=people.secretary, pairing=org.p_ma, reason="换人联系")
    member = backend.get_user(org.member_user.pk)
    with django_assert_num_queries(0):
        assert paired_household_ids(member) == []
    services.pairing_create(actor=None, household=org.h4, cadre=org.deng)
    assert paired_household_ids(backend.get_user(org.cadre_user.pk)) == [org.h1.pk, org.h4.pk]
