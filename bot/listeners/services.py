"""What every listener needs, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import AccessPolicy
from bot.agent_view import AgentView
from core.queue import JobQueue
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    jobs: JobQueue
    policy: AccessPolicy
    agent_view: AgentView  # whether DMs are Slack's agent view (the token's scopes)
