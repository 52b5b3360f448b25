"""The key-hygiene digest in the audit channel: the report, then its chart uploaded through
Slack's external upload flow (files.getUploadURLExternal, the upload, files.completeUploadExternal).
Each part is marked delivered once Slack took it, so a retried job repeats nothing."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from core.contract import Destination
from core.redis_keys import DELIVERED, redis_key
from workers.hygiene.chart import render_chart
from workers.hygiene.summary import HygieneSummary
from workers.hygiene.summary_message import render_report
from workers.runtime import Runtime
from workers.slack.delivery import already_delivered, deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)

CHART_FILENAME = "key-hygiene.png"


def post_digest(runtime: Runtime, report: HygieneSummary, delivery_id: str) -> bool:
    """Post the digest and its chart to the audit channel; False when no audit channel is set."""
    channel = runtime.settings.audit_channel
    if not channel:
        log.info("no WHOSE_KEY_AUDIT_CHANNEL: the key-hygiene digest has nowhere to go")
        return False
    message = render_report(report, title="Key hygiene digest")
    deliver_once(runtime.poster, delivery_id, Destination(channel=channel, ephemeral=False), message)
    upload_chart(runtime, channel, render_chart(report), f"{delivery_id}-chart")
    return True


def upload_chart(runtime: Runtime, channel: str, png: bytes, delivery_id: str) -> None:
    if already_delivered(runtime.redis, delivery_id):
        return
    try:
        runtime.slack.files_upload_v2(
            channel=channel,
            content=png,
            filename=CHART_FILENAME,
            title="Access keys by age and status",
            alt_txt="Bar chart of access keys by age bucket, active and inactive",
        )
    except SlackApiError as exc:
        raise DeliveryError(f"Slack refused the chart ({exc.response.get('error')})") from exc
    except OSError as exc:
        raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from exc
    runtime.redis.set(redis_key(DELIVERED, delivery_id), "1", ex=DELIVERED.seconds)
