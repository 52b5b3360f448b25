"""Redis connections and the small JSON cache every shared piece of state goes through."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis import Redis

from workers.constants import REDIS_PREFIX

T = TypeVar("T")


def connect(url: str) -> Redis:
    """A Redis client that fails fast instead of hanging when Redis is away."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def key(*parts: str) -> str:
    return REDIS_PREFIX + ":".join(parts)


class JsonCache:
    """Values kept as JSON under whose-key's prefix, each with a time to live."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def get(self, name: str) -> Any | None:
        raw = self.redis.get(key("cache", name))
        return None if raw is None else json.loads(raw)

    def set(self, name: str, value: Any, ttl: int) -> None:
        self.redis.set(key("cache", name), json.dumps(value), ex=ttl)

    def get_or_compute(
        self, name: str, ttl: int, compute: Callable[[], T], encode: Callable[[T], Any], decode: Callable[[Any], T]
    ) -> T:
        cached = self.get(name)
        if cached is not None:
            return decode(cached)
        value = compute()
        self.set(name, encode(value), ttl)
        return value


class MemoryCache(JsonCache):
    """The same interface in process memory, for one-off CLI runs without a Redis."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, str]] = {}

    def get(self, name: str) -> Any | None:
        entry = self._values.get(name)
        if entry is None or entry[0] < time.monotonic():
            return None
        return json.loads(entry[1])

    def set(self, name: str, value: Any, ttl: int) -> None:
        self._values[name] = (time.monotonic() + ttl, json.dumps(value))
