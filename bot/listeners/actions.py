"""The answer's buttons: ack at once, then hand the work to a job. Share in channel is refused
where people of another workspace or organization would read it."""

from __future__ import annotations

import logging
import re
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, App, BoltContext, Respond

from bot import messages
from bot.access import Refusal
from bot.intake import Asker, admit, submit_reply
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_action
from core.audit import audit
from core.blockkit import FAQ_ACTION, NOTIFY_ACTION, SHARE_ACTION
from core.contract import BUTTON_PRESSES, Destination

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.action(SHARE_ACTION)
    def share(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        ack()
        enqueue_action(services, "share", body, action, respond, installing_team(context))

    @app.action(re.compile(f"^{NOTIFY_ACTION}(-[0-9]+)?$"))
    def notify(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        ack()
        enqueue_action(services, "notify", body, action, respond, installing_team(context))

    @app.action(FAQ_ACTION)
    def faq(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        ack()
        enqueue_action(services, "faq", body, action, respond, installing_team(context))


def enqueue_action(
    services: Services,
    kind: str,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    home_team: str | None = None,
) -> None:
    """Vet the presser and charge the press (each press counts against their limit), then queue it."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    jobs = services.jobs
    try:
        team = (body.get("team") or {}).get("id")
        asker = Asker(user, channel, team, "button", teams=teams_of_action(body), home_team=home_team)
        refusal = admit(services.policy, asker)
        if refusal is None and kind == "share" and services.policy.shared_outside(channel):
            refusal = Refusal("shared_conversation", messages.NOT_SHARED_HERE)
            audit(jobs.redis, "refused", **asker.audited(), reason=refusal.reason, request_id=action.get("value"))
    except RedisError:
        respond(**messages.unavailable())
        return
    if refusal is not None:
        # The refusal goes through a job too, so the ack never waits on Slack.
        destination = Destination(response_url=body.get("response_url"), channel=channel, user=user)
        delivery_id = f"refused-{action.get('action_ts') or body.get('trigger_id')}"
        if not submit_reply(jobs, delivery_id, destination, messages.refused(refusal)):
            respond(**messages.unavailable())
        return
    press = BUTTON_PRESSES[kind](
        # One delivery per button press, however often the job runs.
        delivery_id=f"{kind}-{action.get('action_ts') or body.get('trigger_id')}",
        request_id=str(action.get("value") or ""),
        user=user,
        channel=channel,
        response_url=body.get("response_url"),
    )
    try:
        jobs.enqueue(press)
    except RedisError:
        log.error("could not enqueue a button action", extra={"action": kind, "user": user})
        respond(**messages.unavailable())
        return
    audit(jobs.redis, "button", button=kind, user=user, channel=channel, request_id=action.get("value"))
