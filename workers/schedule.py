"""Start a sweep every WHOSE_KEY_SWEEP_INTERVAL seconds, once for the whole cluster.

Every worker runs this small loop; a Redis slot that lives for one interval decides which
worker enqueues the sweep, so any number of workers yields one sweep per interval.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.exceptions import RedisError

from core.contract import SweepRequest
from core.queue import JobQueue
from core.redis_keys import SWEEP_SLOT, redis_key

log = logging.getLogger(__name__)

CHECK_EVERY = 30


def claim_sweep_slot(redis: Redis, interval: int) -> bool:
    return bool(redis.set(redis_key(SWEEP_SLOT), "1", nx=True, ex=interval))


def start_sweep_schedule(redis: Redis, interval: int, stop: threading.Event | None = None) -> threading.Thread | None:
    """A daemon thread that enqueues the sweep when this worker wins the interval's slot."""
    if interval <= 0:
        log.info("sweep schedule off (WHOSE_KEY_SWEEP_INTERVAL=0)")
        return None
    stop = stop or threading.Event()
    jobs = JobQueue(redis)

    def loop() -> None:
        while True:
            try:
                if claim_sweep_slot(redis, interval):
                    jobs.enqueue_sweep(SweepRequest(requested_by="schedule"))
                    log.info("sweep scheduled", extra={"interval": interval})
            except RedisError as exc:
                log.warning("sweep schedule: Redis unreachable", extra={"error": str(exc)})
            if stop.wait(min(CHECK_EVERY, interval)):
                return

    thread = threading.Thread(target=loop, name="sweep-schedule", daemon=True)
    thread.start()
    return thread
