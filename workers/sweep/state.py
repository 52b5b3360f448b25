"""A sweep's progress and results, in Redis, so that any number of workers can share one sweep.

Per sweep: a hash of counts (SWEEP_STATE), the set of accounts done (SWEEP_DONE) and the list of
accounts that could not be read (SWEEP_UNREADABLE). An account's result is added in one Lua
script, only when the account joins the done set: a retried account job is counted once, and
the job that brings `done` to `total` knows it was the last.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from core.coordination import Script, scripts, text
from core.redis_keys import SWEEP_DONE, SWEEP_STATE, SWEEP_UNREADABLE, redis_key
from workers.aws.errors import AccountOutcome
from workers.model import Account

COUNTS = ("keys", "deactivated", "deleted", "notified", "aws_calls")
# KEYS: state hash, done set, unreadable list. ARGV: account, TTL, unreadable JSON or "", counts.
_RECORD = Script(
    "sweep-record-account",
    """
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  local names = {'keys', 'deactivated', 'deleted', 'notified', 'aws_calls'}
  for i, name in ipairs(names) do redis.call('HINCRBY', KEYS[1], name, ARGV[3 + i]) end
  if ARGV[3] ~= '' then
    redis.call('RPUSH', KEYS[3], ARGV[3])
    redis.call('HINCRBY', KEYS[1], 'unreadable', 1)
    redis.call('EXPIRE', KEYS[3], ARGV[2])
  end
  redis.call('HINCRBY', KEYS[1], 'done', 1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return {tonumber(redis.call('HGET', KEYS[1], 'done') or 0), tonumber(redis.call('HGET', KEYS[1], 'total') or -1)}
""",
)


@dataclass
class AccountResult:
    account: Account
    outcome: AccountOutcome
    keys: int = 0
    deactivated: int = 0  # keys found deactivated since the last sweep
    deleted: int = 0  # keys gone since the last sweep
    notified: int = 0  # notices actually sent about them
    aws_calls: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Unreadable:
    account: str
    label: str
    outcome: str
    detail: str


@dataclass
class SweepSummary:
    """One sweep's counts, as stored in Redis; `notified` counts notices really sent."""

    sweep_id: str
    accounts: int = 0
    done: int = 0
    keys: int = 0
    deactivated: int = 0
    deleted: int = 0
    notified: int = 0
    aws_calls: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "accounts": self.accounts,
            "done": self.done,
            "keys": self.keys,
            "deactivated": self.deactivated,
            "deleted": self.deleted,
            "notified": self.notified,
            "aws_calls": self.aws_calls,
            "unreadable": [vars(u) for u in self.unreadable],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 2),
        }

    def summary(self) -> dict[str, Any]:
        """The `whose-key:sweep-last` contract: what the key-hygiene report reads."""
        return {
            "sweep_id": self.sweep_id,
            "finished_at": self.finished_at,
            "accounts": self.accounts,
            "keys": self.keys,
            "unreadable": [{"account": u.account, "label": u.label, "detail": u.detail} for u in self.unreadable],
        }


class SweepProgress:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._record = scripts(redis)[_RECORD]

    def start(self, sweep_id: str, accounts: int, requested_by: str) -> None:
        """Open the sweep's record; a retried coordinator keeps the first start time."""
        name = redis_key(SWEEP_STATE, sweep_id)
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(name, "started", repr(time.time()))
            pipe.hsetnx(name, "started_at", _now())
            pipe.hset(name, mapping={"total": accounts, "requested_by": requested_by})
            pipe.expire(name, SWEEP_STATE.seconds)
            pipe.execute()

    def record(self, sweep_id: str, result: AccountResult) -> bool:
        """Add one account's result (once per account); True when it was the sweep's last."""
        unreadable = ""
        if not result.outcome.searched:
            entry = Unreadable(result.account.id, result.account.label, result.outcome.value, result.detail)
            unreadable = json.dumps(vars(entry))
        counts = [result.keys, result.deactivated, result.deleted, result.notified, result.aws_calls]
        keys = [redis_key(name, sweep_id) for name in (SWEEP_STATE, SWEEP_DONE, SWEEP_UNREADABLE)]
        done, total = self._record(keys=keys, args=[result.account.id, SWEEP_STATE.seconds, unreadable, *counts])
        return int(total) >= 0 and int(done) >= int(total)

    def done_accounts(self, sweep_id: str) -> set[str]:
        return {text(a) for a in self.redis.smembers(redis_key(SWEEP_DONE, sweep_id))}

    def claim_finish(self, sweep_id: str) -> bool:
        """Mark the sweep finished; True only for the first caller (the report goes out once)."""
        name = redis_key(SWEEP_STATE, sweep_id)
        with self.redis.pipeline() as pipe:
            pipe.hsetnx(name, "finished_at", _now())
            pipe.hsetnx(name, "finished", repr(time.time()))
            first, _ = pipe.execute()
        return bool(first)

    def finished(self, sweep_id: str) -> bool:
        """True once the sweep's finish was claimed (its report is out or going out)."""
        return bool(self.redis.hexists(redis_key(SWEEP_STATE, sweep_id), "finished_at"))

    def summary(self, sweep_id: str) -> SweepSummary | None:
        raw = self.redis.hgetall(redis_key(SWEEP_STATE, sweep_id))
        if not raw:
            return None
        state = {text(k): text(v) for k, v in raw.items()}
        entries = self.redis.lrange(redis_key(SWEEP_UNREADABLE, sweep_id), 0, -1)
        started = float(state.get("started", 0) or 0)
        ended = float(state.get("finished", 0) or 0) or time.time()
        return SweepSummary(
            sweep_id=sweep_id,
            accounts=int(state.get("total", 0)),
            done=int(state.get("done", 0)),
            unreadable=[Unreadable(**json.loads(e)) for e in entries],
            started_at=state.get("started_at"),
            finished_at=state.get("finished_at"),
            seconds=max(0.0, ended - started) if started else 0.0,
            **{name: int(state.get(name, 0)) for name in COUNTS},
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
