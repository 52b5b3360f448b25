"""Hand work to the workers: one place that knows queue names, job paths and retry policy."""

from __future__ import annotations

import re
import uuid
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.serializers import JSONSerializer

from workers.constants import (
    BACKGROUND_QUEUE,
    FAILURE_TTL,
    LOOKUP_JOB_TIMEOUT,
    LOOKUP_QUEUE,
    LOOKUP_RETRIES,
    LOOKUP_RETRY_INTERVALS,
    RESULT_TTL,
    SWEEP_JOB_TIMEOUT,
)

LOOKUP_JOB = "workers.jobs.lookup.lookup_keys"
LOOKUP_FAILED_CALLBACK = "workers.jobs.lookup.report_failure"
ACTION_JOBS = {
    "share": "workers.jobs.actions.share_answer",
    "faq": "workers.jobs.actions.show_faq",
    "notify": "workers.jobs.actions.notify_owner",
}
REPLY_JOB = "workers.jobs.actions.post_reply"
KEY_EVENT_JOB = "workers.jobs.notices.handle_key_event"
SNS_CONFIRM_JOB = "workers.jobs.notices.confirm_sns_subscription"
SWEEP_JOB = "workers.jobs.sweep.run_sweep"


def new_request_id() -> str:
    return uuid.uuid4().hex


# Posting a prepared message takes seconds even with Slack's retries.
QUICK_JOB_TIMEOUT = 60


def _safe_id(text: str) -> str:
    """RQ job IDs allow letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


class JobQueue:
    """Enqueues jobs with JSON-safe arguments only (the JSON serializer enforces it)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.lookups = Queue(LOOKUP_QUEUE, connection=redis, serializer=JSONSerializer)
        self.background = Queue(BACKGROUND_QUEUE, connection=redis, serializer=JSONSerializer)

    def enqueue_lookup(self, request: dict[str, Any]) -> str:
        job = self.lookups.enqueue(
            LOOKUP_JOB,
            request,
            job_id=f"lookup-{request['request_id']}",
            retry=Retry(max=LOOKUP_RETRIES, interval=LOOKUP_RETRY_INTERVALS),
            job_timeout=LOOKUP_JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            on_failure=Callback(LOOKUP_FAILED_CALLBACK),
            description=f"lookup {len(request['keys'])} key(s) for {request.get('asked_by')}",
        )
        return str(job.id)

    def enqueue_action(self, kind: str, request: dict[str, Any]) -> str:
        """A button's work; on the lookup queue, since someone is waiting for it."""
        return self._enqueue_quick(ACTION_JOBS[kind], request, "action-")

    def enqueue_reply(self, request: dict[str, Any]) -> str:
        """A ready-made message (help, input errors) for a surface that cannot answer in its ack."""
        return self._enqueue_quick(REPLY_JOB, request, "reply-")

    def _enqueue_quick(self, func: str, request: dict[str, Any], id_prefix: str) -> str:
        # One job per delivery: a redelivered request reuses the ID instead of adding a job.
        job = self.lookups.enqueue(
            func,
            request,
            job_id=id_prefix + _safe_id(request["delivery_id"]),
            retry=Retry(max=LOOKUP_RETRIES, interval=LOOKUP_RETRY_INTERVALS),
            job_timeout=QUICK_JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
        return str(job.id)

    def enqueue_key_event(self, event: dict[str, Any]) -> str:
        """A key event from AWS: notify the owner (background queue: nobody waits on it)."""
        job = self.background.enqueue(
            KEY_EVENT_JOB,
            event,
            job_id="event-" + _safe_id(str(event["event_id"])),
            retry=Retry(max=3, interval=[5, 30, 120]),
            job_timeout=120,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
        return str(job.id)

    def enqueue_sns_confirmation(self, request: dict[str, Any]) -> str:
        job = self.background.enqueue(
            SNS_CONFIRM_JOB, request, retry=Retry(max=3, interval=[5, 30, 120]), job_timeout=30
        )
        return str(job.id)

    def enqueue_sweep(self) -> str:
        job = self.background.enqueue(SWEEP_JOB, job_timeout=SWEEP_JOB_TIMEOUT, result_ttl=RESULT_TTL)
        return str(job.id)

    def healthy(self) -> bool:
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False
