"""The Home tab: `app_home_opened` is vetted like a lookup, then a worker publishes the view.

Who may not ask gets a tab that says so and nothing more; who may ask sees their own keys; the
organization's counts are for admins (WHOSE_KEY_ADMIN_USERGROUPS).
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import App, BoltContext

from bot.intake import Asker, vet
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_event
from core.contract import HomeRequest

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        # The same event fires for the Messages tab; only the Home tab has a view to publish.
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            return
        try:
            services.jobs.enqueue(home_request(services, body, event, installing_team(context)))
        except RedisError:
            # Nothing to answer in: the tab keeps its last view until the next open or sweep.
            log.error("could not enqueue a Home tab", extra={"user": user})


def home_request(services: Services, body: dict[str, Any], event: dict[str, Any], home_team: str | None) -> HomeRequest:
    """The view to publish for this viewer, after the same checks as a lookup. Raises RedisError."""
    user = str(event.get("user"))
    asker = Asker(
        user,
        # The Home tab is no channel: with WHOSE_KEY_ALLOWED_CHANNELS set it is refused like a DM.
        None,
        body.get("team_id"),
        "home",
        teams=teams_of_event(body, event),
        home_team=home_team,
    )
    event_id = body.get("event_id")
    refusal = vet(services.policy, asker)
    if refusal is not None:
        return HomeRequest(user=user, event_id=event_id, refusal=refusal.message)
    admin = services.policy.check_admin(user) is None
    return HomeRequest(user=user, event_id=event_id, admin=admin)
