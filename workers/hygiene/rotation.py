"""Rotation nudges, decided: which keys cross which threshold, and how one sweep's nudges become
one DM per owner. Pure functions of the records, the settings and a clock; the Redis claims that
make each nudge once are in nudge_plan.py, the sending in nudge_send.py.

A key is due a nudge when it is active, has an owner, and is at least WHOSE_KEY_ROTATION_DAYS old
(`warn`), or at least twice that (`final`): the owner hears once at each, and a key first seen
past twice the age is told once, at `final`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.nudges import FINAL, STILL_ACTIVE, WARN
from workers.hygiene.records import KeyRecord

# Keys named (with their buttons: two blocks each) in one owner's DM; the rest are counted.
NUDGE_KEYS_SHOWN = 15
# Owners' DMs one nudge job sends (about a second apart) before it hands on to the next job.
OWNERS_PER_JOB = 10


def threshold_of(record: KeyRecord, now: datetime, rotation_days: int) -> str | None:
    """The highest threshold the key has crossed (`warn`, `final`), or None: not due (too young,
    inactive, no owner, its age unknown, or nudges off)."""
    if rotation_days <= 0 or not record.active or record.owner is None:
        return None
    age = record.age_days(now)
    if age is None or age < rotation_days:
        return None
    return FINAL if age >= 2 * rotation_days else WARN


@dataclass(frozen=True)
class NudgeKey:
    """One key in an owner's DM: due at a threshold, or said rotated but still active."""

    key_id: str
    account_id: str
    reason: str  # warn | final | still_active
    user_name: str | None = None
    account_name: str | None = None
    created: str | None = None  # ISO 8601, as the sweep's snapshot has it
    pressed_at: float | None = None  # still_active: when the owner said they rotated it

    @property
    def account_label(self) -> str:
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id


@dataclass(frozen=True)
class OwnerNudge:
    """One owner's DM of one sweep (an entry of the sweep's plan in Redis)."""

    owner: str  # a Slack member ID
    delivery_id: str
    keys: tuple[NudgeKey, ...]
    more: int = 0  # further keys due, claimed too, counted in the DM but not named


def nudge_key(record: KeyRecord, reason: str) -> NudgeKey:
    return NudgeKey(
        key_id=record.key_id,
        account_id=record.account_id,
        reason=reason,
        user_name=record.user,
        account_name=record.account_name,
        created=record.created.isoformat() if record.created else None,
    )


def delivery_id(sweep_id: str, owner: str) -> str:
    """One DM per owner per sweep, however often its job runs."""
    return f"nudge-{sweep_id}-{owner}"


_ORDER = {FINAL: 0, WARN: 1, STILL_ACTIVE: 2}


@dataclass
class OwnerKeys:
    """What one owner is told this sweep, gathered before the DM is built."""

    owner: str
    keys: list[NudgeKey] = field(default_factory=list)

    def nudge(self, sweep_id: str, shown: int = NUDGE_KEYS_SHOWN) -> OwnerNudge:
        """The DM's entry: final reminders first, then the oldest, then keys said rotated."""
        ordered = sorted(self.keys, key=lambda k: (_ORDER.get(k.reason, 3), k.created or "", k.key_id))
        return OwnerNudge(
            self.owner, delivery_id(sweep_id, self.owner), tuple(ordered[:shown]), max(0, len(ordered) - shown)
        )


def by_owner(items: Iterable[tuple[str, NudgeKey]]) -> dict[str, OwnerKeys]:
    """(owner, key) pairs gathered per owner: one DM each, however many keys."""
    owners: dict[str, OwnerKeys] = {}
    for owner, key in items:
        owners.setdefault(owner, OwnerKeys(owner)).keys.append(key)
    return owners


def plan_entries(owners: dict[str, OwnerKeys], sweep_id: str) -> list[OwnerNudge]:
    """Every owner's DM, in a stable order (by member ID)."""
    return [owners[owner].nudge(sweep_id) for owner in sorted(owners)]
