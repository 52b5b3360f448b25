"""The only writes whose-key makes to AWS: a key's status, through the opt-in responder role.

The role (deploy/responder-role.yaml) allows iam:UpdateAccessKey and the AWS quarantine policies,
nothing else; whose-key never deletes or creates a key (no secret ever passes through it). Reads
before and after the change go through the read-only role, so what a person is told is what IAM
says, not what the write call returned.
"""

from __future__ import annotations

from enum import StrEnum

from workers.aws.errors import AccountOutcome, AwsCallError, classified
from workers.aws.gateway import AwsGateway

ACTIVE = "Active"
INACTIVE = "Inactive"


class WriteFailure(StrEnum):
    """Why a change was not made, in words a person can act on (see workers/render/respond.py)."""

    ROLE_MISSING = "role_missing"  # the responder role could not be assumed in that account
    DENIED = "denied"  # the role is there, IAM refused the call
    GONE = "gone"  # IAM has no such key (deleted meanwhile)
    THROTTLED = "throttled"  # IAM kept answering "slow down" after botocore's retries
    UNAVAILABLE = "unavailable"  # AWS did not answer, or another error


class KeyWriteError(Exception):
    def __init__(self, failure: WriteFailure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def set_key_status(responder: AwsGateway, account_id: str, user_name: str, key_id: str, status: str) -> None:
    """UpdateAccessKey through the responder role; raises KeyWriteError naming what failed."""
    try:
        iam = responder.client(account_id, "iam")
        with classified():
            iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status=status)
    except AwsCallError as exc:
        raise KeyWriteError(_failure_of(exc), exc.detail) from exc


def attach_policy(responder: AwsGateway, account_id: str, user_name: str, policy_arn: str) -> None:
    """AttachUserPolicy through the responder role (its policy allows the quarantine ones only)."""
    try:
        iam = responder.client(account_id, "iam")
        with classified():
            iam.attach_user_policy(UserName=user_name, PolicyArn=policy_arn)
    except AwsCallError as exc:
        raise KeyWriteError(_failure_of(exc), exc.detail) from exc


def _failure_of(exc: AwsCallError) -> WriteFailure:
    if exc.outcome is AccountOutcome.ASSUME_ROLE_FAILED:
        return WriteFailure.ROLE_MISSING
    if exc.outcome is AccountOutcome.ACCESS_DENIED:
        return WriteFailure.DENIED
    if exc.outcome is AccountOutcome.THROTTLED:
        return WriteFailure.THROTTLED
    if "NoSuchEntity" in exc.detail:
        return WriteFailure.GONE
    return WriteFailure.UNAVAILABLE
