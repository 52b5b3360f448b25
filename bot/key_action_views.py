"""The modal of a key action (Deactivate, Reactivate): what it names, what will stop working, and
the reason field; and the views it is replaced with once submitted or refused. Every value from
outside (user and account names) is escaped; Slack caps a modal's title at 24 characters."""

from __future__ import annotations

import json
from typing import Any

from core.blockkit import KEY_ACTION_VIEW, section
from core.key_actions import DEACTIVATE, MAX_REASON, QUARANTINE, KeyOffer
from core.slack_text import code, escape

REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

_TITLES = {DEACTIVATE: "Deactivate key", QUARANTINE: "Quarantine user"}
_EFFECT = {
    DEACTIVATE: (
        "Every request signed with this key will be refused at once (`InvalidAccessKeyId` from S3, "
        "`InvalidClientTokenId` elsewhere): scripts, CI jobs and apps still using it will stop working. "
        "The owner gets a DM with the steps. You can undo it for 15 minutes."
    ),
    QUARANTINE: (
        "AWS's `AWSCompromisedKeyQuarantineV3` policy is attached to the IAM user: it denies the actions a "
        "leaked key is abused for (creating users and keys, starting instances, changing policies), for every "
        "key of that user, while the owner rotates. Detaching it takes an administrator."
    ),
}
_REACTIVATE_EFFECT = (
    "Requests signed with this key will be accepted again, from wherever it is still configured. "
    "If it leaked, leave it inactive and rotate it instead."
)


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def key_action_modal(action: str, offer: KeyOffer, ref: str) -> dict[str, Any]:
    """The modal that asks for the reason; private_metadata carries only the offer's reference
    and the action, and both are checked again when it comes back."""
    facts = (
        f"*Key:* {code(offer.key_id)}\n*IAM user:* {escape(offer.user_name)}\n*Account:* {escape(offer.account_label)}"
    )
    return {
        "type": "modal",
        "callback_id": KEY_ACTION_VIEW,
        "private_metadata": json.dumps({"ref": ref, "action": action}),
        "title": plain(_TITLES.get(action, "Reactivate key")),
        "submit": plain(_TITLES.get(action, "Reactivate key").split()[0]),
        "close": plain("Cancel"),
        "blocks": [
            section(facts),
            section(_EFFECT.get(action, _REACTIVATE_EFFECT)),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": plain("Why? (the owner and the audit trail see this)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            },
        ],
    }


def closing_view(title: str, text: str) -> dict[str, Any]:
    """What the modal shows once submitted (or refused): one message and a Close button."""
    return {"type": "modal", "title": plain(title[:24]), "close": plain("Close"), "blocks": [section(text)]}


def submitted_metadata(view: dict[str, Any]) -> tuple[str, str] | None:
    """(offer ref, action) from a submitted view; None when the metadata is not ours."""
    try:
        data = json.loads(view.get("private_metadata") or "")
        return str(data["ref"]), str(data["action"])
    except (ValueError, KeyError, TypeError):
        return None


def submitted_reason(view: dict[str, Any]) -> str | None:
    value = ((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK, {}).get(REASON_INPUT, {})
    return value.get("value") if isinstance(value, dict) else None
