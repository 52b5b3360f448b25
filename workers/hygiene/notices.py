"""Telling the audit channel about active keys whose owner has left Slack: once per key and
departure, however many sweeps see it (a Redis NX mark per key and owner)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from core.blockkit import Message
from core.contract import Destination
from core.coordination import claim
from core.redis_keys import DEPARTURE_TOLD, redis_key
from workers.hygiene.records import KeyRecord
from workers.hygiene.summary import DepartedCheck
from workers.hygiene.wording import key_line
from workers.runtime import Runtime

log = logging.getLogger(__name__)

# Keys named in one notice; the rest are counted.
NOTICE_KEYS_SHOWN = 20


class DepartureNotices:
    """Taps the record stream for active keys of departed owners not yet announced."""

    def __init__(self, runtime: Runtime, departed: DepartedCheck, now: datetime) -> None:
        self.runtime = runtime
        self.departed = departed
        self.now = now
        self.new: list[KeyRecord] = []
        self.count = 0
        self._marks: list[str] = []

    def tap(self, records: Iterable[KeyRecord]) -> Iterator[KeyRecord]:
        for record in records:
            if record.active and record.owner and self.departed(record):
                self._claim(record)
            yield record

    def _claim(self, record: KeyRecord) -> None:
        name = redis_key(DEPARTURE_TOLD, record.account_id, record.key_id, (record.owner or "").lower())
        if claim(self.runtime.redis, name, DEPARTURE_TOLD.seconds):
            self._marks.append(name)
            self.count += 1
            if len(self.new) < NOTICE_KEYS_SHOWN:
                self.new.append(record)

    def post(self, channel: str) -> bool:
        """Post the newly found keys; on failure the marks are released so a retry tells again."""
        if not self.count:
            return False
        lines = [f"• {key_line(record, self.now)}" for record in self.new]
        if self.count > len(self.new):
            lines.append(f"• …and {self.count - len(self.new)} more (`whose-key report` lists them)")
        text = (
            f":bust_in_silhouette: {self.count} active access key(s) belong to people who have left Slack. "
            "Find a new owner for each (and retag its IAM user), or deactivate it:\n" + "\n".join(lines)
        )
        message = Message.plain(text)
        try:
            self.runtime.poster.post(Destination(channel=channel, ephemeral=False), message.payload())
        except Exception:
            self.runtime.redis.delete(*self._marks)
            raise
        log.info("departed owners announced", extra={"keys": self.count})
        return True
