"""Progress of a long search, shown in Slack without flooding it.

At most MAX_UPDATES updates, the first only once the search has run START_AFTER seconds, then
no more often than every MIN_INTERVAL: with the final answer that stays within a
response_url's 5 posts. Command answers replace the previous ephemeral update; in channels and
DMs one message is posted and then edited, and removed once the answer is out; a private answer
in a shared channel gets private updates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.contract import Destination
from workers.slack.poster import DeliveryError, Poster

log = logging.getLogger(__name__)

MAX_UPDATES = 3
START_AFTER = 1.5
MIN_INTERVAL = 3.0


class SearchProgress:
    def __init__(
        self,
        poster: Poster,
        destination: Destination,
        key_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poster = poster
        self.destination = destination
        self.key_id = key_id
        self.clock = clock
        self.started = clock()
        self.last: float | None = None
        self.updates = 0
        self.message_ts: str | None = None
        self._lock = threading.Lock()  # the search calls back from many threads

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        with self._lock:
            due = now - self.started >= START_AFTER and (self.last is None or now - self.last >= MIN_INTERVAL)
            if not due or self.updates >= MAX_UPDATES or done >= total:
                return
            self.updates += 1
            self.last = now
        self._show(f":hourglass_flowing_sand: Searching every account for `{self.key_id}`: {done} of {total} done…")

    def _show(self, text: str) -> None:
        payload = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}],
        }
        try:
            if self.destination.response_url:
                self.poster.post(self.destination, {**payload, "replace_original": self.updates > 1})
            elif self.destination.ephemeral:
                # A private answer in a shared channel: its progress stays private too, and
                # ephemeral messages cannot be edited, so each update is a message of its own.
                self.poster.post(self.destination, payload)
            else:
                self.message_ts = self.poster.post_or_update(self.destination, payload, self.message_ts)
        except DeliveryError as exc:
            log.info("progress update not shown", extra={"error": str(exc)})  # the answer still comes

    @property
    def shown(self) -> bool:
        return self.updates > 0

    def finish(self) -> None:
        """Remove the progress message from a channel once the answer is posted."""
        if self.message_ts and self.destination.channel:
            self.poster.delete(self.destination.channel, self.message_ts)
