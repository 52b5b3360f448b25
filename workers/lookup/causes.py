"""The reasons AWS answers `InvalidAccessKeyId`, and their short titles."""

from __future__ import annotations

from enum import StrEnum


class Cause(StrEnum):
    """A reason AWS answers `InvalidAccessKeyId`."""

    TYPO = "typo"
    KEY_DELETED = "key_deleted"
    KEY_INACTIVE = "key_inactive"
    WRONG_ACCOUNT = "wrong_account"
    NOT_CONFIGURED = "not_configured"
    USER_DELETED = "user_deleted"
    WRONG_REGION_OR_PARTITION = "wrong_region_or_partition"
    MISSING_SESSION_TOKEN = "missing_session_token"  # noqa: S105 - a name, not a secret
    KEY_EXPIRED = "key_expired"  # temporary credentials past their expiry
    OUTSIDE_ORG = "outside_org"
    UNKNOWN_INCOMPLETE = "unknown_incomplete"  # the search could not read every account


_TITLES: dict[Cause, str] = {
    Cause.TYPO: "Typo in the key ID",
    Cause.KEY_DELETED: "Key deleted",
    Cause.KEY_INACTIVE: "Key deactivated",
    Cause.WRONG_ACCOUNT: "Wrong AWS account",
    Cause.NOT_CONFIGURED: "A different key is configured",
    Cause.USER_DELETED: "IAM user deleted",
    Cause.WRONG_REGION_OR_PARTITION: "Wrong region or partition",
    Cause.MISSING_SESSION_TOKEN: "Session token missing",
    Cause.KEY_EXPIRED: "Temporary credentials expired",
    Cause.OUTSIDE_ORG: "Key from outside our organization",
    Cause.UNKNOWN_INCOMPLETE: "Search incomplete",
}


def cause_title(cause: Cause) -> str:
    """A short human title for a cause, for headings and lists."""
    return _TITLES[cause]
