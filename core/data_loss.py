"""Noticing that Redis lost whose-key's data (a node replaced without persistence, a FLUSHALL).

The first process to start writes a random marker (DATA_MARKER); every long-running process
remembers the value it saw and looks again every so often (the worker on its maintenance tick, the
web on requests and /healthz, the socket process on a timer). A marker gone, or replaced by another
value, while a process still remembers it means everything before is gone: queues, key states,
pending notices, snapshots.
Every process that notices logs it loudly; one, chosen by an atomic claim in the fresh Redis, audits
it and tells the audit channel. The sweep needs no telling: with its snapshots and key states gone,
its next run finds every key for the first time and takes a fresh baseline without notices.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from redis import Redis

from core.audit import audit
from core.contract import Destination, Reply
from core.coordination import claim, text
from core.queue import JobQueue
from core.redis_keys import CLAIM, DATA_LOSS_BASELINE, DATA_LOSS_SEEN, DATA_MARKER, redis_key

log = logging.getLogger(__name__)

MARKER_KEY = redis_key(DATA_MARKER)
BASELINE_KEY = redis_key(DATA_LOSS_BASELINE)
# How often the web (on requests) and the socket process (on a timer) look at the marker; the
# workers look on their maintenance tick, as often.
CHECK_EVERY = 15.0
# The baseline's value from the loss until a sweep finishes and takes it.
AWAITING_SWEEP = "pending"
# What the audit channel is told, once per loss.
LOSS_TEXT = (
    ":rotating_light: *Redis lost whose-key's data* (its marker is gone). Queued lookups, key states, "
    "pending notices, sweep snapshots, budgets and the buttons of earlier answers are gone with it. "
    "The next sweep takes a fresh baseline and sends no notice for what it finds; people who asked "
    "just before may need to ask again. To keep the data next time, turn on persistence: see "
    '"Redis data loss" in the README.'
)


@dataclass(frozen=True)
class DataLoss:
    lost: str  # the marker's value before the loss
    marker: str  # the new marker
    first: bool  # this process won the claim: it audits and tells the audit channel


def process_name(role: str) -> str:
    """Who noticed, in audit records: the process's role, host and ID."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}"


class DataMarker:
    """One process's memory of the marker. `check` is safe to call from several threads."""

    def __init__(self, redis: Redis, role: str, audit_channel: str | None = None) -> None:
        self.redis = redis
        self.process = process_name(role)
        self.audit_channel = audit_channel
        self.remembered: str | None = None
        self._lock = threading.Lock()
        self._checked_at = 0.0

    def check(self) -> DataLoss | None:
        """Read the marker (writing it if there is none) and compare with the one remembered; a
        loss is logged and announced here. Raises RedisError when Redis cannot be read."""
        with self._lock:
            self._checked_at = time.monotonic()
            current = self.redis.get(MARKER_KEY)
            if current is None:
                self.redis.set(MARKER_KEY, uuid.uuid4().hex, nx=True, ex=DATA_MARKER.seconds)
                current = self.redis.get(MARKER_KEY) or b""
            else:
                self.redis.expire(MARKER_KEY, DATA_MARKER.seconds)
            previous, self.remembered = self.remembered, text(current)
            if previous is None or previous == self.remembered:
                return None
            loss = self._claim(previous, self.remembered)
        self._announce(loss)
        return loss

    def check_every(self, seconds: float) -> DataLoss | None:
        """`check`, unless this process looked less than `seconds` ago (for busy paths)."""
        if time.monotonic() - self._checked_at < seconds:
            return None
        return self.check()

    def _claim(self, lost: str, marker: str) -> DataLoss:
        seen = redis_key(DATA_LOSS_SEEN, lost)
        with self.redis.pipeline() as pipe:
            pipe.sadd(seen, self.process)
            pipe.expire(seen, DATA_LOSS_SEEN.seconds)
            pipe.execute()
        first = claim(self.redis, redis_key(CLAIM, "data-loss", lost), DATA_LOSS_SEEN.seconds)
        if first:
            self.redis.set(BASELINE_KEY, AWAITING_SWEEP, ex=DATA_LOSS_BASELINE.seconds)
        return DataLoss(lost, marker, first)

    def _announce(self, loss: DataLoss) -> None:
        log.critical(
            "REDIS LOST WHOSE-KEY'S DATA: the data marker this process remembered is gone; queues, key "
            "states and pending notices from before are lost. Turn on Redis persistence (README: Redis data loss)",
            extra={"lost_marker": loss.lost, "marker": loss.marker, "noticed_by": self.process, "told": loss.first},
        )
        if not loss.first:
            return
        audit(self.redis, "redis_data_lost", lost_marker=loss.lost, marker=loss.marker, noticed_by=self.process)
        if self.audit_channel:
            reply = Reply(f"redis-data-lost-{loss.lost}", Destination(channel=self.audit_channel, ephemeral=False),
                          text=LOSS_TEXT)  # fmt: skip
            JobQueue(self.redis).enqueue(reply)


def take_baseline_after_loss(redis: Redis, sweep_id: str) -> bool:
    """For the first sweep to finish after a data loss (call once per sweep, when it finishes):
    True, and the sweep is marked as that baseline. Raises RedisError."""
    if text(redis.get(BASELINE_KEY) or b"") != AWAITING_SWEEP:
        return False
    return bool(redis.set(BASELINE_KEY, sweep_id, ex=DATA_LOSS_BASELINE.seconds))


def is_baseline_after_loss(redis: Redis, sweep_id: str) -> bool:
    """True for the sweep that took the baseline after a data loss: what it finds was told before
    the loss (departed owners, rotation nudges), so it is marked told again, not sent."""
    return text(redis.get(BASELINE_KEY) or b"") == sweep_id
