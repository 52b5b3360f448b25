"""Stream the sweep's snapshots out of Redis: SCAN for the accounts, HSCAN for their keys.

Nothing is loaded whole: a page of accounts and a page of one account's keys at a time, so
100,000 keys cost the same memory as a hundred.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from redis import Redis

from core.coordination import text
from core.redis_keys import SNAPSHOT, SWEEP_LAST, redis_key
from workers.hygiene.records import KeyRecord, json_object, parse_time, record_from_snapshot

# Redis COUNT hints: accounts per SCAN page, keys per HSCAN page.
ACCOUNTS_PER_PAGE = 500
KEYS_PER_PAGE = 1000


@dataclass(frozen=True)
class UnreadAccount:
    account: str
    label: str
    detail: str


@dataclass(frozen=True)
class SweepSummary:
    """The last finished sweep: when, how much, and which accounts it could not read."""

    sweep_id: str
    finished_at: datetime | None
    accounts: int
    keys: int
    unreadable: tuple[UnreadAccount, ...] = field(default=())


def iter_records(redis: Redis) -> Iterator[KeyRecord]:
    """Every key of every snapshot, one at a time."""
    prefix = redis_key(SNAPSHOT, "")
    for name in redis.scan_iter(match=prefix + "*", count=ACCOUNTS_PER_PAGE):
        account_id = text(name)[len(prefix) :]
        for key_id, raw in redis.hscan_iter(name, count=KEYS_PER_PAGE):
            record = record_from_snapshot(account_id, text(key_id), raw)
            if record is not None:
                yield record


def read_sweep_summary(redis: Redis) -> SweepSummary | None:
    """The last sweep's summary, or None before the first sweep finished."""
    raw = redis.get(redis_key(SWEEP_LAST))
    data = None if raw is None else json_object(raw)
    if data is None:
        return None
    unreadable = tuple(
        UnreadAccount(str(u.get("account", "")), str(u.get("label") or u.get("account", "")), str(u.get("detail", "")))
        for u in data.get("unreadable") or []
        if isinstance(u, dict)
    )
    return SweepSummary(
        sweep_id=str(data.get("sweep_id", "")),
        finished_at=parse_time(data.get("finished_at")),
        accounts=int(data.get("accounts") or 0),
        keys=int(data.get("keys") or 0),
        unreadable=unreadable,
    )
