"""`POST /aws/events`: key events from AWS. Authenticate, validate, enqueue, answer in well under
EventBridge's 5 seconds. Never calls AWS (an SNS signing certificate is fetched once and cached).

- EventBridge API destinations send `Authorization: Bearer $WHOSE_KEY_EVENTS_TOKEN` (or, while
  the token is being rotated, the previous one, WHOSE_KEY_EVENTS_TOKEN_PREVIOUS).
- SNS HTTPS subscriptions are recognised by `x-amz-sns-message-type` and verified by signature
  (topics allow-listed in WHOSE_KEY_SNS_TOPICS); a subscription confirmation is confirmed by a job.

Only `aws.iam` and `aws.health` events are taken; anything else is refused with 400 and audited.
Copies of one event (redelivered, or sent again from the backup region with a new `id`) are
taken once, by the event's dedupe ID. Whatever is taken is still only a claim: the worker has
IAM confirm it before recording or sending anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from bot.aws_events.sns import SnsRetryLater, SnsVerificationError, SnsVerifier
from bot.body_guard import AWS_MAX_BODY, bearer_token_valid
from bot.dedupe import claim_event, release_event
from core.audit import audit
from core.contract import SnsConfirmation
from core.key_events import EventError, Ignored, SourceRefused, parse_event_body
from core.queue import JobQueue
from core.settings import Settings

log = logging.getLogger(__name__)

Reply = tuple[dict[str, Any], int]


class AwsEventReceiver:
    def __init__(self, settings: Settings, jobs: JobQueue, sns: SnsVerifier | None = None) -> None:
        self.settings = settings
        self.jobs = jobs
        self.sns = sns or SnsVerifier(settings.sns_topics)

    def handle(self, headers: Mapping[str, str], body: bytes) -> Reply:
        # The web's body guard has checked all this before parsing; checked again here so the
        # receiver is safe on its own too.
        if len(body) > AWS_MAX_BODY:
            return {"error": "body too large"}, 413
        sns_type = headers.get("x-amz-sns-message-type")
        if sns_type:
            return self._sns(body)
        if not self.settings.events_token:
            return {"error": "this endpoint is not configured: WHOSE_KEY_EVENTS_TOKEN is unset"}, 401
        if not self._token_matches(headers.get("authorization", "")):
            log.warning("aws event refused: wrong or missing bearer token")
            return {"error": "missing or wrong bearer token"}, 401
        return self._accept(body, source="eventbridge")

    def _token_matches(self, offered: str) -> bool:
        """The current or the previous token (WHOSE_KEY_EVENTS_TOKEN_PREVIOUS), in constant time."""
        tokens = [t for t in (self.settings.events_token, self.settings.events_token_previous) if t]
        return bearer_token_valid(offered, tokens)

    def _sns(self, body: bytes) -> Reply:
        try:
            message = self.sns.verify(body)
        except SnsRetryLater as exc:
            # Not a verdict on the message: the certificate could not be had now. A 5xx makes SNS
            # deliver again later, by when the fetch may work (or the fetch budget has refilled).
            log.warning("SNS message not verified now", extra={"reason": str(exc)})
            return {"error": f"{exc}; deliver again later"}, 503
        except SnsVerificationError as exc:
            log.warning("SNS message refused", extra={"reason": str(exc)})
            return {"error": str(exc)}, 401
        if message.type == "SubscriptionConfirmation":
            return self._enqueue_confirmation(message.subscribe_url or "", message.topic_arn)
        if message.type != "Notification":
            return {"status": "ignored", "reason": f"SNS {message.type}"}, 200
        return self._accept(message.message.encode(), source="sns")

    def _accept(self, body: bytes, *, source: str) -> Reply:
        try:
            parsed = parse_event_body(body)
        except EventError as exc:
            reason = "other_source" if isinstance(exc, SourceRefused) else "malformed"
            audit(self.jobs.redis, "aws_event_dropped", reason=reason, detail=str(exc), via=source)
            return {"error": f"not a usable event: {exc}"}, 400
        if isinstance(parsed, Ignored):
            return {"status": "ignored", "reason": parsed.reason}, 200
        event = parsed if parsed.source == "health" else dataclasses.replace(parsed, source=source)
        claim = f"aws-{event.dedupe_id or event.event_id}"
        try:
            if not claim_event(self.jobs.redis, claim):
                audit(
                    self.jobs.redis,
                    "aws_event_dropped",
                    reason="duplicate",
                    kind=event.kind,
                    key=event.key_id,
                    event_id=event.event_id,
                    via=source,
                )
                return {"status": "duplicate"}, 200
            self.jobs.enqueue(event)
        except RedisError:
            with contextlib.suppress(RedisError):
                release_event(self.jobs.redis, claim)
            # A 5xx makes EventBridge and SNS deliver again later: the event is not lost.
            log.error("aws event not queued: Redis unreachable", extra={"event_id": event.event_id})
            return {"error": "cannot take events right now; deliver again later"}, 503
        log.info(
            "aws event accepted",
            extra={"event_id": event.event_id, "kind": event.kind, "account": event.account_id, "key": event.key_id},
        )
        return {"status": "accepted", "kind": event.kind}, 202

    def _enqueue_confirmation(self, subscribe_url: str, topic_arn: str) -> Reply:
        try:
            self.jobs.enqueue(SnsConfirmation(subscribe_url, topic_arn))
        except RedisError:
            return {"error": "cannot take events right now; deliver again later"}, 503
        return {"status": "confirming subscription"}, 200
