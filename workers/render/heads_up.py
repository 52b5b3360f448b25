"""The "Notify owner" button's DM: a heads-up to a key's owner that someone is hitting errors with
their key. Not a notice (those tell of a key's change of state, see `notice`)."""

from __future__ import annotations

from core.blockkit import MAX_FALLBACK, Message, clip, section
from core.slack_text import channel_link, code, escape, is_channel_id, mention
from workers.lookup.finding import KeyFinding
from workers.render.answer import slack_diagnosis


def render_owner_heads_up(report: KeyFinding, *, asker: str | None, channel: str | None) -> Message:
    """Who is hitting errors with the owner's key, where, and what whose-key found."""
    # A channel is named only when it is one (C…/G…): a DM's ID would mean nothing to the owner.
    where = f" in {channel_link(channel)}" if channel and is_channel_id(channel) else ""
    who = mention(asker) if asker else "Someone"
    account = escape(report.account.label) if report.account else "an unknown account"
    user = f"*{escape(report.user_name)}*" if report.user_name else "an unknown user"
    status = f"*{escape(report.status)}*" if report.status else "in an unknown state"
    lines = [
        f":wave: {who} is hitting errors with your access key {code(report.key_id)} "
        f"(IAM user {user} in {account}){where}.",
        f"whose-key found the key {status}. {slack_diagnosis(report).headline}",
        "Could you check with them? If the key should not be used any more, say so; if it leaked, rotate it now.",
    ]
    fallback = f"{who} is hitting errors with your key {escape(report.key_id)}"
    return Message(clip(fallback, MAX_FALLBACK), [section("\n".join(lines))])
