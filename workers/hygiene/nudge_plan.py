"""After a sweep: which owners get a rotation nudge, each key and threshold claimed once across the
cluster, gathered into one DM per owner and handed to a chain of paced jobs (nudge_send.py).

It rides the after-sweep pass over the snapshots (`tap`): a key due a nudge (rotation.py) whose
threshold is already claimed is only renewed, in pipelines of CHECK_CHUNK keys, so a sweep that
finds nothing new costs one Redis round trip per CHECK_CHUNK old keys and no Slack call. For the
keys left (`plan`): the owner is resolved as everywhere (the `slack-user-id` tag, or the
`email`/`owner` tag through the directory, cached), owners who left Slack are skipped (the audit
channel hears of their keys), and each key's threshold is taken in one Lua step beside the owner's
snooze (core.nudges.NUDGE_CLAIM). Keys owners said they rotated are checked against this sweep's
snapshot, i.e. what IAM said. The DMs wait in Redis (NUDGE_PLAN), not in job arguments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.audit import audit
from core.contract import NudgeBatch, to_json
from core.coordination import scripts, text
from core.nudges import (
    CLAIMED,
    FINAL,
    NUDGE_CLAIM,
    SNOOZED,
    STILL_ACTIVE,
    WARN,
    nudge_names,
    rotation_claims,
    settle_rotation,
    snoozed,
)
from core.queue import JobQueue
from core.redis_keys import NUDGE_PLAN, NUDGE_SENT, SNAPSHOT, SWEEP_STATE, redis_key
from workers.hygiene.reader import read_sweep_summary
from workers.hygiene.records import KeyRecord, record_from_snapshot
from workers.hygiene.rotation import NudgeKey, by_owner, delivery_id, nudge_key, plan_entries, threshold_of
from workers.hygiene.summary import DepartedCheck
from workers.model import Owner
from workers.runtime import Runtime

log = logging.getLogger(__name__)

# Keys checked against their claims per Redis round trip.
CHECK_CHUNK = 500
# Snoozed keys named in the sweep's audit record (the rest are counted).
AUDITED_KEYS = 20


@dataclass
class NudgeCounts:
    """What one sweep's nudges came to (the after-sweep job's result and its audit record)."""

    owners: int = 0  # DMs planned
    warn: int = 0  # keys told at the rotation age
    final: int = 0  # keys told at twice it
    still_active: int = 0  # keys said rotated that IAM still has active
    confirmed: int = 0  # keys said rotated that IAM has inactive, or no more
    snoozed: int = 0  # keys held back by their owner's snooze
    no_slack_member: int = 0  # keys whose owner tag names nobody on Slack
    departed: int = 0  # keys whose owner has left Slack (the audit channel hears of them)
    snoozed_keys: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "owners": self.owners,
            "keys": self.warn + self.final,
            "warn": self.warn,
            "final": self.final,
            "still_active": self.still_active,
            "confirmed": self.confirmed,
            "snoozed": self.snoozed,
            "no_slack_member": self.no_slack_member,
            "departed": self.departed,
        }


class NudgePlanner:
    """Taps the after-sweep record stream for keys due a nudge; `plan` then claims and queues them."""

    def __init__(self, runtime: Runtime, sweep_id: str, now: datetime, departed: DepartedCheck | None = None) -> None:
        self.runtime = runtime
        self.redis = runtime.redis
        self.sweep_id = sweep_id
        self.now = now
        self.days = runtime.settings.rotation_days
        self.departed = departed
        self.counts = NudgeCounts()
        self._checking: list[tuple[KeyRecord, str]] = []
        self._due: list[tuple[KeyRecord, str]] = []
        self._members: dict[str, str | None] = {}

    @property
    def enabled(self) -> bool:
        return self.days > 0

    def tap(self, records: Iterable[KeyRecord]) -> Iterator[KeyRecord]:
        for record in records:
            threshold = threshold_of(record, self.now, self.days)
            if threshold is not None:
                self._checking.append((record, threshold))
                if len(self._checking) >= CHECK_CHUNK:
                    self._check()
            yield record
        self._check()

    def _check(self) -> None:
        """Renew the claims of keys told already (they last while the key does); keep the others,
        and those this sweep's own DMs hold (a retried after-sweep job plans them again)."""
        if not self._checking:
            return
        ours = delivery_id(self.sweep_id, "")
        with self.redis.pipeline(transaction=False) as pipe:
            for record, threshold in self._checking:
                target = redis_key(NUDGE_SENT, record.account_id, record.key_id, threshold)
                pipe.get(target)
                pipe.expire(target, NUDGE_SENT.seconds)
                if threshold == FINAL:
                    pipe.expire(redis_key(NUDGE_SENT, record.account_id, record.key_id, WARN), NUDGE_SENT.seconds)
            answers = iter(pipe.execute())
        for record, threshold in self._checking:
            held = next(answers)
            next(answers)
            if threshold == FINAL:
                next(answers)
            if held is None or text(held).startswith(ours):
                self._due.append((record, threshold))
        self._checking = []

    def plan(self, *, send: bool = True) -> NudgeCounts:
        """Claim the due keys, check the "I rotated it" claims, and queue one DM per owner (with
        `send` False, the keys are only claimed: told already, before Redis lost its data)."""
        pairs: list[tuple[str, NudgeKey]] = []
        for start in range(0, len(self._due), CHECK_CHUNK):
            pairs.extend(self._claim(self._due[start : start + CHECK_CHUNK]))
        pairs.extend(self._rotations())
        entries = plan_entries(by_owner(pairs), self.sweep_id)
        self.counts.owners = len(entries)
        if entries and send:
            name = redis_key(NUDGE_PLAN, self.sweep_id)
            with self.redis.pipeline() as pipe:
                pipe.delete(name)  # a retried after-sweep job plans the same DMs again, in full
                pipe.rpush(name, *(json.dumps(to_json(entry)) for entry in entries))
                pipe.expire(name, NUDGE_PLAN.seconds)
                pipe.execute()
            JobQueue(self.redis).enqueue(NudgeBatch(self.sweep_id, 0))
        audit(
            self.redis,
            "rotation_nudges",
            sweep_id=self.sweep_id,
            rotation_days=self.days,
            **self.counts.to_dict(),
            snoozed_keys=self.counts.snoozed_keys or None,
            not_sent="told before the data loss" if entries and not send else None,
        )
        return self.counts

    def _claim(self, due: list[tuple[KeyRecord, str]]) -> list[tuple[str, NudgeKey]]:
        """Take each key's threshold for its owner's DM of this sweep (one Lua step each)."""
        wanted: list[tuple[str, KeyRecord, str]] = []
        for record, threshold in due:
            if self.departed is not None and self.departed(record):
                self.counts.departed += 1
                continue
            member = self._member(record)
            if member is None:
                self.counts.no_slack_member += 1
                continue
            wanted.append((member, record, threshold))
        claim = scripts(self.redis)[NUDGE_CLAIM]
        with self.redis.pipeline(transaction=False) as pipe:
            for member, record, threshold in wanted:
                claim(
                    keys=nudge_names(record.account_id, record.key_id),
                    args=[threshold, delivery_id(self.sweep_id, member), NUDGE_SENT.seconds, member],
                    client=pipe,
                )
            outcomes = pipe.execute() if wanted else []
        taken = []
        for (member, record, threshold), outcome in zip(wanted, outcomes, strict=True):
            if int(outcome) == CLAIMED:
                taken.append((member, nudge_key(record, threshold)))
                if threshold == FINAL:
                    self.counts.final += 1
                else:
                    self.counts.warn += 1
            elif int(outcome) == SNOOZED:
                self._snoozed(record.key_id)
        return taken

    def _member(self, record: KeyRecord) -> str | None:
        """The owner's Slack member ID: the tag's, or the email tag's through the directory."""
        if record.owner_slack_id:
            return record.owner_slack_id
        email = (record.owner_email or "").lower()
        if not email:
            return None
        if email not in self._members:
            self._members[email] = self.runtime.directory.resolve(Owner(email=email)).slack_user_id
        return self._members[email]

    def _snoozed(self, key_id: str) -> None:
        self.counts.snoozed += 1
        if len(self.counts.snoozed_keys) < AUDITED_KEYS:
            self.counts.snoozed_keys.append(key_id)

    def _rotations(self) -> list[tuple[str, NudgeKey]]:
        """Keys their owners said they rotated before this sweep began, as this sweep saw them in IAM:
        still active, the owner is told (once: the claim is settled by one taker); inactive or
        gone, it is recorded, and nothing more is said. An account this sweep could not read, or a
        claim made while it ran, waits for the next sweep."""
        started = self._sweep_started()
        claims = rotation_claims(self.redis) if started is not None else []
        if not claims:
            return []
        summary = read_sweep_summary(self.redis)
        unreadable = {u.account for u in summary.unreadable} if summary is not None else set()
        told = []
        for claim in claims:
            if claim.pressed_at >= (started or 0) or claim.account_id in unreadable:
                continue
            snapshot = redis_key(SNAPSHOT, claim.account_id)
            if not self.redis.exists(snapshot):
                continue  # no sweep has read that account lately: nothing to go by
            raw = self.redis.hget(snapshot, claim.key_id)
            record = record_from_snapshot(claim.account_id, claim.key_id, raw) if raw is not None else None
            if record is not None and record.active:
                held = snoozed(self.redis, claim.ref)
                if held is not None and held.by == claim.owner:
                    self._snoozed(claim.key_id)
                    continue
                if settle_rotation(self.redis, claim):
                    self.counts.still_active += 1
                    told.append((claim.owner, _still_active(record, claim.pressed_at)))
            elif settle_rotation(self.redis, claim):
                self.counts.confirmed += 1
                audit(self.redis, "rotation_confirmed", sweep_id=self.sweep_id, key=claim.key_id,
                      account=claim.account_id, owner=claim.owner,
                      status="Inactive" if record is not None else "gone")  # fmt: skip
        return told

    def _sweep_started(self) -> float | None:
        """When this sweep began (epoch seconds): only claims made before it are checked."""
        raw = self.redis.hget(redis_key(SWEEP_STATE, self.sweep_id), "started")
        try:
            return float(text(raw)) if raw is not None else None
        except ValueError:
            return None


def _still_active(record: KeyRecord, pressed_at: float) -> NudgeKey:
    return replace(nudge_key(record, STILL_ACTIVE), pressed_at=pressed_at)
