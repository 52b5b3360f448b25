"""Rotation nudges (WHOSE_KEY_ROTATION_DAYS): what the web and the workers share about them.

After each sweep an owner hears once when a key of theirs reaches the rotation age (`warn`) and
once more at twice it (`final`). The DM's buttons, Snooze 30 days and I rotated it, name a key
(`nudge_ref`): the worker keeps what it offered and to whom (`NudgeOffer`) before it posts, and
the web refuses a press by anyone else or for a key never offered. A snooze and an "I rotated
it" are written by the web; the sweep's after-sweep work reads them.

Which delivery told a key's owner at a threshold is one Redis key per key and threshold, taken
and checked in one Lua script with the owner's snooze beside it (`NUDGE_CLAIM`): several workers,
a retried job and the next sweep never send one nudge twice, and never during a snooze.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import Redis

from core.blockkit import Block, button
from core.contract import ContractError, from_json, to_json
from core.coordination import Script, text
from core.redis_keys import DAY, NUDGE_OFFER, NUDGE_SENT, NUDGE_SNOOZE, ROTATION_CLAIMS, redis_key

_T = TypeVar("_T")

# The nudge's buttons (each element's action ID gets a `-N` suffix: one pair per key).
SNOOZE_ACTION = "whose_key_nudge_snooze"
ROTATED_ACTION = "whose_key_nudge_rotated"
# The thresholds: the rotation age, and twice it. A key past both is told once, at `final`.
WARN = "warn"
FINAL = "final"
THRESHOLDS = (WARN, FINAL)
# Not a threshold: a key its owner said they rotated, which the next sweep still saw active.
STILL_ACTIVE = "still_active"
# How long Snooze holds a key's nudges.
SNOOZE_DAYS = NUDGE_SNOOZE.seconds // DAY

# "<account>|<key>": a 12-digit account and an access key ID (what a button's value must look like).
_REF = re.compile(r"^([0-9]{12})\|([A-Z0-9]{16,128})$")


def nudge_ref(account_id: str, key_id: str) -> str:
    """A nudge button's value, and the name of its offer: the account and the key."""
    return f"{account_id}|{key_id}"


def parse_ref(ref: str) -> tuple[str, str] | None:
    """(account, key) of a well-formed ref; None for anything else (a hand-made press)."""
    match = _REF.match(ref)
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class NudgeOffer:
    """A key a nudge's buttons were offered for, to its owner, as the sweep saw it."""

    key_id: str
    account_id: str
    owner: str  # the Slack member the nudge went to
    user_name: str | None = None
    account_name: str | None = None

    @property
    def ref(self) -> str:
        return nudge_ref(self.account_id, self.key_id)


def remember_nudge_offer(redis: Redis, offer: NudgeOffer) -> None:
    """Keep the offer (renewed by every nudge about the key); `redis` may be a pipeline."""
    redis.set(redis_key(NUDGE_OFFER, offer.ref), json.dumps(to_json(offer)), ex=NUDGE_OFFER.seconds)


def nudge_offered(redis: Redis, ref: str) -> NudgeOffer | None:
    """The offer behind a button's value; None when never offered (or malformed, or expired)."""
    if parse_ref(ref) is None:
        return None
    return _stored(redis.get(redis_key(NUDGE_OFFER, ref)), NudgeOffer)


@dataclass(frozen=True)
class Snooze:
    """A key's nudges held by its owner until `until` (epoch seconds)."""

    by: str
    until: float


def snooze(redis: Redis, offer: NudgeOffer, by: str, now: float | None = None) -> tuple[Snooze, bool]:
    """Snooze the key's nudges for `by` for SNOOZE_DAYS; (the snooze, True) when set now, (the one
    already running, False) when `by` had snoozed it already (the first one stands)."""
    now = time.time() if now is None else now
    name = redis_key(NUDGE_SNOOZE, offer.ref)
    current = snoozed(redis, offer.ref)
    if current is not None and current.by == by:
        return current, False
    taken = Snooze(by, now + NUDGE_SNOOZE.seconds)
    redis.set(name, json.dumps(to_json(taken)), ex=NUDGE_SNOOZE.seconds)
    return taken, True


def snoozed(redis: Redis, ref: str) -> Snooze | None:
    return _stored(redis.get(redis_key(NUDGE_SNOOZE, ref)), Snooze)


