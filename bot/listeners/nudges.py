"""The rotation nudge's buttons: Snooze 30 days and I rotated it.

A press is vetted like every button (workspace, guests, channels and groups, the per-person
budget), then checked against its source of truth: the offer the worker kept when it sent the
nudge (core.nudges.NudgeOffer) must exist for that key and name the presser as the owner it was
sent to. Anyone else, or a key never offered, is refused and audited. The web only writes the
snooze or the claim (one Redis step) and audits it; the answer goes through a job, so the ack
never waits on Slack. Whether a key was really rotated is the next sweep's to say, from IAM.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from slack_bolt import Ack, App, BoltContext, Respond

from bot import messages
from bot.access import Refusal
from bot.intake import Asker, admit, submit_reply
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_action
from core.audit import audit
from core.contract import Destination
from core.nudges import (
    ROTATED_ACTION,
    SNOOZE_ACTION,
    SNOOZE_DAYS,
    NudgeOffer,
    RotationClaim,
    claim_rotation,
    nudge_offered,
    snooze,
)
from core.slack_text import code

log = logging.getLogger(__name__)

UNKNOWN_NUDGE = Refusal(
    "unknown_nudge_offer",
    ":hourglass: whose-key has no record of that reminder (they are kept 30 days). The key is on your *Home* "
    "tab if it is yours; the next reminder about it will carry fresh buttons.",
)
NOT_YOUR_KEY = Refusal(
    "not_key_owner",
    ":lock: Only the key's owner, whom the reminder was sent to, can snooze it or say it was rotated. "
    "Nothing was changed.",
)


def register(app: App, services: Services) -> None:
    @app.action(re.compile(f"^{SNOOZE_ACTION}(-[0-9]+)?$"))
    def snooze_pressed(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        ack()
        take_press(services, "snooze", body, action, respond, installing_team(context))

    @app.action(re.compile(f"^{ROTATED_ACTION}(-[0-9]+)?$"))
    def rotated_pressed(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        ack()
        take_press(services, "rotated", body, action, respond, installing_team(context))


def take_press(
    services: Services,
    kind: str,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: Respond,
    home_team: str | None,
) -> None:
    """Vet the presser, confirm the offer names them as the key's owner, record the press, and
    answer through a job."""
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    ref = str(action.get("value") or "")
    asker = Asker(user, channel, (body.get("team") or {}).get("id"), "button", teams_of_action(body), home_team)
    reply_to = Destination(response_url=body.get("response_url"), channel=channel or user, user=user)
    delivery_id = f"nudge-{kind}-{action.get('action_ts') or body.get('trigger_id')}"
    redis = services.jobs.redis
    try:
        refusal = admit(services.policy, asker)  # audited there when it refuses
        offer = nudge_offered(redis, ref) if refusal is None else None
        if refusal is None:
            refusal = UNKNOWN_NUDGE if offer is None else NOT_YOUR_KEY if offer.owner != user else None
            if refusal is not None:
                audit(redis, "refused", **asker.audited(), reason=refusal.reason, button=f"nudge_{kind}", ref=ref)
        text = None
        if refusal is None and offer is not None:
            text = _snooze(services, asker, offer) if kind == "snooze" else _rotated(services, asker, offer)
    except RedisError:
        respond(**messages.unavailable())
        return
    message = messages.refused(refusal) if refusal is not None else {"text": text or ""}
    if not submit_reply(services.jobs, delivery_id, reply_to, message):
        respond(**messages.unavailable())


def _snooze(services: Services, asker: Asker, offer: NudgeOffer) -> str:
    held, new = snooze(services.jobs.redis, offer, str(asker.user))
    until = datetime.fromtimestamp(held.until, UTC).strftime("%Y-%m-%d")
    if new:
        audit(services.jobs.redis, "nudge_snoozed", **asker.audited(), key=offer.key_id, account=offer.account_id,
              until=until)  # fmt: skip
        return (
            f":zzz: Snoozed: no rotation reminder about {code(offer.key_id)} for {SNOOZE_DAYS} days, until {until}. "
            "It still shows on your *Home* tab."
        )
    return f":zzz: {code(offer.key_id)} is snoozed already, until {until}."


def _rotated(services: Services, asker: Asker, offer: NudgeOffer) -> str:
    claim = RotationClaim(
        offer.key_id, offer.account_id, str(asker.user), datetime.now(UTC).timestamp(), offer.user_name,
        offer.account_name,
    )  # fmt: skip
    if not claim_rotation(services.jobs.redis, claim):
        return f":white_check_mark: You told me already: the next sweep checks {code(offer.key_id)} in IAM."
    audit(services.jobs.redis, "rotation_claimed", **asker.audited(), key=offer.key_id, account=offer.account_id)
    return (
        f":white_check_mark: Thanks. At the next sweep whose-key checks {code(offer.key_id)} in IAM: if the old key "
        "is still active, I will tell you; if it is inactive or deleted, nothing more to do."
    )
