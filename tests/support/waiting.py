"""Waiting for positive signals, never "sleep, then assert nothing happened": the one polling loop
(`wait_until`) and what the end-to-end tests wait for with it.

Something that did not happen is only proven once something that would come after it did:
- an audit record in the Redis stream (`core.audit.recent`), written by the web or the worker;
- the RQ jobs in question finished (jobs are found by ID, or by what their arguments carry);
- the whole set of whose-key's queues drained: nothing queued, started or scheduled, and every
  job in a final state (a job popped but not yet started still reads "queued" in its hash, so
  this does not miss the moment between the two);
- a later sentinel request answered: one worker serves a queue in order, so once the sentinel's
  answer is out, every request enqueued before it has been handled;
- a call held at the AWS proxy (`stack.aws.hold(...)`) counted there (its `hits`): the job that
  made it is at that point and stays there until the test releases it, so "X happened before the
  job got further" is an ordering, not a race against a delay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from core.audit import recent
from core.jobs import QUEUES
from standins.slack_double import RecordedCall
from standins.stack import Stack

T = TypeVar("T")

# How long a signal may take: a lookup on a loaded 2-core machine is answered in a few seconds.
DEFAULT_TIMEOUT = 30.0
# How often a condition is polled.
POLL_INTERVAL = 0.05
# Job states after which a job does nothing more.
FINAL_STATES = frozenset({"finished", "failed", "stopped", "canceled"})
# The newest audit records searched for one a test waits for.
AUDIT_RECORDS_READ = 1000


def wait_until(
    check: Callable[[], T | None],
    *,
    what: str | Callable[[], str],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = POLL_INTERVAL,
) -> T:
    """Poll check() until it returns something truthy and return that; past timeout, TimeoutError
    naming `what` (a callable is asked then, so the message can say how things stood)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout:g}s: {what() if callable(what) else what}")
        time.sleep(interval)


# -- the audit trail ---------------------------------------------------------------------------


def wait_for_audit(redis: Redis, action: str, *, timeout: float = DEFAULT_TIMEOUT, **fields: str) -> dict[str, str]:
    """The newest audit record of `action` whose fields include `fields`, once there is one."""

    def found() -> dict[str, str] | None:
        return next(
            (
                record
                for record in recent(redis, AUDIT_RECORDS_READ)
                if record.get("action") == action and all(record.get(k) == v for k, v in fields.items())
            ),
            None,
        )

    return wait_until(found, what=f"an audit record of {action} {fields}", timeout=timeout)


def wait_for_lookup_answered(redis: Redis, request_id: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, str]:
    """The lookup job's `lookup_answered` record: written after every post of its answer."""
    return wait_for_audit(redis, "lookup_answered", request_id=request_id, timeout=timeout)


def audited_keys(record: dict[str, str]) -> list[str]:
    """The key IDs an audit record names (stored as a JSON list)."""
    return list(json.loads(record.get("keys") or "[]"))


# -- RQ jobs -----------------------------------------------------------------------------------


def job_ids(redis: Redis) -> list[str]:
    """Every job Redis still holds (finished ones are kept for an hour)."""
    ids = (key.decode().split(":", 2)[2] for key in redis.scan_iter("rq:job:*"))
    return [job_id for job_id in ids if ":" not in job_id]  # not the per-job side records


def jobs_mentioning(redis: Redis, text: str) -> list[str]:
    """IDs of the jobs whose arguments contain text (a response_url, a key ID...)."""
    found = []
    for job_id in job_ids(redis):
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        if text in json.dumps([job.args, job.kwargs]):
            found.append(job_id)
    return found


def job_status(redis: Redis, job_id: str) -> str | None:
    """The job's status ("queued", "started", "finished"...), None when there is no such job."""
    return _text(redis.hget(f"rq:job:{job_id}", "status"))


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def wait_for_jobs_finished(redis: Redis, ids: Iterable[str], timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until each job has finished; a job that failed for good fails the wait at once."""
    wanted = list(ids)
    assert wanted, "no job to wait for"

    def all_finished() -> bool:
        statuses = {job_id: job_status(redis, job_id) for job_id in wanted}
        failed = [job_id for job_id, status in statuses.items() if status == "failed"]
        assert not failed, f"job(s) failed: {failed}"
        return all(status == "finished" for status in statuses.values())

    wait_until(all_finished, what=f"job(s) {wanted} finished", timeout=timeout)


def wait_for_queues_drained(redis: Redis, queues: Iterable[str] = QUEUES, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until the queues are empty, nothing of theirs is started or scheduled, and every job
    that came through them is in a final state."""
    names = list(queues)

    def drained() -> bool:
        for name in names:
            if redis.llen(f"rq:queue:{name}"):
                return False
            # Counted as they stand: a registry's own cleanup would change what it reports.
            for registry in (StartedJobRegistry, ScheduledJobRegistry):
                if registry(name, connection=redis).get_job_count(cleanup=False):
                    return False
        for job_id in job_ids(redis):
            origin, status = (_text(v) for v in redis.hmget(f"rq:job:{job_id}", ["origin", "status"]))
            if origin in names and status not in FINAL_STATES:
                return False
        return True

    wait_until(drained, what=f"queues {names} drained", timeout=timeout)


# -- sentinels ---------------------------------------------------------------------------------


def sentinel_lookup(
    stack: Stack, key_id: str, *, user_id: str = "U0ASKER01", channel_id: str = "C0INCIDENT"
) -> list[RecordedCall]:
    """Ask for key_id with `/whose-key` and wait for its answer. On a stack with one worker (the
    shared ones), which serves the lookup queue in order, every request enqueued before it has
    then been handled."""
    reply, response_url = stack.slash_command(key_id, user_id=user_id, channel_id=channel_id)
    assert "Looking up" in reply.body, reply.body
    return stack.slack.wait_for_hook(response_url, timeout=DEFAULT_TIMEOUT)
