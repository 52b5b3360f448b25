"""Noticing a Redis that lost its data (core/data_loss.py) on a real Redis, and the doctor's memory
row (cli/doctor/redis_memory.py) as a pure function of INFO's figures."""

from __future__ import annotations

import threading

import pytest
from redis import Redis

from cli.doctor.model import Status
from cli.doctor.redis_memory import memory_check
from core.audit import recent
from core.data_loss import (
    MARKER_KEY,
    DataMarker,
    is_baseline_after_loss,
    take_baseline_after_loss,
)
from core.redis_memory import Memory

MB = 1 << 20


def test_a_first_start_writes_the_marker_and_notices_nothing(redis: Redis) -> None:
    """The first look writes a marker and remembers it; looking again with it in place is no loss."""
    marker = DataMarker(redis, "web")
    assert marker.check() is None
    assert redis.get(MARKER_KEY).decode() == marker.remembered
    assert marker.check() is None
    assert DataMarker(redis, "worker:all").check() is None  # a later process adopts the same marker


def test_a_lost_marker_is_noticed_by_every_process_and_told_once(redis: Redis) -> None:
    """After a FLUSHALL, ten processes looking at once all notice; exactly one audits and queues the message."""
    markers = [DataMarker(redis, f"worker:{i}", audit_channel="C0AUDIT01") for i in range(10)]
    for marker in markers:
        marker.check()
    lost = markers[0].remembered
    redis.flushall()
    losses = []
    start = threading.Barrier(len(markers))

    def look(marker: DataMarker) -> None:
        start.wait()
        losses.append(marker.check())

    threads = [threading.Thread(target=look, args=(m,)) for m in markers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(loss is not None and loss.lost == lost for loss in losses)
    assert sum(1 for loss in losses if loss and loss.first) == 1
    assert len({loss.marker for loss in losses if loss}) == 1  # one new marker, adopted by all
    assert [r["action"] for r in recent(redis) if r["action"] == "redis_data_lost"] == ["redis_data_lost"]
    assert redis.llen("rq:queue:whose-key-lookups") + redis.llen("rq:queue:whose-key-background") == 1
    assert all(m.check() is None for m in markers)  # the new marker is the one remembered now


def test_a_changed_marker_is_a_loss_too(redis: Redis) -> None:
    """A marker replaced (a fresh process wrote a new one after the loss first) is noticed as a loss."""
    marker = DataMarker(redis, "web")
    marker.check()
    redis.flushall()
    DataMarker(redis, "web").check()  # a process started after the loss writes a new marker
    loss = marker.check()
    assert loss is not None and loss.first


def test_only_the_first_sweep_after_a_loss_takes_its_baseline(redis: Redis) -> None:
    """The sweep finishing first after a loss is its baseline; the sweeps after it are not."""
    marker = DataMarker(redis, "web")
    marker.check()
    assert not take_baseline_after_loss(redis, "sweep-0")  # no loss: a normal sweep
    redis.flushall()
    marker.check()
    assert take_baseline_after_loss(redis, "sweep-1")
    assert is_baseline_after_loss(redis, "sweep-1")
    assert not take_baseline_after_loss(redis, "sweep-2")
    assert not is_baseline_after_loss(redis, "sweep-2")


@pytest.mark.parametrize(
    ("memory", "status", "words"),
    [
        # Writes refused with OOM: FAIL, with both figures.
        (
            Memory(used=101 * MB, limit=100 * MB, policy="noeviction"),
            Status.FAIL,
            "used_memory 101.00M of maxmemory 100.00M",
        ),
        # Nearly full: a warning before it refuses writes.
        (Memory(used=95 * MB, limit=100 * MB, policy="noeviction"), Status.WARN, "nearly full"),
        # Plenty of room.
        (
            Memory(used=10 * MB, limit=100 * MB, policy="noeviction"),
            Status.OK,
            "used_memory 10.00M of maxmemory 100.00M",
        ),
        # No limit: nothing refuses writes (the README says to set one).
        (Memory(used=10 * MB, limit=0, policy="noeviction"), Status.OK, "of maxmemory no limit"),
        # Past the limit with an evicting policy: Redis evicts instead of refusing (the policy row warns).
        (Memory(used=101 * MB, limit=100 * MB, policy="allkeys-lru"), Status.WARN, "allkeys-lru"),
    ],
)
def test_the_doctor_reports_used_memory_against_maxmemory(memory: Memory, status: Status, words: str) -> None:
    """The memory row's status and figures for each case."""
    check = memory_check(memory)
    assert check.status is status and words in check.detail
