"""Post the digest every WHOSE_KEY_REPORT_INTERVAL seconds, once for the whole cluster.

As with the sweep's schedule, every worker runs this loop and a Redis slot that lives one
interval decides which worker enqueues the digest. The slot is only taken once a sweep has
finished, so a fresh install does not post an empty digest before its first sweep.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis

from core.contract import ReportRequest
from core.queue import JobQueue
from core.redis_keys import REPORT_SLOT, SWEEP_LAST, redis_key
from workers.process.periodic import claim_slot, start_periodic

log = logging.getLogger(__name__)


def claim_digest_slot(redis: Redis, interval: int) -> bool:
    """True for the one worker that posts this interval's digest (and only after a sweep)."""
    if not redis.exists(redis_key(SWEEP_LAST)):
        return False
    return claim_slot(redis, REPORT_SLOT, interval)


def start_digest_schedule(redis: Redis, interval: int, stop: threading.Event | None = None) -> threading.Thread | None:
    """A daemon thread that enqueues the digest when this worker wins the interval's slot."""
    if interval <= 0:
        log.info("digest schedule off (WHOSE_KEY_REPORT_INTERVAL=0)")
        return None
    jobs = JobQueue(redis)

    def tick() -> None:
        if claim_digest_slot(redis, interval):
            jobs.enqueue(ReportRequest(request_id=f"digest-{int(time.time())}"))
            log.info("digest scheduled", extra={"interval": interval})

    return start_periodic(redis, "digest", interval, tick, stop)
