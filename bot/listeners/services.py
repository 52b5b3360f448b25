"""What every listener needs, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import AccessPolicy
from bot.queueing import JobQueue
from bot.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    jobs: JobQueue
    policy: AccessPolicy
