"""Retry pending key notices every WHOSE_KEY_NOTICE_RETRY_INTERVAL seconds, once for the cluster.

One worker of the cluster enqueues the retry job each interval (workers/process/periodic.py).
"""

from __future__ import annotations

import logging
import threading

from redis import Redis

from core.contract import NoticeRetry
from core.queue import JobQueue
from core.redis_keys import NOTICE_RETRY_SLOT
from workers.notices.pending import PENDING_SET
from workers.process.periodic import claim_slot, start_periodic

log = logging.getLogger(__name__)


def claim_retry_slot(redis: Redis, interval: int) -> bool:
    return claim_slot(redis, NOTICE_RETRY_SLOT, interval)


def start_notice_retry_schedule(redis: Redis, interval: int, stop: threading.Event | None = None) -> threading.Thread:
    """A daemon thread that enqueues the retry job when this worker wins the interval's slot."""
    jobs = JobQueue(redis)

    def tick() -> None:
        # Only when something waits: an idle cluster adds no job every interval.
        if redis.zcard(PENDING_SET) and claim_retry_slot(redis, interval):
            jobs.enqueue(NoticeRetry(requested_by="schedule"))

    return start_periodic(redis, "notice-retry", interval, tick, stop)
