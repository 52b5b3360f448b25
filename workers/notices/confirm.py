"""Believe IAM, not the event body: before a key event records a state or sends anything, its
account must be one of the organization's and IAM there must confirm the change.

An account outside the organization is refused before any AssumeRole. A claim IAM contradicts
is refused with what IAM says. When IAM cannot be asked (role missing, throttled), nothing is
decided: ConfirmationUnavailable makes the job retry, and the sweep backs it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core.key_events import KeyEvent
from core.keyids import account_from_key_id
from workers.aws.errors import AwsCallError
from workers.aws.iam_keys import KeyStatus, get_key_status
from workers.aws.iam_users import get_user
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
        return _key_claim(event, get_key_status(iam, event.key_id, hint_user=event.user_name))
    except AwsCallError as exc:
        raise ConfirmationUnavailable(f"IAM in account {event.account_id} could not be read ({exc.detail})") from exc


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
