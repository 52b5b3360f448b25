"""`/whose-key`: parse, validate, enqueue, ack. Never calls AWS, never waits for a job."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, App

from bot import messages
from bot.parse import Action, parse_command
from bot.queueing import JobQueue, new_request_id
from bot.settings import Settings

log = logging.getLogger(__name__)

COMMAND = "/whose-key"


def register(app: App, jobs: JobQueue, settings: Settings) -> None:
    @app.command(COMMAND)
    def handle_command(ack: Ack, command: dict[str, Any]) -> None:
        ack(**answer_command(command, jobs))


def answer_command(command: dict[str, Any], jobs: JobQueue) -> dict[str, Any]:
    """The immediate reply to a slash command; enqueues a lookup when there is one to do."""
    parsed = parse_command(command.get("text"))
    if parsed.action is Action.HELP:
        return messages.usage()
    if parsed.action is Action.FAQ:
        return messages.faq()
    if not parsed.has_work:
        return messages.input_problems(parsed)

    request_id = new_request_id()
    request = {
        "request_id": request_id,
        "keys": list(parsed.keys),
        "deep": parsed.deep,
        "secret_pasted": parsed.secret_pasted,
        "problems": [p.reason for p in parsed.problems],
        "asked_by": command.get("user_id"),
        "surface": "command",
        "destination": {
            "response_url": command.get("response_url"),
            "channel": command.get("channel_id"),
            "user": command.get("user_id"),
            "ephemeral": True,
        },
    }
    try:
        jobs.enqueue_lookup(request)
    except RedisError as exc:
        log.error("could not enqueue a lookup", extra={"request_id": request_id, "error": type(exc).__name__})
        return messages.unavailable()
    log.info(
        "lookup requested",
        extra={
            "request_id": request_id,
            "user": command.get("user_id"),
            "channel": command.get("channel_id"),
            "team": command.get("team_id"),
            "keys": list(parsed.keys),
            "surface": "command",
        },
    )
    return messages.looking_up(parsed)
