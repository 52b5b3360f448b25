"""One sweep at a time, and AssumeRole spread over time.

The lock is a Redis key holding the running sweep's ID with a short TTL (SWEEP_LOCK), renewed
while the sweep runs: by its coordinator as it enqueues and by every account job as it works. A
sweep whose processes all died lets go within the TTL, and the next sweep starts clean.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterator

from redis import Redis
from redis.exceptions import RedisError

from core.coordination import LeaseLock
from core.redis_keys import ASSUME_RATE, SWEEP_LOCK, redis_key
from workers.constants import ASSUME_PER_SECOND
from workers.sweep.state import SweepProgress
from workers.ticker import ticking

log = logging.getLogger(__name__)

LOCK = redis_key(SWEEP_LOCK)


class SweepLock(LeaseLock):
    """The sweep lock: a lease lock whose owner token is the running sweep's ID."""

    def __init__(self, redis: Redis, ttl: int = SWEEP_LOCK.seconds) -> None:
        super().__init__(redis, LOCK, ttl)

    @contextlib.contextmanager
    def kept(self, sweep_id: str, stop: threading.Event) -> Iterator[None]:
        """Renew the lock every third of its TTL while the block runs; set `stop` if it is lost
        (another sweep took over after this one stalled): the block then stops its work."""

        def renew() -> bool:
            try:
                if not self.renew(sweep_id):
                    log.warning("sweep lock lost; stopping", extra={"sweep": sweep_id, "holder": self.holder()})
                    stop.set()
                    return False
            except RedisError as exc:  # a blip: the next renewal tries again, well within the TTL
                log.warning("sweep lock not renewed", extra={"sweep": sweep_id, "error": str(exc)})
            return True

        with ticking(self.ttl / 3, renew, name="sweep-lock"):
            yield


def join_running_sweep(redis: Redis, sweep_id: str) -> SweepLock | None:
    """The sweep lock, held for `sweep_id`, for one of that sweep's jobs; None when the sweep is
    over: another sweep holds the lock, or this one has finished. RQ runs a job at least once, so
    a duplicate of a finished sweep's job can start late; taking the free lock back then would hold
    off the next sweep for the lock's whole TTL. The finish is claimed before the lock is let go,
    so a job that takes the lock after that release always sees the sweep finished, and lets go.

    A holder whose finish is claimed has done its work and is only writing its report (its
    finalizer lets go right after): its lock is let go here, so a sweep asked for the moment the
    last one reports finished starts instead of being skipped. Two takers race fairly: one wins."""
    lock = SweepLock(redis)
    progress = SweepProgress(redis)
    holder = lock.holder()
    if holder is not None and holder != sweep_id and progress.finished(holder):
        lock.release(holder)  # compares the token: a lock taken by a live sweep meanwhile stays
    if not lock.acquire(sweep_id):
        return None
    if progress.finished(sweep_id):
        lock.release(sweep_id)
        return None
    return lock


class AssumePace:
    """At most `per_second` AssumeRole calls start in any second, counted across all workers."""

    def __init__(self, redis: Redis, per_second: int = ASSUME_PER_SECOND) -> None:
        self.redis = redis
        self.per_second = per_second

    def wait(self, stop: threading.Event | None = None) -> None:
        while stop is None or not stop.is_set():
            now = time.time()
            name = redis_key(ASSUME_RATE, str(int(now)))
            with self.redis.pipeline() as pipe:
                pipe.incr(name)
                pipe.expire(name, ASSUME_RATE.seconds)
                taken = int(pipe.execute()[0])
            if taken <= self.per_second:
                return
            # This second is full: try again early in the next one, spread a little.
            time.sleep(1 - (now % 1) + random.uniform(0, 0.2))  # noqa: S311 - jitter, not crypto
