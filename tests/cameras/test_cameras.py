"""小探头: scope of the lists, who may see a stream address (and that each look is logged), consent
and its withdrawal, and the flag on public areas no camera covers."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from wuzhi.cameras import selectors, services
from wuzhi.cameras.figures import household_cameras_shared, public_areas_without_camera
from wuzhi.cameras.models import PRINCIPLES, Camera, CameraKind, Consent, PublicArea
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import AccessLog, ChangeLog
from wuzhi.core.roles import Role
from wuzhi.reports.statistics import year_scope

URL1 = "rtsp://10.53.1.11:554/Streaming/Channels/101"
HOME_URL = "rtsp://192.168.1.64:554/h264/ch1/main"


@pytest.fixture
def cams(tree, people, make_user, make_household):
    """Grid 1: a unit hall (public area) with a public camera, and a household camera; grid 2: a
    public camera at its building."""
    hall = services.public_area_create(actor=None, area=tree.units[0], kind="corridor", name="单元门厅")
    gate = services.public_area_create(actor=None, area=tree.community, kind="entrance", name="东大门")
    cam1 = services.camera_register(actor=None, kind=CameraKind.PUBLIC, area=tree.units[0], location="门厅顶部",
                                    public_areas=[hall], stream_url=URL1, vendor="海康威视")
    cam2 = services.camera_register(actor=None, kind=CameraKind.PUBLIC, area=tree.buildings[1], location="2栋北侧",
                                    stream_url="rtsp://10.53.2.11/live")
    household = make_household(tree.dwellings[0], [("张黎", {})])
    home = services.camera_register(actor=None, kind=CameraKind.HOUSEHOLD, household=household,
                                    location="户门上方", public_areas=[hall], stream_url=HOME_URL)
    return SimpleNamespace(
        hall=hall, gate=gate, cam1=cam1, cam2=cam2, home=home, household=household,
        police=make_user("police1", Role.POLICE, tree.community, name="唐警官"),
        duty=make_user("duty1", Role.DUTY, tree.community, name="谢值班"),
    )


def consent(cams, roles=("police",), **kw):
    return services.consent_record(actor=None, camera=cams.home, signed_by="张黎", purpose="老人独居,紧急时查看门口",
                                   viewer_roles=roles, principles=PRINCIPLES, **kw)


def reveal(client, user, camera):
    client.force_login(user)
    return client.post(reverse("cameras:stream", args=[camera.pk]))


# ---- storage -------------------------------------------------------------------------------

def test_stream_address_is_stored_encrypted_and_masked(cams):
    row = Camera.objects.get(pk=cams.cam1.pk)
    assert URL1 not in row.stream_enc and "10.53" not in row.stream_enc
    assert row.stream_masked == "rtsp://•••"
    # The audit diff never carries the ciphertext either.
    assert all("stream_enc" not in log.changes for log in ChangeLog.objects.filter(model="cameras.camera"))


def test_bad_stream_address_is_refused(tree):
    with pytest.raises(ValidationError) as exc:
        services.camera_register(actor=None, kind=CameraKind.PUBLIC, area=tree.community, location="大门",
                                 stream_url="192.168.1.2")
    assert "rtsp://" in str(exc.value)


# ---- scope ---------------------------------------------------------------------------------

def test_list_shows_only_cameras_of_the_users_grid(client, cams, people, django_assert_max_num_queries):
    client.force_login(people.worker1)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("cameras:list")).content.decode()
    assert cams.cam1.number in page and cams.home.number in page
    assert cams.cam2.number not in page
    assert client.get(reverse("cameras:detail", args=[cams.cam2.pk])).status_code == 404


def test_list_queries_do_not_grow_with_rows(client, cams, tree, people, django_assert_max_num_queries):
    for i in range(15):
        services.camera_register(actor=None, kind=CameraKind.PUBLIC, area=tree.units[1], location=f"位置{i}",
                                 public_areas=[cams.hall], stream_url=f"rtsp://10.0.0.{i}/x")
    client.force_login(people.secretary)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("cameras:list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("cameras:public_areas")).status_code == 200


# ---- reveal: permission and the access log ---------------------------------------------------

def test_public_camera_reveal_for_permitted_role_is_logged(client, cams, people):
    response = reveal(client, people.worker1, cams.cam1)
    assert response.status_code == 200 and URL1 in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    log = AccessLog.objects.get(model="cameras.camera", object_id=str(cams.cam1.pk))
    assert log.kind == AccessLog.Kind.REVEAL and log.actor == people.worker1 and log.field == "stream"
    assert log.area_path == cams.cam1.area_path


def test_public_camera_reveal_refused_for_other_roles_and_not_logged(client, cams, people):
    response = reveal(client, people.head, cams.cam1)  # 楼长: may see the camera, not its stream
    assert response.status_code == 403 and URL1 not in response.content.decode()
    assert reveal(client, people.worker2, cams.cam1).status_code == 404  # another grid: does not exist
    assert not AccessLog.objects.filter(model="cameras.camera").exists()


def test_household_camera_without_consent_is_seen_by_nobody(client, cams, people):
    for user in (people.secretary, people.worker1, cams.police):
        assert reveal(client, user, cams.home).status_code == 403
    with pytest.raises(NotAllowed):
        services.stream_reveal(actor=people.secretary, camera=cams.home)


def test_household_camera_follows_the_consents_roles(client, cams, people):
    consent(cams, roles=("police",))
    response = reveal(client, cams.police, cams.home)
    assert response.status_code == 200 and HOME_URL in response.content.decode()
    assert reveal(client, people.worker1, cams.home).status_code == 403  # not chosen by the household
    assert reveal(client, cams.duty, cams.home).status_code == 403
    logs = AccessLog.objects.filter(model="cameras.camera", object_id=str(cams.home.pk))
    assert [log.actor for log in logs] == [cams.police]
    assert "授权#" in logs[0].detail


def test_withdrawal_removes_access_at_once(client, cams):
    c = consent(cams, roles=("police", "duty"))
    assert reveal(client, cams.duty, cams.home).status_code == 200
    client.force_login(cams.police)
    response = client.post(reverse("cameras:consent_withdraw", args=[c.pk]), {"reason": "子女回家"})
    assert response.status_code == 403  # the police may look, but recording a withdrawal is the grid's work
    services.consent_withdraw(actor=None, consent=c, reason="子女回家")
    assert reveal(client, cams.duty, cams.home).status_code == 403
    assert reveal(client, cams.police, cams.home).status_code == 403
    c.refresh_from_db()
    assert c.status == "已撤回" and c.withdraw_reason == "子女回家"
    with pytest.raises(ValidationError):
        services.consent_withdraw(actor=None, consent=c)


def test_grid_worker_withdraws_through_the_page(client, cams, people):
    c = consent(cams)
    client.force_login(people.worker1)
    response = client.post(reverse("cameras:consent_withdraw", args=[c.pk]), {"reason": ""}, follow=True)
    assert "授权已撤回" in response.content.decode()
    assert Consent.objects.get(pk=c.pk).withdrawn_at is not None


def test_expired_or_future_consent_gives_no_access(client, cams):
    today = timezone.localdate()
    consent(cams, starts_on=today - dt.timedelta(days=30), ends_on=today - dt.timedelta(days=1))
    assert reveal(client, cams.police, cams.home).status_code == 403
    consent(cams, starts_on=today + dt.timedelta(days=3))
    assert reveal(client, cams.police, cams.home).status_code == 403


# ---- the consent form ------------------------------------------------------------------------

def test_consent_form_shows_the_principles_and_requires_them(client, cams, people):
    client.force_login(people.worker1)
    url = reverse("cameras:consent_new", args=[cams.home.pk])
    page = client.get(url).content.decode()
    for principle in PRINCIPLES:
        assert principle in page
    data = {"signed_by": "张黎", "purpose": "紧急时查看门口", "viewer_roles": ["police"],
            "starts_on": timezone.localdate().isoformat(), "principles": PRINCIPLES[:3]}
    response = client.post(url, data)
    assert response.status_code == 400 and "五项原则" in response.content.decode()
    assert not Consent.objects.exists()
    response = client.post(url, {**data, "principles": PRINCIPLES})
    assert response.status_code == 302
    c = Consent.objects.get()
    assert c.viewer_roles == ["police"] and c.principles == PRINCIPLES and c.recorded_by == people.worker1


def test_second_running_consent_is_refused(cams):
    consent(cams)
    with pytest.raises(ValidationError, match="已有有效的共享授权"):
        consent(cams)


def test_public_camera_needs_no_consent(cams):
    with pytest.raises(ValidationError):
        services.consent_record(actor=None, camera=cams.cam1, signed_by="x", purpose="y", viewer_roles=["police"],
                                principles=PRINCIPLES)


# ---- coverage --------------------------------------------------------------------------------

def test_uncovered_public_areas_are_flagged(client, cams, tree, people):
    scope = year_scope(None, tree.community, timezone.localdate().year)
    assert list(selectors.uncovered(PublicArea.objects.all())) == [cams.gate]
    assert public_areas_without_camera(scope) == 1
    client.force_login(people.secretary)
    page = client.get(reverse("cameras:public_areas")).content.decode()
    assert "1 处公共区域没有探头覆盖" in page and "未覆盖" in page
    services.camera_register(actor=people.secretary, kind=CameraKind.PUBLIC, area=tree.community, location="门岗",
                             public_areas=[cams.gate])
    assert public_areas_without_camera(scope) == 0
    assert "探头已覆盖全部公共区域" in client.get(reverse("cameras:public_areas")).content.decode()


def test_a_shared_household_camera_covers_until_withdrawn(cams):
    cams.cam1.public_areas.clear()  # the hall now only has the household's camera
    scope = year_scope(None, None, timezone.localdate().year)
    assert cams.hall in selectors.uncovered(PublicArea.objects.all())
    c = consent(cams)
    assert cams.hall not in selectors.uncovered(PublicArea.objects.all())
    assert household_cameras_shared(scope) == 1
    services.consent_withdraw(actor=None, consent=c)
    assert cams.hall in selectors.uncovered(PublicArea.objects.all())
    assert household_cameras_shared(scope) == 0


def test_coverage_stays_inside_the_community(cams, tree):
    other = tree.town  # not a community: nothing may stand there
    with pytest.raises(ValidationError):
        services.public_area_create(actor=None, area=other, kind="square", name="镇广场")


# ---- writes: permission and concurrency --------------------------------------------------------

def test_only_change_roles_register_cameras(cams, tree, people):
    with pytest.raises(NotAllowed):
        services.camera_register(actor=people.head, kind=CameraKind.PUBLIC, area=tree.units[0], location="x")
    with pytest.raises(NotAllowed):
        services.camera_register(actor=people.worker2, kind=CameraKind.PUBLIC, area=tree.units[0], location="x")


def test_register_household_camera_through_the_form(client, cams, people):
    client.force_login(people.worker1)
    response = client.post(reverse("cameras:new"), {"kind": "household", "household_number": "nope",
                                                   "location": "门口"})
    assert response.status_code == 400 and "未找到该户" in response.content.decode()
    response = client.post(reverse("cameras:new"), {"kind": "household", "household_number": cams.household.number,
                                                   "location": "阳台", "stream_url": "rtsp://192.168.1.9/ch1"})
    assert response.status_code == 302
    camera = Camera.objects.get(location="阳台")
    assert camera.household == cams.household and camera.area == cams.household.area


def test_concurrent_camera_edit_is_refused(cams, people):
    version = cams.cam1.version
    services.camera_update(actor=people.worker1, camera=cams.cam1, version=version, location="门厅东侧",
                           public_areas=[cams.hall])
    with pytest.raises(ConcurrentEdit):
        services.camera_update(actor=people.secretary, camera=cams.cam1, version=version, location="门厅西侧",
                               public_areas=[cams.hall])


def test_edit_page_keeps_the_stream_unless_replaced(client, cams, people):
    client.force_login(people.worker1)
    url = reverse("cameras:edit", args=[cams.cam1.pk])
    page = client.get(url).content.decode()
    assert URL1 not in page
    response = client.post(url, {"location": "门厅", "public_areas": [cams.hall.pk], "active": "on",
                                 "version": cams.cam1.version})
    assert response.status_code == 302
    assert services.stream_reveal(actor=people.worker1, camera=Camera.objects.get(pk=cams.cam1.pk)) == URL1
