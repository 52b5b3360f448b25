"""Redis coordination in one place: claims, lease locks, the semaphore of leases, and the registry
every Lua script is run through.

Each primitive is one atomic Redis step (SET NX EX, or one Lua script), so processes on any number
of machines agree without talking to each other. Times are Redis's: a TTL, or `TIME` inside a
script, never a worker's clock, so machines whose clocks differ still agree on what expired.

Where scripts live: the generic primitives' scripts (the lease lock's compare-and-extend and
compare-and-delete, the semaphore's take) are here, beside the primitive. A script whose meaning is
one feature's data layout (a sweep's counts, a key's state and its pending notice, CloudTrail's
pacing) stays next to the code that reads what it writes, declared there as a `Script`: split
from that code, it could no longer be read as one piece. Every script, wherever its source is, is
registered through `scripts(redis)`, once per Redis client.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from redis import Redis
from redis.commands.core import Script as RegisteredScript


def text(value: bytes | str) -> str:
    """What Redis returned, as text: a client without decode_responses hands back bytes."""
    return value.decode() if isinstance(value, bytes) else value


def claim(redis: Redis, key: str, ttl: int, value: str = "1") -> bool:
    """Take `key` for `ttl` seconds (SET NX EX): True for the one caller that takes it."""
    return bool(redis.set(key, value, nx=True, ex=ttl))


def release(redis: Redis, key: str) -> None:
    """Give a claim up before it expires, so the next caller may take it."""
    redis.delete(key)


@dataclass(frozen=True)
class Script:
    """A Lua script by name (unique across the product: it says what the script is for)."""

    name: str
    source: str


class Scripts:
    """One Redis client's scripts, each registered once: a script's SHA is computed once, and
    redis-py runs it by EVALSHA, loading it again only when the server lost it (a restart)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._registered: dict[str, tuple[str, RegisteredScript]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, script: Script) -> RegisteredScript:
        with self._lock:
            entry = self._registered.get(script.name)
            if entry is None:
                entry = (script.source, self._redis.register_script(script.source))
                self._registered[script.name] = entry
        if entry[0] != script.source:
            # Two modules picked one name: running either one's source for the other is a bug.
            raise ValueError(f"two Lua scripts are named {script.name!r}")
        return entry[1]


_SCRIPTS: weakref.WeakKeyDictionary[Redis, Scripts] = weakref.WeakKeyDictionary()
_SCRIPTS_LOCK = threading.Lock()


def scripts(redis: Redis) -> Scripts:
    """The registry of `redis`'s scripts (the same one for every caller with this client)."""
    with _SCRIPTS_LOCK:
        registry = _SCRIPTS.get(redis)
        if registry is None:
            registry = _SCRIPTS[redis] = Scripts(redis)
        return registry


# KEYS[1] = the lock, ARGV[1] = the owner's token, ARGV[2] = TTL: only the owner extends it.
LEASE_RENEW = Script(
    "lease-renew",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
""",
)
# KEYS[1] = the lock, ARGV[1] = the owner's token: only the owner deletes it.
LEASE_RELEASE = Script(
    "lease-release",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""",
)


class LeaseLock:
    """A lock held by one owner (a token, such as a sweep's ID) for `ttl` seconds at a time and
    renewed while the owner works: an owner that dies lets go within the TTL. Renewing and
    releasing compare the token first, so an owner that stalled past its lease cannot extend or
    delete the lock the next owner took meanwhile."""

    def __init__(self, redis: Redis, key: str, ttl: int) -> None:
        self.redis = redis
        self.key = key
        self.ttl = ttl
        registry = scripts(redis)
        self._renew = registry[LEASE_RENEW]
        self._release = registry[LEASE_RELEASE]

    def acquire(self, owner: str) -> bool:
        """Take the lock for `owner`; True too when `owner` holds it already (renewed: a retry)."""
        return claim(self.redis, self.key, self.ttl, owner) or self.renew(owner)

    def renew(self, owner: str) -> bool:
        """Extend the lease by `ttl` from now; False when `owner` does not hold the lock."""
        return bool(self._renew(keys=[self.key], args=[owner, self.ttl]))

    def release(self, owner: str) -> bool:
        """Let go; False (and nothing done) when `owner` does not hold the lock."""
        return bool(self._release(keys=[self.key], args=[owner]))

    def holder(self) -> str | None:
        raw = self.redis.get(self.key)
        return None if raw is None else text(raw)


# KEYS[1] = the semaphore (holder -> lease end); ARGV = holder, limit (0: none), lease seconds,
# TTL of the whole set. Drops ended leases, then takes a place if fewer than `limit` are live.
# Returns the holders including this one (> 0) when taken, minus the live holders when not.
SEMAPHORE_ACQUIRE = Script(
    "semaphore-acquire",
    """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
local running = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  -- A holder taking its place again (its job retried after its worker died): renewed, not refused.
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[3]), ARGV[1])
  return running
end
local limit = tonumber(ARGV[2])
if limit > 0 and running >= limit then return -running end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return running + 1
""",
)


class LeaseSemaphore:
    """At most `limit` holders at once across every process (0: no limit): a sorted set of holders
    scored by the end of their lease, so a holder that dies frees its place when its lease ends.
    The lease must outlast the longest hold; the set itself lives `ttl` past its last taker."""

    def __init__(self, redis: Redis, key: str, limit: int, *, lease: int, ttl: int) -> None:
        self.redis = redis
        self.key = key
        self.limit = limit
        self.lease = lease
        self.ttl = ttl
        self._acquire = scripts(redis)[SEMAPHORE_ACQUIRE]

    def acquire(self, holder: str) -> int:
        """Holders including this one (> 0) when a place was taken; minus the holders when none was."""
        return int(self._acquire(keys=[self.key], args=[holder, self.limit, self.lease, self.ttl]))

    def release(self, holder: str) -> None:
        self.redis.zrem(self.key, holder)
