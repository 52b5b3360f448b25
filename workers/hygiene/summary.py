"""The key-hygiene report, computed in one streaming pass over the snapshot records.

Memory is bounded whatever the number of keys: counters, lists capped at LIST_LIMIT entries
(the most notable kept, through a small heap), and one stale-key counter per account.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from workers.hygiene.reader import SweepSummary
from workers.hygiene.records import KeyRecord

# Age buckets: label, and the lower bound in days (each runs up to the next one's).
AGE_BUCKETS: tuple[tuple[str, int], ...] = (
    ("under 30 days", 0),
    ("30–90 days", 30),
    ("90–365 days", 90),
    ("over 365 days", 365),
)
UNKNOWN_AGE = "age unknown"
STATUSES = ("Active", "Inactive")
# Keys shown per list; the rest are counted.
LIST_LIMIT = 10
# Accounts shown in "most stale keys".
TOP_ACCOUNTS = 5

# True when the key's owner has left Slack; None when that could not be told.
DepartedCheck = Callable[[KeyRecord], bool | None]


class CappedList:
    """The `limit` records with the highest score seen so far, and how many were offered."""

    def __init__(self, limit: int = LIST_LIMIT) -> None:
        self.limit = limit
        self.total = 0
        self._heap: list[tuple[tuple[int, ...], int, KeyRecord]] = []
        self._order = itertools.count()

    def offer(self, score: tuple[int, ...], record: KeyRecord) -> None:
        self.total += 1
        # The sequence number breaks ties by arrival, so records are never compared.
        entry = (score, -next(self._order), record)
        if len(self._heap) < self.limit:
            heapq.heappush(self._heap, entry)
        elif entry > self._heap[0]:
            heapq.heapreplace(self._heap, entry)

    @property
    def first(self) -> list[KeyRecord]:
        """The kept records, most notable first."""
        return [record for _, _, record in sorted(self._heap, reverse=True)]

    @property
    def more(self) -> int:
        return self.total - len(self._heap)


@dataclass
class HygieneSummary:
    generated_at: datetime
    keys: int = 0
    active: int = 0
    inactive: int = 0
    accounts: int = 0
    # bucket label -> status -> keys
    by_age: dict[str, Counter[str]] = field(default_factory=dict)
    never_used: int = 0
    unused: CappedList = field(default_factory=CappedList)
    ownerless: CappedList = field(default_factory=CappedList)
    departed: CappedList = field(default_factory=CappedList)
    departures_checked: bool = False
    departures_unknown: int = 0  # keys whose owner Slack could not tell about
    stale_accounts: list[tuple[str, int]] = field(default_factory=list)
    sweep: SweepSummary | None = None

    def count(self, bucket: str, status: str) -> int:
        """Keys in an age bucket with a status."""
        counts = self.by_age.get(bucket)
        return counts[status] if counts else 0


def age_bucket(age_days: int | None) -> str:
    if age_days is None:
        return UNKNOWN_AGE
    label = AGE_BUCKETS[0][0]
    for name, lower in AGE_BUCKETS:
        if age_days >= lower:
            label = name
    return label


def summarize(
    records: Iterable[KeyRecord],
    now: datetime,
    *,
    departed: DepartedCheck | None = None,
    sweep: SweepSummary | None = None,
) -> HygieneSummary:
    """Fold the records into the report; `departed` (optional) tells whose owner left Slack."""
    report = HygieneSummary(generated_at=now, sweep=sweep, departures_checked=departed is not None)
    report.by_age = {name: Counter() for name, _ in AGE_BUCKETS}
    stale_by_account: Counter[str] = Counter()
    accounts: set[str] = set()
    for record in records:
        report.keys += 1
        accounts.add(record.account_id)
        if record.active:
            report.active += 1
        elif record.status == "Inactive":
            report.inactive += 1
        age = record.age_days(now)
        report.by_age.setdefault(age_bucket(age), Counter())[record.status] += 1
        # Active keys come first in every list: they are the ones that can still do harm.
        live = 1 if record.active else 0
        if record.last_used is None:
            report.never_used += 1
        if record.unused(now):
            report.unused.offer((live, record.idle_days(now) or 0), record)
            stale_by_account[record.account_label] += 1
        if record.owner is None:
            report.ownerless.offer((live, age or 0), record)
        elif departed is not None:
            left = departed(record)
            if left is None:
                report.departures_unknown += 1
            elif left:
                report.departed.offer((live, age or 0), record)
    report.accounts = len(accounts)
    report.stale_accounts = sorted(stale_by_account.items(), key=lambda item: (-item[1], item[0]))[:TOP_ACCOUNTS]
    return report
