"""The agent view's thread of a DM lookup: its status line while the lookup runs, and its title.

Everything here is best effort and never holds the answer up: a refused call (no agent view,
invalid_thread_ts, channel_not_found, 429, Slack down) is logged and dropped. The calls go through
a client of their own that does not wait out rate limits and gives up after a few seconds.

Slack clears a thread's status when the app replies in it; `clear()` is for the answers that do
not (none posted now, a private one, a failed post). A status also lapses after two minutes
without a message, so a long search refreshes it. Progress from the search's threads is only
noted; one ticker thread sends it (at most every STATUS_EVERY seconds), so no search thread ever
waits on Slack, and `stop()` ends it before the answer goes out: no status after the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from core.agent_view import Prompt, searching_status, thread_title
from core.contract import MessageRef
from workers.ticker import ticking

log = logging.getLogger(__name__)

# Seconds one status, title or prompts call may take (connect and read).
CALL_TIMEOUT = 3
# The ticker's beat: a changed status is sent at most this often.
STATUS_EVERY = 1.0
# An unchanged status is sent again after this long: Slack drops one after two minutes.
STATUS_REFRESH = 60.0


def agent_client(client: WebClient) -> WebClient:
    """A client like `client` (same token and Slack) for calls that may be dropped: one quick retry
    on a broken connection, no waiting out a 429, a short timeout."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=CALL_TIMEOUT,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


def _call(what: str, send: Callable[[], object]) -> bool:
    """Make one assistant.threads call; False (logged, never raised) when Slack did not take it."""
    try:
        send()
        return True
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        status = getattr(exc.response, "status_code", None)
        log.info("agent view call dropped", extra={"call": what, "error": error, "status": status})
    except OSError as exc:
        log.info("agent view call dropped", extra={"call": what, "error": type(exc).__name__})
    return False


def suggest_prompts(client: WebClient, channel: str, prompts: Sequence[Prompt], title: str | None,
                    thread_ts: str | None = None) -> bool:  # fmt: skip
    """Set the DM's suggested prompts (a thread's, on the older assistant view); False when dropped."""
    return _call(
        "setSuggestedPrompts",
        lambda: agent_client(client).assistant_threads_setSuggestedPrompts(
            channel_id=channel, thread_ts=thread_ts, title=title, prompts=[p.as_slack() for p in prompts]
        ),
    )


class AgentThread:
    """One lookup's thread in the agent view (the web showed its first status): the title, statuses
    and progress while searching, then `stop` before the answer."""

    def __init__(self, client: WebClient, thread: MessageRef, keys: Sequence[str],
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.client = agent_client(client)
        self.thread = thread
        self.keys = tuple(keys)
        self.clock = clock
        self._lock = threading.Lock()
        # Held while a status call is under way: calls go out in order, and stop() waits for one.
        self._sending = threading.Lock()
        self._wanted: str | None = None  # the status to show next (None: nothing new)
        self._shown: str | None = None
        self._shown_at = 0.0
        self._stopped = False

    def name_thread(self) -> None:
        """The thread's title, naming the key(s) asked about."""
        _call("setTitle", lambda: self.client.assistant_threads_setTitle(
            channel_id=self.thread.channel, thread_ts=self.thread.ts, title=thread_title(self.keys)))  # fmt: skip

    def show(self, status: str) -> None:
        """Show `status` now (from the job's own thread)."""
        with self._lock:
            if self._stopped:
                return
            self._wanted = None
        self._send(status)

    def progress(self, done: int, total: int) -> None:
        """A full search's progress callback (any thread): noted, sent by the ticker."""
        with self._lock:
            if not self._stopped and done < total:
                self._wanted = searching_status(done, total)

    @contextmanager
    def searching(self) -> Iterator[None]:
        """While the block runs, send noted progress and keep the status from lapsing."""
        try:
            with ticking(STATUS_EVERY, self._tick, name="agent-status"):
                yield
        finally:
            self.stop()

    def stop(self) -> None:
        """No status may be sent from now on (the answer is about to go out); a call already under
        way lands first (it takes CALL_TIMEOUT at most), so it cannot follow the answer."""
        with self._lock:
            self._stopped = True
        with self._sending:
            pass

    def clear(self) -> None:
        """Clear the status: for answers that are not a reply in the thread, which Slack would take as the end."""
        self.stop()
        self._send("", force=True)

    def _tick(self) -> bool:
        with self._lock:
            if self._stopped:
                return False
            status = self._wanted
            if status is None and self._shown and self.clock() - self._shown_at >= STATUS_REFRESH:
                status = self._shown
            self._wanted = None
        if status is not None:
            self._send(status)
        return True

    def _send(self, status: str, *, force: bool = False) -> None:
        with self._sending:
            with self._lock:
                if self._stopped and not force:
                    return
                self._shown, self._shown_at = status, self.clock()
            _call("setStatus", lambda: self.client.assistant_threads_setStatus(
                channel_id=self.thread.channel, thread_ts=self.thread.ts, status=status))  # fmt: skip
