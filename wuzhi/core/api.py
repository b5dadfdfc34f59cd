"""API plumbing shared by every app: the scoped viewset base."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets


class ScopedViewSet(viewsets.GenericViewSet):
    """Every API query starts from the scope chokepoint; a row outside it is a 404."""

    scoped_model: Any = None
    keyset_ordering: list[str] = ["pk"]

    def get_queryset(self) -> Any:
        action = "view" if self.request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return self.scoped_model.objects.visible_to(self.request.user, action)


def register(router: Any) -> None:
    """Areas are registered by the registry API module with the rest of the registry."""
