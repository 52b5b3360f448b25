"""IAM users in one account: who they are, their tags and the managed policies on them. Typed,
paginated, plain data back; "this user does not exist" is None or [], anything else a classified
AwsCallError (workers/aws/errors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workers.aws.errors import classified, unless_missing

# AWS attaches one of these (AWSCompromisedKeyQuarantine, …V2, …V3) to a user whose key it found
# exposed; they deny the actions an attacker would use first.
QUARANTINE_POLICY_PREFIX = "AWSCompromisedKeyQuarantine"


@dataclass(frozen=True)
class UserDetails:
    arn: str
    tags: dict[str, str]


@classified()
def list_user_names(iam_client: Any) -> Iterator[str]:
    """Every IAM user name of the account (all pages)."""
    for page in iam_client.get_paginator("list_users").paginate():
        yield from (user["UserName"] for user in page["Users"])


def get_user_tags(iam_client: Any, user_name: str) -> dict[str, str] | None:
    """The user's tags (all pages); None when the user does not exist (deleted meanwhile)."""
    pages = unless_missing(lambda: list(iam_client.get_paginator("list_user_tags").paginate(UserName=user_name)))
    return None if pages is None else {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}


def get_user(iam_client: Any, user_name: str) -> UserDetails | None:
    """ARN and tags of an IAM user (GetUser returns both in one call); None when gone."""
    user = (unless_missing(lambda: iam_client.get_user(UserName=user_name)) or {}).get("User")
    return UserDetails(arn=user["Arn"], tags={t["Key"]: t["Value"] for t in user.get("Tags", [])}) if user else None


def get_attached_user_policy_arns(iam_client: Any, user_name: str) -> list[str]:
    """ARNs of the managed policies attached to a user (all pages); [] when the user is gone."""
    pages = unless_missing(
        lambda: list(iam_client.get_paginator("list_attached_user_policies").paginate(UserName=user_name))
    )
    return [] if pages is None else [str(item["PolicyArn"]) for page in pages for item in page["AttachedPolicies"]]


def quarantine_policy(policy_arns: list[str]) -> str | None:
    """The name of the AWS quarantine policy among a user's attached policies, if any."""
    for arn in policy_arns:
        name = arn.rsplit("/", 1)[-1]
        if arn.startswith("arn:aws") and ":iam::aws:policy/" in arn and name.startswith(QUARANTINE_POLICY_PREFIX):
            return name
    return None
