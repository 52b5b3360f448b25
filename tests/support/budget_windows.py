"""Bursts that must be counted in one budget window, checked instead of hoped for.

Budgets count in fixed one-minute windows (core/budget.py), in one Redis key per person and
window: `whose-key:rate:<user>:<minute>`, `whose-key:full-searches:<user>:<minute>`. However short
a burst is, the minute may turn during it, and then its charges are split between two windows and
no limit is reached. So a test does not sleep to the start of a window hoping its burst fits: it
reads from those keys which windows the burst was counted in, and when that was more than one, it
runs the burst again for fresh people (a window has just begun, so the next try fits unless the
burst itself takes most of a minute).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from redis import Redis

from core.redis_keys import RedisName, redis_key

T = TypeVar("T")

# Tries of one burst before the test fails: a second straddle in a row means the burst takes
# about a minute, which no window can hold.
ATTEMPTS = 3


@dataclass
class Burst:
    """One try of a burst: the people it charges (fresh ones, so no earlier try counts) and the
    windows their counters of `budget` were charged in."""

    redis: Redis
    budget: RedisName
    people: list[str] = field(default_factory=list)

    def person(self, prefix: str) -> str:
        """A Slack member ID of the right shape nobody has used: prefix + 6 hex digits."""
        user = f"{prefix}{uuid.uuid4().hex[:6].upper()}"
        self.people.append(user)
        return user

    def windows(self) -> dict[str, set[int]]:
        """For each person charged, the windows (minutes since the epoch) their counter is in."""
        charged: dict[str, set[int]] = {}
        for user in self.people:
            keys = self.redis.scan_iter(redis_key(self.budget, user, "*"))
            minutes = {int(key.decode().rsplit(":", 1)[1]) for key in keys}
            if minutes:
                charged[user] = minutes
        return charged


def in_one_window(redis: Redis, budget: RedisName, burst: Callable[[Burst], T], attempts: int = ATTEMPTS) -> T:
    """Run burst(try) until every charge it made to `budget` fell in one window; what it returned.

    The burst names the people it charges with try.person(...) and returns what the test then
    asserts on; a try that straddled two windows is set aside whatever it returned.
    """
    straddled: list[dict[str, set[int]]] = []
    for _ in range(attempts):
        attempt = Burst(redis, budget)
        result = burst(attempt)
        charged = attempt.windows()
        assert charged, f"the burst charged nobody's {budget.stem} budget (people: {attempt.people})"
        if len(set().union(*charged.values())) == 1:
            return result
        straddled.append(charged)
    raise AssertionError(f"each of {attempts} bursts straddled two {budget.stem} windows: {straddled}")
