"""Tell the person, once per request, that their full search waits for a free slot."""

from __future__ import annotations

import logging
import threading

from core.blockkit import Message
from core.contract import LookupRequest
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)


class WaitNotice:
    """Called by the full-search gate when every slot is taken; posts at most once per request."""

    def __init__(self, runtime: Runtime, req: LookupRequest) -> None:
        self.runtime = runtime
        self.req = req
        self._lock = threading.Lock()  # several keys of one request may wait at once

    def __call__(self, running: int) -> None:
        with self._lock:
            text = (
                f":hourglass_flowing_sand: {running} full searches are running across the workspace, the most "
                "allowed at once. Yours waits for one of them to finish and then starts by itself."
            )
            try:
                deliver_once(
                    self.runtime.poster, f"{self.req.request_id}-waiting", self.req.destination, Message.plain(text)
                )
            except DeliveryError as exc:
                log.info("wait notice not shown", extra={"error": str(exc)})  # the answer still comes
