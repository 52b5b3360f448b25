"""Start a sweep every WHOSE_KEY_SWEEP_INTERVAL seconds, once for the whole cluster, and never two
at once.

Every background worker runs this small loop. A Redis slot that lives one interval decides which
worker enqueues the interval's sweep; the sweep lock (workers/sweep/lock.py), held and renewed for
as long as a sweep runs, makes an interval whose previous sweep is still running skip its own.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis

from core.audit import audit
from core.contract import SweepRequest
from core.queue import JobQueue
from core.redis_keys import SWEEP_SLOT
from workers.process.periodic import claim_slot, start_periodic
from workers.sweep.lock import SweepLock

log = logging.getLogger(__name__)


def claim_sweep_slot(redis: Redis, interval: int) -> bool:
    return claim_slot(redis, SWEEP_SLOT, interval)


def start_due_sweep(redis: Redis, interval: int) -> str | None:
    """Enqueue this interval's sweep if this worker won the slot and no sweep is running."""
    if not claim_sweep_slot(redis, interval):
        return None
    running = SweepLock(redis).holder()
    if running:
        log.warning("scheduled sweep skipped: the previous one is still running", extra={"running": running})
        audit(redis, "sweep_skipped", running=running, requested_by="schedule")
        return None
    sweep_id = JobQueue(redis).enqueue(SweepRequest(requested_by="schedule"))
    log.info("sweep scheduled", extra={"interval": interval, "sweep": sweep_id})
    return sweep_id


def start_sweep_schedule(redis: Redis, interval: int, stop: threading.Event | None = None) -> threading.Thread | None:
    """A daemon thread that starts the sweep when it is due."""
    if interval <= 0:
        log.info("sweep schedule off (WHOSE_KEY_SWEEP_INTERVAL=0)")
        return None

    def tick() -> None:
        start_due_sweep(redis, interval)

    return start_periodic(redis, "sweep", interval, tick, stop)
