"""Read the AWS events whose-key acts on into one typed shape, or say precisely why not.

Accepted (as EventBridge delivers them, directly or inside an SNS notification):
- CloudTrail "AWS API Call via CloudTrail" from aws.iam: UpdateAccessKey (Inactive, and Active
  so a later deactivation counts as new), DeleteAccessKey, DeleteUser;
- AWS Health AWS_RISK_CREDENTIALS_EXPOSED, the key in detail.affectedEntities[].entityValue.
Pure: no I/O, so the web can judge a body within EventBridge's 5 seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.keyids import is_access_key_id

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
HEALTH_EXPOSED = "AWS_RISK_CREDENTIALS_EXPOSED"


class EventError(ValueError):
    """The body is not an event whose-key can use; the message says why (safe to return)."""


@dataclass(frozen=True)
class KeyEvent:
    kind: str  # deactivated | reactivated | deleted | user_deleted | exposed
    account_id: str
    event_id: str
    key_id: str | None = None
    user_name: str | None = None
    actor: str | None = None
    when: str | None = None
    source_ip: str | None = None
    source: str = "eventbridge"


@dataclass(frozen=True)
class Ignored:
    """A well-formed event that needs no action (a failed call, another event name)."""

    reason: str


def parse_event_body(body: bytes | str) -> KeyEvent | Ignored:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EventError("body is not JSON") from None
    if not isinstance(data, dict):
        raise EventError("body is not a JSON object")
    return parse_event(data)


def parse_event(event: dict[str, Any]) -> KeyEvent | Ignored:
    """One EventBridge event (the envelope with `detail`)."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("missing `detail` object")
    account = str(event.get("account") or detail.get("recipientAccountId") or "")
    if not (account.isdigit() and len(account) == 12):
        raise EventError("missing or malformed `account`")
    event_id = str(event.get("id") or detail.get("eventID") or "")
    if not event_id:
        raise EventError("missing event `id`")
    detail_type = event.get("detail-type")
    if event.get("source") == "aws.health":
        return _health(detail, account, event_id, str(event.get("time") or ""))
    if detail_type != CLOUDTRAIL_DETAIL_TYPE:
        raise EventError(f"unsupported detail-type {str(detail_type)[:60]!r}")
    return _cloudtrail(detail, account, event_id)


def _cloudtrail(detail: dict[str, Any], account: str, event_id: str) -> KeyEvent | Ignored:
    name = detail.get("eventName")
    if detail.get("errorCode"):
        return Ignored(f"{name} failed ({detail.get('errorCode')}); nothing changed")
    params = detail.get("requestParameters") or {}
    if not isinstance(params, dict):
        raise EventError("`requestParameters` is not an object")
    identity = detail.get("userIdentity") or {}
    common: dict[str, Any] = {
        "account_id": account,
        "event_id": event_id,
        "actor": describe_actor(identity),
        "when": detail.get("eventTime"),
        "source_ip": detail.get("sourceIPAddress"),
        # Absent when users change their own keys: then the caller is the user.
        "user_name": params.get("userName") or _own_user(identity),
    }
    if name == "UpdateAccessKey":
        status = params.get("status")
        if status not in ("Active", "Inactive"):
            raise EventError("UpdateAccessKey without a status of Active or Inactive")
        key_id = _key(params.get("accessKeyId"))
        return KeyEvent("deactivated" if status == "Inactive" else "reactivated", key_id=key_id, **common)
    if name == "DeleteAccessKey":
        return KeyEvent("deleted", key_id=_key(params.get("accessKeyId")), **common)
    if name == "DeleteUser":
        if not params.get("userName"):
            raise EventError("DeleteUser without requestParameters.userName")
        return KeyEvent("user_deleted", **common)
    return Ignored(f"event {str(name)[:60]!r} is not one whose-key acts on")


def _health(detail: dict[str, Any], account: str, event_id: str, when: str) -> KeyEvent | Ignored:
    if detail.get("eventTypeCode") != HEALTH_EXPOSED:
        return Ignored(f"Health event {str(detail.get('eventTypeCode'))[:60]!r} is not about exposed keys")
    entities = detail.get("affectedEntities") or []
    keys = [
        e.get("entityValue") for e in entities if isinstance(e, dict) and is_access_key_id(str(e.get("entityValue")))
    ]
    if not keys:
        raise EventError("AWS_RISK_CREDENTIALS_EXPOSED without an access key in affectedEntities")
    return KeyEvent(
        "exposed",
        account_id=account,
        event_id=event_id,
        key_id=keys[0],
        actor="AWS Health",
        when=detail.get("startTime") or when,
        source="health",
    )


def _key(value: Any) -> str:
    if not isinstance(value, str) or not is_access_key_id(value):
        raise EventError("missing or malformed requestParameters.accessKeyId")
    return value


def _own_user(identity: dict[str, Any]) -> str | None:
    return identity.get("userName") if identity.get("type") == "IAMUser" else None


def describe_actor(identity: dict[str, Any]) -> str | None:
    """Who made the call, readably: a user ARN, role/session, root or an AWS service."""
    kind = identity.get("type")
    if kind == "AssumedRole":
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        session = str(identity.get("arn", "")).rsplit("/", 1)[-1]
        role = issuer.get("userName") or issuer.get("arn")
        return f"role {role} (session {session})" if role else identity.get("arn")
    if kind == "Root":
        return "the account's root user"
    if kind == "AWSService":
        return identity.get("invokedBy")
    return identity.get("arn") or identity.get("userName")
