"""The organization's known key IDs, for "did you mean": filled by lookups (and by the sweep),
kept in one Redis hash of key ID -> whose it is."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

from core.redis_keys import KEY_INDEX, redis_key
from workers.report import KeyReport, Suggestion, Verdict

INDEX = redis_key(KEY_INDEX)
MAX_DISTANCE = 2
MAX_SUGGESTIONS = 3


def remember(redis: Redis, report: KeyReport) -> None:
    """Add a found key to the index, with its owner (kept for notices after the user is gone)."""
    if report.verdict is not Verdict.FOUND:
        return
    entry = {
        "user": report.user_name,
        "account": report.account.label if report.account else None,
        "owner_slack_id": report.owner.slack_user_id,
        "owner_email": report.owner.email,
    }
    redis.hset(INDEX, report.key_id, json.dumps(entry))


def remember_many(redis: Redis, entries: dict[str, dict[str, str | None]]) -> None:
    """Add keys seen by the sweep (user and account), keeping owners learnt by lookups."""
    if not entries:
        return
    known = redis.hmget(INDEX, list(entries))
    merged: dict[Any, Any] = {}  # redis-py's stubs want an invariant key type
    for (key_id, entry), raw in zip(entries.items(), known, strict=True):
        previous = json.loads(raw) if raw else {}
        merged[key_id] = json.dumps({**previous, **{k: v for k, v in entry.items() if v is not None}})
    redis.hset(INDEX, mapping=merged)


def index_entry(redis: Redis, key_id: str) -> dict[str, str | None] | None:
    raw = redis.hget(INDEX, key_id)
    return json.loads(raw) if raw else None


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
