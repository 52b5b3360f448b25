"""The two-person rule (WHOSE_KEY_RESPONDER_APPROVALS=2): a key action asked for in Slack waits in
the audit channel until another responder approves it, for at most APPROVAL_WINDOW.

The web takes the approval (core.key_actions.claim_approval, once across the cluster) before it
queues the approved change; this module posts the request, checks an approval again when the
change runs (the approver is a responder, is not the requester, and holds the claim), closes the
audit channel's message with what happened, and expires requests nobody approved. A key's owner
deactivating their own key needs no second person: it only takes access away from themselves.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from core.audit import audit
from core.blockkit import Message
from core.contract import ApprovalExpiry, Destination, KeyActionRequest
from core.key_actions import (
    APPROVAL_WINDOW,
    DEACTIVATE,
    EXPIRED,
    PendingApproval,
    approval_holder,
    claim_approval,
)
from core.membership import GroupMembers
from core.queue import JobQueue
from workers.render.respond import (
    ActionOutcome,
    render_approval_closed,
    render_approval_expired,
    render_approval_request,
)
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 60


def needs_approval(runtime: Runtime, req: KeyActionRequest, owner: str | None) -> bool:
    """True when this change must wait for a second responder first."""
    if runtime.settings.responder_approvals < 2 or req.approved_by is not None:
        return False
    return not (req.action == DEACTIVATE and owner is not None and owner == req.actor)


def ask_for_approval(runtime: Runtime, req: KeyActionRequest, account_label: str) -> ActionOutcome:
    """Post the request with its Approve button in the audit channel (once, however often the job
    runs), and schedule its expiry."""
    channel = runtime.settings.audit_channel
    if not channel:
        return ActionOutcome("approvals_need_channel")
    pending = PendingApproval(req.delivery_id, req, time.time(), account_label)
    if pending.save(runtime.redis, first=True):
        _audit(runtime, "key_action_awaiting_approval", req, req.delivery_id)
        # A worker's scheduler runs it once the window is over (a minute's margin for clocks).
        JobQueue(runtime.redis).enqueue_in(APPROVAL_WINDOW + EXPIRY_MARGIN, ApprovalExpiry(req.delivery_id))
    else:  # a retried job: the request was stored, and maybe posted, already
        pending = PendingApproval.load(runtime.redis, req.delivery_id) or pending
    if pending.message_ts is None:
        try:
            ts = runtime.poster.post_or_update(
                Destination(channel=channel, ephemeral=False), render_approval_request(pending).payload(), None
            )
        except DeliveryError as exc:
            return ActionOutcome("approval_not_posted", detail=str(exc))
        replace(pending, message_ts=ts).save(runtime.redis)
    return ActionOutcome("awaiting_approval", detail=channel)


def approval_refusal(runtime: Runtime, req: KeyActionRequest) -> str | None:
    """Why an approved change may not run (None: it may): checked again in the worker, because a
    job's arguments are only what the web queued."""
    pending = PendingApproval.load(runtime.redis, req.approval_id or "")
    if pending is None:
        return "unknown_approval"
    asked = pending.request
    if (asked.action, asked.key_id, asked.account_id, asked.user_name, asked.actor) != (
        req.action,
        req.key_id,
        req.account_id,
        req.user_name,
        req.actor,
    ):
        return "bad_request"
    if req.approved_by == asked.actor:
        return "own_request"
    if approval_holder(runtime.redis, pending.approval_id) != req.approved_by:
        return "not_approved"
    try:
        responder = GroupMembers(runtime.redis, runtime.slack).in_any(
            str(req.approved_by), runtime.settings.responder_usergroups
        )
    except (SlackApiError, OSError):
        return "could_not_check"
    return None if responder else "not_a_responder"


def close_approval(runtime: Runtime, req: KeyActionRequest, outcome: ActionOutcome) -> None:
    """Replace the audit channel's request (and its Approve button) with what became of it."""
    pending = PendingApproval.load(runtime.redis, req.approval_id or "")
    if pending is None or not pending.message_ts or not runtime.settings.audit_channel:
        return
    _update(runtime, pending, render_approval_closed(pending, req.approved_by, outcome))


def expire_approval(runtime: Runtime, args: ApprovalExpiry) -> dict[str, Any]:
    """The job: close a request nobody approved in time, and tell the person who asked."""
    pending = PendingApproval.load(runtime.redis, args.approval_id)
    if pending is None:
        return {"skipped": "unknown approval"}
    if not pending.expired():
        # Scheduled a minute past the window, so only clocks far apart get here; approvals are
        # refused after the window all the same (the web checks the time), only this notice is missed.
        log.warning("approval expiry ran before its window closed", extra={"approval": args.approval_id})
        return {"skipped": "not due yet"}
    # Taken by this job before it was retried, or by nobody: it expires (the posts happen once).
    if not claim_approval(runtime.redis, args.approval_id, EXPIRED):
        holder = approval_holder(runtime.redis, args.approval_id)
        if holder != EXPIRED:
            return {"skipped": "approved", "by": holder}
    req = pending.request
    _audit(runtime, "key_action_expired", req, args.approval_id)
    if pending.message_ts:
        _update(runtime, pending, render_approval_expired(pending, for_requester=False))
    if req.reply_to is not None:
        deliver_once(
            runtime.poster,
            f"approval-expired-{args.approval_id}",
            req.reply_to,
            render_approval_expired(pending, for_requester=True),
        )
    return {"expired": args.approval_id}


def _update(runtime: Runtime, pending: PendingApproval, message: Message) -> None:
    channel = Destination(channel=runtime.settings.audit_channel, ephemeral=False)
    try:
        runtime.poster.post_or_update(channel, message.payload(), pending.message_ts)
    except DeliveryError:
        log.warning("approval request not updated in the audit channel", extra={"approval": pending.approval_id})


def _audit(runtime: Runtime, action: str, req: KeyActionRequest, approval_id: str) -> None:
    audit(runtime.redis, action, actor=req.actor, change=req.action, key=req.key_id, account=req.account_id,
          approval=approval_id)  # fmt: skip
