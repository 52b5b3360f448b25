"""`/whose-key`: parse, validate, enqueue, ack. Never calls AWS, never waits for a job."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import messages
from bot.intake import Asker, lookup_request, submit_lookup
from bot.parse import Action, parse_command
from bot.queueing import JobQueue, new_request_id
from bot.settings import Settings

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
    asker = Asker(command.get("user_id"), command.get("channel_id"), command.get("team_id"), "command")
    destination = {
        "response_url": command.get("response_url"),
        "channel": command.get("channel_id"),
        "user": command.get("user_id"),
        "ephemeral": True,
    }
    if not submit_lookup(jobs, lookup_request(parsed, asker, destination, request_id), asker):
        return messages.unavailable()
    return messages.looking_up(parsed)
