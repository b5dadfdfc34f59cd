"""三联系 coverage: a household without a helper is listed until someone is assigned; ending a
pairing puts it back; a household or member that moves keeps the pairing but flags it until a
person confirms; the coverage page does it all through the services, read-only for county
cadres, in a bounded number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from wuzhi.core.errors import NotAllowed
from wuzhi.party import selectors, services
from wuzhi.party.models import Pairing
from wuzhi.registry import services as reg
from wuzhi.registry.models import Household

COVERAGE = reverse("party:coverage")


def uncovered(user) -> set[int]:
    return set(selectors.households_without_helper(Household.objects.visible_to(user)).values_list("pk", flat=True))


def label(member) -> str:
    return f"{member.name}({member.branch.name})"


# ---- the selector and the services ---------------------------------------------------------


def test_household_without_helper_is_listed_until_a_helper_is_assigned(people, org):
    assert uncovered(people.secretary) == {org.h2.pk, org.h4.pk}
    services.pairing_create(actor=people.secretary, household=org.h2, member=org.chen)
    assert uncovered(people.secretary) == {org.h4.pk}


def test_ending_a_pairing_puts_the_household_back(people, org):
    services.pairing_end(actor=people.secretary, pairing=org.p_ma, reason="党员外出务工")
    assert uncovered(people.secretary) == {org.h2.pk, org.h3.pk, org.h4.pk}
    org.p_ma.refresh_from_db()
    assert org.p_ma.ended_on == timezone.localdate()  # kept as history, never deleted


def test_a_household_that_moved_out_is_not_counted(people, org):
    reg.household_update(actor=None, household=org.h4, version=org.h4.version, status="迁出")
    assert uncovered(people.secretary) == {org.h2.pk}


def test_moving_a_household_keeps_its_pairing_but_flags_it(tree, people, org):
    target = tree.dwellings[3]  # grid 1, 1栋1单元202
    reg.household_update(actor=people.secretary, household=org.h3, version=org.h3.version, dwelling=target)
    pairing = Pairing.objects.get(pk=org.p_ma.pk)
    assert pairing.ended_on is None
    assert "请确认" in pairing.flag and pairing.area_path == target.area_path
    assert org.h3.pk not in uncovered(people.secretary)

    services.pairing_confirm(actor=people.secretary, pairing=pairing)
    pairing.refresh_from_db()
    assert pairing.flag == "" and pairing.ended_on is None


def test_member_move_flags_their_pairings(people, org):
    services.member_move(actor=people.secretary, member=org.ma, branch=org.b2)
    pairing = Pairing.objects.get(pk=org.p_ma.pk)
    assert org.b2.name in pairing.flag and pairing.ended_on is None
    # Other helpers' pairings are untouched.
    assert Pairing.objects.get(pk=org.p_sun.pk).flag == ""


def test_services_refuse_a_read_only_cadre(people, org):
    with pytest.raises(NotAllowed):
        services.pairing_create(actor=people.county, household=org.h2, member=org.chen)
    with pytest.raises(NotAllowed):
        services.pairing_confirm(actor=people.county, pairing=org.p_ma)


def test_helpers_of_a_household_with_last_contact(people, org):
    visit = reg.visit_record(actor=org.member_user, household=org.h3, findings="家中一切正常")
    services.pairing_create(actor=None, household=org.h3, cadre=org.sun)
    helpers = selectors.helpers_of(org.h3)
    assert [p.helper.name for p in helpers] == ["马建林", "孙丽萍"]
    # 马建林 logs in: his own visit counts. 孙丽萍 has no login: the household's last visit counts.
    assert helpers[0].last_contact == visit.visited_at
    assert helpers[1].last_contact == visit.visited_at
    assert selectors.helpers_of(org.h2) == []


def test_overdue_pairings_follow_the_helpers_own_visits(people, org):
    long_ago = timezone.now() - dt.timedelta(days=selectors.CONTACT_INTERVAL_DAYS + 10)
    # Somebody else's recent visit does not count for 马建林, who can log his own.
    reg.visit_record(actor=people.worker2, household=org.h3, findings="网格员走访")
    overdue = selectors.overdue_pairings(selectors.active_pairings())
    assert org.p_ma in overdue
    reg.visit_record(actor=org.member_user, household=org.h3, findings="党员走访", visited_at=long_ago)
    assert org.p_ma in selectors.overdue_pairings(selectors.active_pairings())
    reg.visit_record(actor=org.member_user, household=org.h3, findings="党员走访")
    assert org.p_ma not in selectors.overdue_pairings(selectors.active_pairings())


# ---- the page ------------------------------------------------------------------------------


def test_page_lists_the_uncovered_and_assigning_removes_one(client, people, org):
    client.force_login(people.secretary)
    response = client.get(COVERAGE)
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats["households"] == 4 and stats["uncovered"] == 2 and stats["covered"] == 2
    assert {h.pk for h in response.context["page"].rows} == {org.h2.pk, org.h4.pk}
    html = response.content.decode()
    assert org.h2.address in html and 'list="wz-helpers"' in html
    # Every visible helper is offered once, in the one shared datalist.
    assert html.count('<datalist id="wz-helpers">') == 1
    labels = [c.label for c in response.context["candidates"]]
    assert label(org.ma) in labels and "孙丽萍(绥江县民政局)" in labels and "邓永刚(绥江县民政局)" in labels

    response = client.post(reverse("party:assign", args=[org.h2.pk]), {"helper": label(org.chen), "next": COVERAGE})
    assert response.status_code == 302 and response["Location"] == COVERAGE
    assert Pairing.objects.get(household=org.h2, ended_on=None).member == org.chen
    response = client.get(COVERAGE)
    assert response.context["stats"]["uncovered"] == 1
    assert org.h2.pk not in {h.pk for h in response.context["page"].rows}


def test_assign_a_department_cadre_by_bare_name(client, people, org):
    client.force_login(people.secretary)
    response = client.post(reverse("party:assign", args=[org.h4.pk]), {"helper": "邓永刚"})
    assert response.status_code == 302
    assert Pairing.objects.get(household=org.h4).cadre == org.deng


def test_assign_errors_are_shown_at_the_field(client, people, org):
    client.force_login(people.secretary)
    response = client.post(reverse("party:assign", args=[org.h2.pk]), {"helper": "查无此人"})
    assert response.status_code == 400
    assert response.context["form"].errors["helper"] == ["请从列表中选择一名党员或帮扶干部"]
    # The service's refusal (same helper twice) lands at the field too.
    response = client.post(reverse("party:assign", args=[org.h3.pk]), {"helper": label(org.ma)})
    assert response.status_code == 400
    assert response.context["form"].errors["helper"] == ["该户已与此人结对"]
    assert Pairing.objects.filter(household=org.h3).count() == 1


def test_ending_from_the_page_needs_a_reason_and_puts_the_household_back(client, people, org):
    client.force_login(people.secretary)
    url = reverse("party:pairing_end", args=[org.p_ma.pk])
    response = client.post(url, {"reason": "  "})
    assert response.status_code == 400 and "reason" in response.context["form"].errors
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "党员外出务工", "next": COVERAGE})
    assert response.status_code == 302
    assert org.h3.pk in {h.pk for h in client.get(COVERAGE).context["page"].rows}
    # An ended pairing cannot be ended again.
    assert client.post(url, {"reason": "再次"}).status_code == 404


def test_flagged_pairings_are_confirmed_from_the_page(client, tree, people, org):
    services.member_move(actor=people.secretary, member=org.ma, branch=org.b2)
    client.force_login(people.secretary)
    response = client.get(COVERAGE)
    assert response.context["stats"]["flagged"] == 1
    assert [p.pk for p in response.context["flagged_rows"]] == [org.p_ma.pk]
    assert "确认继续" in response.content.decode()
    response = client.post(reverse("party:pairing_confirm", args=[org.p_ma.pk]), {"next": COVERAGE})
    assert response.status_code == 302
    assert Pairing.objects.get(pk=org.p_ma.pk).flag == ""
    assert client.get(COVERAGE).context["stats"]["flagged"] == 0


def test_county_cadre_reads_but_gets_no_forms(client, people, org):
    client.force_login(people.county)
    response = client.get(COVERAGE)
    assert response.status_code == 200 and response.context["stats"]["uncovered"] == 2
    html = response.content.decode()
    assert 'name="helper"' not in html and "确认继续" not in html and "wz-helpers" not in html
    assert client.post(reverse("party:assign", args=[org.h2.pk]), {"helper": label(org.chen)}).status_code == 403
    assert client.post(reverse("party:pairing_confirm", args=[org.p_ma.pk])).status_code == 403
    assert not Pairing.objects.filter(household=org.h2).exists()


def test_grid_worker_sees_and_assigns_only_in_their_grid(client, people, org):
    client.force_login(people.worker1)
    response = client.get(COVERAGE)
    assert {h.pk for h in response.context["page"].rows} == {org.h2.pk}
    assert client.post(reverse("party:assign", args=[org.h4.pk]), {"helper": "邓永刚"}).status_code == 404
    assert client.post(reverse("party:pairing_confirm", args=[org.p_ma.pk])).status_code == 404


def test_area_filter_narrows_the_numbers(client, tree, people, org):
    client.force_login(people.secretary)
    response = client.get(COVERAGE, {"area": tree.grids[1].pk})
    assert response.context["stats"]["households"] == 2
    assert {h.pk for h in response.context["page"].rows} == {org.h4.pk}


def test_uncovered_list_is_paged_by_keyset(client, tree, people, org, monkeypatch):
    from wuzhi.party import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    client.force_login(people.secretary)
    first = client.get(COVERAGE).context["page"]
    assert len(first.rows) == 1 and first.next_token
    second = client.get(COVERAGE, {"after": first.next_token}).context["page"]
    assert {first.rows[0].pk, second.rows[0].pk} == {org.h2.pk, org.h4.pk}


def test_helper_load_warns_above_the_threshold(client, tree, people, org, monkeypatch):
    from wuzhi.party import views

    monkeypatch.setattr(views, "HELPER_LOAD_WARNING", 1)
    services.pairing_create(actor=None, household=org.h4, member=org.ma)
    client.force_login(people.secretary)
    response = client.get(COVERAGE)
    assert response.context["load"][0]["name"] == "马建林" and response.context["load"][0]["households"] == 2
    assert response.context["overloaded"] == 1
    assert "难以照顾周全" in response.content.decode()


def test_household_helpers_snippet_renders(rf, people, org):
    from django.template.loader import render_to_string

    request = rf.get("/")
    request.user = people.secretary
    html = render_to_string("party/_household_helpers.html", {
        "helpers": selectors.helpers_of(org.h3), "household": org.h3, "may_change": True}, request=request)
    assert "马建林" in html and "第一网格党支部" in html
    html = render_to_string("party/_household_helpers.html", {
        "helpers": selectors.helpers_of(org.h2), "household": org.h2, "may_change": True}, request=request)
    assert "暂无联系人" in html and reverse("party:assign", args=[org.h2.pk]) in html


@pytest.mark.parametrize("n", [2, 12])
def test_coverage_page_runs_a_bounded_number_of_queries(client, tree, people, org, n, django_assert_max_num_queries):
    """More households, members, pairings, flags and visits, the same number of queries."""
    from wuzhi.core import services as core_services

    unit = tree.units[0]
    for i in range(n):
        dwelling = reg.dwelling_create(actor=None, unit=unit, floor=5 + i, number=f"{5 + i}01")
        covered = reg.household_create(actor=None, dwelling=dwelling)
        reg.household_create(actor=None, dwelling=reg.dwelling_create(actor=None, unit=unit, floor=5 + i,
                                                                      number=f"{5 + i}02"))
        member = services.member_create(actor=None, branch=org.b1, name=f"党员{i}")
        pairing = services.pairing_create(actor=None, household=covered, member=member)
        if i % 2:
            services.pairing_confirm(actor=None, pairing=pairing)
            services.member_move(actor=None, member=member, branch=org.b2)
        reg.visit_record(actor=people.worker1, household=covered, findings="走访")
    core_services.grant_role(actor=None, user=people.worker2, role="grid_worker", area=tree.grids[0])
    client.force_login(people.secretary)
    client.get(COVERAGE)
    with django_assert_max_num_queries(17):
        response = client.get(COVERAGE)
    assert response.status_code == 200
    assert response.context["stats"]["uncovered"] == 2 + n
