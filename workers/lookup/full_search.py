"""What a full search (every account read) must pass before it starts: the person's budget of
full searches a minute, and one of the workspace's few full-search slots.

The slots are a Redis semaphore shared by every worker: a sorted set of holders scored by the
end of their lease, so a worker that dies mid-search frees its slot when the lease ends. A search
that finds every slot taken waits (and the person is told), up to MAX_WAIT, then gives up with
an answer that says so.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator

from redis import Redis

from core.audit import audit
from core.budget import charge_full_searches, full_search_refusal_text
from core.coordination import LeaseSemaphore
from core.redis_keys import SEARCH_SLOTS, redis_key
from core.settings import Settings

log = logging.getLogger(__name__)

# A slot's lease: longer than a lookup job may run (core.queue.LOOKUP_JOB_TIMEOUT, 300 s).
LEASE_SECONDS = 360
# How long a search waits for a slot before answering "too busy", and how often it looks.
MAX_WAIT = 120.0
POLL_INTERVAL = 0.2


class FullSearchRefused(Exception):
    """The full search did not run; the message says why, in words for the person."""


class SearchSlots:
    """The workspace-wide semaphore on full searches."""

    def __init__(self, redis: Redis, limit: int, *, max_wait: float = MAX_WAIT) -> None:
        self.limit = limit
        self.max_wait = max_wait
        self._slots = LeaseSemaphore(
            redis, redis_key(SEARCH_SLOTS), limit, lease=LEASE_SECONDS, ttl=SEARCH_SLOTS.seconds
        )

    def try_take(self, holder: str) -> int:
        """Searches running including this one (> 0) when taken; minus those running when not."""
        return self._slots.acquire(holder)

    @contextlib.contextmanager
    def hold(self, holder: str, on_wait: Callable[[int], None] | None = None) -> Iterator[int]:
        """Hold a slot for the block; yields how many searches run with it. Raises FullSearchRefused."""
        deadline = time.monotonic() + self.max_wait
        waited = False
        while (running := self.try_take(holder)) <= 0:
            if not waited and on_wait is not None:
                on_wait(-running)
            waited = True
            if time.monotonic() >= deadline:
                raise FullSearchRefused(
                    f":hourglass: {self.limit} full searches are already running across the workspace and "
                    f"none finished within {int(self.max_wait)} seconds, so this one did not run. "
                    "Please try again in a minute."
                )
            time.sleep(POLL_INTERVAL)
        try:
            yield running
        finally:
            self._slots.release(holder)


class FullSearchGate:
    """One request's passage to full searches: charge the asker (unless the web did), then take a slot."""

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        *,
        user: str | None,
        request_id: str,
        charged_at_edge: bool,
        on_wait: Callable[[int], None] | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.user = user
        self.request_id = request_id
        self.charged_at_edge = charged_at_edge
        self.on_wait = on_wait
        self.slots = SearchSlots(redis, settings.full_search_concurrency)

    @contextlib.contextmanager
    def full_search(self, key_id: str) -> Iterator[None]:
        """Around one key's full search. Raises FullSearchRefused before it starts, never during."""
        if not self.charged_at_edge and self.user:
            over = charge_full_searches(self.redis, self.user, 1, self.settings.full_search_limit)
            if over is not None:
                audit(self.redis, "refused", user=self.user, reason="full_search_budget", keys=[key_id])
                raise FullSearchRefused(full_search_refusal_text(over))
        holder = f"{self.request_id}:{key_id}:{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        with self.slots.hold(holder, self.on_wait) as running:
            waited = round(time.monotonic() - started, 3)
            audit(
                self.redis,
                "full_search_started",
                request_id=self.request_id,
                user=self.user,
                keys=[key_id],
                running=running,
                waited=waited,
            )
            log.info("full search started", extra={"key": key_id, "running": running, "waited": waited})
            try:
                yield
            finally:
                audit(self.redis, "full_search_finished", request_id=self.request_id, keys=[key_id])
