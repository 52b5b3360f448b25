"""Jobs for AWS key events: act on one event; confirm an SNS subscription."""

from __future__ import annotations

import logging
from typing import Any

from core.audit import audit
from core.contract import SnsConfirmation
from core.key_events import KeyEvent
from core.sns_urls import confirm_subscription
from workers.notices.confirm import ConfirmationUnavailable
from workers.notices.notifier import Notifier
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def handle_key_event(runtime: Runtime, event: KeyEvent) -> dict[str, Any]:
    """RQ job: act on one key event from AWS (deactivated, deleted, user deleted, exposed).

    When IAM cannot confirm or deny the event right now, the job fails and RQ runs it again
    later; nothing was recorded, and the sweep backs it if every attempt fails.
    """
    try:
        return Notifier(runtime).handle(event)
    except ConfirmationUnavailable as exc:
        audit(
            runtime.redis,
            "aws_event_unverified",
            detail=str(exc),
            kind=event.kind,
            key=event.key_id,
            account=event.account_id,
            event_id=event.event_id,
        )
        raise


def confirm_sns_subscription(runtime: Runtime, confirmation: SnsConfirmation) -> dict[str, Any]:
    """RQ job: confirm an SNS subscription whose signed confirmation message the web verified.

    The URL and topic are checked again here (job arguments are data, not trust) by the same
    function the tests cover; a failure to reach SNS raises, so RQ retries the job.
    """
    confirm_subscription(confirmation.subscribe_url, confirmation.topic_arn, runtime.settings.sns_topics)
    log.info("SNS subscription confirmed", extra={"topic": confirmation.topic_arn})
    return {"confirmed": True}
