"""Very large accounts in a sweep: their users are read in batches, one RQ job per batch, so that
no job runs for minutes and a killed worker costs one batch.

The account's own job lists the users and stores the plan (the batches of user names) once; a
retried account job gets the same plan back, so batch job IDs stay the same. The batches run one
after another: the account job enqueues the first and each batch job enqueues the next, at the
front of the queue (started work finishes first), so one batch job of an account runs at a time,
with ACCOUNT_CONCURRENCY calls in flight: IAM sees the same request rate as from one account job.
Sharing one account between several workers would not make it faster, as that rate is the limit.

Every batch adds its keys and AWS calls in one Lua step that also marks it done (a retried batch
counts once); the batch job that sees every batch done settles the account (compare with the
last snapshot, notify, write it back), which is safe to run twice, and then drops the keys it
gathered, marking the account settled so that a late retry does not settle it again. A batch that failed marks the
account unreadable: its previous snapshot is kept, as for any account that cannot be read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redis import Redis

from core.coordination import Script, scripts, text
from core.redis_keys import SWEEP_BATCH_KEYS, SWEEP_BATCHES, SWEEP_BATCHES_DONE, redis_key
from workers.aws.errors import AccountOutcome

# KEYS: plan hash. ARGV: TTL, AWS calls spent listing, then one JSON list of user names per batch.
# Returns the number of batches of the plan in force (the first one stored for this sweep).
_PLAN = Script(
    "sweep-batches-plan",
    """
if redis.call('HSETNX', KEYS[1], 'batches', #ARGV - 2) == 1 then
  redis.call('HSET', KEYS[1], 'aws_calls', ARGV[2])
  for i = 3, #ARGV do redis.call('HSET', KEYS[1], 'users:' .. (i - 3), ARGV[i]) end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return tonumber(redis.call('HGET', KEYS[1], 'batches'))
""",
)

# KEYS: plan hash, done set, keys hash. ARGV: batch, TTL, AWS calls, failure JSON or "", then
# key ID and entry JSON pairs. A batch's keys and its "done" mark land together, once.
# Returns {batches done, batches planned}.
_RECORD = Script(
    "sweep-batches-record",
    """
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'aws_calls', ARGV[3])
  if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'failure', ARGV[4]) end
  for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[2]) end
end
return {redis.call('SCARD', KEYS[2]), tonumber(redis.call('HGET', KEYS[1], 'batches') or -1)}
""",
)


def split(names: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive batches of at most `size` names (at least one batch)."""
    size = max(1, size)
    return [list(names[start : start + size]) for start in range(0, len(names), size)] or [[]]


def next_batch(batch: int, batches: int) -> int | None:
    return batch + 1 if batch + 1 < batches else None


class LargeAccount:
    """One large account's batches in one sweep, in Redis."""

    def __init__(self, redis: Redis, sweep_id: str, account_id: str) -> None:
        self.redis = redis
        self._plan_name = redis_key(SWEEP_BATCHES, sweep_id, account_id)
        self._done_name = redis_key(SWEEP_BATCHES_DONE, sweep_id, account_id)
        self._keys_name = redis_key(SWEEP_BATCH_KEYS, sweep_id, account_id)
        self._plan = scripts(redis)[_PLAN]
        self._record = scripts(redis)[_RECORD]

    def plan(self, user_names: Sequence[str], batch_size: int, aws_calls: int) -> int:
        """Store the batches once; returns how many there are in the plan in force."""
        batches = [json.dumps(batch) for batch in split(user_names, batch_size)]
        return int(self._plan(keys=[self._plan_name], args=[SWEEP_BATCHES.seconds, aws_calls, *batches]))

    def batches(self) -> int:
        """How many batches the plan has (0 when there is none)."""
        return int(self.redis.hget(self._plan_name, "batches") or 0)

    def users(self, batch: int) -> list[str] | None:
        """The user names of one batch; None when the plan is gone (expired)."""
        raw = self.redis.hget(self._plan_name, f"users:{batch}")
        return None if raw is None else [str(name) for name in json.loads(raw)]

    def record(
        self,
        batch: int,
        keys: dict[str, dict[str, Any]],
        aws_calls: int,
        failure: tuple[AccountOutcome, str] | None = None,
    ) -> bool:
        """Add one batch's keys (once per batch); True when every batch of the account is in."""
        failed = json.dumps({"outcome": failure[0].value, "detail": failure[1]}) if failure else ""
        pairs = [part for key_id, entry in keys.items() for part in (key_id, json.dumps(entry))]
        names = [self._plan_name, self._done_name, self._keys_name]
        done, total = self._record(keys=names, args=[batch, SWEEP_BATCHES.seconds, aws_calls, failed, *pairs])
        return int(total) >= 0 and int(done) >= int(total)

    def keys(self) -> dict[str, dict[str, Any]]:
        return {text(k): json.loads(v) for k, v in self.redis.hgetall(self._keys_name).items()}

    def aws_calls(self) -> int:
        return int(self.redis.hget(self._plan_name, "aws_calls") or 0)

    def settled(self) -> bool:
        """True once the account's result was recorded from its batches."""
        return bool(self.redis.hexists(self._plan_name, "settled"))

    def mark_settled(self) -> None:
        """The account's result is recorded: its keys are in the snapshot, so their copy here goes
        (a large account's keys would otherwise stay two days per sweep). A late retry of the last
        batch then finds `settled` and does not compare an empty read with the snapshot."""
        with self.redis.pipeline() as pipe:  # MULTI: never "settled" without the keys gone, or back
            pipe.hset(self._plan_name, "settled", 1)
            pipe.delete(self._keys_name)
            pipe.execute()

    def failure(self) -> tuple[AccountOutcome, str] | None:
        """Why the account could not be read, when a batch failed."""
        raw = self.redis.hget(self._plan_name, "failure")
        if raw is None:
            return None
        failed = json.loads(raw)
        return AccountOutcome(failed["outcome"]), str(failed["detail"])
