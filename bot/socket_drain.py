"""Bolt's Socket Mode handler, able to stop gracefully: it counts the envelopes in hand, and once
draining, leaves new Events API envelopes unacked (Slack retries an unacknowledged event, on
another connection) while those in hand finish. A slash command or an interaction is still taken
until the connection closes: Slack does not send those again, so leaving one would lose it."""

from __future__ import annotations

import logging
import threading
import time

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

log = logging.getLogger(__name__)

# The envelope type Slack retries when it is not acknowledged.
RETRIED_BY_SLACK = "events_api"


class DrainingSocketModeHandler(SocketModeHandler):
    def __init__(self, app: App, app_token: str) -> None:
        super().__init__(app, app_token)
        self._in_hand = 0
        self._draining = False
        self._changed = threading.Condition()

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]  # as Bolt's
        with self._changed:
            if self._draining and req.type == RETRIED_BY_SLACK:
                log.info("event left to Slack's retry on another connection (stopping)")
                return
            self._in_hand += 1
        try:
            super().handle(client, req)
        finally:
            with self._changed:
                self._in_hand -= 1
                self._changed.notify_all()

    def drain(self, timeout: float) -> int:
        """Take no more events; wait up to timeout seconds until nothing is in hand. Returns how
        many envelopes are still unfinished."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._draining = True
            log.info("socket mode draining", extra={"in_hand": self._in_hand})
            while self._in_hand and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            return self._in_hand
