"""CloudTrail's LookupEvents limit (2 requests a second per account and region) kept across the
cluster: one bucket per account and region in Redis, which every worker process and the sweep
take their slots from.

The bucket holds a single token, refilled every 1/rate seconds (plus a small margin for network
jitter): each call claims the next free
slot, atomically, in a Lua script on Redis's own clock (so workers on several machines agree),
and sleeps until it. A bucket of two would let two calls through at once, then two a second:
three in one second, which CloudTrail throttles.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from core.redis_keys import CLOUDTRAIL_RATE, redis_key
from workers.cloudtrail import AccountRateLimiter

log = logging.getLogger(__name__)

# LookupEvents' documented limit, per account and region.
REQUESTS_PER_SECOND = 2.0
# Added to the spacing of slots: calls leave on time but reach CloudTrail with a few ms of network
# jitter, which would otherwise now and then put a third call into one of CloudTrail's seconds.
SLOT_MARGIN = 0.05
# A call that would wait longer than this for its slot is not made (the answer says CloudTrail
# was busy): a queue that long means lookups and the sweep are asking faster than CloudTrail answers.
MAX_WAIT_SECONDS = 10.0
# CloudTrail is read in us-east-1 only (IAM's events are recorded there).
REGION = "us-east-1"

# KEYS[1]: one account and region's bucket (the time its next slot is free, in ms).
# ARGV: interval between slots (ms), longest acceptable wait (ms).
# Returns the ms to wait for the claimed slot, or -1 when that would be longer than allowed
# (nothing is claimed then). The key lives until its bucket is full again.
_CLAIM_SLOT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local free_at = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now_ms, free_at)
local wait = slot - now_ms
if wait > tonumber(ARGV[2]) then
  return -1
end
redis.call('SET', KEYS[1], slot + interval, 'PX', wait + interval)
return wait
"""


class RedisRateLimiter:
    """Slots for LookupEvents shared by every process through Redis; in-process when Redis fails."""

    def __init__(
        self,
        redis: Redis,
        per_second: float = REQUESTS_PER_SECOND,
        *,
        max_wait: float = MAX_WAIT_SECONDS,
        region: str = REGION,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._claim = redis.register_script(_CLAIM_SLOT)
        self._interval_ms = round(1000 * (1 / per_second + SLOT_MARGIN))
        self._max_wait_ms = round(max_wait * 1000)
        self._region = region
        self._sleep = sleep
        # Without Redis, pacing this process alone still beats not pacing at all.
        self._fallback = AccountRateLimiter(per_second, sleep=sleep)

    def wait(self, account_id: str) -> bool:
        """Claim the account's next slot and sleep until it; False when it is too far off."""
        try:
            wait_ms = int(self._claim(keys=[redis_key(CLOUDTRAIL_RATE, account_id, self._region)],
                                      args=[self._interval_ms, self._max_wait_ms]))  # fmt: skip
        except RedisError as exc:
            log.warning("CloudTrail rate limit not shared (Redis failed); pacing this process only",
                        extra={"error": str(exc)})  # fmt: skip
            return self._fallback.wait(account_id)
        if wait_ms < 0:
            return False
        if wait_ms:
            self._sleep(wait_ms / 1000)
        return True
