"""What the workers do on their own, every so often, once for the whole cluster: one row per
schedule.

Every background worker runs one small loop per schedule. A Redis slot that lives one interval
decides which worker enqueues the interval's job: the first to claim it (core.coordination.claim);
the others find it taken until the interval has passed. A row may ask two more things:

- `ready`, before the slot is claimed: False leaves the slot for a later look (the digest waits for
  a first sweep; the notice retry runs only while a notice is pending, so an idle cluster adds no
  job every interval);
- `running`, after the slot was won: a name means the previous run still goes, and this interval
  is skipped, logged and audited (a sweep lasts, the sweep lock says which one; the next
  interval looks again).

An interval of 0 turns a schedule off (the notice retry's setting is at least 1).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

from redis import Redis
from redis.exceptions import RedisError

from core.audit import audit
from core.contract import NoticeRetry, ReportRequest, SweepRequest
from core.coordination import claim
from core.queue import JobQueue
from core.redis_keys import NOTICE_RETRY_SLOT, REPORT_SLOT, SWEEP_LAST, SWEEP_SLOT, RedisName, redis_key
from core.settings import Settings
from workers.notices.pending import PENDING_SET
from workers.sweep.lock import SweepLock

log = logging.getLogger(__name__)

# A loop looks at least this often, so a short interval (tests) is honoured.
CHECK_EVERY = 30


def _always(_redis: Redis) -> bool:
    return True


def _nothing_running(_redis: Redis) -> str | None:
    return None


@dataclass(frozen=True)
class Schedule:
    name: str  # in logs, audit records and the loop thread's name
    slot: RedisName  # claimed by the worker that enqueues this interval's job; lives one interval
    interval: str  # the Settings field: seconds between runs, 0 = off
    job: Callable[[], object]  # the job arguments (core.contract) one run enqueues
    ready: Callable[[Redis], bool] = _always
    running: Callable[[Redis], str | None] = _nothing_running


def _sweep_running(redis: Redis) -> str | None:
    return SweepLock(redis).holder()


def _swept_once(redis: Redis) -> bool:
    # A fresh install does not post an empty digest before its first sweep.
    return bool(redis.exists(redis_key(SWEEP_LAST)))


def _notices_pending(redis: Redis) -> bool:
    return bool(redis.zcard(PENDING_SET))


SCHEDULES = (
    Schedule(
        "sweep",
        SWEEP_SLOT,
        "sweep_interval",
        lambda: SweepRequest(requested_by="schedule"),
        running=_sweep_running,
    ),
    Schedule(
        "digest",
        REPORT_SLOT,
        "report_interval",
        lambda: ReportRequest(request_id=f"digest-{int(time.time())}"),
        ready=_swept_once,
    ),
    Schedule(
        "notice-retry",
        NOTICE_RETRY_SLOT,
        "notice_retry_interval",
        lambda: NoticeRetry(requested_by="schedule"),
        ready=_notices_pending,
    ),
)


def interval_of(schedule: Schedule, settings: Settings) -> int:
    if schedule.interval not in {f.name for f in fields(Settings)}:
        raise AttributeError(f"{schedule.name} schedule: Settings has no {schedule.interval}")
    return int(getattr(settings, schedule.interval))


def run_if_due(redis: Redis, schedule: Schedule, interval: int) -> str | None:
    """One look: enqueue the schedule's job if it is ready, this worker wins the interval's slot
    and the previous run is over; the job's ID, or None when nothing was enqueued."""
    if not schedule.ready(redis) or not claim(redis, redis_key(schedule.slot), interval):
        return None
    running = schedule.running(redis)
    if running:
        log.warning(
            "scheduled %s skipped: the previous one is still running", schedule.name, extra={"running": running}
        )
        audit(redis, f"{schedule.name}_skipped", running=running, requested_by="schedule")
        return None
    job_id = JobQueue(redis).enqueue(schedule.job())
    log.info("%s scheduled", schedule.name, extra={"interval": interval, "job_id": job_id})
    return job_id


def start_schedule(
    redis: Redis, schedule: Schedule, interval: int, stop: threading.Event | None = None
) -> threading.Thread | None:
    """A daemon thread looking about every min(CHECK_EVERY, interval) seconds; None when off. A
    Redis outage is logged and the loop carries on."""
    if interval <= 0:
        log.info("%s schedule off (%s=0)", schedule.name, schedule.interval)
        return None
    stopped = stop or threading.Event()

    def loop() -> None:
        while True:
            try:
                run_if_due(redis, schedule, interval)
            except RedisError as exc:
                log.warning("%s schedule: Redis unreachable", schedule.name, extra={"error": str(exc)})
            if stopped.wait(min(CHECK_EVERY, interval)):
                return

    thread = threading.Thread(target=loop, name=f"{schedule.name}-schedule", daemon=True)
    thread.start()
    return thread


def start_schedules(redis: Redis, settings: Settings, stop: threading.Event | None = None) -> list[threading.Thread]:
    """Every schedule's loop (those switched on), stopped together by `stop`."""
    threads = (start_schedule(redis, s, interval_of(s, settings), stop) for s in SCHEDULES)
    return [thread for thread in threads if thread is not None]
