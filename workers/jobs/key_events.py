"""Jobs for AWS key events: act on one event; confirm an SNS subscription."""

from __future__ import annotations

import logging
from typing import Any

from core.contract import SnsConfirmation, from_json
from core.key_events import KeyEvent
from core.sns_urls import confirm_subscription
from workers.notifier import Notifier
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def handle_key_event(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: act on one key event from AWS (deactivated, deleted, user deleted, exposed)."""
    return Notifier(runtime).handle(from_json(KeyEvent, args))


def confirm_sns_subscription(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: confirm an SNS subscription whose signed confirmation message the web verified.

    The URL and topic are checked again here (job arguments are data, not trust) by the same
    function the tests cover; a failure to reach SNS raises, so RQ retries the job.
    """
    confirmation = from_json(SnsConfirmation, args)
    confirm_subscription(confirmation.subscribe_url, confirmation.topic_arn, runtime.settings.sns_topics)
    log.info("SNS subscription confirmed", extra={"topic": confirmation.topic_arn})
    return {"confirmed": True}
