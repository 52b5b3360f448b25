"""Hand work to the workers: the one place that knows queue names, job paths and retry policy.

Every enqueue takes a job-argument dataclass from `core.contract` and stores it as JSON (RQ's
JSON serializer refuses anything else). Job IDs are deterministic per request, press or event,
so a redelivered request reuses its job instead of adding one.
"""

from __future__ import annotations

import re
import time
import uuid

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core.contract import (
    AfterSweep,
    ButtonPress,
    HomeRequest,
    LookupRequest,
    NoticeRetry,
    Reply,
    ReportRequest,
    SnsConfirmation,
    SweepAccount,
    SweepFinish,
    SweepRequest,
    SweepUserBatch,
    to_json,
)
from core.key_events import KeyEvent

# Queue names. Lookups and buttons are interactive and never wait behind sweeps or notices.
LOOKUP_QUEUE = "whose-key-lookups"
BACKGROUND_QUEUE = "whose-key-background"
# In the order a worker serves them.
QUEUES = (LOOKUP_QUEUE, BACKGROUND_QUEUE)
# What the pool's interactive process serves: it never takes background work, so a lookup
# always finds a free process however long a sweep runs.
INTERACTIVE_QUEUES = (LOOKUP_QUEUE,)

# Job paths, resolved by the worker. Each job takes (runtime, arguments-as-JSON).
LOOKUP_JOB = "workers.jobs.lookup.lookup_keys"
LOOKUP_FAILED_CALLBACK = "workers.jobs.lookup.report_failure"
BUTTON_JOBS = {
    "share": "workers.jobs.buttons.share_answer",
    "faq": "workers.jobs.buttons.show_faq",
    "notify": "workers.jobs.buttons.notify_owner",
}
REPLY_JOB = "workers.jobs.buttons.post_reply"
KEY_EVENT_JOB = "workers.jobs.key_events.handle_key_event"
SNS_CONFIRM_JOB = "workers.jobs.key_events.confirm_sns_subscription"
SWEEP_JOB = "workers.jobs.sweep.run_sweep"
REPORT_JOB = "workers.jobs.hygiene.send_report"
HOME_JOB = "workers.jobs.hygiene.publish_home"
SWEEP_ACCOUNT_JOB = "workers.jobs.sweep.sweep_account"
SWEEP_ACCOUNT_FAILED_CALLBACK = "workers.jobs.sweep.account_job_failed"
SWEEP_FINISH_JOB = "workers.jobs.sweep.finish_sweep"
# A very large account's users are read in batches, one job each (workers/sweep_batches.py).
SWEEP_BATCH_JOB = "workers.jobs.sweep.sweep_user_batch"
SWEEP_BATCH_FAILED_CALLBACK = "workers.jobs.sweep.user_batch_failed"
# Run once after each finished sweep: departed owners, Home tabs to refresh.
AFTER_SWEEP_JOB = "workers.jobs.hygiene.after_sweep"
NOTICE_RETRY_JOB = "workers.jobs.notices.retry_pending_notices"

# A lookup: at most this long, retried this many times (e.g. when its worker dies); the first
# retry at once (a worker died or Slack hiccuped), the second after a pause.
LOOKUP_JOB_TIMEOUT = 300
LOOKUP_RETRIES = 2
LOOKUP_RETRY_INTERVALS = [0, 5]
# Posting a prepared message takes seconds even with Slack's retries.
QUICK_JOB_TIMEOUT = 60
# Key events and SNS confirmations: nobody waits, so retries back off further.
BACKGROUND_RETRY = (3, [5, 30, 120])
KEY_EVENT_JOB_TIMEOUT = 120
SNS_CONFIRM_JOB_TIMEOUT = 30
# Reports and after-sweep work stream every snapshot: minutes at most, even for huge organizations.
HYGIENE_JOB_TIMEOUT = 30 * 60
# The sweep's coordinator only lists the accounts and enqueues one job per account.
SWEEP_JOB_TIMEOUT = 600
# One account's job: minutes even for thousands of users; retried when its worker dies.
SWEEP_ACCOUNT_JOB_TIMEOUT = 1800
SWEEP_ACCOUNT_RETRY = (3, [0, 10, 60])
# Account jobs are enqueued this many per Redis round trip.
SWEEP_ENQUEUE_BATCH = 500
# Retrying pending notices: each waits at most a few Slack timeouts.
NOTICE_RETRY_JOB_TIMEOUT = 600
# Job results are kept for benchmarks and debugging, failures longer for operators.
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600


