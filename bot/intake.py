"""Turning a parsed request from any surface (command, mention, DM, button) into a job, with
the audit line that says who asked what, where."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from bot.access import AccessPolicy, Refusal
from core.audit import audit
from core.contract import Destination, LookupRequest, MessageRef, Reply
from core.parse import ParsedRequest
from core.queue import JobQueue

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
    destination: Destination,
    request_id: str,
    working_on: MessageRef | None = None,
) -> LookupRequest:
    """The lookup job's arguments. Secrets never get here: the parser drops them."""
    return LookupRequest(
        request_id=request_id,
        keys=parsed.keys,
        destination=destination,
        asked_by=asker.user,
        asked_in=asker.channel,
        surface=asker.surface,
        deep=parsed.deep,
        secret_pasted=parsed.secret_pasted,
        problems=tuple(p.reason for p in parsed.problems),
        # The message to mark with a reaction while the lookup runs (mentions and DMs).
        working_on=working_on,
    )


def admit(policy: AccessPolicy, asker: Asker, keys: list[str] | None = None) -> Refusal | None:
    """The access check for any surface, audited when it refuses. Raises RedisError."""
    refusal = policy.check(asker.user, asker.channel, keys=len(keys or []))
    if refusal is not None:
        audit(
            policy.redis,
            "refused",
            user=asker.user,
            channel=asker.channel,
            team=asker.team,
            surface=asker.surface,
            reason=refusal.reason,
            keys=keys or None,
        )
    return refusal


def submit_lookup(jobs: JobQueue, request: LookupRequest, asker: Asker) -> bool:
    """Enqueue the lookup and audit it; False when the queue is unreachable."""
    try:
        jobs.enqueue_lookup(request)
    except RedisError as exc:
        log.error(
            "could not enqueue a lookup",
            extra={"request_id": request.request_id, "error": type(exc).__name__, "surface": asker.surface},
        )
        return False
    audit(
        jobs.redis,
        "lookup_requested",
        request_id=request.request_id,
        user=asker.user,
        channel=asker.channel,
        team=asker.team,
        surface=asker.surface,
        keys=list(request.keys),
    )
    return True


def submit_reply(jobs: JobQueue, delivery_id: str, destination: Destination, message: dict[str, Any]) -> bool:
    """Enqueue a ready-made reply (help, errors) to be posted by a worker; False if Redis is down."""
    reply = Reply(delivery_id, destination, text=message["text"], blocks=tuple(message.get("blocks") or ()))
    try:
        jobs.enqueue_reply(reply)
    except RedisError as exc:
        log.error("could not enqueue a reply", extra={"delivery_id": delivery_id, "error": type(exc).__name__})
        return False
    return True
