"""The answer to a lookup in Slack: Block Kit with a plain-text fallback, the answer's buttons, and
what the person reads when the lookup could not run. Every value from outside is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from core.blockkit import (
    ACTIONS_BLOCK_ID,
    FAQ_ACTION,
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_FIELDS,
    NOTIFY_ACTION,
    SHARE_ACTION,
    Block,
    Message,
    button,
    clip,
    context,
    fit,
    section,
)
from core.key_actions import deactivate_button, offer_ref
from core.slack_text import code, escape
from workers.lookup.diagnosis import Diagnosis, diagnose
from workers.lookup.finding import KeyFinding, Verdict
from workers.render.common import SLACK, SLACK_FALLBACK, escaped_report, fact_rows, suggestion_text, verdict_line

# Input problems listed with an answer; the rest are counted.
MAX_PROBLEMS_SHOWN = 10
# Unreadable accounts listed one by one under a key; the rest are counted.
MAX_UNSEARCHED_SHOWN = 15
# In the compact form (many keys), fewer of each.
COMPACT_UNSEARCHED_SHOWN = 5
COMPACT_STEPS_SHOWN = 3
# Notify buttons for at most this many keys, to keep the row readable.
MAX_NOTIFY_BUTTONS = 3

_VERDICT_ICON = {
    Verdict.FOUND: ":key:",
    Verdict.OUTSIDE_ORG: ":globe_with_meridians:",
    Verdict.GONE: ":wastebasket:",
    Verdict.NOT_FOUND: ":mag:",
    Verdict.TEMPORARY: ":hourglass_flowing_sand:",
    Verdict.INCOMPLETE: ":warning:",
}

LEAK_WARNING = (
    ":rotating_light: *A secret access key was pasted.* whose-key did not store or repeat it, "
    "but Slack has it now: treat it as exposed and rotate the key right away (steps below)."
)


def render_answer(
    reports: Sequence[KeyFinding],
    now: datetime | None = None,
    *,
    secret_exposed: bool = False,
    problems: Sequence[str] = (),
    request_id: str | None = None,
    deactivatable: Sequence[str] = (),
) -> Message:
    """The whole answer to one request: every key, then the buttons (share, notify, FAQ).

    `problems` are the parser's reasons for skipped tokens, as plain text (with `code` marks):
    they repeat what the person typed, so they are escaped here like any other outside value.
    """
    now = now or datetime.now(UTC)
    diagnoses = [slack_diagnosis(r, secret_exposed=secret_exposed) for r in reports]
    blocks: list[Block] = []
    if secret_exposed:
        blocks.append(section(LEAK_WARNING))
    if problems:
        shown = [f"• {escape(p)}" for p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"• …and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        blocks.append(section(":x: *Skipped, not access key IDs:*\n" + "\n".join(shown)))
    pairs = list(zip(reports, diagnoses, strict=True))
    per_key = [key_blocks(r, d, now) for r, d in pairs]
    if sum(len(b) + 1 for b in per_key) + len(blocks) + 1 > MAX_BLOCKS:
        # Many keys (up to ten a request) would not fit in full: two blocks each instead.
        per_key = [compact_key_blocks(r, d, now) for r, d in pairs]
    for index, chunk in enumerate(per_key):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(chunk)
    blocks = fit(blocks, reserve=1)
    blocks.append(answer_buttons(request_id, reports, deactivatable))
    text = "\n".join(fallback_line(r) for r in reports)
    if secret_exposed:
        text = "A secret access key was pasted: treat it as exposed and rotate it now.\n" + text
    return Message(clip(text, MAX_FALLBACK), blocks)


def slack_diagnosis(report: KeyFinding, *, secret_exposed: bool = False) -> Diagnosis:
    """The diagnosis as Slack mrkdwn: it writes the report's values into its lines, so it reads
    them already escaped."""
    return diagnose(escaped_report(report), secret_exposed=secret_exposed)


def key_blocks(report: KeyFinding, diagnosis: Diagnosis, now: datetime) -> list[Block]:
    """Blocks for one key: verdict, facts, ARN, unreadable accounts, diagnosis, numbered fix steps,
    "did you mean", notes."""
    blocks: list[Block] = [section(f"{_VERDICT_ICON[report.verdict]} {verdict_line(report, SLACK)}")]
    rows = [(label, value) for label, value in fact_rows(report, now, SLACK) if label != "ARN"]
    if rows:
        fields = [
            {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", 2000), "verbatim": True}
            for label, value in rows[:MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    if report.user_arn:
        blocks.append(context(code(report.user_arn)))
    if report.unsearched:
        lines = [f"• {escape(u.account.label)}: {escape(u.detail)}" for u in report.unsearched[:MAX_UNSEARCHED_SHOWN]]
        if len(report.unsearched) > MAX_UNSEARCHED_SHOWN:
            lines.append(f"• …and {len(report.unsearched) - MAX_UNSEARCHED_SHOWN} more")
        blocks.append(section("*Accounts that could not be searched*\n" + "\n".join(lines)))
    blocks.append(section("\n".join([_why(diagnosis), *(f"• {line}" for line in diagnosis.explanation)])))
    if diagnosis.steps:
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(diagnosis.steps, start=1))
        blocks.append(section(f"*What to do*\n{numbered}"))
    if report.similar:
        blocks.append(section(_did_you_mean(report)))
    blocks.extend(context(escape(note)) for note in report.notes)
    return blocks


def compact_key_blocks(report: KeyFinding, diagnosis: Diagnosis, now: datetime) -> list[Block]:
    """Two blocks for one key, for answers about many keys: verdict with facts, then the
    diagnosis with the first fix steps."""
    facts = " · ".join(f"{label}: {value}" for label, value in fact_rows(report, now, SLACK) if label != "ARN")
    head = f"{_VERDICT_ICON[report.verdict]} {verdict_line(report, SLACK)}" + (f"\n{facts}" if facts else "")
    if report.unsearched:
        named = ", ".join(escape(u.account.label) for u in report.unsearched[:COMPACT_UNSEARCHED_SHOWN])
        more = len(report.unsearched) - COMPACT_UNSEARCHED_SHOWN
        head += f"\nNot searched: {named}" + (f" and {more} more" if more > 0 else "")
    if report.similar:
        head += "\n" + _did_you_mean(report)
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(diagnosis.steps[:COMPACT_STEPS_SHOWN], start=1))
    return [section(head), section(f"{_why(diagnosis)}\n{steps}".rstrip())]


def _why(diagnosis: Diagnosis) -> str:
    return f"*Why `InvalidAccessKeyId`?* {diagnosis.headline}"


def _did_you_mean(report: KeyFinding) -> str:
    return "*Did you mean* " + " or ".join(suggestion_text(s, SLACK) for s in report.similar) + "?"


def fallback_line(report: KeyFinding) -> str:
    """Key, owner, account and status in one line without marks, for the message's `text`."""
    if report.verdict is not Verdict.FOUND:
        return verdict_line(report, SLACK_FALLBACK)
    account = escape(report.account.label) if report.account else "unknown account"
    user = escape(report.user_name) if report.user_name else "unknown user"
    status = escape(report.status) if report.status else "status unknown"
    return f"{escape(report.key_id)}: {user} ({SLACK_FALLBACK.owner(report.owner)}) in {account}, {status}"


