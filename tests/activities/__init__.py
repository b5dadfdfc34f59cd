"""Helpers shared by the activity tests (tests/conftest.py stays the project's; these build on it)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from wuzhi.activities import services
from wuzhi.activities.models import TeamKind


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def build(tree: Any, make_household: Any, *, members: int = 3) -> SimpleNamespace:
    """A party team on grid 1 with `members` resident members and one outside volunteer, a team
    activity on grid 1 yesterday, and an activity without a team on grid 2."""
    names = ["张黎", "王芳", "李明", "赵雪", "陈刚", "刘洋", "杨帆", "黄梅"]
    groups: list[list[str]] = [[] for _ in range(8)]  # grid 1 has eight dwellings
    for i in range(members):
        groups[i % 8].append(f"{names[i % len(names)]}{i // len(names) or ''}")
    by_name = {}
    for dwelling, group in zip(tree.dwellings[:8], groups, strict=True):
        if group:
            household = make_household(dwelling, [(name, {}) for name in group])
            by_name.update({r.name: r for r in household.members.all()})
    residents = [by_name[f"{names[i % len(names)]}{i // len(names) or ''}"] for i in range(members)]
    team = services.team_create(actor=None, area=tree.grids[0], kind=TeamKind.PARTY_SERVICE, name="政策宣传服务队")
    crew = [services.member_add(actor=None, team=team, resident=r, role="队长" if i == 0 else "队员")
            for i, r in enumerate(residents)]
    student = services.member_add(actor=None, team=team, name="周同学", organisation="昭通学院")
    day = timezone.localdate() - dt.timedelta(days=1)
    activity = services.activity_record(actor=None, area=tree.grids[0], kind="team", team=team, title="惠民政策入户宣讲",
                                        starts_at=at(day, 9), ends_at=at(day, 10, 30), venue="党群服务中心")
    other = make_household(tree.dwellings[8], [("孙丽", {})]).head
    far = services.activity_record(actor=None, area=tree.grids[1], kind="class", title="四点半课堂",
                                   starts_at=at(day, 16, 30), venue="2网格活动室")
    return SimpleNamespace(team=team, crew=crew, student=student, residents=residents, activity=activity,
                           far=far, far_resident=other, day=day)
