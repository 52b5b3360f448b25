"""What the person who deactivated (or reactivated) a key reads afterwards: what IAM now says, or
plainly why nothing was changed. Every value from outside is escaped."""

from __future__ import annotations

from dataclasses import dataclass

from core.blockkit import REACTIVATE_ACTION, Message, button, section
from core.contract import KeyActionRequest
from core.key_actions import DEACTIVATE, QUARANTINE, UNDO_WINDOW, offer_ref
from core.slack_text import code, escape, mention


@dataclass(frozen=True)
class ActionOutcome:
    """How a key action went: `kind` names it (see _NOT_DONE), `iam_status` is IAM's read-back."""

    kind: str
    iam_status: str | None = None
    changed: bool = False
    detail: str | None = None


_NOT_DONE = {
    "already": "IAM already has it as {status}: nothing to change.",
    "gone": "IAM has no such key for that user in that account any more (deleted meanwhile?).",
    "refused": "You may not change this key: only members of the responder user groups may, and a key's "
    "owner may deactivate their own.",
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


def render_outcome(req: KeyActionRequest, outcome: ActionOutcome) -> Message:
    key = code(req.key_id)
    where = f"*{escape(req.user_name)}* in account {escape(req.account_id)}"
    if outcome.changed and req.action == QUARANTINE:
        text = (
            f":lock: The IAM user *{escape(req.user_name)}* (key {key}, account {escape(req.account_id)}) is "
            f"*quarantined*: IAM now lists *{escape(outcome.iam_status or '?')}* among its policies. Its owner was "
            "told. Deactivate the key too, if it leaked."
        )
        return Message(f"{req.user_name} quarantined: {outcome.iam_status}", [section(text)])
    if outcome.changed:
        verb = "deactivated" if req.action == DEACTIVATE else "reactivated"
        lines = [
            f":white_check_mark: The key {key} of {where} is *{verb}*: IAM now says "
            f"*{escape(outcome.iam_status or '?')}*.",
            "Its owner was told, with the steps to take now.",
        ]
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
    if outcome.kind == "already":
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
    actor = mention(req.actor) if req.actor.startswith(("U", "W")) else escape(req.actor)
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
    return Message(f"IAM user {req.user_name} was quarantined", [section(line) for line in lines])
