"""Believe IAM, not the event body: before a key event records a state or sends anything, its
account must be one of the organization's and IAM there must confirm the change.

An account outside the organization is refused before any AssumeRole. A claim IAM contradicts
is refused with what IAM says. IAM having no such key proves nothing on its own (a key that never
existed is not there either): a deletion is believed only of a key whose-key saw in that account
(the key index, the sweep's snapshot, the key's last known state), or one CloudTrail there records
deleting. The user named is always the one whose-key saw in IAM, never the event's `userName`.

When IAM (or, for an unseen key, CloudTrail) cannot be asked, nothing is decided:
ConfirmationUnavailable makes the job retry, and the sweep backs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from core.key_events import KeyEvent
from core.keyids import account_from_key_id
from core.redis_keys import KEY_STATE, SNAPSHOT, redis_key
from workers.aws.cloudtrail import TrailOutcome
from workers.aws.errors import AwsCallError
from workers.aws.iam_keys import KeyStatus, get_key_status
from workers.aws.iam_users import get_user
from workers.lookup.key_index import indexed_key
from workers.runtime import Runtime

# Why an event was dropped, as the audit trail records it.
OUTSIDE_ORG = "outside_organization"
UNCONFIRMED = "unconfirmed"


class ConfirmationUnavailable(Exception):
    """IAM could not be asked; the message says why (no secrets)."""


@dataclass(frozen=True)
class Confirmation:
    """IAM's verdict on an event: confirmed (with IAM's facts in `event`), or why not."""

    event: KeyEvent
    confirmed: bool
    reason: str = ""  # OUTSIDE_ORG or UNCONFIRMED when not confirmed
    detail: str = ""  # what IAM says, for the audit trail


def confirm(runtime: Runtime, event: KeyEvent) -> Confirmation:
    """Check the event against the organization and IAM; never trusts a field of it unchecked."""
    try:
        accounts = runtime.org.accounts(must_include=event.account_id)
    except AwsCallError as exc:
        raise ConfirmationUnavailable(f"the organization's accounts could not be listed ({exc.detail})") from exc
    if event.account_id not in accounts:
        return Confirmation(event, False, OUTSIDE_ORG, f"account {event.account_id} is not in the organization")
    if event.key_id:
        encoded = account_from_key_id(event.key_id)
        if encoded is not None and encoded != event.account_id:
            detail = f"the key ID belongs to account {encoded}, not {event.account_id}"
            return Confirmation(event, False, UNCONFIRMED, detail)
    try:
        iam = runtime.gateway.client(event.account_id, "iam")
        if event.kind == "user_deleted":
            return _user_gone(event, get_user(iam, event.user_name or "") is None)
        if not event.key_id:
            return Confirmation(event, False, UNCONFIRMED, "the event names no key")
        verdict = _key_claim(event, get_key_status(iam, event.key_id, hint_user=event.user_name))
    except AwsCallError as exc:
        raise ConfirmationUnavailable(f"IAM in account {event.account_id} could not be read ({exc.detail})") from exc
    if event.kind == "deleted" and verdict.confirmed:
        return confirm_deletion(runtime, event)
    return verdict


@dataclass(frozen=True)
class Sighting:
    """That whose-key saw a key in an account, and the IAM user it saw it under (when it knows)."""

    user_name: str | None


def seen_in_account(runtime: Runtime, account_id: str, key_id: str) -> Sighting | None:
    """Where whose-key's own memory has key_id in account_id: the index, the snapshot, the state."""
    indexed = indexed_key(runtime.redis, key_id)
    if indexed is not None and indexed.account_id == account_id:
        return Sighting(indexed.user_name)
    raw = runtime.redis.hget(redis_key(SNAPSHOT, account_id), key_id)
    if raw:
        try:
            swept = json.loads(raw)
        except ValueError:
            swept = None
        user = swept.get("user") if isinstance(swept, dict) else None
        return Sighting(str(user) if user else None)
    # A key state is written only for a key IAM showed (a confirmed event or the sweep), and the
    # key ID's encoded account was checked against the event's, so it stands for "seen there".
    if runtime.redis.exists(redis_key(KEY_STATE, key_id)):
        return Sighting(None)
    return None


def confirm_deletion(runtime: Runtime, event: KeyEvent) -> Confirmation:
    """IAM has no such key: believe the deletion only of a key seen there, or that CloudTrail records."""
    key_id = event.key_id or ""
    sighting = seen_in_account(runtime, event.account_id, key_id)
    if sighting is not None and sighting.user_name:
        return Confirmation(replace(event, user_name=sighting.user_name), True)
    trail = runtime.trail.who_deleted_key(event.account_id, key_id)
    if trail.outcome is TrailOutcome.FOUND and trail.event is not None:
        record = trail.event
        return Confirmation(
            replace(
                event,
                user_name=record.user_name or (sighting.user_name if sighting else None),
                actor=record.actor,
                when=record.event_time,
                source_ip=record.source_ip,
                from_trail=True,
            ),
            True,
        )
    if trail.outcome is TrailOutcome.UNREACHABLE and sighting is None:
        # "Could not look" is not "nothing there": the job retries, and the sweep backs it.
        raise ConfirmationUnavailable(f"CloudTrail in account {event.account_id} could not be read ({trail.detail})")
    if sighting is not None:
        # Seen, but not under a name we kept: the notice names no user rather than the event's.
        return Confirmation(replace(event, user_name=None), True)
    detail = (
        f"IAM has no key {key_id} in account {event.account_id}, whose-key never saw it there, "
        f"and CloudTrail records no deletion of it ({trail.detail or trail.outcome.value})"
    )
    return Confirmation(event, False, UNCONFIRMED, detail)


def _user_gone(event: KeyEvent, gone: bool) -> Confirmation:
    if gone:
        return Confirmation(event, True)
    return Confirmation(event, False, UNCONFIRMED, f"IAM still has the user {event.user_name}")


def _key_claim(event: KeyEvent, status: KeyStatus | None) -> Confirmation:
    """Does IAM's view of the key bear out the claim? IAM's user name replaces the claimed one."""
    if event.kind == "deleted":
        if status is None:
            return Confirmation(event, True)
        return Confirmation(event, False, UNCONFIRMED, f"IAM still has the key, {status.status}")
    if status is None:
        return Confirmation(event, False, UNCONFIRMED, "IAM has no such key in the account")
    confirmed = replace(event, user_name=status.user_name)
    expected = {"deactivated": "Inactive", "reactivated": "Active"}.get(event.kind)
    if expected is not None and status.status != expected:
        return Confirmation(event, False, UNCONFIRMED, f"IAM says the key is {status.status}")
    # A risk notice needs the key to be there (in any state): its user is the one to tell.
    return Confirmation(confirmed, True)
