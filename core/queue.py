"""Hand work to the workers: one `enqueue(args)` for every job, driven by the table in `core.jobs`.

Every enqueue takes a job-argument dataclass from `core.contract` and stores it as JSON (RQ's
JSON serializer refuses anything else). A job whose row has an ID is enqueued once: the check
and the enqueue are one atomic Redis step (RQ's unique enqueue), so a redelivered request, a
second web process racing with the first, or a retried coordinator reuse the job already there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from core.contract import to_json
from core.jobs import FAILURE_TTL, QUEUES, RESULT_TTL, JobSpec, spec_for


def new_request_id() -> str:
    return uuid.uuid4().hex


class JobQueue:
    """Enqueues typed job arguments on whose-key's queues."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.queues = {name: Queue(name, connection=redis, serializer=JSONSerializer) for name in QUEUES}

    def enqueue(self, args: object) -> str:
        """The job for `args` (its row in `core.jobs`); its ID. Once per ID: when a job with that ID
        is already there (waiting, running or just finished), nothing is added and its ID is returned."""
        return self._enqueue(args)[0]

    def enqueue_all(self, many: Iterable[object]) -> int:
        """A sweep's fan-out: every job once (see `enqueue`); how many were new."""
        return sum(self._enqueue(args)[1] for args in many)

    def enqueue_in(self, seconds: float, args: object) -> str:
        """The job for `args`, to be enqueued `seconds` from now by a worker's scheduler (a request
        waiting for its turn comes back later instead of holding a worker); its ID."""
        spec = spec_for(args)
        job = self.queues[spec.queue_of(args)].enqueue_in(
            timedelta(seconds=seconds), spec.func, args=[to_json(args)], job_timeout=spec.timeout,
            **self._options(spec, args),
        )  # fmt: skip
        return str(job.id)

    def _enqueue(self, args: object) -> tuple[str, bool]:
        """The job's ID, and whether it was added now (False: it was there already)."""
        spec = spec_for(args)
        job_id = spec.id_of(args)
        queue = self.queues[spec.queue_of(args)]
        try:
            job = queue.enqueue_call(
                spec.func,
                args=[to_json(args)],
                unique=job_id is not None,
                timeout=spec.timeout,
                **self._options(spec, args),
            )
        except DuplicateJobError:
            return str(job_id), False
        return str(job.id), True

    @staticmethod
    def _options(spec: JobSpec, args: object) -> dict[str, Any]:
        return {
            "job_id": spec.id_of(args),
            "result_ttl": RESULT_TTL,
            "failure_ttl": FAILURE_TTL,
            "retry": _retry(spec),
            "on_failure": Callback(spec.on_failure) if spec.on_failure else None,
            "description": spec.describe(args) if spec.describe else spec.func,
            "at_front": spec.at_front,
        }

    def healthy(self) -> bool:
        try:
            return bool(self.redis.ping())
        except RedisError:
            return False


def _retry(spec: JobSpec) -> Retry | None:
    if spec.retry is None:
        return None
    count, intervals = spec.retry
    return Retry(max=count, interval=list(intervals))
