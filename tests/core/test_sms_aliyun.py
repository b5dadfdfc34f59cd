"""The Aliyun SMS sender against a local stub that verifies the documented request signature."""

from __future__ import annotations

import json
import socket
import time

import pytest

from wuzhi.core.sms import SmsError, SmsMessage, sender
from wuzhi.core.sms_aliyun import AliyunSmsSender

from .sms_stub import SmsStub, expected_signature

KEY_ID, SECRET = "LTAI-test-key", "test-secret-不要泄露"
MESSAGE = SmsMessage(phone="13912345678", text="【福兴社区】3栋2单元1102 张奶奶 一键呼叫,请立即处理",
                     key="alarm-17-step-1-user-5", template="SMS_2026001",
                     params={"address": "3栋2单元1102", "name": "张奶奶 & 家人"})


@pytest.fixture
def stub():
    with SmsStub({KEY_ID: SECRET}) as s:
        yield s


def make(stub, **kw):
    conf = {"endpoint": stub.url, "access_key_id": KEY_ID, "access_key_secret": SECRET, "sign_name": "福兴社区",
            "timeout": 2.0}
    return AliyunSmsSender(**{**conf, **kw})


def test_stub_checks_the_documented_example():
    """The stub's own algorithm against the worked example of Aliyun's signature documentation
    (GET DescribeRegions with AccessKeySecret "testsecret"), so the verifier is not merely
    agreeing with the sender."""
    params = {"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26"}
    assert expected_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_good_signature_is_accepted_and_recorded(stub):
    biz_id = make(stub).send(MESSAGE)
    assert biz_id == "biz-1"
    [sent] = stub.messages
    assert sent["Action"] == "SendSms" and sent["Version"] == "2017-05-25"
    assert sent["PhoneNumbers"] == MESSAGE.phone and sent["SignName"] == "福兴社区"
    assert sent["TemplateCode"] == "SMS_2026001"
    assert json.loads(sent["TemplateParam"]) == MESSAGE.params


def test_out_id_carries_the_idempotency_key(stub):
    make(stub).send(MESSAGE)
    assert stub.messages[0]["OutId"] == "alarm-17-step-1-user-5"


def test_each_attempt_gets_a_fresh_nonce(stub):
    s = make(stub)
    s.send(MESSAGE)
    s.send(MESSAGE)
    assert len({m["SignatureNonce"] for m in stub.messages}) == 2


def test_wrong_secret_is_rejected_without_retry(stub):
    with pytest.raises(SmsError) as exc:
        make(stub, access_key_secret="wrong").send(MESSAGE)
    assert exc.value.retry is False and "SignatureDoesNotMatch" in str(exc.value)
    assert stub.rejected == [(400, "SignatureDoesNotMatch")] and not stub.messages


def test_unknown_key_is_rejected_without_retry(stub):
    with pytest.raises(SmsError) as exc:
        make(stub, access_key_id="nobody").send(MESSAGE)
    assert exc.value.retry is False


def test_provider_5xx_is_retryable(stub):
    stub.fail_with = 503
    with pytest.raises(SmsError) as exc:
        make(stub).send(MESSAGE)
    assert exc.value.retry is True


def test_unreachable_provider_is_retryable():
    with socket.socket() as s:  # a port that was free a moment ago: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SmsError) as exc:
        AliyunSmsSender(endpoint=f"http://127.0.0.1:{port}/", access_key_id=KEY_ID, access_key_secret=SECRET,
                        sign_name="福兴社区", timeout=1).send(MESSAGE)
    assert exc.value.retry is True


def test_timeout_is_bounded_and_retryable():
    """A provider that accepts the connection and never answers costs `timeout`, not forever."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        started = time.monotonic()
        with pytest.raises(SmsError) as exc:
            AliyunSmsSender(endpoint=f"http://127.0.0.1:{server.getsockname()[1]}/", access_key_id=KEY_ID,
                            access_key_secret=SECRET, sign_name="福兴社区", timeout=0.5).send(MESSAGE)
    assert exc.value.retry is True and time.monotonic() - started < 5


def test_missing_configuration_is_not_retried(stub):
    with pytest.raises(SmsError) as exc:
        make(stub, sign_name="").send(MESSAGE)
    assert exc.value.retry is False and not stub.messages


def test_settings_select_the_sender(stub, settings):
    settings.WUZHI_SMS_SENDER = "wuzhi.core.sms_aliyun.AliyunSmsSender"
    settings.WUZHI_SMS_ALIYUN_ENDPOINT = stub.url
    settings.WUZHI_SMS_ALIYUN_ACCESS_KEY_ID = KEY_ID
    settings.WUZHI_SMS_ALIYUN_ACCESS_KEY_SECRET = SECRET
    settings.WUZHI_SMS_ALIYUN_SIGN_NAME = "福兴社区"
    settings.WUZHI_SMS_ALIYUN_TEMPLATE = "SMS_DEFAULT"
    s = sender()
    assert isinstance(s, AliyunSmsSender)
    s.send(SmsMessage(phone="13900000000", text="测试", key="k1"))
    assert stub.messages[0]["TemplateCode"] == "SMS_DEFAULT" and "TemplateParam" not in stub.messages[0]


def test_template_names_map_to_the_accounts_codes(stub):
    """Callers name a template (the alarm engine sends "SMS_ALARM"); the deployment maps it to the
    code Aliyun approved for its account."""
    make(stub, templates="SMS_ALARM=SMS_153055065, CASE=SMS_1").send(
        SmsMessage(phone="13900000000", text="紧急呼叫", key="a1", template="SMS_ALARM", params={"text": "紧急呼叫"}))
    make(stub, templates="SMS_ALARM=SMS_153055065").send(SmsMessage(phone="13900000000", text="x", key="a2",
                                                                    template="SMS_OTHER"))
    assert [m["TemplateCode"] for m in stub.messages] == ["SMS_153055065", "SMS_OTHER"]
