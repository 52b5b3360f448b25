"""The Bolt app factory: verification, listeners and the error handler, nothing at import."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from bot.access import AccessPolicy
from bot.agent_view import AgentView
from bot.listeners import register_listeners
from bot.listeners.services import Services
from core.queue import JobQueue
from core.settings import Settings
from core.slack_client import make_web_client

log = logging.getLogger(__name__)


def create_app(settings: Settings, jobs: JobQueue, client: WebClient | None = None) -> App:
    """A Bolt app that verifies every request and answers within Slack's 3 seconds.

    process_before_response: listeners enqueue and then ack, so an enqueue failure still gets a
    clear reply in the ack itself; enqueueing is a single Redis call, well within the limit.
    """
    app = App(
        client=client or make_web_client(settings),
        signing_secret=settings.slack_signing_secret,
        # Socket Mode requests arrive over Slack's authenticated WebSocket and carry no signature.
        request_verification_enabled=settings.slack_signing_secret is not None,
        process_before_response=True,
        # Checked lazily on the first request instead, so the web starts even if Slack is down.
        token_verification_enabled=False,
        logger=logging.getLogger("whose-key.bolt"),
    )
    policy = AccessPolicy(settings, jobs.redis, app.client)
    register_listeners(app, Services(settings, jobs, policy, AgentView.of_app(app.client)))

    @app.error
    def on_error(error: Exception, body: dict[str, Any], response: BoltResponse | None) -> BoltResponse:
        # Never a stack trace or a 500 in Slack: a short apology and a log line to find it by.
        log.error("listener failed", exc_info=error, extra={"type": body.get("type") or body.get("command")})
        return BoltResponse(
            status=200,
            body={"response_type": "ephemeral", "text": ":warning: Something went wrong on my side; please try again."},
        )

    return app
