"""What the person who deactivated (or reactivated) a key reads afterwards: what IAM now says, or
plainly why nothing was changed. Every value from outside is escaped."""

from __future__ import annotations

from dataclasses import dataclass

from core.blockkit import REACTIVATE_ACTION, Message, button, context, section
from core.contract import KeyActionRequest
from core.key_actions import (
    APPROVAL_WINDOW,
    DEACTIVATE,
    QUARANTINE,
    UNDO_WINDOW,
    PendingApproval,
    approve_button,
    offer_ref,
)
from core.slack_text import channel_link, code, escape, mention
from workers.render.notice import replacement_steps


@dataclass(frozen=True)
class ActionOutcome:
    """How a key action went: `kind` names it (see _NOT_DONE), `iam_status` is IAM's read-back."""

    kind: str
    iam_status: str | None = None
    changed: bool = False
    detail: str | None = None
    # The key's owner (by IAM's tags) made the change: their one DM is this answer, with the steps.
    owner_is_actor: bool = False


_NOT_DONE = {
    "already": "IAM already has it as {status}: nothing to change.",
    "gone": "IAM has no such key for that user in that account any more (deleted meanwhile?).",
    "refused": "You may not change this key: only members of the responder user groups may, and a key's "
    "owner may deactivate their own.",
    "approvals_need_channel": "The two-person rule is on, and approvals are collected in the audit channel, "
    "which is not set (WHOSE_KEY_AUDIT_CHANNEL).",
    "approval_not_posted": "The request could not be posted in the audit channel for approval",
    "feature_off": "Acting on keys is turned off here (no responder role is set up).",
    "bad_request": "whose-key did not understand that request.",
    "unreadable": "IAM in that account could not be read to confirm the key",
    "role_missing": "The responder role could not be assumed in that account (not deployed there, or its "
    "trust policy does not allow whose-key).",
    "denied": "IAM refused the change (access denied): the responder role there does not allow it.",
    "throttled": "IAM kept answering that it is busy (throttling), even after retries. Try again in a minute.",
    "unavailable": "AWS could not be reached to make the change",
    "unconfirmed": "The change was sent, but IAM could not confirm it",
}


# Why a change was refused, by the worker's reason (outcome.detail of a "refused" outcome).
_REFUSED_BECAUSE = {
    "own_request": "Under the two-person rule, another responder than the one who asked must approve it.",
    "not_approved": "That approval was not taken by the person named on it (expired, or approved by someone else).",
    "unknown_approval": "whose-key has no such request waiting for approval any more.",
    "could_not_check": "Slack could not say who is a responder just now; nothing is changed until it can. "
    "Try again in a minute.",
}
_VERBS = {DEACTIVATE: "deactivate", QUARANTINE: "quarantine the IAM user of"}


def render_outcome(req: KeyActionRequest, outcome: ActionOutcome) -> Message:
    key = code(req.key_id)
    where = f"*{escape(req.user_name)}* in account {escape(req.account_id)}"
    if outcome.kind == "awaiting_approval":
        text = (
            f":hourglass_flowing_sand: Your request to {_VERBS.get(req.action, 'reactivate')} {key} of {where} is "
            f"waiting for a second responder in {channel_link(outcome.detail or '')} (two-person rule). Nothing "
            f"changes until another responder approves it there, within {APPROVAL_WINDOW // 60} minutes; I will DM "
            "you what IAM says then."
        )
        return Message(f"{req.key_id}: waiting for approval", [section(text)])
    if outcome.changed and req.action == QUARANTINE:
        text = (
            f":lock: The IAM user *{escape(req.user_name)}* (key {key}, account {escape(req.account_id)}) is "
            f"*quarantined*: IAM now lists *{escape(outcome.iam_status or '?')}* among its policies. Its owner was "
            "told. Deactivate the key too, if it leaked."
        )
        return Message(f"{escape(req.user_name)} quarantined: {escape(outcome.iam_status)}", [section(text)])
    if outcome.changed:
        verb = "deactivated" if req.action == DEACTIVATE else "reactivated"
        lines = [
            f":white_check_mark: The key {key} of {where} is *{verb}*: IAM now says "
            f"*{escape(outcome.iam_status or '?')}*.",
        ]
        if outcome.owner_is_actor and req.action == DEACTIVATE:
            steps = [
                *replacement_steps(req.user_name, req.key_id, req.account_id),
                "Once nothing fails, delete the old key: "
                + code(f"aws iam delete-access-key --user-name {req.user_name} --access-key-id {req.key_id}"),
            ]
            lines.append("*What to do now*\n" + "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1)))
        elif not outcome.owner_is_actor:
            lines.append("Its owner was told, with the steps to take now.")
        blocks = [section("\n".join(lines))]
        if req.action == DEACTIVATE:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        button(REACTIVATE_ACTION, "Reactivate (undo)", offer_ref(f"undo-{req.delivery_id}", req.key_id))
                    ],
                }
            )
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": f"You can undo this for {UNDO_WINDOW // 60} minutes."}],
                }
            )
        return Message(f"{req.key_id} {verb}: IAM says {outcome.iam_status}", blocks)
    text = _NOT_DONE.get(outcome.kind, "The change could not be made")
    if outcome.kind == "refused" and outcome.detail in _REFUSED_BECAUSE:
        text = _REFUSED_BECAUSE[outcome.detail]
    elif outcome.kind == "already":
        text = text.format(status=escape(outcome.iam_status or "?"))
    elif outcome.detail and outcome.kind in ("unreadable", "unavailable", "unconfirmed"):
        text = f"{text}: {escape(outcome.detail)}."
    elif not text.endswith("."):
        text += "."
    headline = (
        f":x: Nothing was changed for {key} of {where}."
        if outcome.kind != "unconfirmed"
        else (f":warning: {key} of {where}:")
    )
    return Message(f"{req.key_id}: {text}", [section(f"{headline}\n{text}")])


