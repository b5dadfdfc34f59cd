"""Rendered pages kept in the cache until something in their area changes.

A grid worker opens the same household list and household pages many times between two changes
to them; rendering them again each time is most of what a page costs. A cached page is filed
under the *versions* of the areas it shows, and every change recorded in the audit trail gives
its area new versions, so a page is reused exactly while nothing it could show has changed.

The audit trail is the source because every write to people's records goes through a service
that writes a ChangeLog row (DESIGN: services own writes, every change leaves a diff). Writing
ChangeLog rows calls `changed()`; the versions move when the transaction commits, so a page read
before the commit was filed under the old versions and is never served again.

Two versions per area path, each a random token in the cache (no counter: a token set twice
never repeats, so no atomic increment is needed and any cache backend will do):

- the subtree version S(p) moves on any change at or below p;
- the exact version E(p) moves on a change at p itself (an area renamed, a community-wide record).

A page shown to a user whose scope roots are R depends on S(r) for each r in R (anything inside)
and on E(a) for each area a above some r (a renamed community renames every address below it).

What a page also depends on is part of its key: the URL with its query, the htmx target, the
session and CSRF secret (the page embeds a CSRF token; one user's page is never another's), the
language and the user's scope. The entry keeps the versions it was rendered at, and one round
trip to the cache reads it with the current versions: a newer version means render again (and
the entry is replaced, so stale pages do not pile up). Not cached: users who see records outside their area through a
relation (a party member's paired households: their pages depend on pairings elsewhere), pages
with a pending message, searches (`?q=`, typed once), non-200 answers. Entries expire after WUZHI_PAGE_CACHE_SECONDS (default
300), which also bounds what changes with the clock alone (a visit falling overdue). 0 turns
the cache off. Several app processes must share the cache (WUZHI_CACHE_URL=redis://…); if the
cache fails, pages are rendered as if it were off."""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from .scoping import has_relation_access, scope_paths

logger = logging.getLogger(__name__)

ROOT = "/"
_S, _E, _PAGE = "wz:v:s:", "wz:v:e:", "wz:page:"


def _timeout() -> int:
    return int(getattr(settings, "WUZHI_PAGE_CACHE_SECONDS", 300))


def prefixes(path: str) -> list[str]:
    """"/53/06/" → ["/", "/53/", "/53/06/"]; a path without a place ("") is the root."""
    parts = [p for p in (path or "").split("/") if p]
    return [ROOT] + ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1)]


# ---- writes --------------------------------------------------------------------------------

def changed(paths: Iterable[str]) -> None:
    """Mark the areas at `paths` changed, once the current transaction commits."""
    paths = {p or ROOT for p in paths}
    if not paths or _timeout() <= 0:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        bump(paths)
        return
    # The paths wait on the connection and the first callback to run at the commit moves them
    # all at once (a demo build or an import writes thousands of ChangeLog rows in one
    # transaction); the others find nothing left. Paths of a rolled-back part only cost an
    # unneeded move at the next commit.
    connection.__dict__.setdefault("_wuzhi_pages", set()).update(paths)
    transaction.on_commit(functools.partial(_flush, connection))


def _flush(connection: Any) -> None:
    pending = connection.__dict__.get("_wuzhi_pages")
    if pending:
        paths = set(pending)
        pending.clear()
        bump(paths)


def changed_by_logs(rows: Iterable[Any]) -> None:
    """ChangeLog rows written: their areas changed, and the area a record moved out of."""
    paths: set[str] = set()
    for row in rows:
        paths.add(row.area_path)
        for key in ("area_path", "path"):
            pair = (row.changes or {}).get(key)
            if isinstance(pair, list) and len(pair) == 2:
                paths.update(p for p in pair if isinstance(p, str))
    changed(paths)


def bump(paths: Iterable[str]) -> None:
    """New versions for `paths` now (callers normally go through `changed`)."""
    token = uuid.uuid4().hex
    keys: dict[str, str] = {}
    for path in paths:
        above = prefixes(path)
        keys.update({_S + p: token for p in above})
        keys[_E + above[-1]] = token
    if not keys:
        return
    try:
        cache.set_many(keys, None)
    except Exception:
        # The pages of these areas may be served stale until their entries expire.
        logger.exception("page cache: versions of %d areas not moved", len(keys))


# ---- reads ---------------------------------------------------------------------------------

def _version_keys(roots: list[str]) -> list[str]:
    return sorted({_S + r for r in roots} | {_E + a for r in roots for a in prefixes(r)[:-1]})


def _lookup(keys: list[str], page_key: str | None = None) -> tuple[list[str], Any]:
    """The versions at `keys` and the entry at `page_key`, in one round trip to the cache."""
    found = cache.get_many(keys + ([page_key] if page_key else []))
    missing = [k for k in keys if k not in found]
    if missing:
        # A version never set (or lost with the cache) gets a token now, before anything is
        # filed under it; `add` keeps a token another process set first.
        for key in missing:
            cache.add(key, uuid.uuid4().hex, None)
        found.update(cache.get_many(missing))
    return [str(found.get(k, "")) for k in keys], found.get(page_key) if page_key else None


def _key(request: HttpRequest, view: str, models: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """The page's key, and the version keys of the user's areas; None: not to be cached."""
    user: Any = request.user
    if request.method not in ("GET", "HEAD") or not user.is_authenticated or _timeout() <= 0:
        return None
    if request.GET.get("q"):
        return None  # a search is typed once: keeping its page would only cost a write per keystroke
    csrf_secret = request.META.get("CSRF_COOKIE")
    session_key = request.session.session_key
    if not csrf_secret or not session_key or len(get_messages(request)):
        return None
    roots = scope_paths(user, "view")
    roots = [ROOT] if roots is None else roots
    if any(has_relation_access(user, label) for label in models):
        return None
    htmx = ":".join(request.headers.get(h, "") for h in ("HX-Request", "HX-Target", "HX-Boosted"))
    parts = [view, request.get_full_path(), htmx, session_key, csrf_secret,
             getattr(request, "LANGUAGE_CODE", ""), *roots]
    return _PAGE + hashlib.sha256("\n".join(parts).encode()).hexdigest(), _version_keys(roots)


def cached_page(*models: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Serve the view's page from the cache while its areas are unchanged (see the module).
    `models` are the labels of the scoped models it lists, whose relation rules make a user's
    page depend on more than their areas."""
    return functools.partial(_cached, models=models)


def _cached(view: Callable[..., HttpResponse], models: tuple[str, ...]) -> Callable[..., HttpResponse]:
    name = f"{view.__module__}.{view.__qualname__}"

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The entry is filed under the page's key with the versions it was rendered at; it is
        # served only while the versions read now (in the same round trip) are the same.
        key = versions = None
        try:
            found = _key(request, name, models)
            if found is not None:
                key, version_keys = found
                versions, entry = _lookup(version_keys, key)
                if entry is not None and entry[0] == versions:
                    return HttpResponse(entry[2], content_type=entry[1])
        except Exception:
            logger.exception("page cache unavailable; rendering")
            key = None
        response = view(request, *args, **kwargs)
        if key and response.status_code == 200 and not response.streaming and not response.cookies:
            try:
                cache.set(key, (versions, response["Content-Type"], response.content), _timeout())
            except Exception:
                logger.exception("page cache: page not kept")
        return response

    return wrapper
