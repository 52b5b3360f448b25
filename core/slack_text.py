"""Slack mrkdwn escaping: the one helper every renderer uses for values that come from outside.

Slack reads `<…>` as markup: `<!channel>` pings everyone, `<@U…>` mentions, `<https://…|text>`
links. Escaping `&`, `<` and `>` (and nothing else, as Slack documents) makes any such value
show as the characters it is, wherever it came from: an IAM user name, a tag, an account name,
an event field, CloudTrail, or what a person typed.

Our own markup stays live only where we build it from an ID we checked: `mention` and
`channel_link`.
"""

from __future__ import annotations

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(value: object) -> str:
    """`value` as text that Slack shows literally: no mention, ping or link can come of it."""
    return str(value).translate(_ESCAPES)


def code(value: object) -> str:
    """`value` in inline code, escaped; backticks inside are replaced so the span cannot end early."""
    return "`" + escape(value).replace("`", "ˋ") + "`"


def is_member_id(user_id: str) -> bool:
    """True for the shape of a Slack member ID (U… or W…, upper-case letters and digits)."""
    return user_id[:1] in ("U", "W") and user_id.isascii() and user_id.isalnum() and user_id.isupper()


def is_channel_id(channel_id: str) -> bool:
    """True for the shape of a Slack channel ID we may link to (C… public, G… private)."""
    return channel_id[:1] in ("C", "G") and channel_id.isascii() and channel_id.isalnum() and channel_id.isupper()


def mention(user_id: str) -> str:
    """A mention of a Slack member ID we checked (U…/W…); anything else is shown, not mentioned."""
    return f"<@{user_id}>" if is_member_id(user_id) else escape(user_id)


def channel_link(channel_id: str) -> str:
    """A link to a channel ID we checked (C…/G…); anything else is shown, not linked."""
    return f"<#{channel_id}>" if is_channel_id(channel_id) else escape(channel_id)
