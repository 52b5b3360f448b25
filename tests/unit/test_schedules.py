"""The periodic schedules as one table (workers/process/schedules.py), on the unit run's own
redis-server: each row's interval is a setting, one worker of the cluster enqueues each interval's
job, and each schedule keeps its own conditions (the sweep skips while one runs, the digest waits
for a first sweep, the notice retry runs only while a notice is pending, 0 turns one off)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue
from rq.serializers import JSONSerializer

from core.audit import recent
from core.contract import ReportRequest
from core.jobs import BACKGROUND_QUEUE
from core.redis_keys import SWEEP_LAST, redis_key
from core.settings import Settings
from tests.support.racing import race
from workers.notices.pending import PENDING_SET
from workers.process.schedules import SCHEDULES, interval_of, run_if_due, start_schedule, start_schedules
from workers.sweep.lock import SweepLock

BY_NAME = {schedule.name: schedule for schedule in SCHEDULES}
SETTINGS = Settings(slack_bot_token="xoxb-unit", slack_signing_secret="s")


def queued(redis: Redis) -> list[tuple[str, dict[str, Any]]]:
    """The background queue's jobs: function and JSON arguments."""
    queue = Queue(BACKGROUND_QUEUE, connection=redis, serializer=JSONSerializer)
    return [(job.func_name, job.args[0]) for job in queue.get_jobs()]


def ready_to_run(redis: Redis) -> None:
    """What every schedule's own condition waits for: a finished sweep and a pending notice."""
    redis.set(redis_key(SWEEP_LAST), "{}")
    redis.zadd(PENDING_SET, {"deactivated-AKIA-sweep-1": 0})


def test_every_row_names_an_integer_setting_and_its_own_slot() -> None:
    """Each schedule's interval is an int field of Settings; names and slots are not shared."""
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    for schedule in SCHEDULES:
        assert fields.get(schedule.interval) in (int, "int"), schedule.name
        assert isinstance(interval_of(schedule, SETTINGS), int)
    assert len({s.name for s in SCHEDULES}) == len({redis_key(s.slot) for s in SCHEDULES}) == len(SCHEDULES)


def test_a_row_naming_no_setting_is_refused() -> None:
    """A mistyped interval setting fails loudly instead of scheduling nothing."""
    wrong = dataclasses.replace(BY_NAME["sweep"], interval="sweep_intervall")
    with pytest.raises(AttributeError, match="sweep_intervall"):
        interval_of(wrong, SETTINGS)


@pytest.mark.parametrize(
    ("name", "func", "args"),
    [
        ("sweep", "workers.jobs.sweep.run_sweep", {"requested_by": "schedule"}),
        ("digest", "workers.jobs.hygiene.send_report", {"requested_by": "schedule", "destination": None}),
        ("notice-retry", "workers.jobs.notices.retry_pending_notices", {"requested_by": "schedule"}),
    ],
)
def test_a_slot_is_claimed_once_per_interval(redis: Redis, name: str, func: str, args: dict[str, Any]) -> None:
    """Many workers looking at once enqueue one job; the next look in the interval none; once the
    slot lapses the next interval's job goes out."""
    schedule = BY_NAME[name]
    ready_to_run(redis)
    results = race(8, lambda: run_if_due(redis, schedule, 3600))
    assert len([r for r in results if r is not None]) == 1
    assert run_if_due(redis, schedule, 3600) is None
    assert 3500 < redis.ttl(redis_key(schedule.slot)) <= 3600
    [(queued_func, queued_args)] = queued(redis)
    assert queued_func == func and args.items() <= queued_args.items()
    redis.delete(redis_key(schedule.slot))  # the interval is over
    # Enqueued again (a digest asked for within the same second would reuse the first's job ID).
    assert run_if_due(redis, schedule, 3600) is not None


def test_scheduled_sweep_is_skipped_while_the_previous_one_runs(redis: Redis) -> None:
    """An interval that finds the sweep lock held enqueues nothing, audits the skip and uses up its slot."""
    SweepLock(redis).acquire("sweep-old")
    assert run_if_due(redis, BY_NAME["sweep"], 3600) is None
    assert queued(redis) == []
    assert redis.exists(redis_key(BY_NAME["sweep"].slot))
    [record] = [r for r in recent(redis) if r["action"] == "sweep_skipped"]
    assert record["running"] == "sweep-old" and record["requested_by"] == "schedule"


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("digest", redis_key(SWEEP_LAST)),  # no empty digest before the first sweep
        ("notice-retry", PENDING_SET),  # an idle cluster adds no job every interval
    ],
)
def test_schedule_waits_for_its_condition_without_taking_the_slot(redis: Redis, name: str, missing: str) -> None:
    """Until its condition holds a schedule enqueues nothing and leaves the slot; then it runs at once."""
    ready_to_run(redis)
    redis.delete(missing)
    schedule = BY_NAME[name]
    assert run_if_due(redis, schedule, 3600) is None
    assert not redis.exists(redis_key(schedule.slot))
    ready_to_run(redis)
    assert run_if_due(redis, schedule, 3600) is not None


def test_digest_is_a_report_request_stamped_with_when_it_was_asked_for() -> None:
    """Each interval's digest is a new report request: its ID (and so its job's) carries the time."""
    before = int(time.time())
    request = BY_NAME["digest"].job()
    assert isinstance(request, ReportRequest) and request.destination is None
    assert before <= int(request.request_id.removeprefix("digest-")) <= int(time.time())


def test_interval_zero_turns_a_schedule_off(redis: Redis) -> None:
    """Only the schedules whose interval is above 0 start a loop; `stop` ends them all."""
    stop = threading.Event()
    settings = dataclasses.replace(SETTINGS, sweep_interval=0, report_interval=0, notice_retry_interval=5)
    threads = start_schedules(redis, settings, stop)
    try:
        assert [t.name for t in threads] == ["notice-retry-schedule"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)


def test_schedule_loop_enqueues_when_due(redis: Redis) -> None:
    """A started loop looks straight away and enqueues the interval's job."""
    ready_to_run(redis)
    stop = threading.Event()
    settings = dataclasses.replace(SETTINGS, sweep_interval=0, report_interval=0, notice_retry_interval=60)
    [thread] = start_schedules(redis, settings, stop)
    try:
        for _ in range(100):
            if queued(redis):
                break
            stop.wait(0.05)
        assert [func for func, _ in queued(redis)] == ["workers.jobs.notices.retry_pending_notices"]
    finally:
        stop.set()
        thread.join(timeout=5)


def test_a_redis_outage_does_not_end_the_loop(redis: Redis) -> None:
    """A look that fails on Redis is logged, and the loop looks again the next time."""
    looks: list[float] = []

    def unreachable(_redis: Redis) -> bool:
        looks.append(time.monotonic())
        raise RedisConnectionError("Redis went away")

    schedule = dataclasses.replace(BY_NAME["sweep"], name="test", ready=unreachable)
    stop = threading.Event()
    thread = start_schedule(redis, schedule, 1, stop)
    assert thread is not None
    try:
        deadline = time.monotonic() + 5
        while len(looks) < 2 and time.monotonic() < deadline:
            stop.wait(0.05)
        assert len(looks) >= 2 and thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=5)
