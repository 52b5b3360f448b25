"""What the end-to-end tests share: the settings the test processes run with, and an IAM client
acting in one account of the moto organization."""

from __future__ import annotations

from typing import Any

import boto3

from standins.stack import Stack

EVENTS_TOKEN = "test-events-token-0123456789"
AUDIT_CHANNEL = "C0AUDIT01"
# Settings the test processes run with, beyond what the stack sets itself. Sweeps and digests
# run when a test asks, never on a schedule, so they cannot surprise other tests.
TEST_ENV = {
    "WHOSE_KEY_EVENTS_TOKEN": EVENTS_TOKEN,
    "WHOSE_KEY_AUDIT_CHANNEL": AUDIT_CHANNEL,
    "WHOSE_KEY_SWEEP_INTERVAL": "0",
    "WHOSE_KEY_REPORT_INTERVAL": "0",
    # Notices Slack did not take are tried again every second, so a Slack outage of "several
    # minutes" fits in seconds of test time.
    "WHOSE_KEY_NOTICE_RETRY_INTERVAL": "1",
}


def iam_in(stack: Stack, account_id: str) -> Any:
    """An IAM client acting in one account of the moto organization (as an admin would)."""
    assert stack.org is not None
    endpoint = stack.env()["AWS_ENDPOINT_URL"]
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account_id == stack.org.management_account_id:
        return boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint, **creds)
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint, **creds)
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="test-admin"
    )["Credentials"]
    return boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    )
