"""RQ's failure logging never writes out job arguments, which can hold what people typed."""

from __future__ import annotations

import logging

import pytest
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from slack_sdk import WebClient

from core.contract import Reply
from core.jobs import JOBS, LOOKUP_QUEUE
from core.settings import Settings
from workers.aws.gateway import AwsGateway
from workers.process.worker import make_worker
from workers.runtime import assemble_runtime

MARKER = "TYPED-BY-SOMEONE-7f3a"


def test_a_failed_job_is_logged_without_its_arguments(redis: Redis, caplog: pytest.LogCaptureFixture) -> None:
    """A job that fails on arguments holding typed text logs the failure, never that text."""
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    runtime = assemble_runtime(settings, redis, AwsGateway(settings.role_name, None), WebClient(timeout=1))
    # delivery_id must be a string: the job fails while reading its arguments.
    reply_job = next(spec.func for spec in JOBS if spec.args is Reply)
    job = Queue(LOOKUP_QUEUE, connection=redis, serializer=JSONSerializer).enqueue(
        reply_job, {"delivery_id": 1, "destination": {}, "text": MARKER}
    )
    with caplog.at_level(logging.DEBUG):
        make_worker(runtime).work(burst=True)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and job.id in r.getMessage()]
    assert failures, "the failure is logged"
    assert all(getattr(r, "arguments", "<hidden>") == "<hidden>" for r in failures)
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert MARKER not in logged
