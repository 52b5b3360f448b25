"""IAM reads in one account: typed, paginated, plain data back, and one classified error type
(workers.aws.gateway.AwsCallError) for anything but "this user or key does not exist"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.aws.gateway import classify, error_code
from workers.model import LastUsed


def list_user_names(iam_client: Any) -> Iterator[str]:
    """Every IAM user name of the account (all pages)."""
    try:
        for page in iam_client.get_paginator("list_users").paginate():
            yield from (user["UserName"] for user in page["Users"])
    except (ClientError, BotoCoreError) as exc:
        raise classify(exc) from exc


def get_user_tags(iam_client: Any, user_name: str) -> dict[str, str] | None:
    """The user's tags (all pages); None when the user does not exist (deleted meanwhile)."""
    pages = _unless_missing(lambda: list(iam_client.get_paginator("list_user_tags").paginate(UserName=user_name)))
    return None if pages is None else {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}


def _unless_missing(call: Callable[[], Any]) -> Any | None:
    """call(), or None when IAM says the user or key does not exist."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise classify(exc) from exc
    except BotoCoreError as exc:
        raise classify(exc) from exc


@dataclass(frozen=True)
class KeyLastUsed:
    user_name: str
    last_used: LastUsed


def get_key_last_used(iam_client: Any, key_id: str) -> KeyLastUsed | None:
    """The user and last use of a key, or None when IAM says this account has no such key."""
    response = _unless_missing(lambda: iam_client.get_access_key_last_used(AccessKeyId=key_id)) or {}
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


@dataclass(frozen=True)
class AccessKeyMetadata:
    key_id: str
    status: str
    created: str | None


def get_user_access_keys(iam_client: Any, user_name: str) -> list[AccessKeyMetadata]:
    """The user's access keys with status and creation date; [] when the user does not exist."""
    keys: list[AccessKeyMetadata] = []
    try:
        for page in iam_client.get_paginator("list_access_keys").paginate(UserName=user_name):
            for item in page["AccessKeyMetadata"]:
                created = item.get("CreateDate")
                keys.append(
                    AccessKeyMetadata(
                        key_id=item["AccessKeyId"],
                        status=item["Status"],
                        created=created.isoformat() if isinstance(created, datetime) else None,
                    )
                )
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return []
        raise classify(exc) from exc
    except BotoCoreError as exc:
        raise classify(exc) from exc
    return keys


@dataclass(frozen=True)
class UserDetails:
    arn: str
    tags: dict[str, str]


def get_user(iam_client: Any, user_name: str) -> UserDetails | None:
    """ARN and tags of an IAM user (GetUser returns both in one call); None when gone."""
    user = (_unless_missing(lambda: iam_client.get_user(UserName=user_name)) or {}).get("User")
    return UserDetails(arn=user["Arn"], tags={t["Key"]: t["Value"] for t in user.get("Tags", [])}) if user else None


def _known(value: str | None) -> str | None:
    return None if value in (None, "", "N/A") else value
