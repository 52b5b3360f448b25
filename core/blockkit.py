"""Block Kit building blocks shared by every renderer, and Slack's limits on them.

`Message` is the one message type of whose-key: fallback text plus blocks. Renderers build it
from values already escaped with `core.slack_text.escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Slack's limits: 50 blocks per message, 3,000 characters per text object, 10 fields per section.
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELDS = 10
# The fallback `text` is what notifications and screen readers show; Slack truncates at 40k.
MAX_FALLBACK = 3500

# The answer's buttons; the web's listeners match these action IDs.
SHARE_ACTION = "whose_key_share"
FAQ_ACTION = "whose_key_faq"
NOTIFY_ACTION = "whose_key_notify_owner"
# The opt-in responder role's buttons and the modal they open.
DEACTIVATE_ACTION = "whose_key_deactivate"
REACTIVATE_ACTION = "whose_key_reactivate"
QUARANTINE_ACTION = "whose_key_quarantine"
APPROVE_ACTION = "whose_key_approve"  # the two-person rule's second responder
KEY_ACTION_VIEW = "whose_key_key_action"
ACTIONS_BLOCK_ID = "whose_key_actions"

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A Slack message: the fallback text and the blocks."""

    text: str
    blocks: list[Block]

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}

    @classmethod
    def plain(cls, text: str) -> Message:
        """A message of one section holding `text` (already escaped)."""
        return cls(clip(text, MAX_FALLBACK), [section(text)])


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(text: str, limit: int = MAX_TEXT) -> Block:
    """A mrkdwn text object sent verbatim: Slack links only the `<url|text>` and `<@U…>` markup we
    build, never a bare URL or channel name inside a value from outside."""
    return {"type": "mrkdwn", "text": clip(text, limit), "verbatim": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def button(action_id: str, label: str, value: str) -> Block:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, "value": value}


def without_buttons(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.get("type") != "actions"]


def fit(blocks: list[Block], reserve: int = 0) -> list[Block]:
    """Keep within Slack's block limit (less `reserve` for what follows), saying so rather
    than failing to post."""
    limit = MAX_BLOCKS - reserve
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    kept.append(
        section("_Some details were left out to fit Slack's message size; run `whose-key lookup` for all of it._")
    )
    return kept
