"""Whether this install of whose-key has Slack's agent view, and so whether a DM is one of its threads.

Slack adds `assistant:write` to an app's token only when the app has the agent view
(`features.agent_view` in the manifest, or the older `assistant_view`). The token's scopes come
with every Web API answer (`X-OAuth-Scopes`); the web reads them from `auth.test` and keeps the
answer a few minutes, so turning the agent view on (and reinstalling) takes effect without a
restart. When Slack cannot say, the DM is served as a plain DM: the answer never waits for it.

The web also shows a lookup's first status itself (`show_status`), before the job is enqueued: it
appears at once, even while every worker is busy, and the answer (posted later, by a worker) always
comes after it. Measured in bench/agent_dm.py; the worker keeps the status from there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.scopes import AGENT_VIEW_SCOPE
from core.contract import MessageRef

log = logging.getLogger(__name__)

# Seconds the token's scopes are trusted before auth.test is asked again.
SCOPES_KEPT = 300.0
# After Slack failed to say, ask again this soon rather than on every DM.
RETRY_AFTER = 30.0
# Seconds auth.test (once every SCOPES_KEPT) or the first status may take: the DM's ack waits for
# them, so no retry, and both at their worst still leave the ack well inside Slack's 3 seconds.
ASK_TIMEOUT = 1


def granted_scopes(headers: Any) -> frozenset[str]:
    """The scopes an X-OAuth-Scopes header grants (its name in any case; a list when repeated)."""
    by_name = {str(name).lower(): value for name, value in dict(headers or {}).items()}
    raw = by_name.get("x-oauth-scopes")
    text = ",".join(raw) if isinstance(raw, list) else str(raw or "")
    return frozenset(scope.strip() for scope in text.split(",") if scope.strip())


class AgentView:
    """Answers `on()`: does the bot token hold the agent view's scope? Cached per process."""

    def __init__(self, client: WebClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._known: bool | None = None
        self._until = 0.0

    @classmethod
    def of_app(cls, client: WebClient) -> AgentView:
        """For the app's client: its token and Slack, asked quickly (a slow Slack must not hold the
        DM's ack until Slack sends the DM again)."""
        return cls(WebClient(token=client.token, base_url=client.base_url, timeout=ASK_TIMEOUT, retry_handlers=[]))

    def on(self) -> bool:
        with self._lock:
            if self.clock() < self._until:
                return bool(self._known)
        known = self._ask_slack()
        with self._lock:
            if known is None:
                self._until = self.clock() + RETRY_AFTER
                return bool(self._known)  # the last answer, else a plain DM
            self._known, self._until = known, self.clock() + SCOPES_KEPT
            return known

    def show_status(self, thread: MessageRef, status: str) -> bool:
        """Set the thread's status; False (logged) when Slack did not take it: the answer still comes."""
        try:
            self.client.assistant_threads_setStatus(channel_id=thread.channel, thread_ts=thread.ts, status=status)
            return True
        except (SlackApiError, OSError) as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.info("first status not shown", extra={"error": error})
            return False

    def _ask_slack(self) -> bool | None:
        try:
            response = self.client.auth_test()
        except (SlackApiError, OSError) as exc:
            log.warning("could not read the bot token's scopes", extra={"error": type(exc).__name__})
            return None
        return AGENT_VIEW_SCOPE in granted_scopes(response.headers)
