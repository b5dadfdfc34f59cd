"""The SMS channel, one interface for every app that texts someone (case notices, alarm
escalations). A deployment names its sender in settings.WUZHI_SMS_SENDER (a dotted path to a
class taking no arguments). Without one, `sender()` is None and callers keep their outbox rows
pending: nothing is lost, nothing is sent by surprise.

Callers own their outbox and retries; a sender only sends one message or raises `SmsError`.
`key` is the caller's idempotency key: a provider that supports one (Aliyun's OutId) gets it, so a
retry after a timeout does not text the same person twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("wuzhi.sms")


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str  # the full text, for senders that take free text and for the record
    key: str = ""  # idempotency key
    template: str = ""  # provider template code, for providers that only send templates
    params: dict[str, str] = field(default_factory=dict)


class SmsError(Exception):
    """The provider refused or could not be reached; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class SmsSender(Protocol):
    def send(self, message: SmsMessage) -> str:
        """Send one message; return the provider's message id, or raise SmsError."""


class LogSender:
    """Writes what it would send to the log: the demo's channel, never a real text."""

    def send(self, message: SmsMessage) -> str:
        log.warning("短信(未发送,演示): %s → %s", message.phone, message.text)
        return f"log-{message.key}"


def sender() -> SmsSender | None:
    path = getattr(settings, "WUZHI_SMS_SENDER", "")
    return import_string(path)() if path else None
