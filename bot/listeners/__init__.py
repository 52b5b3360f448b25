"""One module per Slack surface, each with a register(); register_listeners wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, command, conversation
from bot.queueing import JobQueue
from bot.settings import Settings


def register_listeners(app: App, jobs: JobQueue, settings: Settings) -> None:
    command.register(app, jobs, settings)
    actions.register(app, jobs, settings)
    conversation.register(app, jobs, settings)
