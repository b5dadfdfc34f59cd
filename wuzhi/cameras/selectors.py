"""Reads worth naming: which cameras count for coverage, which public areas lack one."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Camera, CameraKind, Consent, PublicArea


def counting_links(on: dt.date | None = None) -> QuerySet[Camera.public_areas.through]:  # type: ignore[name-defined]
    """Camera ↔ public-area links that make a place covered: the camera is in use and is either
    a public camera or a household camera shared under a running consent. A withdrawn consent
    uncovers the place at once, which is what the flag should say."""
    running = Consent.objects.running(on).filter(camera_id=OuterRef("camera_id"))
    return Camera.public_areas.through.objects.filter(camera__active=True).filter(
        Q(camera__kind=CameraKind.PUBLIC) | Q(Exists(running)))


def with_coverage(qs: QuerySet[PublicArea], on: dt.date | None = None) -> QuerySet[PublicArea]:
    return qs.annotate(covered=Exists(counting_links(on).filter(publicarea_id=OuterRef("pk"))))


def uncovered(qs: QuerySet[PublicArea], on: dt.date | None = None) -> QuerySet[PublicArea]:
    return with_coverage(qs.filter(active=True), on).filter(covered=False)  # type: ignore[misc]


def shared(qs: QuerySet[Camera], on: dt.date | None = None) -> QuerySet[Camera]:
    """Household cameras under a running consent."""
    return qs.filter(kind=CameraKind.HOUSEHOLD, active=True).filter(
        Exists(Consent.objects.running(on).filter(camera_id=OuterRef("pk"))))
