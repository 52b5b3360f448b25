"""The shared vocabulary of the AWS layer, the lookup, the sweep and what they show: an account, a
key's last use, an owner. Plain typed data, no I/O. (How looking in an account went, AccountOutcome,
is the AWS error taxonomy's: workers/aws/errors.py.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    id: str
    name: str | None = None
    status: str = "ACTIVE"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True)
class LastUsed:
    date: str | None  # ISO 8601, None when never used
    service: str | None
    region: str | None


@dataclass(frozen=True)
class Owner:
    """Who to talk to about the key: from the IAM user's tags, resolved to Slack when possible."""

    slack_user_id: str | None = None
    email: str | None = None
    source: str | None = None  # the tag it came from

    @property
    def known(self) -> bool:
        return bool(self.slack_user_id or self.email)
