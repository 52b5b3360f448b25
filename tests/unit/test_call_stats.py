"""CallStats: AWS calls counted, and the time waited on them counted once when calls overlap."""

from __future__ import annotations

import time

import pytest

from workers.aws.gateway import CallStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter", fake)
    return fake


def test_calls_one_after_another_add_up(clock: FakeClock) -> None:
    stats = CallStats()
    for _ in range(3):
        stats.started()
        clock.now += 0.5
        stats.ended()
        clock.now += 1.0  # the lookup's own work between calls is not waiting on AWS
    assert stats.calls == 3
    assert stats.seconds == pytest.approx(1.5)


def test_calls_side_by_side_count_their_wall_time_once(clock: FakeClock) -> None:
    stats = CallStats()
    stats.started()  # ListAccessKeys
    clock.now += 0.2
    stats.started()  # GetUser, while the first is in flight
    clock.now += 0.3
    stats.ended()
    clock.now += 0.1
    stats.ended()
    assert stats.calls == 2
    assert stats.seconds == pytest.approx(0.6)


def test_an_end_without_a_start_never_makes_the_count_negative(clock: FakeClock) -> None:
    stats = CallStats()
    stats.ended()
    stats.started()
    clock.now += 0.25
    stats.ended()
    assert stats.calls == 2
    assert stats.seconds == pytest.approx(0.25)
