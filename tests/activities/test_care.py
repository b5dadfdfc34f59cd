"""福家邻里守望: team members paired with the neighbours they look after."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from wuzhi.activities import services
from wuzhi.activities.models import CarePairing
from wuzhi.registry import services as reg
from wuzhi.registry.models import Tag
from wuzhi.reports.statistics import Scope, compute


@pytest.fixture
def watch(tree, make_household):
    tag = Tag.objects.create(name="空巢老人", visit_interval_days=30)
    elder = make_household(tree.dwellings[0], [("王奶奶", {"birth": "19440101"})]).head
    reg.set_resident_tags(actor=None, resident=elder, tags=[tag])
    neighbour = make_household(tree.dwellings[1], [("李守望", {"birth": "19800101"})]).head
    team = services.team_create(actor=None, area=tree.community, kind="watch", name="福家邻里守望志愿服务队")
    member = services.member_add(actor=None, team=team, resident=neighbour, role="守望员")
    return team, member, elder


def _unpaired(tree) -> int:
    today = dt.date.today()
    return compute(Scope(None, tree.community, today, today), ["care_people_without_watch"])["care_people_without_watch"]


def test_an_unpaired_care_person_is_counted_until_paired(tree, watch):
    team, member, elder = watch
    assert _unpaired(tree) == 1
    pairing = services.care_pair(actor=None, member=member, resident=elder)
    assert _unpaired(tree) == 0
    with pytest.raises(ValidationError, match="已与"):
        services.care_pair(actor=None, member=member, resident=elder)
    services.care_end(actor=None, pairing=pairing)
    assert _unpaired(tree) == 1 and CarePairing.objects.count() == 1  # the history stays


def test_the_team_page_pairs_a_neighbour(client, tree, people, watch):
    team, member, elder = watch
    client.force_login(people.secretary)
    page = client.get(reverse("activities:team_detail", args=[team.pk])).content.decode()
    assert "邻里守望结对" in page and "尚未结对 1 人" in page
    response = client.post(reverse("activities:care_pair", args=[team.pk]), {"member": member.pk, "resident": elder.pk})
    assert response.status_code == 302
    assert CarePairing.objects.filter(member=member, resident=elder, ended_on__isnull=True).exists()
    client.force_login(people.county)  # read-only: the service refuses
    response = client.post(reverse("activities:care_pair", args=[team.pk]), {"member": member.pk, "resident": elder.pk})
    assert response.status_code == 403
