"""Deactivate or reactivate one key for a person, through the opt-in responder role.

In order, each step from the source of truth: IAM (read-only role) confirms the key is that
user's in that account and says its status; the actor is checked again (a responder, the key's
owner as IAM's tags name them, or for an undo the person whose-key recorded as deactivating it);
the responder role makes the change; IAM is read back, and the person is told what IAM now says.
The owner hears of it once: the change is recorded as the key's new state through the same
notifier the deactivation watch uses, so the EventBridge event and the next sweep that see it
again find nothing new.

Safe to run again (a worker that dies is retried): the change is idempotent, the state change
and its notice happen once, and the person's answer is delivered once per submission.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redis import Redis
from slack_sdk.errors import SlackApiError

from core.audit import audit
from core.contract import Destination, KeyActionRequest
from core.key_actions import (
    DEACTIVATE,
    QUARANTINE,
    QUARANTINE_POLICY,
    REACTIVATE,
    DoneChange,
    KeyOffer,
    offer_ref,
    refusal_for,
    remember_offer,
)
from core.key_events import KeyEvent
from core.membership import GroupMembers
from core.redis_keys import KEY_ACTION_DONE, redis_key
from workers.aws.errors import AwsCallError
from workers.aws.iam_keys import KeyStatus, get_key_status
from workers.aws.iam_users import get_attached_user_policy_arns, get_user_tags, quarantine_policy
from workers.notices.notifier import Notifier
from workers.render.respond import ActionOutcome, render_outcome, render_quarantine_notice
from workers.respond.approvals import approval_refusal, ask_for_approval, close_approval, needs_approval
from workers.respond.iam_writes import ACTIVE, INACTIVE, KeyWriteError, WriteFailure, attach_policy, set_key_status
from workers.runtime import Runtime
from workers.slack.delivery import already_delivered, deliver_once
from workers.slack.owners import owner_from_tags
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)

_TARGET = {DEACTIVATE: INACTIVE, REACTIVATE: ACTIVE}


def act_on_key(runtime: Runtime, req: KeyActionRequest) -> dict[str, Any]:
    """The job: a change asked for in Slack, by a person Slack's rules must allow."""
    return act(runtime, req, terminal=False)


def act(runtime: Runtime, req: KeyActionRequest, *, terminal: bool) -> dict[str, Any]:
    """Make the change if IAM and the rules allow it, and tell the actor what IAM now says.

    terminal: the CLI, run with the shell's own AWS credentials (they are the authority there:
    they must be able to assume the hub's roles); Slack's rules of who may act do not apply."""
    answer_id = f"key-action-{req.delivery_id}"
    if already_delivered(runtime.redis, answer_id):
        return {"skipped": "already answered"}
    outcome = _decide_and_act(runtime, req, terminal=terminal)
    audit(
        runtime.redis,
        f"key_{req.action}" if outcome.changed else "key_action_not_done",
        actor=req.actor,
        key=req.key_id,
        account=req.account_id,
        user=req.user_name,
        reason=req.reason,
        outcome=outcome.kind,
        iam_status=outcome.iam_status,
        delivery=req.delivery_id,
        approved_by=req.approved_by,
    )
    if req.approved_by is not None:
        close_approval(runtime, req, outcome)
    if req.reply_to is not None:
        deliver_once(runtime.poster, answer_id, req.reply_to, render_outcome(req, outcome))
    return {"outcome": outcome.kind, "iam_status": outcome.iam_status, "changed": outcome.changed}


def _decide_and_act(runtime: Runtime, req: KeyActionRequest, *, terminal: bool) -> ActionOutcome:
    if req.action not in (*_TARGET, QUARANTINE):
        return ActionOutcome("bad_request")
    if runtime.responder is None:
        return ActionOutcome("feature_off")
    try:
        reader = runtime.gateway.client(req.account_id, "iam")  # may assume the read-only role
        before = get_key_status(reader, req.key_id, hint_user=req.user_name)
    except AwsCallError as exc:
        return ActionOutcome("unreadable", detail=exc.detail)
    if before is None or before.user_name != req.user_name:
        return ActionOutcome("gone")
    owner = None
    if not terminal:
        owner = _owner_in_iam(runtime, req, before)
        refusal = _refusal(runtime, req, owner)
        if refusal is None and req.approved_by is not None:
            refusal = approval_refusal(runtime, req)
        if refusal is not None:
            return ActionOutcome("refused", detail=refusal)
        if needs_approval(runtime, req, owner):
            return ask_for_approval(runtime, req, _account_label(runtime, req.account_id))
    owner_is_actor = owner is not None and owner == req.actor
    resumed = _started(runtime.redis, req)  # a retried job: the change may be made already
    if req.action == QUARANTINE:
        return _quarantine(runtime, req, reader, resumed=resumed)
    target = _TARGET[req.action]
    if before.status == target and not resumed:
        return ActionOutcome("already", iam_status=before.status)
    try:
        set_key_status(runtime.responder, req.account_id, req.user_name, req.key_id, target)
    except KeyWriteError as exc:
        return ActionOutcome(exc.failure.value, detail=exc.detail)
    try:
        after = get_key_status(reader, req.key_id, hint_user=req.user_name)
    except AwsCallError as exc:
        return ActionOutcome("unconfirmed", detail=exc.detail)
    if after is None:
        return ActionOutcome(WriteFailure.GONE.value)
    changed = after.status == target
    if changed:
        DoneChange(req.key_id, after.status, req.actor, req.reason, time.time()).save(runtime.redis)
        if req.action == DEACTIVATE:  # the outcome's Reactivate (undo) button names this key
            undo = KeyOffer(req.key_id, req.account_id, after.user_name)
            remember_offer(runtime.redis, offer_ref(f"undo-{req.delivery_id}", req.key_id), undo)
        _tell_owner(runtime, req, after)
    return ActionOutcome(
        "done" if changed else "unconfirmed", iam_status=after.status, changed=changed, owner_is_actor=owner_is_actor
    )


