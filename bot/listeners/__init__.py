"""One module per Slack surface, each with a register(); register_listeners wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import actions, agent_dm, command, conversation, home, nudges, respond, workflow_step
from bot.listeners.services import Services


def register_listeners(app: App, services: Services) -> None:
    command.register(app, services)
    actions.register(app, services)
    conversation.register(app, services)
    agent_dm.register(app, services)  # before home: both take app_home_opened
    home.register(app, services)
    respond.register(app, services)
    nudges.register(app, services)
    workflow_step.register(app, services)