def render_quarantine_notice(req: KeyActionRequest) -> Message:
    """The owner's DM after a responder quarantined their IAM user."""
    actor = _actor(req.actor)
    lines = [
        f":lock: Your IAM user *{escape(req.user_name)}* in account {escape(req.account_id)} was *quarantined* by "
        f"{actor} with whose-key, because of the key {code(req.key_id)}.",
        "*Why* (as they gave it)\n" + "\n".join("> " + escape(line) for line in req.reason.splitlines()),
        "*What it means*\nAWS's quarantine policy now denies the actions a leaked key is abused for, for every key "
        "of this user: some of your calls will fail with `AccessDenied`.",
        "*What to do*\n1. Rotate the key: create a new one, update every place that uses it, deactivate and delete "
        f"{code(req.key_id)}.\n2. Review CloudTrail in the account for what the key did.\n3. Ask your AWS "
        "administrators to detach the quarantine policy once that is done.",
    ]
    return Message(f"IAM user {escape(req.user_name)} was quarantined", [section(line) for line in lines])


def _request_line(pending: PendingApproval) -> str:
    req = pending.request
    return (
        f"{_actor(req.actor)} asks to *{_VERBS.get(req.action, 'reactivate')}* the key {code(req.key_id)} of IAM "
        f"user *{escape(req.user_name)}* in {escape(pending.account_label)}"
    )


def render_approval_request(pending: PendingApproval) -> Message:
    """The audit channel's post under the two-person rule: who asks what and why, and Approve."""
    req = pending.request
    deadline = int(pending.asked_at + APPROVAL_WINDOW)
    blocks = [
        section(f":raised_hand: *Approval needed (two-person rule)*\n{_request_line(pending)}."),
        section("*Why* (as they gave it)\n" + "\n".join("> " + escape(line) for line in req.reason.splitlines())),
        {"type": "actions", "elements": [approve_button(pending.approval_id)]},
        context(
            f"Another responder may approve until <!date^{deadline}^{{time}}|{APPROVAL_WINDOW // 60} minutes from "
            "the request>; approving makes the change at once, through the responder role."
        ),
    ]
    return Message(f"Approval needed: {req.action} {req.key_id} ({escape(req.user_name)})", blocks)


def render_approval_closed(pending: PendingApproval, approver: str | None, outcome: ActionOutcome) -> Message:
    """The audit channel's request once approved: who approved it and what IAM now says."""
    by = _actor(approver or "?")
    if outcome.changed:
        result = f":white_check_mark: Approved by {by}: done, IAM now says *{escape(outcome.iam_status or '?')}*."
    else:
        result = f":x: Approved by {by}, but nothing was changed ({escape(outcome.kind.replace('_', ' '))})."
    return Message(f"{pending.request.key_id}: approved", [section(f"{_request_line(pending)}.\n{result}")])


def render_approval_expired(pending: PendingApproval, *, for_requester: bool) -> Message:
    req = pending.request
    minutes = APPROVAL_WINDOW // 60
    if for_requester:
        text = (
            f":hourglass: Your request to {_VERBS.get(req.action, 'reactivate')} {code(req.key_id)} of "
            f"*{escape(req.user_name)}* expired: no other responder approved it within {minutes} minutes. "
            "Nothing was changed. If it is still needed, ask again from a fresh answer."
        )
    else:
        expired = f":hourglass: Expired: nobody approved it within {minutes} minutes. Nothing was changed."
        text = f"{_request_line(pending)}.\n{expired}"
    return Message(f"{req.key_id}: approval expired", [section(text)])


def _actor(actor: str) -> str:
    return mention(actor) if actor.startswith(("U", "W")) else escape(actor)
