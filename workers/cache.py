"""Redis connections and the small JSON cache every shared piece of state goes through."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

from workers.constants import REDIS_PREFIX


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

    def claim(self, name: str, ttl: int) -> bool:
        """True for the one caller that takes this named claim until it expires."""
        return bool(self.redis.set(key("claim", name), "1", nx=True, ex=ttl))


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

    def claim(self, name: str, ttl: int) -> bool:
        if self.get("claim:" + name) is not None:
            return False
        self.set("claim:" + name, 1, ttl)
        return True
