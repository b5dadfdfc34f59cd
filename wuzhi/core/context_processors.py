from typing import Any

from django.conf import settings

from .scoping import grants_of


def wuzhi(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles = sorted({r for r, _ in grants_of(user)}) if user is not None else []
    return {"WUZHI_PUBLIC_URL": settings.PUBLIC_URL, "user_roles": roles}
