"""RQ entry points of the sweep (workers/sweep/coordinator.py does the work): the coordinator,
one account, one batch of a very large account's users, their failure callbacks, and the
finalizer. Each hands the sweep the notifier, which tells owners about the changes it finds."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq.job import Job

from core.contract import SweepAccount, SweepChunk, SweepFinish, SweepRequest, SweepUserBatch
from core.jobs import decode_arguments
from workers.notices.notifier import Notifier
from workers.runtime import Runtime
from workers.sweep import coordinator


def run_sweep(runtime: Runtime, request: SweepRequest) -> dict[str, Any]:
    """RQ job: start a sweep of every account, unless one is running (then it is skipped)."""
    return coordinator.start_sweep(runtime, request, Notifier(runtime))


def sweep_account(runtime: Runtime, task: SweepAccount) -> dict[str, Any]:
    """RQ job: sweep one account (a very large one is split into batch jobs)."""
    return coordinator.sweep_account_task(runtime, task, Notifier(runtime))


def sweep_chunk(runtime: Runtime, chunk: SweepChunk) -> dict[str, Any]:
    """RQ job: sweep a chunk of accounts side by side."""
    return coordinator.sweep_chunk_task(runtime, chunk, Notifier(runtime))


def sweep_user_batch(runtime: Runtime, task: SweepUserBatch) -> dict[str, Any]:
    """RQ job: read one batch of a very large account's users."""
    return coordinator.sweep_batch_task(runtime, task, Notifier(runtime))


def finish_sweep(runtime: Runtime, finish: SweepFinish) -> dict[str, Any]:
    """RQ job: the sweep's report, once."""
    summary = coordinator.finalize(runtime, finish.sweep_id)
    return summary.to_dict() if summary else {}


def account_job_failed(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback: once an account job has no retry left, count its account unreadable."""
    if not job.retries_left:  # otherwise RQ runs it again
        coordinator.account_failed(connection, decode_arguments(str(job.func_name), job.args[0]), exc_info)


def chunk_job_failed(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback: once a chunk job has no retry left, count its unfinished accounts unreadable."""
    if not job.retries_left:
        coordinator.chunk_failed(connection, decode_arguments(str(job.func_name), job.args[0]), exc_info)


def user_batch_failed(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback: once a batch job has no retry left, its account is unreadable."""
    if not job.retries_left:
        coordinator.batch_failed(connection, decode_arguments(str(job.func_name), job.args[0]), exc_info)
