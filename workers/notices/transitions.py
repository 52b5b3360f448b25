"""Exactly one notice per state change of a key, whoever sees it first: the real-time event or
the sweep. Each key's last known state lives in Redis and is compared-and-set atomically, in the
same script that records the notice as pending (workers/notices/pending.py): a change is never recorded
without its notice."""

from __future__ import annotations

from enum import IntEnum

from redis import Redis

from core.coordination import Script, scripts, text
from core.redis_keys import KEY_STATE, NOTICE_SENT, redis_key
from workers.notices.pending import PENDING_SET, NoticeDraft

# Writes the pending notice: KEYS[2] = its record, KEYS[3] = the pending set; ARGV from
# `first` on: notice ID, score, record TTL, then field/value pairs.
_WRITE_PENDING = """
local function write_pending(first)
  local fields = {}
  for i = first + 3, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[first + 2]))
  redis.call('ZADD', KEYS[3], tonumber(ARGV[first + 1]), ARGV[first])
  -- The set lives as long as its newest record, so a set nobody retries any more goes away too.
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[first + 2]))
end
"""

# The record is "STATE|CAUSE": the state and what first reported it (an event or a sweep run),
# so a retried job that recorded a change still delivers its notice while anyone else sees
# "unchanged". KEYS[1] = the record; ARGV = new state, cause, TTL, "1" when a first sighting is
# news (an event, not the sweep), then the pending notice (or nothing).
_COMPARE_AND_SET = Script(
    "key-state-compare-and-set",
    _WRITE_PENDING
    + """
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
local result = 2
if old then result = 1 end
if #ARGV > 4 and (result == 1 or ARGV[4] == '1') then write_pending(5) end
return result
""",
)

# A one-off notice (an exposure): KEYS[1] = its claim; ARGV = claim TTL, then the pending notice.
_CLAIM_ONCE = Script(
    "notice-claim-once",
    _WRITE_PENDING
    + """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then return 0 end
if #ARGV > 1 then write_pending(2) end
return 1
""",
)


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
        self._script = scripts(redis)[_COMPARE_AND_SET]
        self._claim = scripts(redis)[_CLAIM_ONCE]

    def record(
        self,
        key_id: str,
        state: str,
        cause: str,
        notice: NoticeDraft | None = None,
        *,
        first_sighting_is_news: bool = False,
    ) -> Change:
        """Set the key's state (Active, Inactive, Deleted) as reported by `cause`; says whether
        that was news. When it is, `notice` is recorded as pending in the same step."""
        keys = [redis_key(KEY_STATE, key_id)]
        args: list[str | int] = [state, cause, KEY_STATE.seconds, "1" if first_sighting_is_news else "0"]
        if notice is not None:
            keys += [notice.record_key, PENDING_SET]
            args += _pending_args(notice)
        return Change(int(self._script(keys=keys, args=args)))

    def get(self, key_id: str) -> str | None:
        raw = self.redis.get(redis_key(KEY_STATE, key_id))
        if not raw:
            return None
        return text(raw).split("|", 1)[0]

    def claim_once(self, name: str, notice: NoticeDraft | None = None, ttl: int = NOTICE_SENT.seconds) -> bool:
        """True the first time `name` is claimed (for one-off notices such as an exposure); the
        notice is then recorded as pending in the same step."""
        keys = [redis_key(NOTICE_SENT, name)]
        args: list[str | int] = [ttl]
        if notice is not None:
            keys += [notice.record_key, PENDING_SET]
            args += _pending_args(notice)
        return bool(self._claim(keys=keys, args=args))


def _pending_args(notice: NoticeDraft) -> list[str | int]:
    # Due at once: the job that recorded it delivers it right away; the retry only finds it
    # there if that failed.
    args: list[str | int] = [notice.notice_id, 0, notice.ttl]
    for name, value in notice.fields.items():
        args += [name, value]
    return args
