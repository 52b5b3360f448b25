"""Who an access key acts as, in the shape CloudTrail's userIdentity gives it.

The proxy learns each key's owner from the answers passing through it (an STS AssumeRole answer
names the session; a CreateAccessKey answer names the user). Any other key acts as a user of the
management account, as moto treats it.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The user unknown keys act as (moto has no user behind its fake "testing" credentials).
DEFAULT_USER_NAME = "moto"
# Access keys whose owner is remembered; the earliest learned are forgotten beyond this.
MAX_KNOWN_KEYS = 100_000


@dataclass(frozen=True)
class Caller:
    """Who an access key acts as: an IAM user, an assumed-role session, or the account's root."""

    kind: str  # IAMUser, AssumedRole or Root, as CloudTrail's userIdentity.type names them
    account_id: str
    arn: str
    principal_id: str
    user_name: str | None = None  # IAMUser only
    issuer_arn: str | None = None  # AssumedRole only: the role's ARN (with its path)
    issuer_principal_id: str | None = None
    created: str | None = None  # AssumedRole only: when the session was issued (ISO 8601)

    @property
    def lookup_username(self) -> str:
        """What LookupEvents shows as Username: the user, the role session's name, or root."""
        if self.kind == "IAMUser" and self.user_name:
            return self.user_name
        if self.kind == "Root":
            return "root"
        return self.arn.rsplit("/", 1)[-1]

    def user_identity(self, access_key_id: str | None) -> dict[str, Any]:
        """The record's userIdentity, as CloudTrail writes it for this kind of caller."""
        identity: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
        }
        if access_key_id:
            identity["accessKeyId"] = access_key_id
        if self.kind == "IAMUser":
            identity["userName"] = self.user_name
        if self.kind == "AssumedRole":
            issuer_arn = self.issuer_arn or ""
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.issuer_principal_id or fake_id("AROA", issuer_arn),
                    "arn": issuer_arn,
                    "accountId": self.account_id,
                    "userName": issuer_arn.rsplit("/", 1)[-1],
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": self.created or iso(now()), "mfaAuthenticated": "false"},
            }
        return identity


def caller_from_arn(arn: str) -> Caller:
    """The caller an ARN names: `arn:aws:iam::A:user/N`, `arn:aws:sts::A:assumed-role/R/S` or `...:root`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[4]:
        raise ValueError(f"not an IAM or STS principal ARN: {arn!r}")
    partition, service, account_id, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Caller("Root", account_id, arn, account_id)
    if service == "iam" and resource.startswith("user/"):
        return Caller("IAMUser", account_id, arn, fake_id("AIDA", arn), user_name=resource.rsplit("/", 1)[-1])
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
        _, role, session = resource.split("/", 2)
        role_arn = f"arn:{partition}:iam::{account_id}:role/{role}"
        role_id = fake_id("AROA", role_arn)
        return Caller(
            "AssumedRole", account_id, arn, f"{role_id}:{session}", issuer_arn=role_arn, issuer_principal_id=role_id
        )
    raise ValueError(f"not an IAM user, assumed-role session or root ARN: {arn!r}")


def session_caller(role_arn: str, session: str, assumed: dict[str, str]) -> Caller | None:
    """The session an AssumeRole of role_arn issued; `assumed` is its answer's AssumedRoleUser fields."""
    role_parts = role_arn.split(":", 5)
    if len(role_parts) != 6 or not role_parts[4]:
        return None
    account_id = role_parts[4]
    role_name = role_parts[5].rsplit("/", 1)[-1]
    arn = assumed.get("Arn") or f"arn:{role_parts[1]}:sts::{account_id}:assumed-role/{role_name}/{session}"
    principal = assumed.get("AssumedRoleId") or f"{fake_id('AROA', role_arn)}:{session}"
    return Caller(
        "AssumedRole",
        account_id,
        arn,
        principal,
        issuer_arn=role_arn,
        issuer_principal_id=principal.split(":", 1)[0],
        created=iso(now()),
    )


class KeyOwners:
    """Who each access key acts as, as learned so far (thread-safe, bounded)."""

    def __init__(self, default_account: str) -> None:
        self.default_account = default_account
        self._lock = threading.Lock()
        self._callers: dict[str, Caller] = {}

    def learn(self, key_id: str, caller: Caller) -> None:
        with self._lock:
            # Re-inserted, so a key learned again counts as the newest.
            self._callers.pop(key_id, None)
            self._callers[key_id] = caller
            while len(self._callers) > MAX_KNOWN_KEYS:
                del self._callers[next(iter(self._callers))]

    def knows(self, key_id: str | None) -> bool:
        with self._lock:
            return key_id is not None and key_id in self._callers

    def caller(self, key_id: str | None) -> Caller:
        """The key's owner; a user of the default account when the key was never learned."""
        with self._lock:
            known = self._callers.get(key_id or "")
        if known is not None:
            return known
        return caller_from_arn(f"arn:aws:iam::{self.default_account}:user/{DEFAULT_USER_NAME}")


def fake_id(prefix: str, seed: str) -> str:
    """A stable, made-up IAM unique ID (AIDA..., AROA...) of the real length."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[:17]


def now() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    """CloudTrail's timestamp format, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
