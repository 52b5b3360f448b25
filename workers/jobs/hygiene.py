"""RQ entry points of key hygiene (workers/hygiene/publishing.py does the work)."""

from __future__ import annotations

from typing import Any

from core.contract import AfterSweep, HomeRequest, ReportRequest
from workers.hygiene import publishing
from workers.runtime import Runtime


def send_report(runtime: Runtime, request: ReportRequest) -> dict[str, Any]:
    """RQ job: the report to the person who asked, or the digest (with its chart) to the audit channel."""
    return publishing.send_report(runtime, request)


def publish_home(runtime: Runtime, request: HomeRequest) -> dict[str, Any]:
    """RQ job: publish the Home tab of a member who opened it."""
    return publishing.publish_home(runtime, request)


def after_sweep(runtime: Runtime, request: AfterSweep) -> dict[str, Any]:
    """RQ job, enqueued by each sweep: departed owners' active keys, open Home tabs refreshed."""
    return publishing.after_sweep(runtime, request)
