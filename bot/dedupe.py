"""Answer each Events API event exactly once.

Slack redelivers an event (X-Slack-Retry-Num) when it did not get a fast 2xx, up to 3 times.
The first delivery to claim the event's ID in Redis handles it; later ones are acked and
dropped. A claim is released when the event could not be handed to a worker, so a retry of an
event that was never queued is still answered.
"""

from __future__ import annotations

import contextlib

from redis import Redis
from redis.exceptions import RedisError

from core.coordination import claim, release
from core.redis_keys import EVENT_CLAIM, redis_key

# Slack retries within about an hour at most (immediately, after 1 min, after 5 min); keep the
# claim longer than that, and well over the 15 minutes the contract requires.
EVENT_CLAIM_TTL = 2 * 3600


def claim_event(redis: Redis, event_id: str) -> bool:
    """True for the first delivery of this event; raises RedisError when Redis is away."""
    return claim(redis, redis_key(EVENT_CLAIM, event_id), EVENT_CLAIM_TTL)


def release_event(redis: Redis, event_id: str) -> None:
    """Let a redelivery of this event be handled; quietly nothing when Redis is away too."""
    with contextlib.suppress(RedisError):
        release(redis, redis_key(EVENT_CLAIM, event_id))
