"""RQ entry points of the Workflow Builder step (workers/answers/step.py does the work) and its
failure callback."""

from __future__ import annotations

from typing import Any

from rq.job import Job

from core.contract import StepRun
from core.jobs import decode_arguments
from workers.answers.step import answer_step, tell_failure
from workers.runtime import Runtime


def run_step(runtime: Runtime, run: StepRun) -> dict[str, Any]:
    """RQ job: answer one step run. Safe to run again: an execution is completed once."""
    return answer_step(runtime, run)


def step_failed(job: Job, connection: Any, exc_type: type, exc: BaseException, tb: Any) -> None:
    """RQ failure callback: when no retry is left, fail the execution instead of leaving it running."""
    runtime = getattr(job, "runtime", None)
    if job.retries_left or runtime is None or not job.args:
        return  # RQ runs it again (or this is not a whose-key worker's job)
    tell_failure(runtime, decode_arguments(str(job.func_name), job.args[0]))
