"""The party organisation pages: the 三联系 chain at a glance, creating departments, branches and
members (a resident picked by search, or a name), linking a branch to a department, moving a
member; read-only for county cadres, 404 outside the user's scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from wuzhi.core import services as core_services
from wuzhi.core.roles import Role
from wuzhi.party import services
from wuzhi.party.models import Branch, Department, Pairing, PartyMember
from wuzhi.registry import services as reg

INDEX = reverse("party:index")


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root", password="wuzhi-test-pw")


@pytest.fixture
def elsewhere(tree, make_household):
    """Another community of the same town with its own branch and member: out of the fixture
    secretary's reach."""
    community = core_services.area_create(actor=None, parent=tree.town, segment="013", name="安居社区")
    branch = services.branch_create(actor=None, area=community, name="安居社区党支部")
    member = services.member_create(actor=None, branch=branch, name="外社区党员")
    return branch, member


# ---- the overview ----------------------------------------------------------------------------


def test_index_shows_the_chain(client, people, org):
    client.force_login(people.secretary)
    response = client.get(INDEX)
    assert response.status_code == 200
    branches = {b.name: b for b in response.context["branches"]}
    assert set(branches) == {"第一网格党支部", "第二网格党支部"}
    assert branches["第一网格党支部"].member_count == 1 and branches["第一网格党支部"].household_count == 1
    assert branches["第一网格党支部"].linked_department == org.civil
    departments = {d.name: d for d in response.context["departments"]}
    # The county's departments are public: the community secretary sees them to link a branch.
    assert set(departments) == {"绥江县民政局", "绥江县财政局"}
    assert departments["绥江县民政局"].linked == [org.b1] and departments["绥江县民政局"].cadre_count == 2
    figures = response.context["figures"]
    assert figures["party_branches"] == 2 and figures["party_members"] == 2 and figures["paired_departments"] == 1
    assert response.context["households"] == 4 and response.context["covered"] == 2
    html = response.content.decode()
    assert reverse("party:member_create") in html and reverse("party:branch_create") in html
    # Only a county manager registers departments and their cadres.
    assert reverse("party:department_create") not in html and reverse("party:cadre_create") not in html


def test_county_cadre_reads_everything_and_gets_no_forms(client, people, org):
    client.force_login(people.county)
    html = client.get(INDEX).content.decode()
    assert "第一网格党支部" in html
    for name in ("member_create", "branch_create", "department_create", "cadre_create"):
        assert reverse(f"party:{name}") not in html
        assert client.get(reverse(f"party:{name}")).status_code == 403
    detail = client.get(reverse("party:branch_detail", args=[org.b1.pk]))
    assert detail.status_code == 200 and not detail.context["may_change"]
    assert "保存结对" not in detail.content.decode() and reverse("party:branch_secretary", args=[org.b1.pk]) \
        not in detail.content.decode()
    member = client.get(reverse("party:member_detail", args=[org.ma.pk]))
    assert member.status_code == 200 and "组织关系转移" not in member.content.decode()
    assert client.post(reverse("party:branch_link", args=[org.b2.pk]), {"department": org.finance.pk}).status_code == 403
    assert client.post(reverse("party:member_move", args=[org.ma.pk]), {"branch": org.b2.pk}).status_code == 403
    assert Branch.objects.get(pk=org.b2.pk).linked_department is None


def test_objects_outside_the_scope_are_404(client, people, org, elsewhere):
    branch, member = elsewhere
    client.force_login(people.secretary)
    assert client.get(reverse("party:branch_detail", args=[branch.pk])).status_code == 404
    assert client.get(reverse("party:member_detail", args=[member.pk])).status_code == 404
    assert client.post(reverse("party:member_move", args=[org.ma.pk]), {"branch": branch.pk}).status_code == 400
    assert "安居社区党支部" not in client.get(INDEX).content.decode()
    # A grid worker sees the organisation above their grid (to assign helpers), never another
    # community's.
    client.force_login(people.worker1)
    assert client.get(reverse("party:branch_detail", args=[org.b1.pk])).status_code == 200
    assert client.get(reverse("party:member_detail", args=[org.ma.pk])).status_code == 200
    assert client.get(reverse("party:branch_detail", args=[branch.pk])).status_code == 404


# ---- creating --------------------------------------------------------------------------------


def test_admin_registers_a_department_with_its_branch(client, tree, admin, org):
    client.force_login(admin)
    url = reverse("party:department_create")
    response = client.post(url, {"county": tree.county.pk, "name": "绥江县司法局"})
    assert response.status_code == 302
    dept = Department.objects.get(name="绥江县司法局")
    assert dept.branch.name == "绥江县司法局党支部" and dept.branch.kind == Branch.Kind.DEPARTMENT
    response = client.post(url, {"county": tree.county.pk, "name": "绥江县司法局"})
    assert response.status_code == 400 and response.context["form"].errors["name"] == ["该县已有同名单位"]

    response = client.post(reverse("party:cadre_create"), {"department": dept.pk, "name": "严国庆", "title": "副局长"})
    assert response.status_code == 302 and dept.cadres.get().name == "严国庆"


def test_secretary_creates_a_branch_linked_to_a_department(client, tree, people, org):
    client.force_login(people.secretary)
    response = client.post(reverse("party:branch_create"), {"area": tree.community.pk, "name": "流动党员党支部",
                                                            "linked_department": org.finance.pk})
    branch = Branch.objects.get(name="流动党员党支部")
    assert response.status_code == 302 and response["Location"] == reverse("party:branch_detail", args=[branch.pk])
    assert branch.linked_department == org.finance and branch.area == tree.community
    assert client.post(reverse("party:department_create"), {"county": tree.county.pk, "name": "x"}).status_code == 403


