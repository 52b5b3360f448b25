"""The Home tab: `app_home_opened` hands the member's view to a worker, which publishes it."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import App

from bot.listeners.services import Services
from core.contract import HomeRequest

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        # The same event fires for the Messages tab; only the Home tab has a view to publish.
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            return
        try:
            services.jobs.enqueue(HomeRequest(user=str(user), event_id=body.get("event_id")))
        except RedisError:
            # Nothing to answer in: the tab keeps its last view until the next open or sweep.
            log.error("could not enqueue a Home tab", extra={"user": user})
