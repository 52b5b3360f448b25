"""Notices recorded but not yet delivered: written with the state change they tell of (in the same
Lua script, see workers/notices/transitions.py), delivered, then removed. A notice Slack did not take waits
here and is tried again by the periodic retry and at the start of each sweep, until it is delivered
or older than the give-up age.

Layout: a sorted set of notice IDs scored by when to try next, and one hash per notice holding
the event (JSON), its cause, when it was first recorded and how often delivery failed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from redis import Redis

from core.contract import from_json, to_json
from core.coordination import claim, release, text
from core.key_events import KeyEvent
from core.redis_keys import NOTICE_DELIVERY_LOCK, PENDING_NOTICE, PENDING_NOTICES, redis_key

PENDING_SET = redis_key(PENDING_NOTICES)
# A record (and the pending set, renewed by every add) outlives the give-up age by this much, so
# the retry that gives it up can still read it.
RECORD_GRACE = 3600


def notice_id(event: KeyEvent, cause: str) -> str:
    """One ID per notice: the change it tells of and what first reported it."""
    return f"{event.kind}-{event.key_id or event.user_name}-{cause}"


@dataclass(frozen=True)
class NoticeDraft:
    """What the state-change script writes beside the new state, so the notice cannot be lost."""

    notice_id: str
    record_key: str
    fields: dict[str, str]
    ttl: int


@dataclass(frozen=True)
class PendingNotice:
    notice_id: str
    event: KeyEvent
    cause: str
    first_at: float
    attempts: int


class PendingNotices:
    def __init__(self, redis: Redis, max_age: int) -> None:
        self.redis = redis
        self.max_age = max_age

    def draft(self, event: KeyEvent, cause: str, now: float | None = None) -> NoticeDraft:
        ident = notice_id(event, cause)
        fields = {
            "event": json.dumps(to_json(event)),
            "cause": cause,
            "first_at": repr(time.time() if now is None else now),
            "attempts": "0",
        }
        return NoticeDraft(ident, redis_key(PENDING_NOTICE, ident), fields, self.max_age + RECORD_GRACE)

    def get(self, ident: str) -> PendingNotice | None:
        raw = self.redis.hgetall(redis_key(PENDING_NOTICE, ident))
        if not raw:
            return None
        fields = {text(k): text(v) for k, v in raw.items()}
        return PendingNotice(
            notice_id=ident,
            event=from_json(KeyEvent, json.loads(fields["event"])),
            cause=fields["cause"],
            first_at=float(fields["first_at"]),
            attempts=int(fields.get("attempts", "0")),
        )

    def due(self, now: float | None = None, limit: int = 500) -> list[str]:
        """Notice IDs whose next attempt is due, oldest first."""
        until = time.time() if now is None else now
        members = self.redis.zrangebyscore(PENDING_SET, "-inf", until, start=0, num=limit)
        return [text(m) for m in members if isinstance(m, bytes | str)]

    def count(self) -> int:
        return int(self.redis.zcard(PENDING_SET))

    def done(self, ident: str) -> None:
        """Delivered, or given up: forget the notice (one MULTI, so nobody sees half of it)."""
        with self.redis.pipeline() as pipe:
            pipe.zrem(PENDING_SET, ident)
            pipe.delete(redis_key(PENDING_NOTICE, ident))
            pipe.execute()

    def failed(self, notice: PendingNotice, retry_in: float, now: float | None = None) -> bool:
        """Count a failed delivery and schedule the next; False when the notice is past its age."""
        moment = time.time() if now is None else now
        if moment - notice.first_at >= self.max_age:
            return False
        with self.redis.pipeline() as pipe:
            pipe.hincrby(redis_key(PENDING_NOTICE, notice.notice_id), "attempts", 1)
            pipe.zadd(PENDING_SET, {notice.notice_id: moment + retry_in})
            pipe.expire(PENDING_SET, self.max_age + RECORD_GRACE)
            pipe.execute()
        return True

    def lock(self, ident: str) -> bool:
        """Take the right to deliver this notice now (one process at a time)."""
        return claim(self.redis, redis_key(NOTICE_DELIVERY_LOCK, ident), NOTICE_DELIVERY_LOCK.seconds)

    def unlock(self, ident: str) -> None:
        release(self.redis, redis_key(NOTICE_DELIVERY_LOCK, ident))
