"""What every listener needs, built once per app."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import AccessPolicy
from core.queue import JobQueue
from core.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    jobs: JobQueue
    policy: AccessPolicy
