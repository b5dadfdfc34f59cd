"""Topics do not only follow the area tree: the members of a body (a 居民代表 with a staff login,
a 两委 member whose grant is a grid) see the topics their body has met on, wherever those sit."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from wuzhi.core.roles import Action
from wuzhi.core.scoping import relation


def seat_body_ids(user: Any) -> list[int]:
    """Bodies the user holds an active seat in; read once per user object (per request)."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_wuzhi_seats", None)
    if cached is None:
        from .models import BodyMember

        cached = list(BodyMember.objects.filter(user_id=user.pk, left_on__isnull=True)
                      .values_list("body_id", flat=True).distinct())
        user._wuzhi_seats = cached
    return cached


@relation("deliberation.topic")
def _topics(user: Any, action: str) -> Q | None:
    ids = seat_body_ids(user) if action == Action.VIEW else []
    if not ids:
        return None
    from .models import Meeting

    return Q(pk__in=Meeting.topics.through.objects.filter(meeting__body_id__in=ids).values("topic_id"))


@relation("deliberation.body")
def _bodies(user: Any, action: str) -> Q | None:
    ids = seat_body_ids(user) if action == Action.VIEW else []
    return Q(pk__in=ids) if ids else None


@relation("deliberation.meeting")
def _meetings(user: Any, action: str) -> Q | None:
    ids = seat_body_ids(user) if action == Action.VIEW else []
    return Q(body_id__in=ids) if ids else None
