"""Turn KeyReports into what people read: Slack Block Kit with a plain-text fallback, and the
terminal's text. Pure: no I/O; `now` is passed in so output is repeatable."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from core.blockkit import (
    FAQ_ACTION,
    MAX_BLOCKS,
    MAX_FALLBACK,
    MAX_FIELDS,
    NOTIFY_ACTION,
    SHARE_ACTION,
    Block,
    Message,
    clip,
    fit,
    section,
)
from workers.diagnosis import Diagnosis, diagnose
from workers.report import History, KeyReport, Suggestion, Verdict

# Input problems listed with an answer; the rest are counted.
MAX_PROBLEMS_SHOWN = 10

_VERDICT_ICON = {
    Verdict.FOUND: ":key:",
    Verdict.OUTSIDE_ORG: ":globe_with_meridians:",
    Verdict.GONE: ":wastebasket:",
    Verdict.NOT_FOUND: ":mag:",
    Verdict.TEMPORARY: ":hourglass_flowing_sand:",
    Verdict.INCOMPLETE: ":warning:",
}


def owner_mention(report: KeyReport) -> str:
    if report.owner.slack_user_id:
        return f"<@{report.owner.slack_user_id}>"
    if report.owner.email:
        return report.owner.email
    return "no owner tag"


def verdict_line(report: KeyReport, *, slack: bool = True) -> str:
    """The one sentence that answers "whose key is it?"."""
    key = f"`{report.key_id}`" if slack else report.key_id
    account = report.account.label if report.account else "an unknown account"
    match report.verdict:
        case Verdict.FOUND:
            user = report.user_name or "an unknown user"
            who = f"IAM user *{user}*" if slack else f"IAM user {user}"
            owner = owner_mention(report) if slack else _owner_plain(report)
            owner_part = f", owner {owner}" if report.owner.known else ", no owner tag"
            status = f" Status: {report.status}." if report.status else ""
            return f"{key} belongs to {who} in {account}{owner_part}.{status}"
        case Verdict.OUTSIDE_ORG:
            named = f"account {report.account.label}" if report.account else "an account we cannot name"
            return f"{key} belongs to {named}, which is not one of this organization's accounts."
        case Verdict.GONE:
            if any(h.action in ("deleted", "user_deleted") for h in report.history):
                return f"{key} was issued in {account} but no longer exists there: it was deleted."
            return (
                f"{key} names {account} but does not exist there now: the key or its user was deleted, "
                "or the key ID is mistyped."
            )
        case Verdict.NOT_FOUND:
            if not report.accounts_searched:
                return f"{key} was not found in this organization."
            plural = "s" if report.accounts_searched != 1 else ""
            return f"{key} was not found in any of the {report.accounts_searched} account{plural} searched."
        case Verdict.TEMPORARY:
            return f"{key} is a temporary STS credential from {account}; no IAM user owns it."
        case Verdict.INCOMPLETE:
            count = len(report.unsearched)
            if not report.accounts_searched and count == 1:
                where = report.unsearched[0]
                return (
                    f"{key} belongs to {where.account.label}, which could not be read ({where.detail}), "
                    "so whose-key cannot say whose it is yet."
                )
            return (
                f"{key} was not found in the {report.accounts_searched} accounts searched, but "
                f"{count} account{'s' if count != 1 else ''} could not be searched, so this is not a final answer."
            )
    return f"{key}: no answer"  # pragma: no cover - every verdict is matched above


def _owner_plain(report: KeyReport) -> str:
    if report.owner.slack_user_id and report.owner.email:
        return f"{report.owner.email} (Slack {report.owner.slack_user_id})"
    return report.owner.slack_user_id or report.owner.email or "no owner tag"


def format_time(iso: str | None, now: datetime) -> str:
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    days = (now - moment).days
    ago = "today" if days <= 0 else ("yesterday" if days == 1 else f"{days} days ago")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({ago})"


def fact_rows(report: KeyReport, now: datetime, *, slack: bool = True) -> list[tuple[str, str]]:
    """Label/value pairs for what is known about the key, in reading order."""
    rows: list[tuple[str, str]] = []
    if report.account:
        rows.append(("Account", report.account.label + (" (management)" if report.management_account else "")))
    if report.user_name:
        rows.append(("IAM user", report.user_name))
    if report.status:
        rows.append(("Status", report.status))
    if report.verdict is Verdict.FOUND:
        rows.append(("Owner", owner_mention(report) if slack else _owner_plain(report)))
        rows.append(("Created", format_time(report.created, now)))
        used = report.last_used
        if used and used.date:
            where = " ".join(part for part in (used.service, used.region and f"in {used.region}") if part)
            rows.append(("Last used", format_time(used.date, now) + (f", {where}" if where else "")))
        else:
            rows.append(("Last used", "never"))
    for event in report.history:
        rows.append((_HISTORY_LABELS.get(event.action, event.action), _history_value(event, now)))
    if report.user_arn:
        rows.append(("ARN", report.user_arn))
    if report.verdict in (Verdict.NOT_FOUND, Verdict.GONE, Verdict.INCOMPLETE) and report.accounts_searched:
        rows.append(("Accounts searched", str(report.accounts_searched)))
    return rows


_HISTORY_LABELS = {
    "deactivated": "Deactivated",
    "deleted": "Deleted",
    "user_deleted": "User deleted",
    "issued": "Session of",
}


def _history_value(event: History, now: datetime) -> str:
    if event.action == "issued":
        return f"{event.actor} (seen {format_time(event.when, now)})"
    source = f" from {event.source_ip}" if event.source_ip else ""
    return f"{format_time(event.when, now)} by {event.actor}{source}"


def compact_key_blocks(report: KeyReport, diagnosis: Diagnosis, now: datetime) -> list[Block]:
    """Two blocks for one key, for answers about many keys: verdict with facts, then the
    diagnosis with the first fix steps."""
    facts = " · ".join(f"{label}: {value}" for label, value in fact_rows(report, now) if label != "ARN")
    head = f"{_VERDICT_ICON[report.verdict]} {verdict_line(report)}" + (f"\n{facts}" if facts else "")
    if report.unsearched:
        head += f"\nNot searched: {', '.join(u.account.label for u in report.unsearched[:5])}"
        head += f" and {len(report.unsearched) - 5} more" if len(report.unsearched) > 5 else ""
    if report.similar:
        head += "\n*Did you mean* " + " or ".join(_suggestion(s) for s in report.similar) + "?"
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(diagnosis.steps[:3], start=1))
    return [section(head), section(f"*Why `InvalidAccessKeyId`?* {diagnosis.headline}\n{steps}".rstrip())]


def key_blocks(report: KeyReport, diagnosis: Diagnosis, now: datetime, *, compact: bool) -> list[Block]:
    """Blocks for one key: verdict, facts, diagnosis and numbered fix steps."""
    if compact:
        return compact_key_blocks(report, diagnosis, now)
    blocks: list[Block] = [section(f"{_VERDICT_ICON[report.verdict]} {verdict_line(report)}")]
    rows = [(label, value) for label, value in fact_rows(report, now) if label != "ARN"]
    if rows:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": clip(f"*{label}*\n{value}", 2000)} for label, value in rows[:MAX_FIELDS]
                ],
            }
        )
    if report.user_arn:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(f"`{report.user_arn}`")}]})
    if report.unsearched:
        lines = [f"• {u.account.label}: {u.detail}" for u in report.unsearched[:15]]
        if len(report.unsearched) > 15:
            lines.append(f"• …and {len(report.unsearched) - 15} more")
        blocks.append(section("*Accounts that could not be searched*\n" + "\n".join(lines)))
    diagnosis_lines = [f"*Why `InvalidAccessKeyId`?* {diagnosis.headline}"]
    if not compact:
        diagnosis_lines += [f"• {line}" for line in diagnosis.explanation]
    blocks.append(section("\n".join(diagnosis_lines)))
    steps = diagnosis.steps if not compact else diagnosis.steps[:3]
    if steps:
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))
        blocks.append(section(f"*What to do*\n{numbered}"))
    if report.similar:
        blocks.append(section("*Did you mean* " + " or ".join(_suggestion(s) for s in report.similar) + "?"))
    for note in report.notes:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(note)}]})
    return blocks


def _suggestion(suggestion: Suggestion, *, slack: bool = True) -> str:
    whose = " in ".join(part for part in (suggestion.user_name, suggestion.account) if part)
    shown = f"`{suggestion.key_id}`" if slack else suggestion.key_id
    return f"{shown} ({whose})" if whose else shown


def fallback_line(report: KeyReport) -> str:
    """Key, owner, account and status in one plain line."""
    account = report.account.label if report.account else "unknown account"
    if report.verdict is Verdict.FOUND:
        user = report.user_name or "unknown user"
        return f"{report.key_id}: {user} ({_owner_plain(report)}) in {account}, {report.status or 'status unknown'}"
    return verdict_line(report, slack=False)


def render_answer(
    reports: Sequence[KeyReport],
    now: datetime | None = None,
    *,
    secret_exposed: bool = False,
    problems: Sequence[str] = (),
    request_id: str | None = None,
) -> Message:
    """The whole answer to one request: every key, then the buttons (share, FAQ)."""
    now = now or datetime.now(UTC)
    diagnoses = [diagnose(r, secret_exposed=secret_exposed) for r in reports]
    blocks: list[Block] = []
    if secret_exposed:
        blocks.append(section(LEAK_WARNING))
    if problems:
        shown = [f"• {p}" for p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown.append(f"• …and {len(problems) - MAX_PROBLEMS_SHOWN} more")
        blocks.append(section(":x: *Skipped, not access key IDs:*\n" + "\n".join(shown)))
    per_key = [key_blocks(r, d, now, compact=False) for r, d in zip(reports, diagnoses, strict=True)]
    if sum(len(b) + 1 for b in per_key) + len(blocks) + 1 > MAX_BLOCKS:
        per_key = [key_blocks(r, d, now, compact=True) for r, d in zip(reports, diagnoses, strict=True)]
    for index, chunk in enumerate(per_key):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(chunk)
    blocks = fit(blocks, reserve=1)
    blocks.append(answer_buttons(request_id, reports))
    text = "\n".join(fallback_line(r) for r in reports)
    if secret_exposed:
        text = "A secret access key was pasted: treat it as exposed and rotate it now.\n" + text
    return Message(clip(text, MAX_FALLBACK), blocks)


# Notify buttons for at most this many keys, to keep the row readable.
MAX_NOTIFY_BUTTONS = 3


def answer_buttons(request_id: str | None, reports: Sequence[KeyReport] = ()) -> Block:
    """Share the (ephemeral) answer in the channel, notify owners on Slack, and show the FAQ."""
    elements: list[Block] = []
    if request_id:
        elements.append(
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": {"type": "plain_text", "text": "Share in channel"},
                "value": request_id,
            }
        )
        owned = [r for r in reports if r.verdict is Verdict.FOUND and r.owner.slack_user_id]
        for index, report in enumerate(owned[:MAX_NOTIFY_BUTTONS]):
            label = "Notify owner" if len(owned) == 1 else f"Notify owner of …{report.key_id[-4:]}"
            elements.append(
                {
                    "type": "button",
                    # Slack needs a distinct action_id per element; the listener matches the prefix.
                    "action_id": f"{NOTIFY_ACTION}-{index}",
                    "text": {"type": "plain_text", "text": label},
                    "value": f"{request_id}|{report.key_id}",
                }
            )
    elements.append(
        {"type": "button", "action_id": FAQ_ACTION, "text": {"type": "plain_text", "text": "FAQ"}, "value": "faq"}
    )
    return {"type": "actions", "block_id": "whose_key_actions", "elements": elements}


LEAK_WARNING = (
    ":rotating_light: *A secret access key was pasted.* whose-key did not store or repeat it, "
    "but Slack has it now: treat it as exposed and rotate the key right away (steps below)."
)


def render_owner_notice(report: KeyReport, *, asker: str | None, channel: str | None) -> Message:
    """The DM to a key's owner: who is hitting errors with their key, where, and what they learnt."""
    where = f" in <#{channel}>" if channel and channel.startswith(("C", "G")) else ""
    who = f"<@{asker}>" if asker else "Someone"
    account = report.account.label if report.account else "an unknown account"
    diagnosis = diagnose(report)
    lines = [
        f":wave: {who} is hitting errors with your access key `{report.key_id}` "
        f"(IAM user *{report.user_name}* in {account}){where}.",
        f"whose-key found the key *{report.status}*. {diagnosis.headline}",
        "Could you check with them? If the key should not be used any more, say so; if it leaked, rotate it now.",
    ]
    text = "\n".join(lines)
    return Message(clip(f"{who} is hitting errors with your key {report.key_id}", MAX_FALLBACK), [section(text)])


