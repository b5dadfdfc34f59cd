"""An SMS sender for an HTTP SMS gateway of the deployment's own (a carrier's SMS platform behind a
small relay, or the test stub): POSTs JSON {key, phone, text} to WUZHI_SMS_GATEWAY_URL with the
idempotency key also in the Idempotency-Key header. A gateway that honours the key sends a message
once however often it is posted. Set WUZHI_SMS_SENDER=wuzhi.alarms.gateway.HttpGatewaySender."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from wuzhi.core.sms import SmsError, SmsMessage


class HttpGatewaySender:
    def __init__(self, url: str | None = None, timeout: float = 5.0) -> None:
        self.url = url or os.environ.get("WUZHI_SMS_GATEWAY_URL", "")
        self.timeout = timeout
        if not self.url:
            raise SmsError("未配置 WUZHI_SMS_GATEWAY_URL", retry=False)

    def send(self, message: SmsMessage) -> str:
        body = json.dumps({"key": message.key, "phone": message.phone, "text": message.text}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": message.key})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise SmsError(f"短信网关拒绝:HTTP {exc.code}", retry=exc.code >= 500 or exc.code == 429) from exc
        except (OSError, ValueError) as exc:
            raise SmsError(f"短信网关不可达:{exc}") from exc
        return str(answer.get("id") or message.key)