def _quarantine(runtime: Runtime, req: KeyActionRequest, reader: Any, *, resumed: bool) -> ActionOutcome:
    """Attach AWS's quarantine policy to the key's user, then read the user's policies back."""
    assert runtime.responder is not None
    try:
        attached = quarantine_policy(get_attached_user_policy_arns(reader, req.user_name))
    except AwsCallError as exc:
        return ActionOutcome("unreadable", detail=exc.detail)
    if attached and not resumed:
        return ActionOutcome("already", iam_status=attached)
    policy_arn = f"arn:{runtime.gateway.partition}:iam::aws:policy/{QUARANTINE_POLICY}"
    try:
        attach_policy(runtime.responder, req.account_id, req.user_name, policy_arn)
        attached = quarantine_policy(get_attached_user_policy_arns(reader, req.user_name))
    except KeyWriteError as exc:
        return ActionOutcome(exc.failure.value, detail=exc.detail)
    except AwsCallError as exc:
        return ActionOutcome("unconfirmed", detail=exc.detail)
    if not attached:
        return ActionOutcome("unconfirmed")
    _tell_owner_of_quarantine(runtime, req)
    return ActionOutcome("done", iam_status=attached, changed=True)


def _tell_owner_of_quarantine(runtime: Runtime, req: KeyActionRequest) -> None:
    """One DM to the owner, as IAM's tags name them now (the audit channel has the audit record)."""
    status = KeyStatus(req.key_id, req.user_name, "", None)
    owner = _owner_in_iam(runtime, req, status)
    if owner is None:
        return
    try:
        deliver_once(
            runtime.poster,
            f"quarantine-notice-{req.delivery_id}",
            Destination(channel=owner, ephemeral=False),
            render_quarantine_notice(req),
        )
    except DeliveryError:
        log.warning("owner not told of a quarantine", extra={"key": req.key_id})


def _refusal(runtime: Runtime, req: KeyActionRequest, owner: str | None) -> str | None:
    """Why the actor may not make this change, from IAM's tags (`owner`) and whose-key's own records."""
    try:
        responder = GroupMembers(runtime.redis, runtime.slack).in_any(req.actor, runtime.settings.responder_usergroups)
    except (SlackApiError, OSError):
        return "could_not_check"  # fail closed: nobody acts on a key while Slack cannot say who they are
    if req.action == REACTIVATE and not responder:
        done = DoneChange.load(runtime.redis, req.key_id)
        return None if done is not None and done.undoable_by(req.actor) else "not_a_responder"
    return refusal_for(req.action, req.actor, responder=responder, owner=owner)


def _account_label(runtime: Runtime, account_id: str) -> str:
    """The account's name and ID as the organization lists it (the ID alone when it cannot say)."""
    try:
        account = runtime.org.accounts().get(account_id)
    except AwsCallError:
        account = None
    return account.label if account is not None else account_id


def _owner_in_iam(runtime: Runtime, req: KeyActionRequest, status: KeyStatus) -> str | None:
    """The key's owner on Slack as its IAM user's tags name them now (not as an answer said)."""
    try:
        tags = get_user_tags(runtime.gateway.client(req.account_id, "iam"), status.user_name) or {}
    except AwsCallError:
        return None
    return runtime.directory.resolve(owner_from_tags(tags)).slack_user_id


def _started(redis: Redis, req: KeyActionRequest) -> bool:
    """Mark this submission's change as started; True when an earlier run of it had started it."""
    return not redis.set(
        redis_key(KEY_ACTION_DONE, "started", req.delivery_id), "1", nx=True, ex=KEY_ACTION_DONE.seconds
    )


def _tell_owner(runtime: Runtime, req: KeyActionRequest, after: KeyStatus) -> None:
    """One notice to the owner (and the audit channel's record), through the deactivation watch's
    notifier: the key's new state is recorded once, so the watch does not tell it again."""
    event = KeyEvent(
        kind="deactivated" if after.status == INACTIVE else "reactivated",
        account_id=req.account_id,
        event_id=req.delivery_id,
        key_id=req.key_id,
        user_name=after.user_name,
        actor=req.actor,
        source="whose-key",
        dedupe_id=f"whose-key-{req.delivery_id}",
        description=req.reason,
        from_trail=True,  # who and when are whose-key's own facts, not an event's claim
    )
    try:
        Notifier(runtime).handle(event)
    except Exception:  # the change is made: the person is told that, and the notice stays pending
        log.exception("owner notice after a key action failed", extra={"key": req.key_id})
