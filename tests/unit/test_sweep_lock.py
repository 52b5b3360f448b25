"""The sweep lock and late jobs (workers/sweep/lock.py): RQ runs a job at least once, so a copy of a
finished sweep's chunk or batch job can start after the sweep let go of the lock. It must not take
the lock back: the next sweep would be skipped for the lock's whole TTL (five minutes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from redis import Redis
from redis.exceptions import RedisError

from core.contract import SweepAccount, SweepChunk, SweepRequest, SweepUserBatch
from workers.runtime import Runtime
from workers.sweep import coordinator
from workers.sweep.coordinator import start_sweep, sweep_batch_task, sweep_chunk_task
from workers.sweep.lock import SweepLock, join_running_sweep
from workers.sweep.state import SweepProgress

OLD = "sweep-20261208T000000-aaaaaa"
NEXT = "sweep-20261208T001000-bbbbbb"
ACCOUNT = "123456789012"


def finish(redis: Redis, sweep_id: str) -> None:
    """What the finalizer does: claim the finish, then let go of the lock."""
    SweepProgress(redis).start(sweep_id, 1, "test")
    assert SweepProgress(redis).claim_finish(sweep_id)
    SweepLock(redis).release(sweep_id)


def runtime_on(redis: Redis) -> Runtime:
    # A job of a sweep that is over stops before it touches anything but Redis.
    return cast(Runtime, SimpleNamespace(redis=redis))


def test_a_job_of_a_running_sweep_joins_it(redis: Redis) -> None:
    assert SweepLock(redis).acquire(OLD)
    SweepProgress(redis).start(OLD, 1, "test")
    lock = join_running_sweep(redis, OLD)
    assert lock is not None and lock.holder() == OLD


def test_a_job_of_a_sweep_whose_lock_expired_takes_it_back_while_the_sweep_runs(redis: Redis) -> None:
    """A stalled sweep whose lease ran out is still the only one: its jobs carry on."""
    SweepProgress(redis).start(OLD, 1, "test")
    lock = join_running_sweep(redis, OLD)
    assert lock is not None and lock.holder() == OLD


def test_a_late_job_of_a_finished_sweep_leaves_the_lock_free(redis: Redis) -> None:
    finish(redis, OLD)
    assert join_running_sweep(redis, OLD) is None
    assert SweepLock(redis).holder() is None
    assert SweepLock(redis).acquire(NEXT)  # the next sweep starts at once


def test_a_job_of_a_sweep_another_one_replaced_stops(redis: Redis) -> None:
    assert SweepLock(redis).acquire(NEXT)
    assert join_running_sweep(redis, OLD) is None
    assert SweepLock(redis).holder() == NEXT


def test_late_jobs_of_a_finished_sweep_skip_and_keep_the_lock_free(redis: Redis) -> None:
    finish(redis, OLD)
    notices: Any = None  # never reached
    assert start_sweep(runtime_on(redis), SweepRequest("test", OLD), notices)["skipped"] is True
    chunk = SweepChunk(OLD, (SweepAccount(OLD, ACCOUNT, "big", "ACTIVE"),))
    assert sweep_chunk_task(runtime_on(redis), chunk, notices)["skipped"] is True
    batch = SweepUserBatch(OLD, ACCOUNT, 2, "big")
    assert sweep_batch_task(runtime_on(redis), batch, notices)["skipped"] is True
    assert SweepLock(redis).holder() is None


def test_the_finalizer_lets_go_of_the_lock_even_when_recording_the_sweep_fails(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SweepLock(redis).acquire(OLD)
    SweepProgress(redis).start(OLD, 1, "test")

    def redis_failed(runtime: Runtime, report: object) -> None:
        raise RedisError("OOM command not allowed when used memory > 'maxmemory'")

    monkeypatch.setattr(coordinator, "record_finished", redis_failed)
    with pytest.raises(RedisError):
        coordinator.finalize(runtime_on(redis), OLD)
    assert SweepProgress(redis).finished(OLD)
    assert SweepLock(redis).holder() is None  # the next sweep need not wait out the TTL


def test_a_sweep_asked_while_the_last_one_writes_its_report_starts(redis: Redis) -> None:
    """The last sweep's finish is claimed (people see it finished) but its finalizer has not let go
    yet: the next sweep takes the lock instead of being skipped, and the finalizer's late release
    leaves the new holder alone."""
    assert SweepLock(redis).acquire(OLD)
    SweepProgress(redis).start(OLD, 1, "test")
    assert SweepProgress(redis).claim_finish(OLD)
    lock = join_running_sweep(redis, NEXT)
    assert lock is not None and lock.holder() == NEXT
    assert SweepLock(redis).release(OLD) is False
    assert SweepLock(redis).holder() == NEXT
