"""IAM access keys in one account: a user's keys, a key's last use, its user and its status now.
Typed, plain data back; "this key (or its user) does not exist" is None or [], anything else a
classified AwsCallError (workers/aws/errors.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workers.aws.errors import AccountOutcome, AwsCallError, unless_missing
from workers.aws.iam_users import list_user_names
from workers.model import LastUsed


@dataclass(frozen=True)
class AccessKeyMetadata:
    key_id: str
    status: str
    created: str | None


@dataclass(frozen=True)
class KeyLastUsed:
    user_name: str
    last_used: LastUsed


@dataclass(frozen=True)
class KeyStatus:
    """What IAM in one account says about one of its keys."""

    key_id: str
    user_name: str
    status: str  # Active | Inactive
    created: str | None


def get_user_access_keys(iam_client: Any, user_name: str) -> list[AccessKeyMetadata]:
    """The user's access keys with status and creation date; [] when the user does not exist."""
    pages = unless_missing(lambda: list(iam_client.get_paginator("list_access_keys").paginate(UserName=user_name)))
    if pages is None:
        return []
    keys: list[AccessKeyMetadata] = []
    for page in pages:
        for item in page["AccessKeyMetadata"]:
            created = item.get("CreateDate")
            keys.append(
                AccessKeyMetadata(
                    key_id=item["AccessKeyId"],
                    status=item["Status"],
                    created=created.isoformat() if isinstance(created, datetime) else None,
                )
            )
    return keys


def get_key_last_used(iam_client: Any, key_id: str) -> KeyLastUsed | None:
    """The user and last use of a key, or None when IAM says this account has no such key."""
    response = unless_missing(lambda: iam_client.get_access_key_last_used(AccessKeyId=key_id)) or {}
    user_name = response.get("UserName")
    if not user_name:
        return None
    used = response.get("AccessKeyLastUsed", {})
    date = used.get("LastUsedDate")
    return KeyLastUsed(
        user_name=user_name,
        last_used=LastUsed(
            date=date.isoformat() if isinstance(date, datetime) else None,
            service=_known(used.get("ServiceName")),
            region=_known(used.get("Region")),
        ),
    )


def get_key_user(iam_client: Any, key_id: str) -> str | None:
    """The IAM user a key belongs to in this account, or None when IAM does not know the key."""
    found = get_key_last_used(iam_client, key_id)
    return found.user_name if found else None


def get_key_status(iam_client: Any, key_id: str, hint_user: str | None = None) -> KeyStatus | None:
    """The key's user and status as IAM has them now; None when the account has no such key.

    Two calls: GetAccessKeyLastUsed names the user, ListAccessKeys confirms the key is that
    user's (some IAM endpoints, moto's among them, answer the first for other accounts' keys).
    IAM may refuse GetAccessKeyLastUsed (AccessDenied) for a key the account does not have; then
    the users' key lists decide, `hint_user` (the user an event names) first.
    """
    try:
        user_name = get_key_user(iam_client, key_id)
    except AwsCallError as exc:
        if exc.outcome is not AccountOutcome.ACCESS_DENIED:
            raise
        return _status_from_key_lists(iam_client, key_id, hint_user)
    if user_name is None:
        return None
    return _status_in(iam_client, key_id, user_name)


def _status_in(iam_client: Any, key_id: str, user_name: str) -> KeyStatus | None:
    for key in get_user_access_keys(iam_client, user_name):
        if key.key_id == key_id:
            return KeyStatus(key_id=key_id, user_name=user_name, status=key.status, created=key.created)
    return None


def _status_from_key_lists(iam_client: Any, key_id: str, hint_user: str | None) -> KeyStatus | None:
    """Exact, and as costly as the account has users: raises when the role cannot list users either."""
    if hint_user:
        found = _status_in(iam_client, key_id, hint_user)
        if found is not None:
            return found
    # The one place keys need the users' list (iam_users.py): IAM will not name the key's user.
    for user_name in list_user_names(iam_client):
        if user_name != hint_user and (found := _status_in(iam_client, key_id, user_name)) is not None:
            return found
    return None


def _known(value: str | None) -> str | None:
    return None if value in (None, "", "N/A") else value
