"""The lane of full searches: a request's turn, or why it has to come back later.

A full search reads every account: minutes at thousands of accounts. So it never runs on the
lookup lane (the pool's interactive process serves plain lookups, buttons and Home tabs only):
a lookup that finds it needs one moves to this lane, and `deep` requests start here. A turn is a
slot of the workspace's semaphore (WHOSE_KEY_FULL_SEARCH_CONCURRENCY) and the person's one full
search at a time. A request that finds no turn free is told once, and enqueued again a little
later (RQ's scheduler) instead of sleeping inside a worker; after MAX_WAIT it is answered with
what can be said without the search.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.contract import LookupRequest
from core.coordination import LeaseLock
from core.redis_keys import SEARCH_PERSON, redis_key
from workers.lookup.full_search import SearchSlots
from workers.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Busy:
    """Why a turn could not be had now, in words for the person."""

    reason: str  # "slots" | "person"
    message: str


class SearchTurn:
    """One request's turn on the search lane, taken without waiting; release() gives it back."""

    def __init__(self, runtime: Runtime, req: LookupRequest) -> None:
        self.limit = runtime.settings.full_search_concurrency
        self.slots = SearchSlots(runtime.redis, self.limit)
        person = req.asked_by or f"request-{req.request_id}"
        self.person = LeaseLock(runtime.redis, redis_key(SEARCH_PERSON, person), SEARCH_PERSON.seconds)
        # The request ID holds both, so the same request retried (its worker died) gets them back.
        self.holder = req.request_id

    def take(self) -> Busy | None:
        """None when the turn is this request's now; otherwise why not (nothing is held then)."""
        if not self.person.acquire(self.holder):
            return Busy(
                "person",
                ":hourglass_flowing_sand: Your previous full search is still running; this one starts "
                "by itself when it has finished (one full search per person at a time).",
            )
        running = self.slots.try_take(self.holder)
        if running <= 0:
            self.person.release(self.holder)
            return Busy(
                "slots",
                f":hourglass_flowing_sand: {-running} full searches are running across the workspace, the most "
                "allowed at once. Yours waits for one of them to finish and then starts by itself.",
            )
        return None

    def release(self) -> None:
        self.slots.release(self.holder)
        self.person.release(self.holder)


def too_busy_text(waited: float) -> str:
    return (
        f":hourglass: The full search could not start within {int(waited)} seconds (other full searches "
        "kept every turn), so it did not run. Please try again in a few minutes."
    )
