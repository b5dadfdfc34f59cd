"""Aliyun SMS (短信服务, dysmsapi 2017-05-25) behind the one SMS interface (wuzhi.core.sms).

Calls the published RPC API `SendSms` with the documented signature (签名机制, SignatureVersion
1.0): the parameters sorted by name and percent-encoded (RFC 3986: unreserved characters kept,
space as %20, never '+'), the string to sign `METHOD&%2F&<encoded canonical query>`, the signature
Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)). Standard library only, so a government
intranet needs no SDK wheel; one POST per message with a timeout.

Settings (all read from WUZHI_SMS_ALIYUN_* environment variables in settings.py):
ENDPOINT, ACCESS_KEY_ID, ACCESS_KEY_SECRET, SIGN_NAME, TEMPLATE (the template code used when a
message names none), TEMPLATES ("SMS_ALARM=SMS_153055065,..." maps the names callers use to the
codes Aliyun gave this account's approved templates), REGION, TIMEOUT (seconds).

The caller's idempotency key travels as OutId: Aliyun echoes it on delivery receipts, so a retry
after a timeout can be matched to the first attempt. Errors become SmsError with `retry` saying
whether trying again may help (throttling, provider faults, network) or not (bad number, bad
credentials, template problems)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from django.conf import settings

from .sms import SmsError, SmsMessage

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Error codes after which the same request may succeed later: flow control, the provider's own
# faults, a replayed nonce or a skewed clock (a new attempt gets a new nonce and timestamp).
RETRY_CODES = {
    "isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE",
    "Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable", "InternalError",
    "SignatureNonceUsed", "InvalidTimeStamp.Expired", "SDK.ServerUnreachable",
}


def percent_encode(value: str) -> str:
    """Aliyun's encoding: UTF-8, then every byte but A–Z a–z 0–9 - _ . ~ as %XY (upper case)."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _retryable(code: str) -> bool:
    return code in RETRY_CODES or code.startswith("isp.") or code.startswith("Throttling")


class AliyunSmsSender:
    def __init__(self, *, endpoint: str | None = None, access_key_id: str | None = None,
                 access_key_secret: str | None = None, sign_name: str | None = None, template: str | None = None,
                 templates: str | dict[str, str] | None = None, region: str | None = None,
                 timeout: float | None = None) -> None:
        def conf(name: str, given: Any, default: Any = "") -> Any:
            return given if given is not None else getattr(settings, f"WUZHI_SMS_ALIYUN_{name}", default) or default

        self.endpoint = conf("ENDPOINT", endpoint, DEFAULT_ENDPOINT)
        self.access_key_id = conf("ACCESS_KEY_ID", access_key_id)
        self.access_key_secret = conf("ACCESS_KEY_SECRET", access_key_secret)
        self.sign_name = conf("SIGN_NAME", sign_name)
        self.template = conf("TEMPLATE", template)
        mapping = conf("TEMPLATES", templates, "")
        if isinstance(mapping, str):
            pairs = (item.partition("=") for item in mapping.split(",") if "=" in item)
            mapping = {name.strip(): code.strip() for name, _eq, code in pairs}
        self.templates: dict[str, str] = dict(mapping)
        self.region = conf("REGION", region, "cn-hangzhou")
        self.timeout = float(conf("TIMEOUT", timeout, 5))

    def params(self, message: SmsMessage) -> dict[str, str]:
        """Every parameter of the request but Signature (common ones first, then SendSms's)."""
        template = self.templates.get(message.template, message.template) or self.template
        if not (self.access_key_id and self.access_key_secret and self.sign_name and template):
            raise SmsError("阿里云短信未配置完整(AccessKey、签名或模板)", retry=False)
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            "PhoneNumbers": message.phone,
            "SignName": self.sign_name,
            "TemplateCode": template,
        }
        if message.params:
            params["TemplateParam"] = json.dumps(message.params, ensure_ascii=False, separators=(",", ":"))
        if message.key:
            params["OutId"] = message.key
        return params

    def send(self, message: SmsMessage) -> str:
        params = self.params(message)
        params["Signature"] = sign("POST", params, self.access_key_secret)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items()).encode()
        request = Request(self.endpoint, data=body, method="POST",
                          headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                   "Accept": "application/json"})
        try:
            with urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (endpoint from settings)
                raw = response.read()
        except HTTPError as exc:
            raw = exc.read()
            data = _json(raw)
            code = str(data.get("Code", ""))
            retry = exc.code >= 500 or exc.code == 429 or _retryable(code)
            raise SmsError(f"阿里云短信接口返回 HTTP {exc.code} {code} {data.get('Message', '')}".strip(),
                           retry=retry) from exc
        except (URLError, TimeoutError, ConnectionError) as exc:
            raise SmsError(f"无法连接阿里云短信接口:{exc}", retry=True) from exc
        data = _json(raw)
        code = str(data.get("Code", ""))
        if code != "OK":
            raise SmsError(f"阿里云短信发送失败:{code or '无返回码'} {data.get('Message', '')}".strip(),
                           retry=_retryable(code) or not code)
        return str(data.get("BizId") or data.get("RequestId") or "")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
