"""智治 figures of the camera registry: the article says the cameras cover every public area
(探头全覆盖公共区域) and that residents share their own cameras of their own free will."""

from __future__ import annotations

from django.db.models import Count, Q

from wuzhi.reports.statistics import Scope, figure

from . import selectors
from .models import Camera, PublicArea

SMART = "智治"


@figure("public_areas_without_camera", "未覆盖探头的公共区域(处)", SMART)
def public_areas_without_camera(scope: Scope) -> int:
    return selectors.uncovered(scope.rows(PublicArea)).count()


def _camera_counts(scope: Scope) -> dict[str, int]:
    """Cameras in use, and the residents' cameras shared under a running consent (the rule is
    selectors.shared), in one query."""
    def run() -> dict[str, int]:
        shared = selectors.shared(Camera.objects.all()).values("pk")
        return scope.rows(Camera).filter(active=True).aggregate(
            cameras=Count("id"), shared=Count("id", filter=Q(pk__in=shared)))

    return scope.shared("cameras.counts", run)


@figure("cameras", "在用探头(个)", SMART)
def cameras(scope: Scope) -> int:
    return _camera_counts(scope)["cameras"]


@figure("household_cameras_shared", "居民自愿共享的探头(个)", SMART)
def household_cameras_shared(scope: Scope) -> int:
    return _camera_counts(scope)["shared"]
