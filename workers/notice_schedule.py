"""Retry pending key notices every WHOSE_KEY_NOTICE_RETRY_INTERVAL seconds, once for the cluster.

Like the sweep schedule (workers/schedule.py): every worker runs this small loop, and a Redis slot
that lives one interval decides which worker enqueues the retry job.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.exceptions import RedisError

from core.contract import NoticeRetry
from core.queue import JobQueue
from core.redis_keys import NOTICE_RETRY_SLOT, redis_key
from workers.pending import PENDING_SET

log = logging.getLogger(__name__)

# The loop looks at least this often, so a short interval (tests) is honoured.
CHECK_EVERY = 30


def claim_retry_slot(redis: Redis, interval: int) -> bool:
    return bool(redis.set(redis_key(NOTICE_RETRY_SLOT), "1", nx=True, ex=interval))


def start_notice_retry_schedule(redis: Redis, interval: int, stop: threading.Event | None = None) -> threading.Thread:
    """A daemon thread that enqueues the retry job when this worker wins the interval's slot."""
    stop = stop or threading.Event()
    jobs = JobQueue(redis)

    def loop() -> None:
        while True:
            try:
                # Only when something waits: an idle cluster adds no job every interval.
                if redis.zcard(PENDING_SET) and claim_retry_slot(redis, interval):
                    jobs.enqueue_notice_retry(NoticeRetry(requested_by="schedule"))
            except RedisError as exc:
                log.warning("notice retry schedule: Redis unreachable", extra={"error": str(exc)})
            if stop.wait(min(CHECK_EVERY, interval)):
                return

    thread = threading.Thread(target=loop, name="notice-retry-schedule", daemon=True)
    thread.start()
    return thread
