"""Sending one sweep's rotation nudges: a chain of short background jobs, each taking the next
OWNERS_PER_JOB owners of the sweep's plan (NUDGE_PLAN), one DM each, at the cluster-wide pace.

Pace: chat.postMessage allows about one message a second per channel, within a workspace-wide
limit Slack does not publish. Nudges go at most NUDGES_PER_SECOND across every worker (each DM
reserves a slot on Redis's clock, as CloudTrail's calls do), to a different DM each, so a
thousand owners take about a thousand seconds and leave the rest of the workspace's budget to
answers people wait for. A 429 is still honoured (Slack's Retry-After, by the client's retry
handler). A job sleeps at most MAX_SLOT_WAIT for a slot; when the next one is further away
(several chains at once), it hands the rest to a job scheduled for then instead of holding its
worker. Each job ends by enqueueing the next, behind whatever else is waiting, so key events and
sweeps never queue behind a thousand DMs.

Once: before posting, each key's claim is checked again with the owner's snooze (a press since the
plan was made is honoured), the offers the buttons name are kept, and the DM is delivered once per
owner and sweep (`deliver_once`). A DM Slack refuses for good (the member is gone) is audited and
its claims kept; when a job fails for good (Slack down through every retry), the claims of every
owner not yet told are given back, so the next sweep tells them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis

from core.audit import audit
from core.contract import ContractError, Destination, NudgeBatch, from_json
from core.coordination import Script, scripts, text
from core.nudges import (
    CLAIMED,
    NUDGE_CLAIM,
    NUDGE_RELEASE,
    SNOOZED,
    STILL_ACTIVE,
    NudgeOffer,
    RotationClaim,
    claim_rotation,
    nudge_names,
    nudge_ref,
    remember_nudge_offer,
    snoozed,
)
from core.queue import JobQueue
from core.redis_keys import NUDGE_PACE, NUDGE_PLAN, NUDGE_SENT, redis_key
from workers.hygiene.nudge_message import render_nudge
from workers.hygiene.rotation import OWNERS_PER_JOB, NudgeKey, OwnerNudge
from workers.runtime import Runtime
from workers.slack.delivery import already_delivered, deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)

# Nudge DMs a second, across the cluster: each to its own DM channel, well within Slack's limits.
NUDGES_PER_SECOND = 1.0
# The longest a job sleeps for its slot; a slot further away is taken by a later job.
MAX_SLOT_WAIT = 5.0

# KEYS[1]: the pace. ARGV: slot spacing (ms), the longest acceptable wait (ms). Claims the next
# free slot and returns the ms to wait for it; when that is longer than allowed, nothing is
# claimed and it returns minus the ms until a wait would be acceptable.
_RESERVE_NUDGE_SLOT = Script(
    "nudge-reserve-slot",
    """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local slot = math.max(now_ms, tonumber(redis.call('GET', KEYS[1]) or '0'))
local wait = slot - now_ms
if wait > tonumber(ARGV[2]) then
  return -(wait - tonumber(ARGV[2]))
