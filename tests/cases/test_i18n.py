"""The case pages in English: labels, states and refusals follow the user's language, while what
is written down (timeline notes, the result the reporter is told, the 协议书) stays Chinese."""

from __future__ import annotations

import io

from django.utils import translation
from docx import Document

from wuzhi.cases import services
from wuzhi.cases.models import CaseState, Outcome, Satisfaction


def english(client, user):
    client.force_login(user)
    client.cookies["django_language"] = "en"
    return client


def test_queue_and_detail_in_english(client, open_case, people):
    case = open_case(channel="phone")
    english(client, people.worker1)
    queue = client.get("/cases/").content.decode()
    for needle in ("Requests & disputes", "Report on behalf", "All open cases", "Problem report", "Assigned",
                   "Handled by: "):
        assert needle in queue
    assert "代报事项" not in queue and "待分派" not in queue
    detail = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Case history" in detail and "Phone" in detail and "办理记录" not in detail


def test_refusal_in_english_but_the_note_written_stays_chinese(client, open_case, people):
    case = open_case(channel="phone")
    english(client, people.worker1)
    r = client.post(f"/cases/{case.pk}/act/", {"to": CaseState.ARCHIVED, "version": case.version}, follow=True)
    assert "A case that is “Assigned” cannot become “Archived”" in r.content.decode()
    # The first timeline row was written in Chinese; a review made from an English page too.
    services.case_transition(actor=None, case=case, to=CaseState.IN_PROGRESS)
    services.case_transition(actor=None, case=case, to=CaseState.RESOLVED, note="已修好")
    with translation.override("en"):
        services.case_review(actor=people.worker1, case=case, satisfaction=Satisfaction.BASIC, note="还行")
    notes = list(case.events.values_list("note", flat=True))
    assert notes[0] == "来源:电话" and notes[-1] == "基本满意:还行"


def test_agreement_stays_chinese_from_an_english_page(client, open_case, categories, teams):
    case = open_case(categories.neighbour)
    dispute = services.dispute_intake(actor=teams.mediator, case=case, dispute_type="neighbour", situation="漏水",
                                      parties=[{"name": "王大妈", "role": "applicant"},
                                               {"name": "李师傅", "role": "respondent"}])
    services.mediation_record(actor=teams.mediator, dispute=dispute, notes="双方同意修复")
    services.dispute_conclude(actor=teams.mediator, dispute=dispute, outcome=Outcome.SUCCESS, terms="修复防水层")
    english(client, teams.mediator)
    assert "Party" in client.get(f"/cases/{case.pk}/").content.decode()
    r = client.get(f"/cases/{case.pk}/dispute/agreement.docx")
    text = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "申请人:王大妈" in text and "Applicant" not in text
