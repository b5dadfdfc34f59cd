"""One built demo community shared by the test modules that need it (pytest-django).

Why not the usual fixtures: the build takes tens of seconds, so per-test building inside the
test transaction (`db`) is out, and a session fixture would leave 6,820 residents in the
database for every later test module, which all expect an empty database.

So each module that needs the demo declares a module-scoped fixture that calls
`shared_demo()`. The first one builds the demo into the test database, committed, outside any
test transaction (`django_db_blocker.unblock()`). Tests read it through the normal `db` fixture:
their transactions roll back, the demo stays. When a module finishes, the data is kept only if
the next test that touches the database also uses the demo; otherwise the database is flushed,
exactly as pytest-django's `transactional_db` leaves it, so the rest of the suite sees an empty
database. Running test_demo.py and test_stats.py together therefore builds once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.management import call_command

from .generator import DemoResult, build_demo, demo_exists

FIXTURE_NAME = "fuxing"
SEED = 2026
_DB_FIXTURES = ("db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback",
                "live_server")
_state: dict[str, DemoResult] = {}


def _uses_db(item: Any) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in _DB_FIXTURES) or item.get_closest_marker("django_db") is not None


def _needed_next(request: Any) -> bool:
    """Does the next database-using test after this module's current run of tests use the demo?

    pytest-django reorders the session (database tests first), so a module's tests need not be
    contiguous; pytest tears a module fixture down at the end of the run of consecutive items
    of that module in which it was set up. That run starts at the item that requested the
    fixture (`_pyfuncitem`, pytest's long-standing attribute for it); without it, say no and flush."""
    items = list(request.session.items)
    first = getattr(request, "_pyfuncitem", None)
    if first is None or first not in items:
        return False
    end = items.index(first)
    while end < len(items) and items[end].module is request.module:
        end += 1
    for item in items[end:]:
        if FIXTURE_NAME in getattr(item, "fixturenames", ()):
            return True
        if _uses_db(item):
            return False
    return False


def flush() -> None:
    call_command("flush", interactive=False, verbosity=0)


def shared_demo(request: Any, django_db_blocker: Any) -> Iterator[DemoResult]:
    """Body of the module-scoped `fuxing` fixture (see the module docstring)."""
    with django_db_blocker.unblock():
        if "result" not in _state:
            if demo_exists():
                flush()  # left behind by an interrupted run with --reuse-db
            _state["result"] = build_demo(seed=SEED)
        result = _state["result"]
    yield result
    if _needed_next(request):
        return
    with django_db_blocker.unblock():
        flush()
    _state.clear()
