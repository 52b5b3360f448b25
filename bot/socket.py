"""The Procfile's `socket`: the same listeners over Socket Mode, for workspaces where Slack
cannot reach a public HTTPS endpoint. Needs SLACK_APP_TOKEN (xapp-…) with connections:write."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from core.logs import configure_logging
from core.settings import Settings

if TYPE_CHECKING:
    from core.data_loss import DataMarker

log = logging.getLogger(__name__)

# How long a SIGTERMed socket process (a rolling restart) lets the envelopes it holds finish and
# be acked before it closes its connection anyway. Each only verifies and enqueues, and Slack
# waits 3 s for an ack: 5 s covers every envelope Slack still waits for (the web's graceful
# timeout, for the same reason).
GRACEFUL_TIMEOUT = 5.0
# How soon the main thread notices a SIGTERM or SIGINT (see main).
STOP_POLL = 0.5


def main() -> None:
    configure_logging()
    settings = Settings.for_process("socket")
    if not settings.slack_app_token:
        # Not an error: HTTP mode is in use. Idle rather than exit, because Procfile runners
        # (honcho, foreman) stop every process when one exits.
        log.info("Socket Mode is off (SLACK_APP_TOKEN unset); the web process serves Slack")
        signal.pause()
        return

    from bot.app import create_app
    from bot.socket_drain import DrainingSocketModeHandler
    from core.data_loss import CHECK_EVERY, DataMarker
    from core.queue import JobQueue
    from core.redis_keys import connect

    redis = connect(settings.redis_url)
    app = create_app(settings, JobQueue(redis))
    marker = DataMarker(redis, "socket", settings.audit_channel)
    look_at_data_marker(marker)  # remembered before the first envelope
    handler = DrainingSocketModeHandler(app, settings.slack_app_token)
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("socket mode stopping", extra={"signal": signum})
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("socket mode starting", extra={"settings": repr(settings)})
    handler.connect()  # type: ignore[no-untyped-call]
    # A timed wait, not an endless one: Python runs a signal's handler in the main thread only, and
    # a SIGTERM the kernel hands to another thread (Socket Mode's own) does not wake a main thread
    # blocked for good; this way the handler runs within STOP_POLL.
    while not stopping.wait(STOP_POLL):
        look_at_data_marker(marker, CHECK_EVERY)
    # Events that come from now on are left unacked, so Slack sends them again to another
    # connection; the envelopes in hand are finished and acked on this one before it closes.
    unfinished = handler.drain(GRACEFUL_TIMEOUT)
    if unfinished:
        log.warning("socket mode stopped with envelopes unfinished", extra={"unfinished": unfinished})
    handler.close()  # type: ignore[no-untyped-call]


def look_at_data_marker(marker: DataMarker, unless_within: float = 0.0) -> None:
    """Notice a Redis that lost its data (core/data_loss.py), also in a quiet workspace, unless this
    process looked less than `unless_within` seconds ago; a Redis that is away is each envelope's
    own to answer."""
    with contextlib.suppress(RedisError):
        marker.check_every(unless_within)


if __name__ == "__main__":
    main()
