"""Encryption at rest for ID and phone numbers, with a blind index for exact lookup.

Ciphertext is "kid:base64(nonce|AES-GCM ciphertext)". The first configured key encrypts; every
configured key decrypts, so keys rotate by prepending a new one and re-encrypting
(`wuzhi rotate_keys`, see wuzhi.core.backup). The blind index is an HMAC of the normalised
value under a separate key: equal numbers give equal digests, so `WHERE id_number_hash = ?`
finds a person without storing the number in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@lru_cache(maxsize=4)
def _keys(spec: str) -> tuple[tuple[str, AESGCM], ...]:
    keys = []
    for part in spec.split(","):
        kid, _, material = part.strip().partition(":")
        raw = _b64decode(material)
        if len(raw) != 32:
            raise ValueError(f"WUZHI_FIELD_KEYS: key {kid} must be 32 bytes")
        keys.append((kid, AESGCM(raw)))
    return tuple(keys)


def current_key_id() -> str:
    return _keys(settings.FIELD_KEYS)[0][0]


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    kid, aead = _keys(settings.FIELD_KEYS)[0]
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plaintext.encode(), kid.encode())
    return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    if not token:
        return ""
    kid, _, body = token.partition(":")
    for key_id, aead in _keys(settings.FIELD_KEYS):
        if key_id == kid:
            raw = _b64decode(body)
            return aead.decrypt(raw[:12], raw[12:], kid.encode()).decode()
    raise ValueError(f"no key {kid!r} configured to decrypt this value")


def blind_index(value: str, purpose: str) -> str:
    """Deterministic digest for exact lookup; `purpose` keeps ID and phone digests unrelated."""
    if not value:
        return ""
    key = _b64decode(settings.INDEX_KEY)
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
