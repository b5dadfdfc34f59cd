"""A local stand-in for Aliyun's SMS endpoint (dysmsapi, SendSms over RPC) for the tests.

It checks each request the way the provider documents it (签名机制, SignatureVersion 1.0): the
AccessKeyId is known, and the Signature equals Base64(HMAC-SHA1(secret + "&", string to sign))
recomputed here. The encoding and the string to sign are written again in this file, from the
documentation, on purpose: a test that imported the sender's own helpers would pass whatever
those helpers got wrong. Accepted messages are recorded; `fail_with` makes it answer 5xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def encode(text: str) -> str:
    """Each UTF-8 byte outside the unreserved set becomes %XY (hex upper case)."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def expected_signature(method: str, params: dict[str, str], secret: str) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(encode(k) + "=" + encode(v) for k, v in pairs)
    to_sign = method + "&" + encode("/") + "&" + encode(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


class SmsStub:
    REQUIRED = ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce", "SignatureVersion",
                "Timestamp", "Version", "PhoneNumbers", "SignName", "TemplateCode")

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys  # AccessKeyId → AccessKeySecret
        self.messages: list[dict[str, str]] = []
        self.rejected: list[tuple[int, str]] = []
        self.fail_with: int | None = None
        self.nonces: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _answer(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str, raw: str) -> None:
                params = dict(parse_qsl(raw, keep_blank_values=True))
                status, body = stub.check(method, params)
                if status != 200:
                    stub.rejected.append((status, body.get("Code", "")))
                self._answer(status, body)

            def do_GET(self) -> None:
                self._handle("GET", urlsplit(self.path).query)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._handle("POST", self.rfile.read(length).decode("utf-8"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def check(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, str]]:
        if self.fail_with:
            return self.fail_with, {"Code": "ServiceUnavailable", "Message": "stub failure"}
        missing = [k for k in (*self.REQUIRED, "Signature") if not params.get(k)]
        if missing:
            return 400, {"Code": "MissingParameter", "Message": ",".join(missing)}
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return 400, {"Code": "InvalidParameter", "Message": "signature method"}
        if not hmac.compare_digest(params["Signature"], expected_signature(method, params, secret)):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched."}
        if params["SignatureNonce"] in self.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}
        self.nonces.add(params["SignatureNonce"])
        self.messages.append(params)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.messages)}", "RequestId": "stub"}

    def __enter__(self) -> SmsStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