def answer_buttons(
    request_id: str | None, reports: Sequence[KeyFinding] = (), deactivatable: Sequence[str] = ()
) -> Block:
    """Share the (ephemeral) answer in the channel, notify owners on Slack, deactivate the keys the
    asker may deactivate (workers/respond/offers.py), and show the FAQ."""
    elements: list[Block] = []
    if request_id:
        elements.append(button(SHARE_ACTION, "Share in channel", request_id))
        owned = [r for r in reports if r.verdict is Verdict.FOUND and r.owner.slack_user_id]
        for index, report in enumerate(owned[:MAX_NOTIFY_BUTTONS]):
            label = "Notify owner" if len(owned) == 1 else f"Notify owner of …{report.key_id[-4:]}"
            # Slack needs a distinct action_id per element; the listener matches the prefix.
            elements.append(button(f"{NOTIFY_ACTION}-{index}", label, f"{request_id}|{report.key_id}"))
        for index, key_id in enumerate(list(deactivatable)[:MAX_NOTIFY_BUTTONS]):
            label = "Deactivate key" if len(deactivatable) == 1 else f"Deactivate …{key_id[-4:]}"
            elements.append(deactivate_button(offer_ref(request_id, key_id), label, index))
    elements.append(button(FAQ_ACTION, "FAQ", "faq"))
    return {"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": elements}


def render_failure(keys: Sequence[str], reason: str) -> Message:
    """What the person reads when the lookup itself could not run.

    `reason` is plain text (with `code` marks) that may carry AWS details: it is escaped here.
    """
    listed = ", ".join(code(k) for k in keys) or "your keys"
    body = f":warning: I could not look up {listed}: {escape(reason)}"
    plain = f"Could not look up {escape(', '.join(keys))}: {escape(reason)}"
    return Message(clip(plain, MAX_FALLBACK), [section(body)])
