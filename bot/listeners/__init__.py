"""One module per Slack surface, each with a register(); register_listeners wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, command, conversation, home, respond
from bot.listeners.services import Services


def register_listeners(app: App, services: Services) -> None:
    command.register(app, services)
    actions.register(app, services)
    conversation.register(app, services)
    home.register(app, services)
    respond.register(app, services)
