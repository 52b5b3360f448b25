"""The key-hygiene report in the terminal, as rich tables."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from workers.hygiene.records import STALE_DAYS
from workers.hygiene.summary import AGE_BUCKETS, UNKNOWN_AGE, CappedList, HygieneSummary
from workers.hygiene.wording import last_use, when


def print_report(report: HygieneSummary, file: IO[str] | None = None, *, width: int | None = None) -> None:
    console = Console(file=file, width=width, highlight=False)
    console.print(_totals(report))
    console.print(_ages(report))
    for title, keys in _lists(report):
        console.print(_key_table(title, keys, report))
    if report.stale_accounts:
        table = Table(title="Accounts with the most stale keys")
        table.add_column("account")
        table.add_column("stale keys", justify="right")
        for label, count in report.stale_accounts:
            table.add_row(Text(label), f"{count:,}")
        console.print(table)
    console.print(_sweep_line(report), markup=False)


def _totals(report: HygieneSummary) -> Table:
    table = Table(title="Key hygiene")
    table.add_column("")
    table.add_column("keys", justify="right")
    rows = [
        ("keys", report.keys),
        ("accounts with keys", report.accounts),
        ("active", report.active),
        ("inactive", report.inactive),
        ("never used", report.never_used),
        (f"not used for {STALE_DAYS}+ days", report.unused.total),
        ("without an owner tag", report.ownerless.total),
    ]
    if report.departures_checked:
        rows.append(("owner left Slack", report.departed.total))
    for label, count in rows:
        table.add_row(label, f"{count:,}")
    return table


def _ages(report: HygieneSummary) -> Table:
    table = Table(title="By age")
    for column in ("age", "active", "inactive"):
        table.add_column(column, justify="left" if column == "age" else "right")
    for label in [name for name, _ in AGE_BUCKETS] + [UNKNOWN_AGE]:
        counts = report.by_age.get(label)
        if counts is None:
            continue
        table.add_row(label, f"{report.count(label, 'Active'):,}", f"{report.count(label, 'Inactive'):,}")
    return table


def _lists(report: HygieneSummary) -> list[tuple[str, CappedList]]:
    lists = [(f"Not used for {STALE_DAYS}+ days", report.unused), ("Without an owner tag", report.ownerless)]
    if report.departures_checked:
        lists.append(("Owner left Slack", report.departed))
    return lists


def _key_table(title: str, keys: CappedList, report: HygieneSummary) -> Table:
    more = f" (first {len(keys.first)} of {keys.total:,})" if keys.more else f" ({keys.total:,})"
    table = Table(title=title + more)
    for column in ("key", "account", "IAM user", "status", "created", "last used", "owner"):
        table.add_column(column)
    for record in keys.first:
        # Text, not str: a value from AWS is shown as typed, never read as rich markup.
        table.add_row(
            *(
                Text(value)
                for value in (
                    record.key_id,
                    record.account_label,
                    record.user or "?",
                    record.status,
                    record.created.strftime("%Y-%m-%d") if record.created else "?",
                    last_use(record),
                    record.owner or "-",
                )
            )
        )
    return table


def _sweep_line(report: HygieneSummary) -> str:
    sweep = report.sweep
    if sweep is None:
        return "No sweep has finished yet: run `whose-key sweep` first."
    line = f"From the sweep that finished {when(sweep.finished_at)} ({sweep.accounts:,} accounts)."
    for account in sweep.unreadable:
        line += f"\n  not read: {account.label}: {account.detail}"
    return line
