"""What a sweep reads again and what it keeps from the last snapshot.

Every sweep lists every user's keys (ListAccessKeys): that is where a deactivation or a deletion
shows, and none may go unseen for longer than one interval. What changes rarely is read on a
slower cadence: a key's last use (GetAccessKeyLastUsed) and its user's owner tags (ListUserTags)
are read again once a day, and at once for a key that is new or whose status changed.

"Once a day" is spread evenly over the day's sweeps: each key and each user has its own moment
of the day (a hash of its name), and is read by the first sweep after that moment. So an hourly
sweep reads about 1/24 of them, and a sweep interval of any length (or a sweep that was skipped)
still reads each of them at least once a day.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

DAY = 24 * 3600


def _phase(name: str) -> float:
    """The moment of the day (seconds after midnight UTC, as a fraction of DAY) that is `name`'s own."""
    return zlib.crc32(name.encode()) / 2**32 * DAY


def due(name: str, read_at: float | None, now: float) -> bool:
    """True when `name` was last read before its moment of the day that has passed most recently."""
    if read_at is None or read_at > now:
        return True
    phase = _phase(name)
    return (now - phase) // DAY > (read_at - phase) // DAY


@dataclass(frozen=True)
class Cadence:
    """One sweep's clock for the slower reads; `now` is the sweep's start, the same for all accounts."""

    now: float

    def last_use_due(self, key_id: str, status: str, before: dict[str, Any] | None) -> bool:
        """Read GetAccessKeyLastUsed for this key in this sweep?"""
        if before is None or before.get("status") != status or "last_used" not in before:
            return True  # new, or its status changed: what the owner is told must be fresh
        return due(key_id, before.get("details_read_at"), self.now)

    def tags_due(self, account_id: str, user_name: str, keys: list[tuple[str, str]], previous: dict[str, Any]) -> bool:
        """Read ListUserTags for this user (whose keys are (key ID, status)) in this sweep?"""
        befores = [previous.get(key_id) for key_id, _ in keys]
        if any(b is None or b.get("status") != status for b, (_, status) in zip(befores, keys, strict=True)):
            return True
        read_at = min((b.get("tags_read_at") or 0.0) for b in befores if b is not None) or None
        return due(f"{account_id}/{user_name}", read_at, self.now)
