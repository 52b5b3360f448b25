"""RQ entry points of a lookup (workers/answers/lookup.py does the work) and its failure callback."""

from __future__ import annotations

from typing import Any

from rq.job import Job

from core.contract import LookupRequest
from core.jobs import decode_arguments
from workers.answers.lookup import answer_lookup, tell_failure
from workers.runtime import Runtime


def lookup_keys(runtime: Runtime, req: LookupRequest) -> dict[str, Any]:
    """RQ job: answer one request. Safe to run again: an answered request is not posted twice."""
    return answer_lookup(runtime, req)


def report_failure(job: Job, connection: Any, exc_type: type, exc: BaseException, tb: Any) -> None:
    """RQ failure callback: when no retry is left, tell the person instead of going silent."""
    runtime = getattr(job, "runtime", None)
    if job.retries_left or runtime is None or not job.args:
        return  # RQ runs it again (or this is not a whose-key worker's job)
    tell_failure(runtime, decode_arguments(str(job.func_name), job.args[0]), exc)
