"""Tell the person, once per request, that their full search waits for a free slot."""

from __future__ import annotations

import logging

from core.blockkit import Message
from core.contract import LookupRequest
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)


class WaitNotice:
    """Tells the person why their full search waits; posted at most once per request."""

    def __init__(self, runtime: Runtime, req: LookupRequest) -> None:
        self.runtime = runtime
        self.req = req

    def __call__(self, text: str) -> None:
        try:
            deliver_once(
                self.runtime.poster, f"{self.req.request_id}-waiting", self.req.destination, Message.plain(text)
            )
        except DeliveryError as exc:
            log.info("wait notice not shown", extra={"error": str(exc)})  # the answer still comes
