"""The tests' guard against a burst straddling two budget windows (tests/support/budget_windows.py),
on the unit run's Redis, with core.budget's clock set to either side of a minute's turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from redis import Redis

from core.budget import OverBudget, charge
from core.redis_keys import RATE_COUNTER
from tests.support.budget_windows import Burst, in_one_window


def burst_at(redis: Redis, moments: Iterator[float], tried: list[str]) -> Callable[[Burst], list[OverBudget | None]]:
    """A burst of two charges of 1 against a limit of 1, each at the next moment of `moments`."""

    def burst(attempt: Burst) -> list[OverBudget | None]:
        user = attempt.person("U0BURST")
        tried.append(user)
        return [
            charge(redis, RATE_COUNTER, user, 1, 1, refund_refused=False, clock=lambda: next(moments)) for _ in range(2)
        ]

    return burst


def test_a_try_the_minute_turned_in_is_set_aside_and_run_again(redis: Redis) -> None:
    """Two charges either side of a minute's turn are both within the limit; the try is redone for
    a fresh person, and the try counted in one window is the one returned."""
    tried: list[str] = []
    moments = iter([119.5, 120.5, 130.0, 131.0])  # the first try straddles minutes 1 and 2

    first, second = in_one_window(redis, RATE_COUNTER, burst_at(redis, moments, tried))

    assert len(tried) == 2 and tried[0] != tried[1]
    assert first is None
    assert second is not None and second.used == 2, "in one window the second charge is past the limit"


def test_bursts_that_always_straddle_fail_naming_their_windows(redis: Redis) -> None:
    """A burst that never fits in one window fails the test rather than passing on a split count."""
    tried: list[str] = []
    moments = iter([59.9, 60.1, 119.9, 120.1, 179.9, 180.1])

    with pytest.raises(AssertionError, match="each of 3 bursts straddled two rate windows") as failed:
        in_one_window(redis, RATE_COUNTER, burst_at(redis, moments, tried))

    assert len(tried) == 3
    assert "{0, 1}" in str(failed.value) and "{2, 3}" in str(failed.value)


def test_a_burst_that_charges_nobody_is_an_error(redis: Redis) -> None:
    """A burst whose charges never reached the budget cannot be said to fit in one window."""
    with pytest.raises(AssertionError, match="charged nobody's rate budget"):
        in_one_window(redis, RATE_COUNTER, lambda attempt: attempt.person("U0IDLE"))
