"""Resident cards: a printable card with a QR code that carries a signed token naming the
resident, scanned at a roll call instead of searching for the name.

The token is the resident's id signed with the site's secret (django.core.signing), so a card
cannot be forged for someone else by editing the number, and it carries no personal data: lost
cards reveal nothing. It does not expire (a card is printed once and laminated)."""

from __future__ import annotations

from typing import Any

from django.core import signing

SALT = "wuzhi.activities.resident-card"
PREFIX = "WZR"


def card_token(resident: Any) -> str:
    return signing.Signer(salt=SALT).sign(f"{PREFIX}{resident.pk}")


def resident_pk(token: str) -> int | None:
    """The resident id in a scanned token, or None when it is not a genuine card. Scanner guns
    sometimes add spaces or line ends around what they read."""
    try:
        value = signing.Signer(salt=SALT).unsign((token or "").strip())
    except signing.BadSignature:
        return None
    if not value.startswith(PREFIX) or not value[len(PREFIX):].isdigit():
        return None
    return int(value[len(PREFIX):])
