"""The Procfile's `socket`: the same listeners over Socket Mode, for workspaces where Slack
cannot reach a public HTTPS endpoint. Needs SLACK_APP_TOKEN (xapp-…) with connections:write."""

from __future__ import annotations

import logging
import signal

from core.logs import configure_logging
from core.settings import Settings

log = logging.getLogger(__name__)


def main() -> None:
    configure_logging()
    settings = Settings.for_process("socket")
    if not settings.slack_app_token:
        # Not an error: HTTP mode is in use. Idle rather than exit, because Procfile runners
        # (honcho, foreman) stop every process when one exits.
        log.info("Socket Mode is off (SLACK_APP_TOKEN unset); the web process serves Slack")
        signal.pause()
        return

    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app
    from core.queue import JobQueue
    from core.redis_keys import connect

    app = create_app(settings, JobQueue(connect(settings.redis_url)))
    log.info("socket mode starting", extra={"settings": repr(settings)})
    SocketModeHandler(app, settings.slack_app_token).start()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
