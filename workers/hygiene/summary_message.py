"""The key-hygiene report as a Slack message: for `/whose-key report` and the weekly digest."""

from __future__ import annotations

from datetime import datetime

from core.blockkit import Block, Message, clip, context, fit, section
from core.slack_text import escape
from workers.hygiene.records import STALE_DAYS
from workers.hygiene.summary import AGE_BUCKETS, UNKNOWN_AGE, CappedList, HygieneSummary
from workers.hygiene.wording import key_line, when

# Unreadable accounts named in the message; the rest are counted.
UNREADABLE_SHOWN = 10


def render_report(report: HygieneSummary, *, title: str = "Key hygiene") -> Message:
    now = report.generated_at
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title}: {report.keys:,} access keys"}},
        section(totals_text(report)),
        section("*By age*\n" + age_text(report)),
        section(
            f"*Use*\n• never used: {report.never_used:,}\n"
            f"• not used for {STALE_DAYS} days or more: {report.unused.total:,}"
        ),
    ]
    blocks.append(section(list_text(f"Not used for {STALE_DAYS} days or more", report.unused, now)))
    blocks.append(section(list_text("Without an owner tag", report.ownerless, now)))
    if report.departures_checked:
        departed = list_text("Owner has left Slack", report.departed, now)
        if report.departures_unknown:
            departed += f"\n_Slack could not tell about the owners of {report.departures_unknown:,} keys._"
        blocks.append(section(departed))
    if report.stale_accounts:
        lines = [f"• {escape(label)}: {count:,}" for label, count in report.stale_accounts]
        blocks.append(section("*Accounts with the most stale keys*\n" + "\n".join(lines)))
    blocks.append(context(sweep_text(report)))
    text = clip(
        f"{title}: {report.keys:,} keys ({report.active:,} active, {report.inactive:,} inactive); "
        f"{report.unused.total:,} not used for {STALE_DAYS} days, {report.ownerless.total:,} without an owner tag, "
        f"{report.departed.total:,} whose owner left.",
        3500,
    )
    return Message(text, fit(blocks))


def totals_text(report: HygieneSummary) -> str:
    return (
        f"*{report.keys:,}* keys in *{report.accounts:,}* accounts: "
        f"*{report.active:,}* active, *{report.inactive:,}* inactive"
    )


def age_text(report: HygieneSummary) -> str:
    lines = []
    for label in [name for name, _ in AGE_BUCKETS] + [UNKNOWN_AGE]:
        counts = report.by_age.get(label)
        if not counts and label == UNKNOWN_AGE:
            continue
        active, inactive = report.count(label, "Active"), report.count(label, "Inactive")
        lines.append(f"• {label}: {active + inactive:,} ({active:,} active, {inactive:,} inactive)")
    return "\n".join(lines)


def list_text(title: str, keys: CappedList, now: datetime) -> str:
    if not keys.total:
        return f"*{title}*: none"
    lines = [f"• {key_line(record, now)}" for record in keys.first]
    if keys.more:
        lines.append(f"• …and {keys.more:,} more (`whose-key report --csv FILE` lists them all)")
    return f"*{title}: {keys.total:,}*\n" + "\n".join(lines)


def sweep_text(report: HygieneSummary) -> str:
    sweep = report.sweep
    if sweep is None:
        return "No sweep has finished yet, so there is nothing to report: run `whose-key sweep`."
    text = f"From the sweep that finished {when(sweep.finished_at)} ({sweep.accounts:,} accounts)."
    if sweep.unreadable:
        names = ", ".join(f"{escape(u.label)} ({escape(u.detail)})" for u in sweep.unreadable[:UNREADABLE_SHOWN])
        more = len(sweep.unreadable) - UNREADABLE_SHOWN
        text += f" :warning: It could not read {len(sweep.unreadable):,} accounts: {names}"
        text += f" and {more:,} more." if more > 0 else "."
    else:
        text += " It read every account."
    return text
