"""Acting on a key from Slack (the opt-in responder role): what a Deactivate button was offered for,
and who may press it.

The worker that renders an answer (or a notice, or a Home tab) offers the button only to people who
may use it, and records the key as IAM showed it (`KeyOffer`). The web reads that record to name the
key, user and account in the modal and to refuse a press or a submission from anyone else, before
anything is queued; the worker decides again from IAM before it changes anything, because a record
in Redis and a payload from Slack are both only claims.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from redis import Redis

from core.blockkit import APPROVE_ACTION, DEACTIVATE_ACTION, QUARANTINE_ACTION, button
from core.contract import ContractError, KeyActionRequest, from_json, to_json
from core.coordination import claim, text
from core.redis_keys import KEY_ACTION_DONE, KEY_APPROVAL, KEY_OFFER, redis_key
from core.secrets import decoded, without_secrets

_T = TypeVar("_T")

DEACTIVATE = "deactivate"
REACTIVATE = "reactivate"
# Attach AWS's quarantine policy to the key's user (responders only): it denies the risky actions
# a leaked key is used for, while the owner rotates.
QUARANTINE = "quarantine"
ACTIONS = (DEACTIVATE, REACTIVATE, QUARANTINE)
QUARANTINE_POLICY = "AWSCompromisedKeyQuarantineV3"
# The person who deactivated a key (and responders) may undo it for this long.
UNDO_WINDOW = 15 * 60
# The two-person rule: a request waits this long for a second responder's approval.
APPROVAL_WINDOW = 30 * 60
# What an approval record is claimed with when its window closed unapproved.
EXPIRED = "expired"
# A reason is required, and kept short: it goes into the owner's DM and the audit trail.
MAX_REASON = 500


@dataclass(frozen=True)
class KeyOffer:
    """A key a Deactivate button was offered for, as whose-key last read it from IAM."""

    key_id: str
    account_id: str
    user_name: str
    account_name: str | None = None
    owner_slack_id: str | None = None  # from the IAM user's tags, resolved to Slack

    @property
    def account_label(self) -> str:
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id


def offer_ref(origin: str, key_id: str) -> str:
    """The button's value: where it was offered (an answer's request ID, `home`, a notice) and the key."""
    return f"{origin}|{key_id}"


def remember_offer(redis: Redis, ref: str, offer: KeyOffer) -> None:
    redis.set(redis_key(KEY_OFFER, ref), json.dumps(to_json(offer)), ex=KEY_OFFER.seconds)


def offered(redis: Redis, ref: str) -> KeyOffer | None:
    """The key offered under `ref`, or None: never offered (a hand-made button), or expired."""
    return _stored(redis, redis_key(KEY_OFFER, ref), KeyOffer)


def _stored(redis: Redis, name: str, cls: type[_T]) -> _T | None:
    """A record written with to_json, read back type-checked (core.contract); None when missing or
    not of that shape (written by another version)."""
    raw = redis.get(name)
    if raw is None:
        return None
    try:
        return from_json(cls, json.loads(raw))
    except (ValueError, ContractError):
        return None


def deactivate_button(ref: str, label: str = "Deactivate key", index: int | None = None) -> dict[str, Any]:
    """The red Deactivate button (its action ID distinct per element when there are several)."""
    action_id = DEACTIVATE_ACTION if index is None else f"{DEACTIVATE_ACTION}-{index}"
    return {**button(action_id, label, ref), "style": "danger"}


def quarantine_button(ref: str) -> dict[str, Any]:
    return {**button(QUARANTINE_ACTION, "Quarantine user", ref), "style": "danger"}


def refusal_for(action: str, user: str | None, *, responder: bool, owner: str | None) -> str | None:
    """Why `user` may not take `action` on a key whose owner is `owner` (None: they may).

    Responders (WHOSE_KEY_RESPONDER_USERGROUPS) may act on any key; a key's owner may deactivate
    their own. Reactivating is the undo: whose-key's own record of who deactivated decides that
    (workers/respond), so here it is for responders only unless the worker says otherwise."""
    if not user:
        return "no_user"
    if responder:
        return None
    if action == DEACTIVATE and owner is not None and owner == user:
        return None
    return "not_a_responder"


@dataclass(frozen=True)
class DoneChange:
    """whose-key's record of a change it made: who may undo it, and until when."""

    key_id: str
    status: str
    actor: str
    reason: str
    at: float

    @classmethod
    def load(cls, redis: Redis, key_id: str) -> DoneChange | None:
        return _stored(redis, redis_key(KEY_ACTION_DONE, key_id), cls)

    def undoable_by(self, user: str | None, now: float | None = None) -> bool:
        """The person who deactivated may reactivate, for UNDO_WINDOW seconds."""
        now = time.time() if now is None else now
        return bool(user) and self.actor == user and self.status == "Inactive" and now - self.at <= UNDO_WINDOW

    def save(self, redis: Redis) -> None:
        redis.set(redis_key(KEY_ACTION_DONE, self.key_id), json.dumps(to_json(self)), ex=KEY_ACTION_DONE.seconds)


def clean_reason(text: str | None) -> str | None:
    """The reason as typed, with any pasted secret cut out (it goes to the owner, the audit trail
    and the audit channel), trimmed and capped; None when nothing is left."""
    scrubbed, _ = without_secrets(decoded(text or ""))
    reason = " ".join(scrubbed.split())
    return reason[:MAX_REASON] or None


@dataclass(frozen=True)
class PendingApproval:
    """A key action asked for under the two-person rule (WHOSE_KEY_RESPONDER_APPROVALS=2), waiting
    in the audit channel for another responder; `message_ts` is that message, to close it."""

    approval_id: str
    request: KeyActionRequest
    asked_at: float
    account_label: str
    message_ts: str | None = None

    @classmethod
    def load(cls, redis: Redis, approval_id: str) -> PendingApproval | None:
        return _stored(redis, redis_key(KEY_APPROVAL, approval_id), cls)

    def save(self, redis: Redis, *, first: bool = False) -> bool:
        """Store it; with first=True only if not there yet (a retried job keeps the first ask's
        time, so the window never restarts). True when stored."""
        name = redis_key(KEY_APPROVAL, self.approval_id)
        return bool(redis.set(name, json.dumps(to_json(self)), ex=KEY_APPROVAL.seconds, nx=first))

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) - self.asked_at > APPROVAL_WINDOW

    def refusal_for_approver(self, user: str | None, now: float | None = None) -> str | None:
        """Why `user` may not approve this (None: they may, if they are a responder, which the
        caller checks with Slack's user groups)."""
        if not user:
            return "no_user"
        if user == self.request.actor:
            return "own_request"
        if self.expired(now):
            return "approval_expired"
        return None


def claim_approval(redis: Redis, approval_id: str, by: str) -> bool:
    """Take the approval for `by` (a responder, or EXPIRED when the window closed), once across the
    cluster: True for the one caller that takes it (approval_holder says who did)."""
    return claim(redis, redis_key(KEY_APPROVAL, "taken", approval_id), KEY_APPROVAL.seconds, by)


def approval_holder(redis: Redis, approval_id: str) -> str | None:
    """Who took the approval (a responder, or EXPIRED); None while it waits."""
    holder = redis.get(redis_key(KEY_APPROVAL, "taken", approval_id))
    return None if holder is None else text(holder)


def approve_button(approval_id: str) -> dict[str, Any]:
    return {**button(APPROVE_ACTION, "Approve", approval_id), "style": "primary"}
