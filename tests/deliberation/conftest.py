"""Fixtures for deliberation: bodies with members at the building and community levels, and
helpers that take a topic through the flow by the services (never by writing rows)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from wuzhi.deliberation import services
from wuzhi.deliberation.models import AttendanceStatus, BodyKind, Level, Source, TopicState, VoteOrigin

A = AttendanceStatus


def _body(actor, area, kind, name, n, **rules):
    body = services.body_save(actor=actor, area=area, name=name, kind=kind, **rules)
    services.members_add(actor=actor, body=body, people=[{"name": f"{name}成员{i}", "role": "成员"}
                                                         for i in range(n)],
                         on=dt.date(2000, 1, 1))
    return body


@pytest.fixture
def bodies(tree, people):
    s = people.secretary
    return SimpleNamespace(
        # 居民代表会议: two thirds present (proxies count), more than half of those present in favour.
        reps=_body(s, tree.community, BodyKind.REPRESENTATIVES, "居民代表会议", 9, quorum_num=2, quorum_den=3),
        building=_body(s, tree.buildings[0], BodyKind.BUILDING_COUNCIL, "1栋楼栋议事会", 5, quorum_num=1,
                       quorum_den=2),
        two=_body(s, tree.community, BodyKind.TWO_COMMITTEES, "两委会", 5),
        party_org=_body(s, tree.community, BodyKind.PARTY_ORG, "党总支委员会", 3),
        congress=_body(s, tree.community, BodyKind.PARTY_CONGRESS, "党员大会", 10),
    )


def attendance(body, present, proxy=0):
    """The first `present` members present, the next `proxy` by proxy, the rest absent."""
    members = list(body.members.order_by("id"))
    out = {}
    for i, m in enumerate(members):
        out[m.pk] = A.PRESENT if i < present else A.PROXY if i < present + proxy else A.ABSENT
    return out


@pytest.fixture
def helpers(tree, people, bodies):
    s = people.secretary
    now = timezone.now()

    def propose(level=Level.BUILDING, area=None, major=False, **kw):
        area = area or {Level.BUILDING: tree.buildings[0], Level.AREA: tree.grids[0],
                        Level.COMMUNITY: tree.community}[level]
        kw.setdefault("title", "1栋楼道灯改造")
        kw.setdefault("description", "楼道灯坏了很久,晚上看不见")
        kw.setdefault("source", Source.PARTY_ORG if major else Source.GRID)
        kw.setdefault("at", now - dt.timedelta(days=3))
        return services.topic_propose(actor=kw.pop("actor", s), level=level, area=area, major=major, **kw)

    def meet(body, topic, present=None, proxy=0, at=None):
        members = body.members.count()
        return services.meeting_record(actor=s, body=body, topics=[topic], held_at=at or now - dt.timedelta(hours=1),
                                       place="议事厅", minutes="听取情况,讨论方案",
                                       attendance=attendance(body, members if present is None else present, proxy))

    def vote(meeting, topic, votes_for=None, against=0, abstain=0, decision="同意实施"):
        return services.vote_record(actor=s, meeting=meeting, topic=topic, origin=VoteOrigin.HANDS,
                                    votes_for=meeting.attending - against - abstain if votes_for is None else votes_for,
                                    votes_against=against, votes_abstain=abstain, decision=decision)

    def accept(topic):
        return services.topic_transition(actor=s, topic=topic, to=TopicState.CONSULTING,
                                         at=now - dt.timedelta(days=2))

    def decide(topic, body=None):
        """An ordinary topic from 提议 to 决议."""
        accept(topic)
        body = body or bodies.building
        m = meet(body, topic)
        vote(m, topic)
        topic.refresh_from_db()
        return topic

    return SimpleNamespace(propose=propose, meet=meet, vote=vote, accept=accept, decide=decide, now=now)
