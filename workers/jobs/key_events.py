"""Jobs for AWS key events: notify the owner; confirm an SNS subscription."""

from __future__ import annotations

import logging
import urllib.request
from typing import Any

from bot.aws_events.events import KeyEvent
from bot.aws_events.sns import is_sns_subscribe_url
from workers.notices import Notifier
from workers.runtime import get_runtime

log = logging.getLogger(__name__)


def handle_key_event(event: dict[str, Any]) -> dict[str, Any]:
    """RQ job: act on one key event from AWS (deactivated, deleted, user deleted, exposed)."""
    return Notifier(get_runtime()).handle(KeyEvent.from_dict(event))


def confirm_sns_subscription(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: confirm an SNS subscription whose confirmation message the web verified."""
    url = str(request.get("subscribe_url", ""))
    if not is_sns_subscribe_url(url):  # checked again: job arguments are data, not trust
        return {"confirmed": False, "reason": "not an SNS subscribe URL"}
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https SNS URL checked above
        response.read(64 * 1024)
    log.info("SNS subscription confirmed", extra={"topic": request.get("topic_arn")})
    return {"confirmed": True}
