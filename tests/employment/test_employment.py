"""Employment: who is of working age, the employment rate on a small fixture computed by hand,
placements and their effect on the status, trainings read from activity attendance, scope, and
the pages without a query per row."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from wuzhi.activities import services as act
from wuzhi.core.errors import NotAllowed
from wuzhi.employment import selectors, services
from wuzhi.employment.models import Placement, PlacementKind, Profile, Status
from wuzhi.registry.models import Resident
from wuzhi.reports.statistics import compute, year_scope


def _born(age: int, days: int = 30) -> str:
    """A birth date `age` years (and `days` days) before today, as YYYYMMDD."""
    today = timezone.localdate()
    return (today.replace(year=today.year - age) - dt.timedelta(days=days)).strftime("%Y%m%d")


@pytest.fixture
def labour(tree, people, make_household):
    """Grid 1: five working-age resettled people (3 employed, 1 unemployed, 1 student) plus a child,
    a 60-year-old and an unregistered 30-year-old. Grid 2: two working-age (1 employed, 1 unable)
    and a tenant household's worker, who is not counted (not resettled)."""
    batch = {"relocation_batch": "2019年第一批"}
    g1 = make_household(tree.dwellings[0], [
        ("张一", {"birth": _born(40)}), ("张二", {"birth": _born(38), "male": False}), ("张三", {"birth": _born(18)}),
        ("张四", {"birth": _born(10)}), ("张五", {"birth": _born(60)}), ("张六", {"birth": _born(16, days=1)}),
    ], **batch)
    g1b = make_household(tree.dwellings[1], [("李一", {"birth": _born(59, days=300)}), ("李二", {"birth": _born(30)})],
                         **batch)
    g2 = make_household(tree.dwellings[8], [("王一", {"birth": _born(45)}), ("王二", {"birth": _born(50)})], **batch)
    tenant = make_household(tree.dwellings[9], [("赵租", {"birth": _born(33)})])
    r = {x.name: x for x in Resident.objects.all()}
    services.placement_add(actor=people.worker1, resident=r["张一"], kind=PlacementKind.MIGRANT, province="浙江省",
                           city="宁波市", employer="宁波某电器有限公司", started_on=dt.date(2026, 3, 1))
    services.placement_add(actor=people.worker1, resident=r["张二"], kind=PlacementKind.WORKSHOP,
                           employer="福兴竹编帮扶车间", started_on=dt.date(2026, 4, 1))
    services.profile_save(actor=people.worker1, resident=r["张三"], status=Status.STUDENT)
    services.profile_save(actor=people.worker1, resident=r["张六"], status=Status.FLEXIBLE)
    services.profile_save(actor=people.worker1, resident=r["李一"], status=Status.UNEMPLOYED, skills="电焊、驾驶")
    services.placement_add(actor=people.worker2, resident=r["王一"], kind=PlacementKind.PUBLIC_POST,
                           employer="福兴社区", post="保洁员", started_on=dt.date(2026, 1, 5))
    services.profile_save(actor=people.worker2, resident=r["王二"], status=Status.UNABLE)
    services.placement_add(actor=people.worker2, resident=r["赵租"], kind=PlacementKind.LOCAL, employer="物流园",
                           started_on=dt.date(2026, 1, 5))
    return SimpleNamespace(r=r, g1=g1, g1b=g1b, g2=g2, tenant=tenant)


def test_working_age_is_16_to_59_of_resettled_households(labour):
    names = set(selectors.working_age(Resident.objects.all()).values_list("name", flat=True))
    assert names == {"张一", "张二", "张三", "张六", "李一", "李二", "王一", "王二"}


def test_rate_by_hand(labour, tree):
    # Labour force: 8 working-age minus 张三 (student) and 王二 (unable) = 6.
    # Employed: 张一 (外出务工), 张二 (帮扶车间), 张六 (灵活就业), 王一 (公益性岗位) = 4 → 66.7 %.
    total, grids = selectors.rates_by_area(Resident.objects.all(), tree.community)
    assert (total.working_age, total.labour_force, total.employed, total.unregistered) == (8, 6, 4, 1)
    assert total.percent == 66.7
    g1, g2 = grids
    assert (g1.labour_force, g1.employed, g1.percent) == (5, 3, 60.0)
    assert (g2.labour_force, g2.employed, g2.percent) == (1, 1, 100.0)
    assert compute(year_scope(None, tree.community, timezone.localdate().year), ["employment_rate"]) == {
        "employment_rate": 66.7}


