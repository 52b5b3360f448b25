"""The small JSON cache that shared pieces of worker state go through: Redis-backed in the
cluster, in process memory for a one-off CLI run without a Redis."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

from core.coordination import claim
from core.redis_keys import CACHE, CLAIM, redis_key


class JsonCache:
    """Values kept as JSON under whose-key's prefix, each with a time to live."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def get(self, name: str) -> Any | None:
        raw = self.redis.get(redis_key(CACHE, name))
        return None if raw is None else json.loads(raw)

    def set(self, name: str, value: Any, ttl: int) -> None:
        self.redis.set(redis_key(CACHE, name), json.dumps(value), ex=ttl)

    def claim(self, name: str, ttl: int) -> bool:
        """True for the one caller that takes this named claim until it expires."""
        return claim(self.redis, redis_key(CLAIM, name), ttl)


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
