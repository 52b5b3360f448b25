"""What a lookup found, as plain typed data.

The finder produces a KeyFinding per key; diagnosis and rendering read it and do no I/O.
Findings travel through Redis as JSON (job results, audit), hence to_dict/from_dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from workers.aws.errors import AccountOutcome
from workers.model import Account, LastUsed, Owner


class Verdict(StrEnum):
    """The finder's conclusion about one key."""

    FOUND = "found"  # the key exists in an organization account (Active or Inactive)
    OUTSIDE_ORG = "outside_org"  # the key's account is not one of the organization's
    GONE = "gone"  # the account is ours but the key (or its user) is not there now
    NOT_FOUND = "not_found"  # a complete search found it nowhere
    TEMPORARY = "temporary"  # ASIA credentials from STS: no IAM user owns them
    INCOMPLETE = "incomplete"  # not found where we could look, but some accounts could not be read


@dataclass(frozen=True)
class Unsearched:
    """An account the search could not read, and why, in words an operator can act on."""

    account: Account
    outcome: AccountOutcome
    detail: str


@dataclass(frozen=True)
class History:
    """Something CloudTrail says happened to the key, its user or its session."""

    action: str  # deactivated | deleted | user_deleted | issued
    actor: str
    when: str  # ISO 8601
    source_ip: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """A known key that differs from the one asked about by a character or two."""

    key_id: str
    user_name: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class KeyFinding:
    key_id: str
    verdict: Verdict
    account: Account | None = None
    user_name: str | None = None
    user_arn: str | None = None
    status: str | None = None  # Active / Inactive
    created: str | None = None  # ISO 8601
    last_used: LastUsed | None = None
    owner: Owner = field(default_factory=Owner)
    accounts_searched: int = 0
    unsearched: tuple[Unsearched, ...] = ()
    management_account: bool = False
    notes: tuple[str, ...] = ()
    similar: tuple[Suggestion, ...] = ()  # "did you mean", for keys not found as typed
    history: tuple[History, ...] = ()  # from CloudTrail: who deactivated/deleted it, and when
    user_deleted: bool | None = None  # for gone keys: was the IAM user deleted too (None: unknown)
    aws_calls: int = 0
    aws_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["unsearched"] = [
            {"account": asdict(u.account), "outcome": u.outcome.value, "detail": u.detail} for u in self.unsearched
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyFinding:
        account = data.get("account")
        last_used = data.get("last_used")
        return cls(
            key_id=data["key_id"],
            verdict=Verdict(data["verdict"]),
            account=Account(**account) if account else None,
            user_name=data.get("user_name"),
            user_arn=data.get("user_arn"),
            status=data.get("status"),
            created=data.get("created"),
            last_used=LastUsed(**last_used) if last_used else None,
            owner=Owner(**(data.get("owner") or {})),
            accounts_searched=data.get("accounts_searched", 0),
            unsearched=tuple(
                Unsearched(Account(**u["account"]), AccountOutcome(u["outcome"]), u["detail"])
                for u in data.get("unsearched", [])
            ),
            management_account=data.get("management_account", False),
            notes=tuple(data.get("notes", ())),
            similar=tuple(Suggestion(**s) for s in data.get("similar", ())),
            history=tuple(History(**h) for h in data.get("history", ())),
            user_deleted=data.get("user_deleted"),
            aws_calls=data.get("aws_calls", 0),
            aws_seconds=data.get("aws_seconds", 0.0),
        )
