"""The pending-notice retry job: deliver the key notices Slack did not take before."""

from __future__ import annotations

import logging
from typing import Any

from core.contract import NoticeRetry
from workers.notices.notifier import Notifier
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def retry_pending_notices(runtime: Runtime, request: NoticeRetry) -> dict[str, Any]:
    """RQ job: try every pending notice that is due once; each failure reschedules itself."""
    result = Notifier(runtime).retry_pending()
    if result["due"]:
        log.info("pending notices retried", extra={**result, "requested_by": request.requested_by})
    return result
