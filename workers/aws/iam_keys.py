"""The AWS layer's reads of one key's truth in IAM: its user and status now, and the managed
policies on its user. Plain data out, AwsCallError (typed) for failures, like workers/aws/gateway.py,
which builds the clients; kept apart so neither module outgrows one screenful of concerns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from workers.aws.gateway import AwsCallError, classify, error_code
from workers.aws.iam import get_key_last_used, get_user_access_keys, list_user_names
from workers.model import AccountOutcome

# AWS attaches one of these (AWSCompromisedKeyQuarantine, …V2, …V3) to a user whose key it found
# exposed; they deny the actions an attacker would use first.
QUARANTINE_POLICY_PREFIX = "AWSCompromisedKeyQuarantine"


@dataclass(frozen=True)
class KeyStatus:
    """What IAM in one account says about one of its keys."""

    key_id: str
    user_name: str
    status: str  # Active | Inactive
    created: str | None


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
    for user_name in list_user_names(iam_client):
        if user_name != hint_user and (found := _status_in(iam_client, key_id, user_name)) is not None:
            return found
    return None


def get_attached_user_policy_arns(iam_client: Any, user_name: str) -> list[str]:
    """ARNs of the managed policies attached to a user (all pages); [] when the user is gone."""
    arns: list[str] = []
    try:
        for page in iam_client.get_paginator("list_attached_user_policies").paginate(UserName=user_name):
            arns.extend(str(item["PolicyArn"]) for item in page["AttachedPolicies"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return []
        raise classify(exc) from exc
    except BotoCoreError as exc:
        raise classify(exc) from exc
    return arns


def quarantine_policy(policy_arns: list[str]) -> str | None:
    """The name of the AWS quarantine policy among a user's attached policies, if any."""
    for arn in policy_arns:
        name = arn.rsplit("/", 1)[-1]
        if arn.startswith("arn:aws") and ":iam::aws:policy/" in arn and name.startswith(QUARANTINE_POLICY_PREFIX):
            return name
    return None
