"""The lookup answer for a terminal (`whose-key lookup`): plain text with aligned labels. Values
are shown as they are: no Slack markup, no Slack escaping."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from workers.lookup.diagnosis import diagnose
from workers.lookup.finding import KeyFinding
from workers.render.common import TERMINAL, fact_rows, suggestion_text, verdict_line


def render_terminal(reports: Sequence[KeyFinding], now: datetime | None = None, *, secret_exposed: bool = False) -> str:
    """The same answer as in Slack, as terminal text."""
    now = now or datetime.now(UTC)
    out: list[str] = []
    for report in reports:
        diagnosis = diagnose(report, secret_exposed=secret_exposed)
        out.append(verdict_line(report, TERMINAL))
        rows = fact_rows(report, now, TERMINAL)
        width = max((len(label) for label, _ in rows), default=0)
        out.extend(f"  {label.ljust(width)}  {value}" for label, value in rows)
        for unsearched in report.unsearched:
            out.append(f"  not searched: {unsearched.account.label}: {unsearched.detail}")
        out.append(f"  Diagnosis: {plain(diagnosis.headline)}")
        out.extend(f"    - {plain(line)}" for line in diagnosis.explanation)
        if diagnosis.steps:
            out.append("  What to do:")
            out.extend(f"    {i}. {plain(step)}" for i, step in enumerate(diagnosis.steps, start=1))
        if report.similar:
            out.append("  Did you mean: " + " or ".join(suggestion_text(s, TERMINAL) for s in report.similar) + "?")
        out.extend(f"  Note: {plain(note)}" for note in report.notes)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


_SLACK_MENTION = re.compile(r"<[@#]([A-Z0-9]+)(?:\|[^>]*)?>")


def plain(text: str) -> str:
    """The diagnosis's Slack mrkdwn as terminal text: mentions as @ID, no bold or code marks."""
    return _SLACK_MENTION.sub(r"@\1", text).replace("*", "").replace("`", "")
