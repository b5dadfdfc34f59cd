"""The volunteer record: the page, the person's service list, and the .xlsx export (content,
formula escaping, scope, the access log, and who may export)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from wuzhi.activities import services
from wuzhi.core.models import AccessLog

from . import build


@pytest.fixture
def data(tree, make_household):
    data = build(tree, make_household, members=3)
    # A student whose organisation was typed as a formula: Excel must show it, never run it.
    data.hacker = services.member_add(actor=None, team=data.team, name="吴同学", organisation="=HYPERLINK(\"x\")")
    services.attendance_mark(actor=None, activity=data.activity, members=data.crew[:2], role="volunteer", hours=1.5)
    services.attendance_mark(actor=None, activity=data.activity, members=[data.hacker], role="volunteer", hours=3)
    services.attendance_mark(actor=None, activity=data.activity, members=[data.crew[2]])  # a participant
    services.attendance_mark(actor=None, activity=data.far, names=["二网格志愿者"], role="volunteer", hours=2)
    return data


def test_volunteer_page_ranks_by_hours(client, data, people):
    client.force_login(people.secretary)
    response = client.get(reverse("activities:volunteers"))
    rows = response.context["rows"]
    assert [(r["name"], float(r["hours"])) for r in rows] == [("吴同学", 3), ("二网格志愿者", 2), ("张黎", 1.5),
                                                              ("王芳", 1.5)]
    assert rows[0]["organisation"] == "=HYPERLINK(\"x\")" and rows[0]["team"] == "政策宣传服务队"
    assert float(response.context["hours"]) == 8
    person = client.get(reverse("activities:volunteer_detail"), {"member": data.crew[0].pk})
    assert [a.activity.title for a in person.context["page"].rows] == ["惠民政策入户宣讲"]
    assert float(person.context["summary"]["hours"]) == 1.5
    by_name = client.get(reverse("activities:volunteer_detail"), {"name": "二网格志愿者"})
    assert by_name.context["summary"]["n"] == 1


def test_export_has_chinese_headers_escaped_formulas_and_is_logged(client, data, people, tree):
    client.force_login(people.worker1)
    response = client.get(reverse("activities:volunteers_export"), {"team": data.team.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames == ["志愿服务时长", "服务明细"]
    summary = [list(r) for r in wb["志愿服务时长"].iter_rows(values_only=True)]
    assert summary[0] == ["序号", "姓名", "服务队", "队内职务", "所在单位", "参加活动(场)", "服务时长(小时)"]
    assert summary[1] == [1, "吴同学", "政策宣传服务队", "队员", "'=HYPERLINK(\"x\")", 1, 3]
    assert [r[1] for r in summary[1:]] == ["吴同学", "张黎", "王芳"]  # grid 2's volunteer is not worker1's
    detail = [list(r) for r in wb["服务明细"].iter_rows(values_only=True)]
    assert detail[0][:3] == ["日期", "时间", "活动名称"]
    assert len(detail) == 4 and {r[6] for r in detail[1:]} == {"张黎", "王芳", "吴同学"}
    assert all(r[7] == "志愿者" for r in detail[1:])  # participants are not volunteer service

    log = AccessLog.objects.get()
    assert (log.kind, log.actor, log.area_path) == ("export", people.worker1, tree.grids[0].path)
    assert "导出志愿服务时长3人、服务明细3条" in log.detail and "服务队:政策宣传服务队" in log.detail


def test_export_needs_the_export_permission(client, data, people):
    client.force_login(people.head)  # 楼长: may view and record, not export
    assert client.get(reverse("activities:volunteers_export")).status_code == 403
    assert "导出Excel" not in client.get(reverse("activities:volunteers")).content.decode()
    assert not AccessLog.objects.exists()
