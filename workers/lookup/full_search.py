"""What a full search (every account read) must pass before it starts: the person's budget of
full searches a minute, and one of the workspace's few full-search slots.

The slots are a Redis semaphore shared by every worker: a sorted set of holders scored by the
end of their lease, so a worker that dies mid-search frees its slot when the lease ends. Full
searches run on a lane of their own (workers/answers/search_lane.py); a request that finds every
slot taken is enqueued again a little later rather than slept on, up to MAX_WAIT, then answered
with what could be said without the search.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from redis import Redis

from core.audit import audit
from core.budget import charge_full_searches, full_search_refusal_text
from core.coordination import LeaseSemaphore
from core.redis_keys import SEARCH_SLOTS, redis_key
from core.settings import Settings

log = logging.getLogger(__name__)

# A slot's lease: longer than a lookup job may run (core.queue.LOOKUP_JOB_TIMEOUT, 300 s).
LEASE_SECONDS = 360
# How long a search waits for its turn before answering "too busy", and how often it looks again.
MAX_WAIT = 120.0
RETRY_EVERY = 2


class FullSearchRefused(Exception):
    """The full search did not run; the message says why, in words for the person."""


class HandOff(Exception):
    """A key needs a full search, and this job runs on the lookup lane: the request moves to the
    search lane (workers/answers/search_lane.py) instead of holding an interactive process."""


class SearchSlots:
    """The workspace-wide semaphore on full searches."""

    def __init__(self, redis: Redis, limit: int) -> None:
        self.limit = limit
        self._slots = LeaseSemaphore(
            redis, redis_key(SEARCH_SLOTS), limit, lease=LEASE_SECONDS, ttl=SEARCH_SLOTS.seconds
        )

    def try_take(self, holder: str) -> int:
        """Searches running including this one (> 0) when taken; minus those running when not.
        Never waits: a request that finds no slot is enqueued again (see the search lane)."""
        return self._slots.acquire(holder)

    def release(self, holder: str) -> None:
        self._slots.release(holder)


class FullSearchGate:
    """One request's passage to full searches. On the lookup lane (`hand_off`), a full search is
    never started: HandOff moves the request to the search lane. There, the job already holds its
    turn (a workspace slot and the person's one search at a time): the gate charges the asker
    (unless the web did), or refuses with `refusal` when the turn could not be had in time."""

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        user: str | None,
        request_id: str,
        charged_at_edge: bool,
        hand_off: bool = False,
        refusal: str | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.user = user
        self.request_id = request_id
        self.charged_at_edge = charged_at_edge
        self.hand_off = hand_off
        self.refusal = refusal

    @contextlib.contextmanager
    def full_search(self, key_id: str) -> Iterator[None]:
        """Around one key's full search. Raises HandOff or FullSearchRefused before it starts, never during."""
        if self.hand_off:
            raise HandOff(key_id)
        if self.refusal is not None:
            raise FullSearchRefused(self.refusal)
        if not self.charged_at_edge and self.user:
            over = charge_full_searches(self.redis, self.user, 1, self.settings.full_search_limit)
            if over is not None:
                audit(self.redis, "refused", user=self.user, reason="full_search_budget", keys=[key_id])
                raise FullSearchRefused(full_search_refusal_text(over))
        audit(self.redis, "full_search_started", request_id=self.request_id, user=self.user, keys=[key_id])
        log.info("full search started", extra={"key": key_id})
        try:
            yield
        finally:
            audit(self.redis, "full_search_finished", request_id=self.request_id, keys=[key_id])
