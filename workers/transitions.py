"""Exactly one notice per state change of a key, whoever sees it first: the real-time event or
the sweep. Each key's last known state lives in Redis and is compared-and-set atomically."""

from __future__ import annotations

from enum import IntEnum

from redis import Redis

from core.redis_keys import KEY_STATE, NOTICE_SENT, redis_key

# The record is "STATE|CAUSE": the state and what first reported it (an event ID or a sweep run),
# so a retried job that recorded a change still delivers its notice while anyone else sees
# "unchanged". KEYS[1] = the record; ARGV = new state, cause, TTL.
_COMPARE_AND_SET = """
local old = redis.call('GET', KEYS[1])
if old then
  local sep = string.find(old, '|', 1, true)
  local old_state = string.sub(old, 1, sep - 1)
  if old_state == ARGV[1] then
    if string.sub(old, sep + 1) == ARGV[2] then return 3 end
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[3]))
if old then return 1 end
return 2
"""


class Change(IntEnum):
    UNCHANGED = 0  # already in that state, reported by someone else
    CHANGED = 1  # a new state: notify
    FIRST_SEEN = 2  # no earlier state known
    SAME_CAUSE = 3  # this cause recorded it before (a retry): finish what it started

    @property
    def is_news(self) -> bool:
        return self in (Change.CHANGED, Change.SAME_CAUSE)


class KeyStates:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_COMPARE_AND_SET)

    def record(self, key_id: str, state: str, cause: str) -> Change:
        """Set the key's state (Active, Inactive, Deleted) as reported by `cause`; says whether
        that was news."""
        return Change(int(self._script(keys=[redis_key(KEY_STATE, key_id)], args=[state, cause, KEY_STATE.seconds])))

    def get(self, key_id: str) -> str | None:
        raw = self.redis.get(redis_key(KEY_STATE, key_id))
        if not raw:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return text.split("|", 1)[0]

    def claim_once(self, name: str, ttl: int = NOTICE_SENT.seconds) -> bool:
        """True the first time `name` is claimed (for one-off notices such as an exposure)."""
        return bool(self.redis.set(redis_key(NOTICE_SENT, name), "1", nx=True, ex=ttl))
