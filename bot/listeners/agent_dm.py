"""Opening the DM, in Slack's agent view: whose-key offers its suggested prompts.

The agent view announces an opened DM with `app_home_opened` on the `messages` tab (it replaced
`assistant_thread_started`, which an app still on the older assistant view gets per thread).
The opener is vetted as for any DM (other workspaces, guests, channels, groups); whoever may not
ask gets no prompts, and their questions get the refusal. A worker sets the prompts; admins
(WHOSE_KEY_ADMIN_USERGROUPS) get the key-hygiene one as well. Questions in the DM are answered
by bot/listeners/conversation.py.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import App, BoltContext

from bot.intake import Asker, vet
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_event
from core.contract import AgentPrompts

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    """Registered before the Home tab's listener: Bolt runs the first listener that matches, and
    that one takes every app_home_opened."""

    @app.event("app_home_opened", matchers=[opened_the_dm])
    def on_dm_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        offer_prompts(services, body, str(event.get("user")), str(event.get("channel")), None, installing_team(context))

    @app.event("assistant_thread_started")
    def on_thread_started(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        thread = event.get("assistant_thread") or {}
        user, channel, ts = thread.get("user_id"), thread.get("channel_id"), thread.get("thread_ts")
        if user and channel and ts:
            offer_prompts(services, body, str(user), str(channel), str(ts), installing_team(context))


def opened_the_dm(event: dict[str, Any]) -> bool:
    """app_home_opened on the Messages tab (the DM, where the agent view lives), by a person."""
    return event.get("tab") == "messages" and bool(event.get("user")) and bool(event.get("channel"))


def offer_prompts(
    services: Services,
    body: dict[str, Any],
    user: str,
    channel: str,
    thread_ts: str | None,
    home_team: str | None,
) -> None:
    """Enqueue the prompts for `user` if they may ask in the DM `channel`; nothing otherwise, and
    nothing at all for an app without the agent view (its DM has no prompts to set)."""
    if not services.agent_view.on():
        return
    event = body.get("event") or {}
    asker = Asker(user, channel, body.get("team_id"), "dm", teams=teams_of_event(body, event), home_team=home_team)
    try:
        if vet(services.policy, asker) is not None:
            return  # refused and audited; asking anyway gets the refusal in words
        admin = services.policy.check_admin(user) is None
        services.jobs.enqueue(
            AgentPrompts(user, channel, admin=admin, thread_ts=thread_ts, event_id=body.get("event_id"))
        )
    except RedisError:
        # Nothing to answer in: the DM works without prompts, and the next open tries again.
        log.error("could not offer the agent view's prompts", extra={"user": user})
