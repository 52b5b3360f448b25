"""The audit trail: who asked what, where, and what came of it; every notice sent.

Each record is one structured log line and an entry in a Redis stream with bounded retention
(`XADD … MAXLEN ~`), readable with `XRANGE whose-key:audit - +`. Records hold IDs, key IDs and
outcomes, never secrets.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from core.coordination import text
from core.redis_keys import AUDIT, redis_key

log = logging.getLogger("whose-key.audit")

AUDIT_STREAM = redis_key(AUDIT)
# About this many records are kept (Redis trims whole nodes, so a little more).
AUDIT_MAXLEN = 100_000


def audit(redis: Redis, action: str, **fields: Any) -> None:
    """Record one audited action; never raises (the log line is written even if Redis is away)."""
    record = {"action": action, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    record.update({k: v for k, v in fields.items() if v is not None})
    log.info("audit %s", action, extra={"audit": record})
    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in record.items()}
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.xadd(AUDIT_STREAM, flat, maxlen=AUDIT_MAXLEN, approximate=True)  # type: ignore[arg-type]
            pipe.expire(AUDIT_STREAM, AUDIT.seconds)  # a trail nobody writes to for a year is dropped
            pipe.execute()
    except RedisError as exc:
        log.warning("audit record not stored in Redis", extra={"error": type(exc).__name__, "action": action})


def recent(redis: Redis, count: int = 100) -> list[dict[str, str]]:
    """The newest audit records, newest first."""
    entries = redis.xrevrange(AUDIT_STREAM, count=count) or []
    return [{text(k): text(v) for k, v in (fields or {}).items()} for _, fields in entries]
