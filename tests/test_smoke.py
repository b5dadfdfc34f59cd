from wuzhi.registry.models import Household, Resident


def test_tree_and_household(tree, people, make_household):
    h = make_household(tree.dwellings[0], [("张黎", {"birth": "19700512"}), ("夏红燕", {"male": False})])
    assert h.head.name == "张黎"
    assert h.address == "1栋1单元101室"
    assert Household.objects.visible_to(people.worker1).count() == 1
    assert Household.objects.visible_to(people.worker2).count() == 0
    assert Resident.objects.visible_to(people.county).count() == 2
    assert Resident.objects.visible_to(people.county, "change").count() == 0
