"""CloudTrail's LookupEvents limit (2 requests a second per account and region) kept across the
cluster, as CloudTrail counts it: by when the calls arrive, not by when a slot was granted.

Two steps, each one Lua script on Redis's own clock (so workers on several machines agree), both
on one hash per account and region:

1. Reserve: each call claims the next free slot (slots are `WINDOW / BURST` apart) and sleeps until
   it. This keeps the callers in order and spreads them out.
2. Send: on waking, the call checks the times of the last `BURST` calls really sent. Only when
   fewer than `BURST` left within `WINDOW` does it record itself as sent and go; otherwise it waits
   the difference and checks again. A thread that overslept its slot (a loaded machine) can then
   never bunch up with the calls after it: what is counted is the moment a call leaves.

`WINDOW` is CloudTrail's second plus `ARRIVAL_MARGIN`, the most a call may take between being
recorded as sent and reaching CloudTrail (request signing, a busy core, the network) without a
third call falling into one of CloudTrail's seconds. That margin costs throughput (1.6 calls a
second rather than 2), which is cheaper than a throttled call and its back-off.

`AccountRateLimiter` paces one process alone: the CloudTrail reader's default when there is no
Redis, and the Redis limiter's fallback when Redis fails.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError

from core.coordination import Script, scripts
from core.redis_keys import CLOUDTRAIL_RATE, redis_key

log = logging.getLogger(__name__)

# LookupEvents' documented limit, per account and region.
REQUESTS_PER_SECOND = 2.0
# How late a call recorded as sent may reach CloudTrail and still be counted in the second we
# meant: covers signing, a descheduled thread and network jitter. 50 ms was too little on a
# loaded machine (three calls in one second, now and then).
ARRIVAL_MARGIN = 0.25
# A call that would wait longer than this for its slot is not made (the answer says CloudTrail
# was busy): a queue that long means lookups and the sweep are asking faster than CloudTrail answers.
MAX_WAIT_SECONDS = 10.0
# CloudTrail is read in us-east-1 only (IAM's events are recorded there).
REGION = "us-east-1"

# KEYS[1]: the account and region's hash. ARGV: slot spacing (ms), longest acceptable wait (ms),
# window (ms). Claims the next free slot (field `next`: when it is free, ms) and returns the ms to
# wait for it, or -1 when that is longer than allowed (nothing is claimed then).
_RESERVE_SLOT = Script(
    "cloudtrail-reserve-slot",
    """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local free_at = tonumber(redis.call('HGET', KEYS[1], 'next') or '0')
local slot = math.max(now_ms, free_at)
local wait = slot - now_ms
if wait > tonumber(ARGV[2]) then
  return -1
end
redis.call('HSET', KEYS[1], 'next', slot + interval)
local keep = wait + tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < keep then
  redis.call('PEXPIRE', KEYS[1], keep)
end
return wait
""",
)

# KEYS[1]: the same hash. ARGV: window (ms), burst. Field `sent`: the send times (ms) of the last
# `burst` calls, newest first. Returns {0, now} when this call may go now (recorded as sent at
# `now`, Redis's clock), else {the ms until the oldest of those leaves the window, 0}.
_RECORD_SEND = Script(
    "cloudtrail-record-send",
    """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local sent = {}
for stamp in string.gmatch(redis.call('HGET', KEYS[1], 'sent') or '', '%d+') do
  table.insert(sent, tonumber(stamp))
end
if #sent >= burst and now_ms - sent[burst] < window then
  return {sent[burst] + window - now_ms, 0}
end
table.insert(sent, 1, now_ms)
while #sent > burst do
  table.remove(sent)
end
redis.call('HSET', KEYS[1], 'sent', table.concat(sent, ' '))
if redis.call('PTTL', KEYS[1]) < window then
  redis.call('PEXPIRE', KEYS[1], window)
end
return {0, now_ms}
""",
)


class RateLimiter(Protocol):
    def wait(self, account_id: str) -> bool:
        """Block until a call to account_id is allowed and claim it; False: too busy, do not call."""


class AccountRateLimiter:
    """Spaces calls so no account gets more than `per_second`; accounts never wait for each other.

    A token bucket holding a single token: a bucket of two would allow a burst of two followed by
    a steady two per second, which puts three calls into one second and gets throttled.
    """

    def __init__(
        self,
        per_second: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._sleep = sleep
        self._clock = clock
        self._next_free: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, account_id: str) -> bool:
        """Block until a call to account_id is allowed, and claim it (in this process only)."""
        # The slot is claimed under the lock but slept for outside it, so a thread waiting on one
        # account never holds up threads calling other accounts.
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(account_id, now))
            self._next_free[account_id] = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
        return True


class RedisRateLimiter:
    """LookupEvents calls paced for every process through Redis; in-process when Redis fails."""

    def __init__(
        self,
        redis: Redis,
        per_second: float = REQUESTS_PER_SECOND,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        arrival_margin: float = ARRIVAL_MARGIN,
        region: str = REGION,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._reserve = scripts(redis)[_RESERVE_SLOT]
        self._record_send = scripts(redis)[_RECORD_SEND]
        # At most `burst` calls within `window`: CloudTrail's allowance for one second (or for as
        # long as one call's share lasts, below one a second), widened by the arrival margin.
        self.burst = max(1, math.floor(per_second))
        self.window_ms = round(1000 * (self.burst / per_second + arrival_margin))
        self.slot_ms = math.ceil(self.window_ms / self.burst)
        self._max_wait_ms = round(max_wait * 1000)
        self._region = region
        self._sleep = sleep
        # Without Redis, pacing this process alone (at the same spacing) still beats not pacing.
        self._fallback = AccountRateLimiter(1000 / self.slot_ms, sleep=sleep)

    def _key(self, account_id: str) -> str:
        return redis_key(CLOUDTRAIL_RATE, account_id, self._region)

    def reserve(self, account_id: str) -> int | None:
        """Claim the account's next slot: ms until it, or None when it is too far off (not claimed)."""
        wait_ms = int(self._reserve(keys=[self._key(account_id)],
                                    args=[self.slot_ms, self._max_wait_ms, self.window_ms]))  # fmt: skip
        return None if wait_ms < 0 else wait_ms

    def try_send(self, account_id: str) -> int:
        """0 when a call may leave now (recorded as sent), else the ms to wait before asking again."""
        wait_ms, sent_ms = self._record_send(keys=[self._key(account_id)], args=[self.window_ms, self.burst])
        if not wait_ms:
            # The cluster's own record of what it sent, on Redis's clock: what an operator (or a
            # test) counts to see the limit kept, whatever the network did after.
            log.info("cloudtrail call sent", extra={"account": account_id, "sent_ms": int(sent_ms)})
        return int(wait_ms)

    def wait(self, account_id: str) -> bool:
        """Block until a call to account_id may be sent, and record it; False when that is too far off."""
        try:
            waited_ms = self.reserve(account_id)
            if waited_ms is None:
                return False
            if waited_ms:
                self._sleep(waited_ms / 1000)
            while more_ms := self.try_send(account_id):
                waited_ms += more_ms
                if waited_ms > self._max_wait_ms:
                    return False
                self._sleep(more_ms / 1000)
        except RedisError as exc:
            log.warning("CloudTrail rate limit not shared (Redis failed); pacing this process only",
                        extra={"error": str(exc)})  # fmt: skip
            return self._fallback.wait(account_id)
        return True