def render_failure(keys: Sequence[str], reason: str) -> Message:
    """What the person reads when the lookup itself could not run."""
    listed = ", ".join(f"`{k}`" for k in keys) or "your keys"
    body = f":warning: I could not look up {listed}: {reason}"
    return Message(clip(f"Could not look up {', '.join(keys)}: {reason}", MAX_FALLBACK), [section(body)])


def render_terminal(reports: Sequence[KeyReport], now: datetime | None = None, *, secret_exposed: bool = False) -> str:
    """The same answer for a terminal: plain text, aligned labels, no Slack markup."""
    now = now or datetime.now(UTC)
    out: list[str] = []
    for report in reports:
        diagnosis = diagnose(report, secret_exposed=secret_exposed)
        out.append(verdict_line(report, slack=False).replace("*", ""))
        rows = fact_rows(report, now, slack=False)
        width = max((len(label) for label, _ in rows), default=0)
        out.extend(f"  {label.ljust(width)}  {value}" for label, value in rows)
        for unsearched in report.unsearched:
            out.append(f"  not searched: {unsearched.account.label}: {unsearched.detail}")
        out.append(f"  Diagnosis: {_plain(diagnosis.headline)}")
        out.extend(f"    - {_plain(line)}" for line in diagnosis.explanation)
        if diagnosis.steps:
            out.append("  What to do:")
            out.extend(f"    {i}. {_plain(step)}" for i, step in enumerate(diagnosis.steps, start=1))
        if report.similar:
            out.append("  Did you mean: " + " or ".join(_suggestion(s, slack=False) for s in report.similar) + "?")
        out.extend(f"  Note: {_plain(note)}" for note in report.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


_SLACK_MENTION = re.compile(r"<[@#]([A-Z0-9]+)(?:\|[^>]*)?>")


def _plain(text: str) -> str:
    """Slack mrkdwn as terminal text: mentions as @ID, no bold or code marks."""
    return _SLACK_MENTION.sub(r"@\1", text).replace("*", "").replace("`", "")
