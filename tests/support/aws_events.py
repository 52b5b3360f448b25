"""Key events as AWS delivers them, posted to a running stack, and what the tests read back: the
DMs at the loopback Slack, fresh IAM users to act on (the audit trail: tests/support/waiting.py)."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standins.slack_double import RecordedCall
from standins.stack import HttpResult, Stack, http_post
from tests.e2e.env import EVENTS_TOKEN, iam_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    """One payload fixture, e.g. fixture("eventbridge/health-non-risk.json") (a fresh copy)."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return copy.deepcopy(data)


def cloudtrail_event(
    account: str,
    name: str,
    params: dict[str, Any],
    *,
    actor: dict[str, Any] | None = None,
    event_id: str | None = None,
    trail_id: str | None = None,
) -> dict[str, Any]:
    """An EventBridge "AWS API Call via CloudTrail" event as an API destination delivers it."""
    identity = actor or {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{account}:assumed-role/SecurityAdmin/carol",
        "accountId": account,
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "SecurityAdmin"}},
    }
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": account,
        "time": "2026-11-26T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": identity,
            "eventTime": "2026-11-26T10:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "requestParameters": params,
            "responseElements": None,
            "eventType": "AwsApiCall",
            "eventID": trail_id or str(uuid.uuid4()),
            "recipientAccountId": account,
        },
    }


def health_event(code: str, member_account: str, key_id: str, *, in_metadata: bool = False) -> dict[str, Any]:
    """An organizational-view Health risk notice for key_id in member_account (from the fixtures' shape)."""
    event = fixture("eventbridge/health-aws-risk-credentials-exposed.json")
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["eventTypeCode"] = code
    detail["eventArn"] = f"arn:aws:health:global::event/IAM/{code}/{code}_{uuid.uuid4().hex[:12].upper()}"
    detail["communicationId"] = uuid.uuid4().hex + "-1"
    detail["affectedAccount"] = member_account
    detail["eventDescription"][0]["latestDescription"] = f"AWS says {code} about {key_id}."
    if in_metadata:
        detail["affectedEntities"] = []
        detail["eventMetadata"] = {"accessKeyId": key_id}
    else:
        detail["affectedEntities"] = [{"entityValue": key_id}]
    return event


def post_event(
    stack: Stack, event: dict[str, Any], token: str | None = EVENTS_TOKEN, url: str | None = None
) -> HttpResult:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return http_post((url or stack.web_url) + "/aws/events", json.dumps(event).encode(), headers)


def dms_about(stack: Stack, channel: str, key_id: str, *, delivered_only: bool = True) -> list[RecordedCall]:
    """chat.postMessage calls to channel that mention key_id (only those Slack took, by default)."""
    return [
        c
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == channel and key_id in json.dumps(c.body) and (c.ok or not delivered_only)
    ]


def wait_for_dm(stack: Stack, channel: str, key_id: str, timeout: float = 30) -> RecordedCall:
    stack.slack.wait_for(lambda _: bool(dms_about(stack, channel, key_id)), timeout=timeout)
    return dms_about(stack, channel, key_id)[0]


@dataclass(frozen=True)
class FreshKey:
    """An IAM user made for one test, with one Active key and an owner tag."""

    account_id: str
    user_name: str
    key_id: str
    iam: Any

    def deactivate(self) -> None:
        self.iam.update_access_key(UserName=self.user_name, AccessKeyId=self.key_id, Status="Inactive")

    def delete(self) -> None:
        self.iam.delete_access_key(UserName=self.user_name, AccessKeyId=self.key_id)


def fresh_key(stack: Stack, account_name: str, tags: dict[str, str] | None = None) -> FreshKey:
    """A new user with one Active key in a seeded account, so each test owns its key's history."""
    assert stack.org is not None
    account_id = stack.org.accounts[account_name]
    iam = iam_in(stack, account_id)
    user_name = f"t-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=user_name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    key_id = iam.create_access_key(UserName=user_name)["AccessKey"]["AccessKeyId"]
    return FreshKey(account_id, user_name, key_id, iam)


def owner_id() -> str:
    """A fresh Slack member ID of the right shape, so one test's DMs are its own."""
    return "U0" + uuid.uuid4().hex[:8].upper()
