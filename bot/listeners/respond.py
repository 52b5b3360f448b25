"""Deactivate (and Reactivate, the undo) from Slack, with the opt-in responder role: the press
opens a modal that names the key and asks why; the submission queues the change. Both are
refused, audited, for anyone who may not act: the button is only offered to responders and
owners, so a press or a submission from anyone else was made by hand. The worker checks again
with IAM before it changes anything (workers/respond/act.py)."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.access import APPROVAL_REFUSALS, Refusal
from bot.intake import Asker, admit, submit_reply, vet
from bot.key_action_views import (
    REASON_BLOCK,
    closing_view,
    key_action_modal,
    submitted_metadata,
    submitted_reason,
)
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_action
from core.audit import audit
from core.blockkit import APPROVE_ACTION, DEACTIVATE_ACTION, KEY_ACTION_VIEW, QUARANTINE_ACTION, REACTIVATE_ACTION
from core.contract import Destination, KeyActionRequest
from core.key_actions import (
    ACTIONS,
    DEACTIVATE,
    EXPIRED,
    QUARANTINE,
    REACTIVATE,
    DoneChange,
    KeyOffer,
    PendingApproval,
    approval_holder,
    claim_approval,
    clean_reason,
    offered,
)
from core.slack_text import code, mention

log = logging.getLogger(__name__)

STALE_BUTTON = Refusal(
    "unknown_key_offer",
    ":hourglass: That button is no longer valid (answers are kept for a day). Look the key up again with "
    "`/whose-key AKIA…`.",
)
_PRESSED = re.compile(f"^({DEACTIVATE_ACTION}|{REACTIVATE_ACTION}|{QUARANTINE_ACTION})(-[0-9]+)?$")
_KIND_OF = {REACTIVATE_ACTION: REACTIVATE, QUARANTINE_ACTION: QUARANTINE}


def register(app: App, services: Services) -> None:
    @app.action(_PRESSED)
    def press(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        context: BoltContext,
        client: WebClient,
    ) -> None:
        ack()
        kind = _KIND_OF.get(str(action.get("action_id", "")).split("-")[0], DEACTIVATE)
        open_modal(services, client, body, action, kind, respond, installing_team(context))

    @app.action(APPROVE_ACTION)
    def approve(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        ack()
        take_approval(services, body, action, respond, installing_team(context))

    @app.view(KEY_ACTION_VIEW)
    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
        take_submission(services, ack, body, view, installing_team(context))


def open_modal(
    services: Services,
    client: WebClient,
    body: dict[str, Any],
    action: dict[str, Any],
    kind: str,
    respond: Respond,
    home_team: str | None,
) -> None:
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    ref = str(action.get("value") or "")
    asker = Asker(user, channel, (body.get("team") or {}).get("id"), "button", teams_of_action(body), home_team)
    try:
        offer, refusal = _vetted(services, asker, kind, ref, charge=True)
    except RedisError:
        respond(**messages.unavailable())
        return
    if refusal is not None:
        destination = Destination(response_url=body.get("response_url"), channel=channel or user, user=user)
        delivery_id = f"refused-{action.get('action_ts') or body.get('trigger_id')}"
        if not submit_reply(services.jobs, delivery_id, destination, messages.refused(refusal)):
            respond(**messages.unavailable())
        return
    assert offer is not None
    try:
        client.views_open(trigger_id=body.get("trigger_id"), view=key_action_modal(kind, offer, ref))
    except SlackApiError as exc:
        log.warning("could not open the key action modal", extra={"error": exc.response.get("error")})
        respond(text=":warning: Slack did not open the form in time. Please press the button again.")
        return
    audit(services.jobs.redis, "key_action_form", **asker.audited(), change=kind, key=offer.key_id)


def take_approval(
    services: Services, body: dict[str, Any], action: dict[str, Any], respond: Respond, home_team: str | None
) -> None:
    """The two-person rule's second responder pressed Approve in the audit channel: check them,
    take the approval (once across the cluster), and queue the change the first one asked for."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    approval_id = str(action.get("value") or "")
    asker = Asker(user, channel, (body.get("team") or {}).get("id"), "button", teams_of_action(body), home_team)
    reply_to = Destination(response_url=body.get("response_url"), channel=channel or user, user=user)
    delivery_id = f"approval-{action.get('action_ts') or body.get('trigger_id')}"
    try:
        refusal = admit(services.policy, asker)
        pending = PendingApproval.load(services.jobs.redis, approval_id) if refusal is None else None
        if refusal is None:
            refusal = services.policy.check_approver(user, pending)
            if refusal is not None:
                audit(services.jobs.redis, "refused", **asker.audited(), reason=refusal.reason, approval=approval_id)
        if refusal is None and pending is not None:
            if not claim_approval(services.jobs.redis, approval_id, str(user)):
                holder = approval_holder(services.jobs.redis, approval_id) or ""
                refusal = Refusal("already_approved", _taken_text(holder))
            else:
                services.jobs.enqueue(
                    replace(
                        pending.request,
                        delivery_id=f"approved-{approval_id}",
                        approved_by=user,
                        approval_id=approval_id,
                    )
                )
    except RedisError:
        respond(**messages.unavailable())
        return
    if refusal is not None:
        if not submit_reply(services.jobs, f"refused-{delivery_id}", reply_to, messages.refused(refusal)):
            respond(**messages.unavailable())
        return
    assert pending is not None
    req = pending.request
    audit(services.jobs.redis, "key_action_approved", **asker.audited(), change=req.action, key=req.key_id,
          requested_by=req.actor, approval=approval_id)  # fmt: skip
    message = {"text": f":white_check_mark: Approved. whose-key is making the change to {code(req.key_id)} now."}
    submit_reply(services.jobs, delivery_id, replace(reply_to, response_url=None), message)


