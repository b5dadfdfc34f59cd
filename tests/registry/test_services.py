import pytest
from django.core.exceptions import ValidationError

from tests.conftest import make_id_number
from wuzhi.core import crypto
from wuzhi.core.errors import ConcurrentEdit, NotAllowed
from wuzhi.core.models import AccessLog, ChangeLog
from wuzhi.registry import services as reg
from wuzhi.registry.models import Household, Resident


def test_resident_identity_is_encrypted_masked_and_derived(tree, make_household):
    h = make_household(tree.dwellings[0], [("张黎", {"id_number": "530626197005120039", "phone": "13987654321"})])
    r = h.head
    assert r.id_number_masked == "5306**********0039"
    assert "530626197005120039" not in r.id_number_enc
    assert r.id_number_hash == crypto.blind_index("530626197005120039", "id")
    assert str(r.birth_date) == "1970-05-12" and r.sex == "M"
    assert r.phone_masked == "139****4321" and r.phone_tail == "4321"
    assert (r.name_pinyin, r.name_initials) == ("zhangli", "zl")


def test_duplicate_id_names_the_existing_record(tree, make_household):
    h = make_household(tree.dwellings[0], [("张黎", {"id_number": "530626197005120039"})])
    with pytest.raises(ValidationError) as exc:
        reg.resident_create(actor=None, household=h, name="李四", id_number="530626197005120039")
    assert "张黎" in exc.value.message_dict["id_number"][0]
    assert Resident.objects.count() == 1


def test_bad_fields_are_reported_per_field_and_nothing_saved(tree, make_household):
    h = make_household(tree.dwellings[0])
    with pytest.raises(ValidationError) as exc:
        reg.resident_create(actor=None, household=h, name="", id_number="530626197005120034", phone="12345")
    errors = exc.value.message_dict
    assert set(errors) == {"name", "id_number", "phone"}
    assert "校验位" in errors["id_number"][0]
    assert Resident.objects.count() == 1


def test_second_of_two_concurrent_edits_is_refused(tree, people, make_household):
    h = make_household(tree.dwellings[0])
    first = Household.objects.get(pk=h.pk)
    second = Household.objects.get(pk=h.pk)
    reg.household_update(actor=people.worker1, household=first, version=first.version, note="第一次修改")
    with pytest.raises(ConcurrentEdit, match="已被其他人修改"):
        reg.household_update(actor=people.worker1, household=second, version=second.version, note="第二次修改")
    h.refresh_from_db()
    assert h.note == "第一次修改" and h.version == 2


def test_changes_keep_a_field_level_diff_with_actor(tree, people, make_household):
    h = make_household(tree.dwellings[0], [("张黎", {"phone": "13987654321"})])
    r = h.head
    reg.resident_update(actor=people.worker1, resident=r, version=r.version, phone="13900001111", education="初中")
    row = ChangeLog.objects.filter(model="registry.resident", object_id=str(r.pk), op="update").get()
    assert row.actor == people.worker1
    assert row.changes["education"] == ["", "初中"]
    assert row.changes["phone_masked"] == ["139****4321", "139****1111"]
    assert not any(k.endswith(("_enc", "_hash")) for k in row.changes)


def test_writes_outside_scope_are_refused(tree, people, make_household):
    h = make_household(tree.dwellings[-1])  # grid 2
    with pytest.raises(NotAllowed):
        reg.household_update(actor=people.worker1, household=h, version=h.version, note="x")
    with pytest.raises(NotAllowed):
        reg.visit_record(actor=people.county, household=h, findings="看望")
    with pytest.raises(NotAllowed):
        reg.reveal(actor=people.county, resident=h.head, field="id_number")


def test_reveal_is_logged(tree, people, make_household):
    number = make_id_number("19450301")
    h = make_household(tree.dwellings[0], [("王奶奶", {"id_number": number})])
    assert reg.reveal(actor=people.worker1, resident=h.head, field="id_number") == number
    log = AccessLog.objects.get()
    assert (log.actor, log.kind, log.field, log.object_id) == (people.worker1, "reveal", "id_number", str(h.head.pk))


def test_visit_updates_last_visited(tree, people, make_household):
    h = make_household(tree.dwellings[0])
    visit = reg.visit_record(actor=people.worker1, household=h, findings="身体状况良好", residents=[h.head])
    h.refresh_from_db()
    assert h.last_visited_at == visit.visited_at
    assert list(visit.visitors.all()) == [people.worker1]
    with pytest.raises(ValidationError):
        reg.visit_record(actor=people.worker1, household=h, findings="x", follow_up_needed=True)


def test_moving_a_household_moves_its_people_into_the_new_scope(tree, people, make_household):
    h = make_household(tree.dwellings[0])
    reg.household_update(actor=people.secretary, household=h, version=h.version, dwelling=tree.dwellings[-1])
    assert Resident.objects.visible_to(people.worker1).count() == 0
    assert Resident.objects.visible_to(people.worker2).count() == 1


def test_tag_changes_are_in_the_diff(tree, people, make_household):
    from wuzhi.registry.models import Tag

    alone = Tag.objects.create(name="独居老人", visit_interval_days=30)
    disabled = Tag.objects.create(name="残疾人")
    h = make_household(tree.dwellings[0], [("王奶奶", {"birth": "19450301"})])
    r = h.head
    reg.set_resident_tags(actor=people.worker1, resident=r, tags=[alone])
    reg.resident_update(actor=people.worker1, resident=r, version=r.version, tags=[alone, disabled])
    rows = list(ChangeLog.objects.filter(model="registry.resident", object_id=str(r.pk), op="update").order_by("id"))
    assert [row.changes["tags"] for row in rows] == [["", "独居老人"], ["独居老人", "残疾人、独居老人"]]
    reg.visit_record(actor=None, household=h, findings="系统补录")


def test_duplicate_id_in_another_grid_is_not_named(tree, people, make_household):
    make_household(tree.dwellings[-1], [("赵六", {"id_number": "530626197005120039"})])  # grid 2
    mine = make_household(tree.dwellings[0])
    with pytest.raises(ValidationError) as exc:
        reg.resident_create(actor=people.worker1, household=mine, name="假名", id_number="530626197005120039")
    message = exc.value.message_dict["id_number"][0]
    assert "赵六" not in message and "其他网格" in message and "已登记" in message


def test_no_area_below_a_unit(tree):
    from wuzhi.core import services as core_services

    with pytest.raises(ValidationError, match="单元下不能"):
        core_services.area_create(actor=None, parent=tree.units[0], segment="1", name="x")
