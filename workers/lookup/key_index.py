"""The organization's known key IDs, for "did you mean" and for lookups' first guess: filled by
lookups (and by the sweep), kept in one Redis hash of key ID -> whose it is.

An entry is a hint, never an answer: the finder reads IAM all the same, and only starts every
read at once when the entry names the key's account and user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from redis import Redis

from core.redis_keys import KEY_INDEX, redis_key
from workers.lookup.finding import KeyFinding, Suggestion, Verdict

INDEX = redis_key(KEY_INDEX)
MAX_DISTANCE = 2
MAX_SUGGESTIONS = 3
# An account label as entries store it: "name (123456789012)", or the bare ID.
_ACCOUNT_IN_LABEL = re.compile(r"(?:^|\()(\d{12})\)?$")


@dataclass(frozen=True)
class IndexedKey:
    """Whose the index last saw a key to be."""

    account_id: str
    user_name: str


def remember(redis: Redis, report: KeyFinding) -> None:
    """Add a found key to the index, with its owner (kept for notices after the user is gone)."""
    if report.verdict is not Verdict.FOUND:
        return
    entry = {
        "user": report.user_name,
        "account": report.account.label if report.account else None,
        "account_id": report.account.id if report.account else None,
        "owner_slack_id": report.owner.slack_user_id,
        "owner_email": report.owner.email,
    }
    with redis.pipeline(transaction=False) as pipe:
        pipe.hset(INDEX, report.key_id, json.dumps(entry))
        pipe.expire(INDEX, KEY_INDEX.seconds)  # renewed by every write: forgotten only when unused
        pipe.execute()


def remember_many(redis: Redis, entries: dict[str, dict[str, str | None]]) -> None:
    """Add keys seen by the sweep (user and account), keeping owners learnt by lookups."""
    if not entries:
        return
    known = redis.hmget(INDEX, list(entries))
    merged: dict[Any, Any] = {}  # redis-py's stubs want an invariant key type
    for (key_id, entry), raw in zip(entries.items(), known, strict=True):
        previous = json.loads(raw) if raw else {}
        merged[key_id] = json.dumps({**previous, **{k: v for k, v in entry.items() if v is not None}})
    with redis.pipeline(transaction=False) as pipe:
        pipe.hset(INDEX, mapping=merged)
        pipe.expire(INDEX, KEY_INDEX.seconds)
        pipe.execute()


def index_entry(redis: Redis, key_id: str) -> dict[str, str | None] | None:
    raw = redis.hget(INDEX, key_id)
    return json.loads(raw) if raw else None


def indexed_key(redis: Redis, key_id: str) -> IndexedKey | None:
    """The account and user the index names for key_id, when it names both."""
    entry = index_entry(redis, key_id)
    if not entry or not entry.get("user"):
        return None
    account_id = entry.get("account_id") or _account_id(entry.get("account"))
    return IndexedKey(account_id, str(entry["user"])) if account_id else None


def _account_id(label: str | None) -> str | None:
    # Entries written by the sweep carry the account's label only.
    match = _ACCOUNT_IN_LABEL.search(label or "")
    return match.group(1) if match else None


def distance(a: str, b: str) -> int:
    """Characters that differ between two key IDs of equal length (substitutions only)."""
    return sum(1 for x, y in zip(a, b, strict=True) if x != y)


def similar_keys(redis: Redis, key_id: str) -> list[Suggestion]:
    """Known keys within MAX_DISTANCE substituted characters of key_id, closest first."""
    matches: list[tuple[int, Suggestion]] = []
    for raw_key, raw_entry in redis.hscan_iter(INDEX, count=1000):
        candidate = raw_key.decode()
        if len(candidate) != len(key_id) or candidate == key_id:
            continue
        gap = distance(candidate, key_id)
        if gap <= MAX_DISTANCE:
            entry = json.loads(raw_entry)
            matches.append((gap, Suggestion(candidate, entry.get("user"), entry.get("account"))))
    matches.sort(key=lambda item: (item[0], item[1].key_id))
    return [suggestion for _, suggestion in matches[:MAX_SUGGESTIONS]]
