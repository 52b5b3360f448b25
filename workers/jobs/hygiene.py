"""RQ entry points of key hygiene: the functions of workers/hygiene/publishing.py and
nudge_send.py, which already take (runtime, decoded arguments), and the rotation nudges' failure
callback."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq.job import Job

from core.jobs import decode_arguments
from workers.hygiene.nudge_send import give_back, send_nudges
from workers.hygiene.publishing import after_sweep, publish_home, send_report

__all__ = ["after_sweep", "nudges_failed", "publish_home", "send_nudges", "send_report"]


def nudges_failed(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback: once a nudge job has no retry left (Slack down throughout), give the
    claims of every owner not yet told back, so the next sweep tells them."""
    if not job.retries_left:
        give_back(connection, decode_arguments(str(job.func_name), job.args[0]))