end
redis.call('SET', KEYS[1], slot + interval, 'PX', wait + interval + 1000)
return wait
""",
)


class NudgePacer:
    """One slot per nudge DM, NUDGES_PER_SECOND across every worker (0: no pacing, for benchmarks)."""

    def __init__(
        self,
        redis: Redis,
        per_second: float = NUDGES_PER_SECOND,
        *,
        max_wait: float = MAX_SLOT_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.interval_ms = 0 if per_second <= 0 else max(1, round(1000 / per_second))
        self.max_wait_ms = round(max_wait * 1000)
        self.sleep = sleep
        self._reserve = scripts(redis)[_RESERVE_NUDGE_SLOT]

    def take(self) -> float:
        """Wait for this DM's slot and take it: 0 when taken; else the seconds until a later job
        should try (nothing taken, nothing slept)."""
        if not self.interval_ms:
            return 0.0
        waited = int(self._reserve(keys=[redis_key(NUDGE_PACE)], args=[self.interval_ms, self.max_wait_ms]))
        if waited < 0:
            return -waited / 1000
        if waited:
            self.sleep(waited / 1000)
        return 0.0


def send_nudges(runtime: Runtime, batch: NudgeBatch) -> dict[str, Any]:
    """RQ job: the next OWNERS_PER_JOB owners' DMs of the sweep's plan, then the next job."""
    return send_batch(runtime, batch, NudgePacer(runtime.redis))


def send_batch(runtime: Runtime, batch: NudgeBatch, pacer: NudgePacer) -> dict[str, Any]:
    """send_nudges with the pace handed in (a benchmark or a test may go unpaced)."""
    plan = read_plan(runtime.redis, batch.sweep_id, batch.start, OWNERS_PER_JOB)
    now = datetime.now(UTC)
    sent = skipped = 0
    jobs = JobQueue(runtime.redis)
    for offset, nudge in enumerate(plan):
        if already_delivered(runtime.redis, nudge.delivery_id):
            continue  # a retried job: this one went out before
        later = pacer.take()
        if later:
            # A job of its own (its ID names the turn), scheduled for when a slot will be free.
            jobs.enqueue_in(later, NudgeBatch(batch.sweep_id, batch.start + offset, batch.turn + 1))
            return {"sweep_id": batch.sweep_id, "sent": sent, "skipped": skipped, "deferred": later}
        if deliver_nudge(runtime, nudge, now):
            sent += 1
        else:
            skipped += 1
    if len(plan) == OWNERS_PER_JOB:
        jobs.enqueue(NudgeBatch(batch.sweep_id, batch.start + OWNERS_PER_JOB))
    else:
        audit(runtime.redis, "rotation_nudges_done", sweep_id=batch.sweep_id, owners=batch.start + len(plan))
    return {"sweep_id": batch.sweep_id, "sent": sent, "skipped": skipped, "next": len(plan) == OWNERS_PER_JOB}


def deliver_nudge(runtime: Runtime, nudge: OwnerNudge, now: datetime) -> bool:
    """Post one owner's DM with the keys still theirs to tell (claims held, no snooze since the plan);
    True when posted now. Raises DeliveryError when Slack was unreachable (the job is retried)."""
    keys = confirmed_keys(runtime.redis, nudge)
    if not keys:
        return False
    kept = OwnerNudge(nudge.owner, nudge.delivery_id, keys, nudge.more)
    with runtime.redis.pipeline(transaction=False) as pipe:
        for key in keys:  # before the post: a press must find its offer
            remember_nudge_offer(
                pipe, NudgeOffer(key.key_id, key.account_id, nudge.owner, key.user_name, key.account_name)
            )
        pipe.execute()
    message = render_nudge(kept, now, runtime.settings.rotation_days)
    try:
        deliver_once(runtime.poster, nudge.delivery_id, Destination(channel=nudge.owner, ephemeral=False), message)
    except DeliveryError as exc:
        if exc.transient:
            raise
        # The member is gone or cannot be DMed: keep the claims (asking Slack again every sweep
        # would not help); the departed-owner notice and the report cover such keys.
        audit(runtime.redis, "nudge_undeliverable", owner=nudge.owner, keys=[k.key_id for k in keys], error=str(exc))
        return False
    audit(runtime.redis, "rotation_nudge", owner=nudge.owner, sweep_delivery=nudge.delivery_id,
          keys=[k.key_id for k in keys], reasons=[k.reason for k in keys])  # fmt: skip
    return True


def confirmed_keys(redis: Redis, nudge: OwnerNudge) -> tuple[NudgeKey, ...]:
    """The DM's keys still to tell: thresholds still held by this DM's delivery and not snoozed by the
    owner since (a snoozed key's claim is given back), and keys said rotated, unless snoozed."""
    claim = scripts(redis)[NUDGE_CLAIM]
    thresholds = [k for k in nudge.keys if k.reason != STILL_ACTIVE]
    with redis.pipeline(transaction=False) as pipe:
        for key in thresholds:
            claim(
                keys=nudge_names(key.account_id, key.key_id),
                args=[key.reason, nudge.delivery_id, NUDGE_SENT.seconds, nudge.owner],
                client=pipe,
            )
        outcomes = dict(zip((k.key_id for k in thresholds), pipe.execute() if thresholds else [], strict=True))
    kept = []
    for key in nudge.keys:
        if key.reason == STILL_ACTIVE:
            held = snoozed(redis, nudge_ref(key.account_id, key.key_id))
            if held is None or held.by != nudge.owner:
                kept.append(key)
        elif int(outcomes[key.key_id]) == CLAIMED:
            kept.append(key)
        elif int(outcomes[key.key_id]) == SNOOZED:
            log.info("nudge held back by a snooze", extra={"key": key.key_id})
    return tuple(kept)


def read_plan(redis: Redis, sweep_id: str, start: int, count: int) -> list[OwnerNudge]:
    """Entries start..start+count-1 of the sweep's plan (an entry that does not parse is skipped)."""
    found = []
    for raw in redis.lrange(redis_key(NUDGE_PLAN, sweep_id), start, start + count - 1):
        try:
            found.append(from_json(OwnerNudge, json.loads(text(raw))))
        except (ValueError, ContractError):
            log.warning("a rotation-nudge plan entry could not be read", extra={"sweep_id": sweep_id})
    return found


def give_back(redis: Redis, batch: NudgeBatch) -> int:
    """After a job failed for good: every owner from `start` on who was not told gets their claims
    (and their "I rotated it") back, so the next sweep plans them again; the chain stops here.
    Returns how many owners were given back."""
    release = scripts(redis)[NUDGE_RELEASE]
    given = 0
    name = redis_key(NUDGE_PLAN, batch.sweep_id)
    for entry in read_plan(redis, batch.sweep_id, batch.start, int(redis.llen(name))):
        if already_delivered(redis, entry.delivery_id):
            continue
        given += 1
        for key in entry.keys:
            if key.reason == STILL_ACTIVE:
                restore_rotation_claim(redis, entry.owner, key)
            else:
                names = nudge_names(key.account_id, key.key_id)[:2]
                release(keys=names, args=[entry.delivery_id])
    audit(redis, "rotation_nudges_given_back", sweep_id=batch.sweep_id, owners=given)
    return given


def restore_rotation_claim(redis: Redis, owner: str, key: NudgeKey) -> None:
    claim_rotation(
        redis, RotationClaim(key.key_id, key.account_id, owner, key.pressed_at or 0.0, key.user_name, key.account_name)
    )