# A job in one of these states has not delivered yet: the same job ID is not enqueued again.
_UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED})


def new_request_id() -> str:
    return uuid.uuid4().hex


def new_sweep_id() -> str:
    """A sweep's ID: when it was asked for, readable, plus a little randomness."""
    return f"sweep-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def safe_job_id(text: str) -> str:
    """RQ job IDs allow letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


class JobQueue:
    """Enqueues typed job arguments on whose-key's queues."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.lookups = Queue(LOOKUP_QUEUE, connection=redis, serializer=JSONSerializer)
        self.background = Queue(BACKGROUND_QUEUE, connection=redis, serializer=JSONSerializer)

    def waiting_or_running(self, job_id: str) -> bool:
        """True while a job with this ID waits or runs. Enqueueing it again then would put its ID in
        the queue twice, and two workers could run the same delivery at once (a redelivered request
        that arrives while the first is still being answered)."""
        try:
            job = Job.fetch(job_id, connection=self.redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        return job.get_status(refresh=False) in _UNFINISHED

    def enqueue_lookup(self, request: LookupRequest) -> str:
        job_id = f"lookup-{safe_job_id(request.request_id)}"
        if self.waiting_or_running(job_id):
            return job_id
        job = self.lookups.enqueue(
            LOOKUP_JOB,
            to_json(request),
            job_id=job_id,
            retry=Retry(max=LOOKUP_RETRIES, interval=LOOKUP_RETRY_INTERVALS),
            job_timeout=LOOKUP_JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            on_failure=Callback(LOOKUP_FAILED_CALLBACK),
            description=f"lookup {len(request.keys)} key(s) for {request.asked_by}",
        )
        return str(job.id)

    def enqueue_button(self, kind: str, press: ButtonPress) -> str:
        """A button's work; on the lookup queue, since someone is waiting for it."""
        return self._enqueue_quick(BUTTON_JOBS[kind], to_json(press), "action-" + press.delivery_id)

    def enqueue_reply(self, reply: Reply) -> str:
        """A ready-made message (help, input errors) for a surface that cannot answer in its ack."""
        return self._enqueue_quick(REPLY_JOB, to_json(reply), "reply-" + reply.delivery_id)

    def _enqueue_quick(self, func: str, args: dict[str, object], job_id: str) -> str:
        job_id = safe_job_id(job_id)
        if self.waiting_or_running(job_id):
            return job_id
        retry = (LOOKUP_RETRIES, LOOKUP_RETRY_INTERVALS)
        return self._enqueue(self.lookups, func, args, job_id=job_id, retry=retry, timeout=QUICK_JOB_TIMEOUT)

    def _enqueue(
        self,
        queue: Queue,
        func: str,
        args: dict[str, object],
        *,
        timeout: int,
        job_id: str | None = None,
        retry: tuple[int, list[int]] | None = BACKGROUND_RETRY,
    ) -> str:
        """One job with whose-key's result and failure retention; no retry when `retry` is None."""
        job = queue.enqueue(
            func,
            args,
            job_id=safe_job_id(job_id) if job_id else None,
            retry=Retry(max=retry[0], interval=retry[1]) if retry else None,
            job_timeout=timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
        return str(job.id)

    def enqueue_key_event(self, event: KeyEvent) -> str:
        """A key event from AWS: notify the owner (background queue: nobody waits on it)."""
        job_id = "event-" + (event.dedupe_id or event.event_id)
        return self._enqueue(
            self.background, KEY_EVENT_JOB, to_json(event), job_id=job_id, timeout=KEY_EVENT_JOB_TIMEOUT
        )

    def enqueue_sns_confirmation(self, confirmation: SnsConfirmation) -> str:
        return self._enqueue(self.background, SNS_CONFIRM_JOB, to_json(confirmation), timeout=SNS_CONFIRM_JOB_TIMEOUT)

    def enqueue_sweep(self, request: SweepRequest | None = None, sweep_id: str | None = None) -> str:
        """The sweep's coordinator; its job ID is the sweep's ID."""
        return self._enqueue(
            self.background,
            SWEEP_JOB,
            to_json(request or SweepRequest()),
            job_id=sweep_id or new_sweep_id(),
            retry=(2, [5, 30]),
            timeout=SWEEP_JOB_TIMEOUT,
        )

    def enqueue_sweep_accounts(self, accounts: list[SweepAccount]) -> None:
        """One job per account, in batches of one round trip; job IDs are per sweep and account."""
        self._enqueue_fan_out(
            SWEEP_ACCOUNT_JOB,
            SWEEP_ACCOUNT_FAILED_CALLBACK,
            [(to_json(a), f"{a.sweep_id}-{a.account_id}", f"sweep {a.account_id}") for a in accounts],
        )

    def enqueue_sweep_batch(self, batch: SweepUserBatch) -> None:
        """One batch of a very large account's users, at the front of the queue: an account already
        started finishes before new ones start. Once per sweep: a retried account or batch job that
        asks again finds the job there (its ID is per sweep, account and batch) and starts no
        second chain of batches."""
        job_id = safe_job_id(f"{batch.sweep_id}-{batch.account_id}-users-{batch.batch}")
        if Job.exists(job_id, connection=self.redis):
            return
        self._enqueue_fan_out(
            SWEEP_BATCH_JOB,
            SWEEP_BATCH_FAILED_CALLBACK,
            [(to_json(batch), job_id, f"sweep {batch.account_id} users #{batch.batch}")],
            at_front=True,
        )

    def _enqueue_fan_out(
        self, func: str, on_failure: str, jobs: list[tuple[dict[str, object], str, str]], *, at_front: bool = False
    ) -> None:
        """A sweep's many small jobs (arguments, job ID, description), SWEEP_ENQUEUE_BATCH per round trip."""
        retries, intervals = SWEEP_ACCOUNT_RETRY
        for start in range(0, len(jobs), SWEEP_ENQUEUE_BATCH):
            batch = [
                Queue.prepare_data(
                    func,
                    [args],
                    job_id=safe_job_id(job_id),
                    retry=Retry(max=retries, interval=intervals),
                    timeout=SWEEP_ACCOUNT_JOB_TIMEOUT,
                    result_ttl=RESULT_TTL,
                    failure_ttl=FAILURE_TTL,
                    on_failure=Callback(on_failure),
                    description=description,
                    at_front=at_front,
                )
                for args, job_id, description in jobs[start : start + SWEEP_ENQUEUE_BATCH]
            ]
            with self.redis.pipeline() as pipe:
                self.background.enqueue_many(batch, pipeline=pipe)
                pipe.execute()

    def enqueue_sweep_finish(self, finish: SweepFinish) -> str:
        """The sweep's report; the same job ID however many times the last account asks for it."""
        job_id = f"{finish.sweep_id}-finish"
        return self._enqueue(
            self.background, SWEEP_FINISH_JOB, to_json(finish), job_id=job_id, timeout=QUICK_JOB_TIMEOUT
        )

    def enqueue_report(self, request: ReportRequest) -> str:
        """A person's report waits on the lookup queue (someone is waiting); the digest in the background."""
        return self._enqueue(
            self.background if request.destination is None else self.lookups,
            REPORT_JOB,
            to_json(request),
            job_id="report-" + request.request_id,
            retry=(LOOKUP_RETRIES, LOOKUP_RETRY_INTERVALS),
            timeout=HYGIENE_JOB_TIMEOUT,
        )

    def enqueue_home(self, request: HomeRequest) -> str:
        """Publish a member's Home tab; on the lookup queue, since they are looking at it."""
        job_id = "home-" + safe_job_id(request.event_id or request.user)
        return self._enqueue_quick(HOME_JOB, to_json(request), job_id)

    def enqueue_after_sweep(self, request: AfterSweep) -> str:
        job_id = "after-sweep-" + request.sweep_id
        return self._enqueue(
            self.background, AFTER_SWEEP_JOB, to_json(request), job_id=job_id, timeout=HYGIENE_JOB_TIMEOUT
        )

    def enqueue_notice_retry(self, request: NoticeRetry | None = None) -> str:
        """Deliver the pending key notices that are due (Slack was down, say)."""
        args = to_json(request or NoticeRetry())
        return self._enqueue(self.background, NOTICE_RETRY_JOB, args, retry=None, timeout=NOTICE_RETRY_JOB_TIMEOUT)

    def healthy(self) -> bool:
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False
