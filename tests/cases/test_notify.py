"""The reporter is told when their case moves; SMS goes out only through a configured sender."""

from __future__ import annotations

from django.utils.module_loading import import_string

from wuzhi.cases import notify, services
from wuzhi.cases.models import CaseNotice, CaseState
from wuzhi.core.sms import SmsMessage


class FakeSms:
    sent: list[tuple[str, str]] = []

    def send(self, message: SmsMessage) -> str:
        self.sent.append((message.phone, message.text))
        return message.key


def test_notices_and_the_sms_outbox(open_case, teams, people, settings):
    case = open_case(reporter_phone="13912345678")
    dup = open_case(reporter_phone="13800000000")
    services.case_merge(actor=people.secretary, main=case, duplicates=[dup])
    services.case_transition(actor=teams.fixer, case=case, to=CaseState.IN_PROGRESS)
    services.case_transition(actor=teams.fixer, case=case, to=CaseState.RESOLVED, note="已修好")
    texts = list(case.notices.values_list("text", flat=True))
    assert texts[0].startswith("您反映的") and case.number in texts[0] and "已办结:已修好" in texts[1]
    assert "一并办结:已修好" in dup.notices.last().text
    assert notify.deliver_pending() == 0  # no sender configured: nothing leaves, nothing is lost
    settings.WUZHI_SMS_SENDER = "tests.cases.test_notify.FakeSms"
    assert notify.deliver_pending() == 4
    # import_string may load this file under another module name: read the class it loaded.
    assert ("13912345678", texts[1]) in import_string(settings.WUZHI_SMS_SENDER).sent
    assert not CaseNotice.objects.filter(sms=CaseNotice.Sms.PENDING).exists()
