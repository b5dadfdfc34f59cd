"""Encryption at rest for ID and phone numbers, with a blind index for exact lookup.

Ciphertext is "kid:base64(nonce|AES-GCM ciphertext)". The first configured key encrypts; every
configured key decrypts, so keys rotate by prepending a new one and re-encrypting
(`wuzhi rotate_keys`, see wuzhi.core.backup). The blind index is an HMAC of the normalised
value under a separate key: equal numbers give equal digests, so `WHERE id_number_hash = ?`
finds a person without storing the number in clear."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Callable
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


@lru_cache(maxsize=4)
def _index_key(spec: str) -> bytes:
    return _b64decode(spec)


def blind_index(value: str, purpose: str) -> str:
    """Deterministic digest for exact lookup; `purpose` keeps ID and phone digests unrelated."""
    if not value:
        return ""
    return hmac.digest(_index_key(settings.INDEX_KEY), f"{purpose}:{value}".encode(), "sha256").hex()[:32]


# ---- the same, for a million values in a row (the fast import's workers) --------------------

_URLSAFE = bytes.maketrans(b"+/", b"-_")
_NONCES_PER_DRAW = 256


def encrypter() -> Callable[[str], str]:
    """encrypt() with the current key looked up once and nonces drawn from the OS 256 at a time.
    Each nonce is still 12 fresh random bytes used once; a batch drawn before a fork is thrown
    away in the child, so two processes never share one."""
    kid, aead = _keys(settings.FIELD_KEYS)[0]
    aad = kid.encode()
    prefix = f"{kid}:"
    pool = b""
    pos = owner = 0

    def seal(plaintext: str) -> str:
        nonlocal pool, pos, owner
        if not plaintext:
            return ""
        if pos >= len(pool) or owner != os.getpid():
            pool, pos, owner = os.urandom(12 * _NONCES_PER_DRAW), 0, os.getpid()
        nonce = pool[pos:pos + 12]
        pos += 12
        body = binascii.b2a_base64(nonce + aead.encrypt(nonce, plaintext.encode(), aad), newline=False)
        return prefix + body.translate(_URLSAFE).decode()

    return seal


def indexer(purpose: str) -> Callable[[str], str]:
    """blind_index(value, purpose) from an HMAC already keyed and fed the purpose's prefix."""
    keyed = hmac.new(_index_key(settings.INDEX_KEY), f"{purpose}:".encode(), "sha256")

    def digest(value: str) -> str:
        if not value:
            return ""
        h = keyed.copy()
        h.update(value.encode())
        return h.hexdigest()[:32]

    return digest
