"""One access key as the last sweep saw it, and what is worth flagging about it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# A key older than this, or not used for this long, is worth rotating or removing.
STALE_DAYS = 90

# Flags, as they appear in exports and on the Home tab.
FLAG_OLD = "older-than-90-days"
FLAG_UNUSED = "unused-90-days"
FLAG_NEVER_USED = "never-used"
FLAG_NO_OWNER = "no-owner-tag"
FLAG_OWNER_LEFT = "owner-left"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    account_id: str
    account_name: str | None
    user: str | None
    status: str  # Active / Inactive
    created: datetime | None
    last_used: datetime | None
    last_service: str | None
    last_region: str | None
    owner_slack_id: str | None
    owner_email: str | None

    @property
    def active(self) -> bool:
        return self.status == "Active"

    @property
    def account_label(self) -> str:
        return f"{self.account_name} ({self.account_id})" if self.account_name else self.account_id

    @property
    def owner(self) -> str | None:
        """Who the tags name: the Slack member ID when there is one, else the email."""
        return self.owner_slack_id or self.owner_email

    def age_days(self, now: datetime) -> int | None:
        return None if self.created is None else max(0, (now - self.created).days)

    def idle_days(self, now: datetime) -> int | None:
        """Days since the last use; for a key never used, days since it was created."""
        since = self.last_used or self.created
        return None if since is None else max(0, (now - since).days)

    def old(self, now: datetime) -> bool:
        age = self.age_days(now)
        return age is not None and age > STALE_DAYS

    def unused(self, now: datetime) -> bool:
        """Not used for STALE_DAYS or more (never used counts from creation)."""
        idle = self.idle_days(now)
        return idle is not None and idle >= STALE_DAYS

    def flags(self, now: datetime, *, owner_left: bool = False) -> tuple[str, ...]:
        found = []
        if self.old(now):
            found.append(FLAG_OLD)
        if self.unused(now):
            found.append(FLAG_UNUSED)
        if self.last_used is None:
            found.append(FLAG_NEVER_USED)
        if self.owner is None:
            found.append(FLAG_NO_OWNER)
        if owner_left:
            found.append(FLAG_OWNER_LEFT)
        return tuple(found)


def json_object(raw: bytes | str) -> dict[str, Any] | None:
    """A JSON object read from Redis; None for anything else (a value from another version, say)."""
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def record_from_snapshot(account_id: str, key_id: str, raw: bytes | str) -> KeyRecord | None:
    """The record behind one snapshot entry; None for an entry that is not a key's JSON."""
    data = json_object(raw)
    if data is None:
        return None
    return KeyRecord(
        key_id=key_id,
        account_id=account_id,
        account_name=_text(data.get("account_name")),
        user=_text(data.get("user")),
        status=_text(data.get("status")) or "Unknown",
        created=parse_time(data.get("created")),
        last_used=parse_time(data.get("last_used")),
        last_service=_text(data.get("last_service")),
        last_region=_text(data.get("last_region")),
        owner_slack_id=_text(data.get("owner_slack_id")),
        owner_email=_text(data.get("owner_email")),
    )


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time as an aware datetime (UTC when it carries no zone); None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
