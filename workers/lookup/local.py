"""A finder for `whose-key lookup` on an operator's machine: Redis-backed caches when Redis is
reachable, in-memory ones otherwise (a one-off lookup does not need a Redis)."""

from __future__ import annotations

from redis.exceptions import RedisError

from core.redis_keys import connect
from core.settings import Settings, redact_url
from workers.aws.gateway import AwsGateway
from workers.cache import JsonCache, MemoryCache
from workers.lookup.finder import Finder, build_finder


def local_finder(settings: Settings) -> tuple[Finder, str | None]:
    """The finder, and a note to show when it runs without the shared cache."""
    note = None
    cache: JsonCache
    try:
        redis = connect(settings.redis_url)
        redis.ping()
        cache = JsonCache(redis)
    except RedisError:
        cache = MemoryCache()
        note = f"Redis at {redact_url(settings.redis_url)} is not reachable; using an in-memory cache for this run."
    gateway = AwsGateway(settings.role_name, settings.external_id)
    return build_finder(gateway, cache), note
