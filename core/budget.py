"""Per-person budgets in fixed one-minute windows, shared by every web and worker process.

Two budgets use this: requests (keys asked about plus buttons pressed, WHOSE_KEY_RATE_LIMIT) and
full searches (WHOSE_KEY_FULL_SEARCH_LIMIT), which read every account and so cost far more.
The web charges what it can know (a `deep` request); a worker charges a full search it finds
it has to start (a key its own account does not hold).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

from core.redis_keys import FULL_SEARCH_COUNTER, RATE_COUNTER, RedisName, redis_key

WINDOW = 60


@dataclass(frozen=True)
class OverBudget:
    """A charge refused: what was used, the limit, and when the window turns."""

    used: int
    limit: int
    retry_after: int  # seconds


def charge(
    redis: Redis,
    name: RedisName,
    user: str,
    amount: int,
    limit: int,
    *,
    refund_refused: bool,
    clock: Callable[[], float] = time.time,
) -> OverBudget | None:
    """Add amount to user's count this minute; None when within limit (0 = no limit).

    With refund_refused a refused charge is taken back, so asking for too much at once does not
    also use up what is left. Raises RedisError.
    """
    if limit <= 0 or amount <= 0:
        return None
    now = clock()
    counter = redis_key(name, user, str(int(now // WINDOW)))
    with redis.pipeline() as pipe:
        pipe.incrby(counter, amount)
        pipe.expire(counter, name.seconds)
        used = int(pipe.execute()[0])
    if used <= limit:
        return None
    if refund_refused:
        redis.decrby(counter, amount)
    return OverBudget(used, limit, retry_after=max(1, WINDOW - int(now % WINDOW)))


def charge_requests(redis: Redis, user: str, amount: int, limit: int) -> OverBudget | None:
    """Keys asked about and buttons pressed; refused attempts count too (a brake on scripts)."""
    return charge(redis, RATE_COUNTER, user, amount, limit, refund_refused=False)


def charge_full_searches(redis: Redis, user: str, amount: int, limit: int) -> OverBudget | None:
    """Full searches started; a refused one is not counted, since it never ran."""
    return charge(redis, FULL_SEARCH_COUNTER, user, amount, limit, refund_refused=True)


def full_search_refusal_text(over: OverBudget) -> str:
    """The words for a refused full search (shown by the web and by a worker alike)."""
    return (
        f":hourglass: A full search reads every account, so each person may start {over.limit} a minute, "
        f"and that is used up. Please try again in {over.retry_after} seconds."
    )
