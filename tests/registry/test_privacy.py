"""Personal-data rights: the person's copy, anonymisation after the retention period, and the
report of who read whose sensitive data."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from wuzhi.core.models import AccessLog, ChangeLog
from wuzhi.registry import privacy, services
from wuzhi.registry.models import Resident


def login(client, user):
    client.force_login(user)


def test_the_copy_holds_the_person_their_records_and_who_read_them(client, tree, people, make_household):
    household = make_household(tree.dwellings[0], [("张黎", {"phone": "13912345678"}), ("李娜", {})])
    zhang = household.members.get(name="张黎")
    services.visit_record(actor=people.worker1, household=household, findings="老人身体好", residents=[zhang])
    services.reveal(actor=people.worker1, resident=zhang, field="phone", ip="127.0.0.1")
    login(client, people.worker1)
    response = client.post(f"/registry/residents/{zhang.pk}/personal-data/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["个人信息"]["姓名"] == "张黎" and data["个人信息"]["手机"] == "13912345678"
    assert len(data["个人信息"]["身份证号"]) == 18
    # Records that point at the person, found through their foreign keys (here: the visit).
    assert any("老人身体好" in json.dumps(rows, ensure_ascii=False) for rows in data["相关记录"].values())
    assert [r["字段"] for r in data["查看记录"]] == ["phone"]
    # No ciphertext or digest leaves, and nothing of the other member.
    text = response.content.decode()
    assert zhang.id_number_enc not in text and zhang.phone_hash not in text and "李娜" not in text.split("所属户")[0]
    # The export itself is logged.
    assert AccessLog.objects.filter(kind="export", object_id=str(zhang.pk), field="个人信息副本").exists()


def test_the_copy_needs_reveal_and_export_in_the_area(client, tree, people, make_household, make_user):
    household = make_household(tree.dwellings[0])
    person = household.members.get()
    login(client, people.worker2)  # the other grid: the person does not exist for them
    assert client.post(f"/registry/residents/{person.pk}/personal-data/").status_code == 404
    volunteer = make_user("vol", "volunteer", tree.grids[0])
    login(client, volunteer)
    assert client.post(f"/registry/residents/{person.pk}/personal-data/").status_code == 403
    assert client.get(f"/registry/residents/{person.pk}/personal-data/").status_code == 405


def test_anonymisation_after_the_retention_period(tree, people, make_household, settings):
    household = make_household(tree.dwellings[0], [("张黎", {"phone": "13912345678"}), ("李娜", {})])
    zhang, li = household.members.order_by("pk")
    services.resident_update(actor=people.worker1, resident=zhang, version=zhang.version, status="迁出")
    zhang.refresh_from_db()
    settings.WUZHI_RETENTION_DAYS = 30
    assert privacy.anonymise_due() == 0  # not yet: changed today
    later = timezone.now() + dt.timedelta(days=31)
    assert list(privacy.due_for_anonymisation(now=later)) == [zhang]
    assert privacy.anonymise_due(now=later) == 1
    zhang.refresh_from_db()
    assert zhang.name == "已匿名" and zhang.phone_enc == "" and zhang.id_number_enc == ""
    assert zhang.birth_date.month == 1 and zhang.birth_date.day == 1 and zhang.sex in ("男", "女", "M", "F", "1", "2")
    # The history keeps that it happened, not what the values were.
    history = ChangeLog.objects.filter(model="registry.resident", object_id=str(zhang.pk))
    assert "张黎" not in json.dumps(list(history.values_list("changes", "object_repr")), ensure_ascii=False)
    # Others are untouched, and a second run does nothing.
    li.refresh_from_db()
    assert li.name == "李娜" and privacy.anonymise_due(now=later) == 0
    # Two anonymised people do not collide on the unique digest column.
    services.resident_update(actor=people.worker1, resident=li, version=li.version, status="死亡")
    assert privacy.anonymise_due(now=timezone.now() + dt.timedelta(days=31)) == 1
    assert Resident.objects.filter(name="已匿名").count() == 2


def test_anonymise_command(tree, people, make_household):
    out = StringIO()
    call_command("anonymise", "--dry-run", "--days", "0", stdout=out)
    assert "待匿名化 0 人" in out.getvalue()


def test_access_log_report_is_for_the_secretary_and_scoped(client, tree, people, make_household):
    household = make_household(tree.dwellings[0], [("张黎", {"phone": "13912345678"})])
    zhang = household.members.get()
    services.reveal(actor=people.worker1, resident=zhang, field="id_number", ip="127.0.0.1")
    login(client, people.worker1)
    assert client.get("/registry/access-log/").status_code == 403
    login(client, people.secretary)
    html = client.get("/registry/access-log/", {"resident": zhang.pk}).content.decode()
    assert "张黎" in html and "id_number" in html and "王网格" in html
    assert "张黎" not in client.get("/registry/access-log/", {"actor": "nobody"}).content.decode()
    page = client.get(f"/registry/residents/{zhang.pk}/").content.decode()
    assert "谁查看过" in page and "个人信息副本" in page
