"""What the web app answers at once, before any job runs: usage, input errors, "looking it up",
and "cannot take requests right now". Each is an ephemeral reply (text + blocks) for Slack's
ack or `respond`. Whatever echoes what the person typed is escaped: Slack's own `&lt;` escaping
was undone to parse it, so it must never come back as live markup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.access import Refusal
from core.blockkit import Message, section
from core.faq import render_faq
from core.keyids import KeyProblem
from core.parse import MAX_KEYS_PER_REQUEST, MAX_TEXT, ParsedRequest
from core.slack_text import code, escape, mention

# A reply as Bolt's ack/respond take it: a Message's payload and its response type.
AckReply = dict[str, Any]

# Input problems listed in one reply; the rest are counted.
MAX_PROBLEMS_SHOWN = 10

USAGE = (
    "*whose-key* tells you who owns an AWS access key and why `InvalidAccessKeyId` happens.\n"
    "• `/whose-key AKIA…` look up a key (up to "
    f"{MAX_KEYS_PER_REQUEST} at once, separated by spaces)\n"
    "• `/whose-key AKIA… deep` search every account, not just the one the key names\n"
    "• `/whose-key faq` common questions about access keys\n"
    "• `/whose-key report` key hygiene across the organization (for admins): old, unused and ownerless keys\n"
    "• Mention me in a thread or DM me with a key; I answer there.\n"
    "Only the access key ID (AKIA…/ASIA…) is needed: never paste the secret key."
)


def _ephemeral(message: Message) -> AckReply:
    return {"response_type": "ephemeral", **message.payload()}


def usage(note: str | None = None) -> AckReply:
    """How to use whose-key, after `note` (our own words, not the person's)."""
    return _ephemeral(Message.plain((note + "\n\n" if note else "") + USAGE))


def _problem_lines(problems: Sequence[KeyProblem], dropped: int = 0) -> list[str]:
    lines = []
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        # The reason quotes what was typed: escaped, so it reads as typed and cannot ping or link.
        line = f"• {escape(problem.reason)}"
        if problem.suggestion:
            line += f" Did you mean {code(problem.suggestion)}?"
        lines.append(line)
    more = max(0, len(problems) - MAX_PROBLEMS_SHOWN) + dropped
    if more:
        lines.append(f"• …and {more} more")
    return lines


def input_problems(parsed: ParsedRequest) -> AckReply:
    """Nothing to look up: say precisely what is wrong with what was typed."""
    lines: list[str] = []
    if parsed.secret_pasted:
        lines.append(LEAKED_KEY_NOTICE)
    if parsed.problems:
        lines.append("That is not an access key ID I can look up:")
        lines.extend(_problem_lines(parsed.problems, parsed.problems_dropped))
    elif not parsed.secret_pasted:
        lines.append("I did not find an access key ID (AKIA… or ASIA…, 20 characters) in that.")
    if parsed.text_cut:
        lines.append(TEXT_CUT_NOTE)
    text = "\n".join(lines)
    return _ephemeral(Message(text, [section(text), section("_Type `/whose-key help` for usage._")]))


LEAKED_KEY_NOTICE = (
    ":rotating_light: *That contained a secret access key.* I ignored it and did not store it, but it has "
    "now passed through Slack: treat it as exposed. Deactivate that key, create a new one, update "
    "where it is used, then delete the old key. Only ever share the access key ID (AKIA…)."
)


TEXT_CUT_NOTE = f"Only the first {MAX_TEXT:,} characters were read (Slack's limit on a message); the rest was ignored."


def report_coming() -> AckReply:
    return _ephemeral(Message.plain(":bar_chart: Putting the key-hygiene report together from the last sweep…"))


def looking_up(parsed: ParsedRequest) -> AckReply:
    keys = ", ".join(code(k) for k in parsed.keys)
    lines = [f":mag: Looking up {keys} across the organization{' (full search)' if parsed.deep else ''}…"]
    if parsed.secret_pasted:
        lines.append(LEAKED_KEY_NOTICE)
    if parsed.problems:
        lines.append("Skipped:")
        lines.extend(_problem_lines(parsed.problems, parsed.problems_dropped))
    if parsed.dropped_for_limit:
        lines.append(
            f"Only the first {MAX_KEYS_PER_REQUEST} keys are looked up; "
            f"{parsed.dropped_for_limit} more were left out. Send them in another request."
        )
    if parsed.text_cut:
        lines.append(TEXT_CUT_NOTE)
    return _ephemeral(Message.plain("\n".join(lines)))


UNAVAILABLE = (
    ":warning: whose-key cannot take requests right now: its job queue is unreachable. "
    "Nothing was looked up. Please try again in a few minutes; if it persists, tell the team that runs whose-key."
)


NOT_SHARED_HERE = (
    ":lock: I cannot share this answer here: this conversation is shared with people outside this "
    "workspace, and whose-key shows key owners only to its own members. Share it in an internal channel."
)


def answered_privately(user: str | None) -> dict[str, Any]:
    """The line left in a shared conversation's thread where a private answer went."""
    who = mention(user) if user else "You"
    return Message.plain(
        f":lock: {who}, I answered you privately (only you can see it): this conversation is shared with "
        "people outside this workspace, and whose-key shows key owners only to its own members."
    ).payload()


# Slack IDs (team, app) as payloads carry them: only these go into a link.
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


def my_keys(team: str | None, app_id: str | None) -> AckReply:
    """Where the asker's own keys are: the Home tab, linked when the payload names the workspace and app."""
    linked = isinstance(team, str) and isinstance(app_id, str) and _SLACK_ID.match(team) and _SLACK_ID.match(app_id)
    home = f"<slack://app?team={team}&id={app_id}&tab=home|Home tab>" if linked else "*Home* tab"
    text = (
        f":key: Your access keys are on my {home}, as of the last sweep: each with its account, age and last "
        "use, flagged when it wants rotating. I find them by the IAM users' owner tags (`slack-user-id`, or "
        "`email` / `owner` with your email address): a key whose user has no such tag is not listed. To look up "
        "any other key, send me its ID (AKIA… or ASIA…)."
    )
    return _ephemeral(Message.plain(text))


def unavailable() -> AckReply:
    return _ephemeral(Message.plain(UNAVAILABLE))


def faq() -> AckReply:
    return _ephemeral(render_faq())


def refused(refusal: Refusal) -> AckReply:
    """The refusal in its own words: ours, with channel and group links built from settings."""
    return _ephemeral(Message.plain(refusal.message))