def _taken_text(holder: str) -> str:
    if holder == EXPIRED:
        return APPROVAL_REFUSALS["approval_expired"]
    return f":information_source: {mention(holder)} approved this request already; nothing more to do."


def take_submission(
    services: Services, ack: Ack, body: dict[str, Any], view: dict[str, Any], home_team: str | None
) -> None:
    user = (body.get("user") or {}).get("id")
    asker = Asker(user, None, (body.get("team") or {}).get("id"), "modal", teams_of_action(body), home_team)
    meta = submitted_metadata(view)
    if meta is None or meta[1] not in ACTIONS:
        audit(services.jobs.redis, "refused", **asker.audited(), reason="bad_submission")
        ack(response_action="update", view=closing_view("Not done", "whose-key did not understand that form."))
        return
    ref, kind = meta
    reason = clean_reason(submitted_reason(view))
    if reason is None:
        ack(response_action="errors", errors={REASON_BLOCK: "Please say why: the owner and the audit trail read it."})
        return
    try:
        offer, refusal = _vetted(services, asker, kind, ref, charge=False)
        if refusal is None:
            assert offer is not None
            services.jobs.enqueue(_request(view, kind, offer, user, reason))
    except RedisError:
        ack(response_action="update", view=closing_view("Try again later", messages.UNAVAILABLE))
        return
    if refusal is not None:
        ack(response_action="update", view=closing_view("Not done", refusal.message))
        return
    assert offer is not None
    audit(services.jobs.redis, "key_action_requested", **asker.audited(), change=kind, key=offer.key_id, why=reason)
    verb = {DEACTIVATE: "Deactivating", REACTIVATE: "Reactivating", QUARANTINE: "Quarantining the user of"}[kind]
    text = f":hourglass_flowing_sand: {verb} {code(offer.key_id)}. I will DM you what IAM says in a few seconds."
    own_key = kind == DEACTIVATE and offer.owner_slack_id == user  # the worker decides from IAM's tags
    if services.settings.responder_approvals > 1 and not own_key:
        text = (
            f":hourglass_flowing_sand: Your request for {code(offer.key_id)} goes to the audit channel, where another "
            "responder must approve it (two-person rule). I will DM you when it is approved and done."
        )
    ack(response_action="update", view=closing_view("On its way", text))


def _vetted(
    services: Services, asker: Asker, kind: str, ref: str, *, charge: bool
) -> tuple[KeyOffer | None, Refusal | None]:
    """The offered key, and why this person may not act on it (None: they may); every refusal is
    audited. Raises RedisError."""
    refusal = admit(services.policy, asker) if charge else vet(services.policy, asker, None)
    if refusal is not None:
        return None, refusal  # audited by the access checks
    offer = offered(services.jobs.redis, ref)
    undo_by = None
    if offer is None:
        refusal = STALE_BUTTON
    else:
        if kind == REACTIVATE:
            done = DoneChange.load(services.jobs.redis, offer.key_id)
            undo_by = done.actor if done is not None and done.undoable_by(asker.user) else None
        refusal = services.policy.check_responder(asker.user, kind, owner=offer.owner_slack_id, undo_by=undo_by)
    if refusal is not None:
        audit(services.jobs.redis, "refused", **asker.audited(), reason=refusal.reason, change=kind, ref=ref)
    return offer, refusal


def _request(view: dict[str, Any], kind: str, offer: KeyOffer, user: str | None, reason: str) -> KeyActionRequest:
    return KeyActionRequest(
        # One change per opened modal, however often Slack delivers its submission.
        delivery_id=str(view.get("id") or ""),
        action=kind,
        key_id=offer.key_id,
        account_id=offer.account_id,
        user_name=offer.user_name,
        actor=str(user),
        reason=reason,
        reply_to=Destination(channel=user, ephemeral=False),
    )