def test_rate_through_scope(labour, people, tree):
    # Grid 2's worker sees only grid 2: one in the labour force, employed.
    scope = year_scope(people.worker2, tree.community, timezone.localdate().year)
    assert compute(scope, ["employment_rate", "migrant_workers"]) == {"employment_rate": 100.0, "migrant_workers": 0}
    assert compute(year_scope(people.worker1, tree.community, timezone.localdate().year),
                   ["migrant_workers"]) == {"migrant_workers": 1}


def test_a_new_job_closes_the_old_one_and_leaving_sets_unemployed(labour, people):
    zhang = labour.r["张一"]
    services.placement_add(actor=people.worker1, resident=zhang, kind=PlacementKind.WORKSHOP,
                           employer="福兴竹编帮扶车间", started_on=dt.date(2026, 6, 1))
    old, new = Placement.objects.filter(resident=zhang).order_by("started_on")
    assert old.ended_on == dt.date(2026, 6, 1) and old.end_reason == "更换工作" and new.ended_on is None
    services.placement_end(actor=people.worker1, placement=new, ended_on=dt.date(2026, 9, 1), reason="车间订单减少")
    assert Profile.objects.get(resident=zhang).status == Status.UNEMPLOYED


def test_validation_and_permissions(labour, people):
    with pytest.raises(ValidationError, match="务工省份和城市"):
        services.placement_add(actor=people.worker1, resident=labour.r["李二"], kind=PlacementKind.MIGRANT,
                               employer="某厂", started_on=dt.date(2026, 5, 1))
    with pytest.raises(ValidationError, match="16至59周岁"):
        services.profile_save(actor=people.worker1, resident=labour.r["张五"], status=Status.UNEMPLOYED)
    with pytest.raises(NotAllowed):
        services.profile_save(actor=people.worker2, resident=labour.r["李二"], status=Status.UNEMPLOYED)
    profile = Profile.objects.get(resident=labour.r["李一"])
    with pytest.raises(ValidationError, match="已被其他人修改"):
        services.profile_save(actor=people.worker1, resident=labour.r["李一"], status=Status.EMPLOYED,
                              version=profile.version - 1 if profile.version > 1 else 99)


def test_trainings_come_from_activity_attendance(labour, tree):
    li = labour.r["李一"]
    activity = act.activity_record(actor=None, area=tree.community, kind="training", title="电工技能培训",
                                   starts_at=timezone.now() - dt.timedelta(days=3), partner="县人社局")
    act.attendance_mark(actor=None, activity=activity, residents=[li])
    other = act.activity_record(actor=None, area=tree.community, kind="team", title="楼道清扫",
                                starts_at=timezone.now() - dt.timedelta(days=2))
    act.attendance_mark(actor=None, activity=other, residents=[li])
    assert [a.activity.title for a in selectors.trainings_of(li)] == ["电工技能培训"]


def test_pages(client, labour, people, tree, django_assert_max_num_queries):
    client.force_login(people.worker1)
    # A fixed number whatever the rows: session, user, grants, scope rules, the areas, one read of residents.
    with django_assert_max_num_queries(12):
        resp = client.get(reverse("employment:rates"))
    # The grid worker starts at (and only sees) their grid.
    assert resp.status_code == 200 and "60.0%" in resp.content.decode()
    with django_assert_max_num_queries(12):
        resp = client.get(reverse("employment:people"))
    html = resp.content.decode()
    assert "张一" in html and "王一" not in html and "赵租" not in html
    assert client.get(reverse("employment:person", args=[labour.r["王一"].pk])).status_code == 404
    url = reverse("employment:person", args=[labour.r["李二"].pk])
    assert client.get(url).status_code == 200
    resp = client.post(url, {"action": "placement", "kind": "migrant", "employer": "某厂", "started_on": "2026-05-01"})
    assert resp.status_code == 400 and "务工省份和城市" in resp.content.decode()
    resp = client.post(url, {"action": "contact", "method": "phone", "content": "推荐帮扶车间岗位,本人愿意去"})
    assert resp.status_code == 302
    assert "推荐帮扶车间岗位" in client.get(url).content.decode()
