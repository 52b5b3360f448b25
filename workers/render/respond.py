"""What the person who deactivated (or reactivated) a key reads afterwards: what IAM now says, or
plainly why nothing was changed. Every value from outside is escaped."""

from __future__ import annotations

from dataclasses import dataclass

from core.blockkit import REACTIVATE_ACTION, Message, button, section
from core.contract import KeyActionRequest
from core.key_actions import DEACTIVATE, UNDO_WINDOW, offer_ref
from core.slack_text import code, escape


@dataclass(frozen=True)
class ActionOutcome:
    """How a key action went: `kind` names it (see _NOT_DONE), `iam_status` is IAM's read-back."""

    kind: str
    iam_status: str | None = None
    changed: bool = False
    detail: str | None = None


_NOT_DONE = {
    "already": "IAM already has the key as {status}: nothing to change.",
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