@dataclass(frozen=True)
class RotationClaim:
    """An owner pressed "I rotated it": the next sweep checks the key against IAM."""

    key_id: str
    account_id: str
    owner: str
    pressed_at: float
    user_name: str | None = None
    account_name: str | None = None

    @property
    def ref(self) -> str:
        return nudge_ref(self.account_id, self.key_id)


def claim_rotation(redis: Redis, claim: RotationClaim) -> bool:
    """Record the claim; False when one is already waiting for that key (the first stands)."""
    name = redis_key(ROTATION_CLAIMS)
    with redis.pipeline() as pipe:
        pipe.hsetnx(name, claim.ref, json.dumps(to_json(claim)))
        pipe.expire(name, ROTATION_CLAIMS.seconds)
        added, _ = pipe.execute()
    return bool(added)


def rotation_claims(redis: Redis) -> list[RotationClaim]:
    """Every claim waiting for a sweep (a few: one per key someone pressed the button for)."""
    found = []
    for _, raw in redis.hscan_iter(redis_key(ROTATION_CLAIMS)):
        claim = _stored(raw, RotationClaim)
        if claim is not None:
            found.append(claim)
    return found


def settle_rotation(redis: Redis, claim: RotationClaim) -> bool:
    """Take the claim off the waiting list; True for the one caller that took it (once)."""
    return bool(redis.hdel(redis_key(ROTATION_CLAIMS), claim.ref))


def nudge_names(account_id: str, key_id: str) -> list[str]:
    """KEYS of NUDGE_CLAIM for one key: its warn and final claims, and its snooze."""
    return [
        redis_key(NUDGE_SENT, account_id, key_id, WARN),
        redis_key(NUDGE_SENT, account_id, key_id, FINAL),
        redis_key(NUDGE_SNOOZE, nudge_ref(account_id, key_id)),
    ]


# KEYS: the key's warn claim, its final claim, its snooze. ARGV: threshold (warn | final), the
# delivery taking it, the claim's TTL, the owner. Returns 1 when the delivery holds the threshold
# (taken now, or already its own: a retried job), 0 when another delivery told it already (the
# claim is renewed: it lasts while sweeps see the key), 2 when the owner snoozed the key (a claim
# of this delivery is given back, so the nudge comes after the snooze). Taking `final` also takes
# `warn` if free: a key first seen past twice the age is told once.
NUDGE_CLAIM = Script(
    "nudge-claim",
    """
local target = KEYS[1]
if ARGV[1] == 'final' then target = KEYS[2] end
local held = redis.call('GET', target)
local snooze = redis.call('GET', KEYS[3])
if snooze then
  local ok, data = pcall(cjson.decode, snooze)
  if ok and type(data) == 'table' and data['by'] == ARGV[4] then
    if held == ARGV[2] then
      redis.call('DEL', target)
      if ARGV[1] == 'final' and redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('DEL', KEYS[1]) end
    end
    return 2
  end
end
if held then
  redis.call('EXPIRE', target, ARGV[3])
  if held == ARGV[2] then return 1 end
  return 0
end
redis.call('SET', target, ARGV[2], 'EX', ARGV[3])
if ARGV[1] == 'final' then redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3]) end
return 1
""",
)
# KEYS: the key's warn and final claims. ARGV: the delivery. Gives back what that delivery holds
# (a DM Slack did not take), so the next sweep tells it again; returns how many were given back.
NUDGE_RELEASE = Script(
    "nudge-release",
    """
local released = 0
for _, name in ipairs(KEYS) do
  if redis.call('GET', name) == ARGV[1] then released = released + redis.call('DEL', name) end
end
return released
""",
)
CLAIMED, TOLD_ALREADY, SNOOZED = 1, 0, 2


def nudge_buttons(ref: str, index: int) -> Block:
    """The nudge's two buttons for one key (action IDs distinct per key, as Slack wants)."""
    return {
        "type": "actions",
        "elements": [
            button(f"{SNOOZE_ACTION}-{index}", f"Snooze {SNOOZE_DAYS} days", ref),
            {**button(f"{ROTATED_ACTION}-{index}", "I rotated it", ref), "style": "primary"},
        ],
    }


def _stored(raw: Any, cls: type[_T]) -> _T | None:
    """A record written with to_json, read back type-checked; None when missing or of another shape."""
    if raw is None:
        return None
    try:
        return from_json(cls, json.loads(text(raw)))
    except (ValueError, ContractError):
        return None
