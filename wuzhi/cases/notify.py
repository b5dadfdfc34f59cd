"""Telling the reporter: every notice is a CaseNotice row (the portal shows them), and an
outbox for SMS. Sending goes through the one SMS channel (wuzhi.core.sms) that the alarms use
too. Without a configured sender, notices stay in the portal and the outbox rows stay pending:
nothing is lost, nothing is sent by surprise."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from wuzhi.core import crypto
from wuzhi.core.sms import SmsError, SmsMessage, sender

from .models import Case, CaseNotice

# What the reporter is told, by the state the case reaches.
MESSAGES = {
    "accepted": "您反映的“{title}”已受理,编号{number},可凭编号和手机号查询进度。",
    "resolved": "您反映的“{title}”(编号{number})已办结:{result}。欢迎评价。",
    "reopened": "您反映的“{title}”(编号{number})已重新办理。",
    "merged_resolved": "您反映的“{title}”(编号{number})已随同类问题一并办结:{result}。",
}


def tell(case: Case, key: str, at: dt.datetime | None = None) -> CaseNotice | None:
    if not case.reporter_phone_hash:
        return None
    text = MESSAGES[key].format(title=case.title[:30], number=case.number, result=case.result[:60])
    return CaseNotice.objects.create(case=case, text=text[:200], at=at or timezone.now())


def deliver_pending(limit: int = 200) -> int:
    """Send pending notices through the configured sender; returns how many were sent."""
    sms = sender()
    if sms is None:
        return 0
    sent = 0
    for notice in CaseNotice.objects.filter(sms=CaseNotice.Sms.PENDING).select_related("case")[:limit]:
        with transaction.atomic():
            try:
                sms.send(SmsMessage(phone=crypto.decrypt(notice.case.reporter_phone_enc), text=notice.text,
                                    key=f"case-notice-{notice.pk}"))
            except SmsError as error:
                # A passing fault (timeout, throttling) stays pending for the next run; a refusal
                # (bad number, template) is marked failed so it does not loop for ever.
                if error.retry:
                    continue
                notice.sms = CaseNotice.Sms.FAILED
            else:
                notice.sms, sent = CaseNotice.Sms.SENT, sent + 1
            notice.sms_at = timezone.now()
            notice.save(update_fields=["sms", "sms_at"])
    return sent
