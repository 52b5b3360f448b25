"""Turning a parsed request from any surface (command, mention, DM, button) into a job, with
the audit line that says who asked what, where."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from bot.parse import ParsedRequest
from bot.queueing import JobQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and through which surface."""

    user: str | None
    channel: str | None
    team: str | None
    surface: str  # command | mention | dm | button


def lookup_request(
    parsed: ParsedRequest,
    asker: Asker,
    destination: dict[str, Any],
    request_id: str,
    working_on: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON-safe job arguments of a lookup. Secrets never get here: the parser drops them."""
    return {
        "request_id": request_id,
        "keys": list(parsed.keys),
        "deep": parsed.deep,
        "secret_pasted": parsed.secret_pasted,
        "problems": [p.reason for p in parsed.problems],
        "asked_by": asker.user,
        "asked_in": asker.channel,
        "surface": asker.surface,
        "destination": destination,
        # The message to mark with a reaction while the lookup runs (mentions and DMs).
        "working_on": working_on,
    }


def submit_lookup(jobs: JobQueue, request: dict[str, Any], asker: Asker) -> bool:
    """Enqueue the lookup and audit it; False when the queue is unreachable."""
    try:
        jobs.enqueue_lookup(request)
    except RedisError as exc:
        log.error(
            "could not enqueue a lookup",
            extra={"request_id": request["request_id"], "error": type(exc).__name__, "surface": asker.surface},
        )
        return False
    log.info(
        "lookup requested",
        extra={
            "request_id": request["request_id"],
            "user": asker.user,
            "channel": asker.channel,
            "team": asker.team,
            "keys": request["keys"],
            "surface": asker.surface,
        },
    )
    return True


def submit_reply(jobs: JobQueue, delivery_id: str, destination: dict[str, Any], message: dict[str, Any]) -> bool:
    """Enqueue a ready-made reply (help, errors) to be posted by a worker; False if Redis is down."""
    try:
        jobs.enqueue_reply({"delivery_id": delivery_id, "destination": destination, "message": message})
    except RedisError as exc:
        log.error("could not enqueue a reply", extra={"delivery_id": delivery_id, "error": type(exc).__name__})
        return False
    return True
