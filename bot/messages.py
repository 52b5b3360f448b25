"""What the web app answers at once, before any job runs: usage, input errors, "looking it up",
and "cannot take requests right now". Each is a Slack message dict (text + blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.access import Refusal
from core.faq import render_faq
from core.keyids import KeyProblem
from core.parse import MAX_KEYS_PER_REQUEST, ParsedRequest

Message = dict[str, Any]

USAGE = (
    "*whose-key* tells you who owns an AWS access key and why `InvalidAccessKeyId` happens.\n"
    "• `/whose-key AKIA…` look up a key (up to "
    f"{MAX_KEYS_PER_REQUEST} at once, separated by spaces)\n"
    "• `/whose-key AKIA… deep` search every account, not just the one the key names\n"
    "• `/whose-key faq` common questions about access keys\n"
    "• `/whose-key report` key hygiene across the organization: old, unused and ownerless keys\n"
    "• Mention me in a thread or DM me with a key; I answer there.\n"
    "Only the access key ID (AKIA…/ASIA…) is needed: never paste the secret key."
)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def usage(note: str | None = None) -> Message:
    text = (note + "\n\n" if note else "") + USAGE
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def _problem_lines(problems: Sequence[KeyProblem]) -> list[str]:
    lines = []
    for problem in problems[:10]:
        line = f"• {problem.reason}"
        if problem.suggestion:
            line += f" Did you mean `{problem.suggestion}`?"
        lines.append(line)
    return lines


def input_problems(parsed: ParsedRequest) -> Message:
    """Nothing to look up: say precisely what is wrong with what was typed."""
    lines: list[str] = []
    if parsed.secret_pasted:
        lines.append(LEAKED_KEY_NOTICE)
    if parsed.problems:
        lines.append("That is not an access key ID I can look up:")
        lines.extend(_problem_lines(parsed.problems))
    elif not parsed.secret_pasted:
        lines.append("I did not find an access key ID (AKIA… or ASIA…, 20 characters) in that.")
    text = "\n".join(lines)
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [_section(text), _section("_Type `/whose-key help` for usage._")],
    }


LEAKED_KEY_NOTICE = (
    ":rotating_light: *That contained a secret access key.* I ignored it and did not store it, but it has "
    "now passed through Slack: treat it as exposed. Deactivate that key, create a new one, update "
    "where it is used, then delete the old key. Only ever share the access key ID (AKIA…)."
)


def report_coming() -> Message:
    text = ":bar_chart: Putting the key-hygiene report together from the last sweep…"
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


def looking_up(parsed: ParsedRequest) -> Message:
    keys = ", ".join(f"`{k}`" for k in parsed.keys)
    lines = [f":mag: Looking up {keys} across the organization{' (full search)' if parsed.deep else ''}…"]
    if parsed.secret_pasted:
        lines.append(LEAKED_KEY_NOTICE)
    if parsed.problems:
        lines.append("Skipped:")
        lines.extend(_problem_lines(parsed.problems))
    if parsed.dropped_for_limit:
        lines.append(
            f"Only the first {MAX_KEYS_PER_REQUEST} keys are looked up; "
            f"{parsed.dropped_for_limit} more were left out. Send them in another request."
        )
    text = "\n".join(lines)
    return {"response_type": "ephemeral", "text": text, "blocks": [_section(text)]}


UNAVAILABLE = (
    ":warning: whose-key cannot take requests right now: its job queue is unreachable. "
    "Nothing was looked up. Please try again in a few minutes; if it persists, tell the team that runs whose-key."
)


def unavailable() -> Message:
    return {"response_type": "ephemeral", "text": UNAVAILABLE, "blocks": [_section(UNAVAILABLE)]}


def faq() -> Message:
    message = render_faq()
    return {"response_type": "ephemeral", **message.payload()}


def refused(refusal: Refusal) -> Message:
    return {"response_type": "ephemeral", "text": refusal.message, "blocks": [_section(refusal.message)]}
