"""Django's Redis cache, keeping one client per connection pool.

Django's RedisCacheClient makes a new `redis.Redis` for every operation, and building one fills a
table of several hundred response callbacks: on a page served from the page cache (two cache
operations) that was a quarter of the request's CPU. A `redis.Redis` is safe to share between
threads (it takes a connection from its pool per command), so one per pool is kept."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis


class _Client(redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # The stubs do not declare Django's private helpers this overrides around.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _Client