def test_member_from_a_resident_found_by_search(client, people, org):
    client.force_login(people.secretary)
    response = client.get(reverse("party:resident_search"), {"q": "zl"})
    html = response.content.decode()
    assert "张黎" in html and f'value="{org.h2.head_id}"' in html
    # 马建林 is a member already: offered but disabled.
    response = client.get(reverse("party:resident_search"), {"q": "mjl"})
    assert "已是党员" in response.content.decode()

    response = client.post(reverse("party:member_create"), {
        "branch": org.b1.pk, "resident": org.h2.head_id, "joined_on": "1975-07-01"})
    member = PartyMember.objects.get(resident=org.h2.head_id)
    assert response.status_code == 302 and response["Location"] == reverse("party:member_detail", args=[member.pk])
    assert member.name == "张黎" and str(member.joined_on) == "1975-07-01" and member.branch == org.b1

    # The same resident twice: the service's refusal is shown at the resident, the choice kept.
    response = client.post(reverse("party:member_create"), {"branch": org.b2.pk, "resident": org.h2.head_id})
    assert response.status_code == 400
    assert response.context["form"].errors["resident"] == ["张黎已登记为党员"]
    assert f'value="{org.h2.head_id}" checked' in response.content.decode()


def test_member_not_living_here_by_name(client, people, org):
    client.force_login(people.secretary)
    response = client.post(reverse("party:member_create"), {"branch": org.b2.pk, "name": "外出务工党员",
                                                            "is_mobile": "on"})
    assert response.status_code == 302
    member = PartyMember.objects.get(name="外出务工党员")
    assert member.resident is None and member.is_mobile
    response = client.post(reverse("party:member_create"), {"branch": org.b2.pk, "name": " "})
    assert response.status_code == 400 and "name" in response.context["form"].errors


def test_search_stays_inside_the_scope(client, people, org):
    client.force_login(people.worker1)
    html = client.get(reverse("party:resident_search"), {"q": "李明"}).content.decode()
    assert "李明" not in html.split("没有找到")[0]


# ---- branch and member pages -----------------------------------------------------------------


def test_branch_detail_lists_members_with_their_households(client, people, org):
    services.pairing_create(actor=None, household=org.h2, member=org.ma)
    client.force_login(people.secretary)
    response = client.get(reverse("party:branch_detail", args=[org.b1.pk]))
    assert response.status_code == 200
    rows = {m.name: m for m in response.context["page"].rows}
    assert rows["马建林"].household_count == 2
    assert "保存结对" in response.content.decode()


def test_link_and_unlink_a_department(client, people, org):
    client.force_login(people.secretary)
    url = reverse("party:branch_link", args=[org.b2.pk])
    assert client.post(url, {"department": org.finance.pk}).status_code == 302
    assert Branch.objects.get(pk=org.b2.pk).linked_department == org.finance
    assert client.post(url, {"department": ""}).status_code == 302
    assert Branch.objects.get(pk=org.b2.pk).linked_department is None
    response = client.post(url, {"department": 999999})
    assert response.status_code == 400 and "department" in response.context["link_form"].errors


def test_set_the_branch_secretary(client, people, org):
    client.force_login(people.secretary)
    url = reverse("party:branch_secretary", args=[org.b1.pk])
    assert client.post(url, {"member": org.ma.pk}).status_code == 302
    assert Branch.objects.get(pk=org.b1.pk).secretary == org.ma
    # A member of another branch is not offered.
    response = client.post(url, {"member": org.chen.pk})
    assert response.status_code == 400 and "member" in response.context["secretary_form"].errors


def test_member_detail_shows_paired_households_with_last_contact(client, people, org):
    visit = reg.visit_record(actor=org.member_user, household=org.h3, findings="走访")
    client.force_login(people.secretary)
    response = client.get(reverse("party:member_detail", args=[org.ma.pk]))
    assert response.status_code == 200
    [pairing] = response.context["active"]
    assert pairing.household == org.h3 and pairing.last_contact == visit.visited_at
    assert org.h3.address in response.content.decode()


def test_moving_a_member_flags_their_pairings(client, people, org):
    client.force_login(people.secretary)
    response = client.post(reverse("party:member_move", args=[org.ma.pk]), {"branch": org.b2.pk})
    assert response.status_code == 302
    assert PartyMember.objects.get(pk=org.ma.pk).branch == org.b2
    assert "第二网格党支部" in Pairing.objects.get(pk=org.p_ma.pk).flag
    # Moving to the branch it is already in is not offered.
    response = client.post(reverse("party:member_move", args=[org.ma.pk]), {"branch": org.b2.pk})
    assert response.status_code == 400 and "branch" in response.context["move_form"].errors


def test_party_member_opens_their_own_page_but_cannot_move(client, org):
    client.force_login(org.member_user)
    response = client.get(reverse("party:member_detail", args=[org.ma.pk]))
    assert response.status_code == 200 and not response.context["may_change"]
    assert client.get(reverse("party:member_detail", args=[org.chen.pk])).status_code == 404
    assert client.post(reverse("party:member_move", args=[org.ma.pk]), {"branch": org.b2.pk}).status_code == 403


def test_grants_do_not_leak_through_the_department_list(client, people, org, elsewhere, make_user):
    # A grid worker under the same county sees the county's departments (public institutions) …
    client.force_login(people.worker1)
    names = {d.name for d in client.get(INDEX).context["departments"]}
    assert names == {"绥江县民政局", "绥江县财政局"}
    # … but someone whose only grant is elsewhere in the tree sees none.
    other_county = core_services.area_create(actor=None, parent=None, segment="530627", name="水富县")
    outsider = make_user("outsider", Role.SECRETARY, other_county)
    client.force_login(outsider)
    assert list(client.get(INDEX).context["departments"]) == []
