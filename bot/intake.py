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
from core.jobs import SEARCH_LANE
from core.keyids import is_temporary
from core.parse import ParsedRequest
from core.queue import JobQueue

log = logging.getLogger(__name__)

# A `deep` request reads every account once per key: a few keys at a time, so that no one
# request holds the workspace's full searches for long.
MAX_DEEP_KEYS = 3
DEEP_TOO_MANY = (
    f":mag: A `deep` search reads every account of the organization for each key, so it takes at most "
    f"{MAX_DEEP_KEYS} keys at a time. Please ask again with {MAX_DEEP_KEYS} keys or fewer, or leave out `deep`: "
    "a plain lookup searches every account by itself when the key's own account does not hold it."
)


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and through which surface."""

    user: str | None
    channel: str | None
    team: str | None
    surface: str  # command | mention | dm | button | home
    teams: tuple[str, ...] = ()  # the asker's own workspace(s), as the payload names them
    home_team: str | None = None  # the workspace that installed whose-key

    def audited(self) -> dict[str, str | None]:
        """Who asked, as every audit record of a request names them."""
        return {"user": self.user, "channel": self.channel, "team": self.team, "surface": self.surface}


def lookup_request(
    parsed: ParsedRequest,
    asker: Asker,
    destination: Destination,
    request_id: str,
    working_on: MessageRef | None = None,
    agent_thread: MessageRef | None = None,
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
        # A `deep` request is all full searches: it starts on their lane, never on the lookup lane.
        lane=SEARCH_LANE if parsed.deep else "lookup",
        # The agent view's thread (DMs): the worker keeps its status and title.
        agent_thread=agent_thread,
    )


def full_searches(parsed: ParsedRequest) -> int:
    """Full searches a request is known to start: every key of a `deep` one (temporary keys
    are never searched for). Others may turn out to need one; the worker charges those."""
    return sum(1 for key in parsed.keys if not is_temporary(key)) if parsed.deep else 0


def vet(policy: AccessPolicy, asker: Asker, keys: list[str] | None = None) -> Refusal | None:
    """Who may ask here (no budget charged), audited when it refuses. Raises RedisError."""
    refusal = policy.check(asker.user, asker.channel, teams=asker.teams, home_team=asker.home_team)
    return _audited(policy, asker, refusal, keys)


def charge(policy: AccessPolicy, asker: Asker, *, requests: int, parsed: ParsedRequest | None = None) -> Refusal | None:
    """Count the request against the asker's budgets, audited when refused. Raises RedisError."""
    if parsed is not None and parsed.deep and len(parsed.keys) > MAX_DEEP_KEYS:
        return _audited(policy, asker, Refusal("deep_too_many", DEEP_TOO_MANY), list(parsed.keys))
    searches = full_searches(parsed) if parsed is not None else 0
    refusal = policy.charge(asker.user, requests=requests, full_searches=searches)
    return _audited(policy, asker, refusal, list(parsed.keys) if parsed else None)


def admit(policy: AccessPolicy, asker: Asker, parsed: ParsedRequest | None = None) -> Refusal | None:
    """Vet and charge in one go: a request (or button press, parsed=None) costs one per key, or one."""
    keys = list(parsed.keys) if parsed is not None else None
    return vet(policy, asker, keys) or charge(policy, asker, requests=len(keys) if keys else 1, parsed=parsed)


def admit_admin(policy: AccessPolicy, asker: Asker) -> Refusal | None:
    """Whether the asker, already admitted, may see organization-wide views; audited when not."""
    return _audited(policy, asker, policy.check_admin(asker.user), None)


def _audited(policy: AccessPolicy, asker: Asker, refusal: Refusal | None, keys: list[str] | None) -> Refusal | None:
    if refusal is not None:
        audit(policy.redis, "refused", **asker.audited(), reason=refusal.reason, keys=keys or None)
    return refusal


def submit_lookup(jobs: JobQueue, request: LookupRequest, asker: Asker) -> bool:
    """Enqueue the lookup and audit it; False when the queue is unreachable."""
    try:
        jobs.enqueue(request)
    except RedisError as exc:
        log.error(
            "could not enqueue a lookup",
            extra={"request_id": request.request_id, "error": type(exc).__name__, "surface": asker.surface},
        )
        return False
    audit(jobs.redis, "lookup_requested", request_id=request.request_id, **asker.audited(), keys=list(request.keys))
    return True


def submit_reply(jobs: JobQueue, delivery_id: str, destination: Destination, message: dict[str, Any]) -> bool:
    """Enqueue a ready-made reply (help, errors) to be posted by a worker; False if Redis is down."""
    reply = Reply(delivery_id, destination, text=message["text"], blocks=tuple(message.get("blocks") or ()))
    try:
        jobs.enqueue(reply)
    except RedisError as exc:
        log.error("could not enqueue a reply", extra={"delivery_id": delivery_id, "error": type(exc).__name__})
        return False
    return True
