"""Run something once per interval for the whole cluster: every background worker runs the same
small loop, and a Redis slot that lives one interval decides which worker does it.

Used by the sweep, the pending-notice retry and the hygiene digest schedules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from core.redis_keys import RedisName, redis_key

log = logging.getLogger(__name__)

# The loop looks at least this often, so a short interval (tests) is honoured.
CHECK_EVERY = 30


def claim_slot(redis: Redis, slot: RedisName, interval: int) -> bool:
    """True for the one caller that takes this interval's slot."""
    return bool(redis.set(redis_key(slot), "1", nx=True, ex=interval))


def start_periodic(
    redis: Redis,
    name: str,
    interval: int,
    tick: Callable[[], None],
    stop: threading.Event | None = None,
) -> threading.Thread:
    """A daemon thread calling tick() about every min(CHECK_EVERY, interval) seconds; tick claims
    the slot itself (with claim_slot), so it can check its own preconditions first. A Redis
    outage is logged and the loop carries on."""
    stop = stop or threading.Event()

    def loop() -> None:
        while True:
            try:
                tick()
            except RedisError as exc:
                log.warning("%s schedule: Redis unreachable", name, extra={"error": str(exc)})
            if stop.wait(min(CHECK_EVERY, interval)):
                return

    thread = threading.Thread(target=loop, name=f"{name}-schedule", daemon=True)
    thread.start()
    return thread
