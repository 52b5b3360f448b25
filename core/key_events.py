"""Read the AWS events whose-key acts on into one typed shape, or say precisely why not.

Accepted (as EventBridge delivers them, directly or inside an SNS notification), and only from
the sources AWS alone can emit (`aws.iam`, `aws.health`: EventBridge refuses `PutEvents` for
`aws.*` sources):
- CloudTrail "AWS API Call via CloudTrail" from aws.iam: UpdateAccessKey (Inactive, and Active
  so a later deactivation counts as new), DeleteAccessKey, DeleteUser;
- AWS Health risk notices (`AWS_RISK_*`) that name an access key, in
  detail.affectedEntities[].entityValue or anywhere in detail.eventMetadata.
Everything here is a claim: the worker has IAM confirm it before anything is recorded or sent.
Pure: no I/O, so the web can judge a body within EventBridge's 5 seconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from core.keyids import is_access_key_id

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# The only event sources whose-key takes: AWS itself emits them, nobody else can.
IAM_SOURCE = "aws.iam"
HEALTH_SOURCE = "aws.health"
ACCEPTED_SOURCES = (IAM_SOURCE, HEALTH_SOURCE)
HEALTH_RISK_PREFIX = "AWS_RISK_"
# The Health risk codes known to be about IAM access keys; any other AWS_RISK_* code is taken
# when it names a key.
KEY_RISK_CODES = frozenset(
    {
        "AWS_RISK_CREDENTIALS_EXPOSED",
        "AWS_RISK_CREDENTIALS_COMPROMISED",
        "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
        "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
        "AWS_RISK_IAM_QUARANTINE",
    }
)
HEALTH_EXPOSED = "AWS_RISK_CREDENTIALS_EXPOSED"
# What AWS says is kept to this many characters (the notice quotes it, escaped).
MAX_DESCRIPTION = 1500


class EventError(ValueError):
    """The body is not an event whose-key can use; the message says why (safe to return)."""


class SourceRefused(EventError):
    """The event comes from a source other than aws.iam and aws.health."""


@dataclass(frozen=True)
class KeyEvent:
    kind: str  # deactivated | reactivated | deleted | user_deleted | exposed (any Health risk)
    account_id: str
    event_id: str
    key_id: str | None = None
    user_name: str | None = None
    actor: str | None = None
    when: str | None = None
    source_ip: str | None = None
    source: str = "eventbridge"  # eventbridge | sns | health | sweep | whose-key (its responder role)
    # The same notice delivered again (another region, another EventBridge `id`) has the same
    # dedupe_id: CloudTrail's eventID, or Health's eventArn + communicationId.
    dedupe_id: str | None = None
    risk_code: str | None = None  # Health events: the eventTypeCode
    description: str | None = None  # Health events: what AWS says, in its words
    # True once actor, when and source_ip were read from CloudTrail's own record of the change;
    # until then they are only what the event claims, and the notice says so.
    from_trail: bool = False


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
    source = event.get("source")
    if source not in ACCEPTED_SOURCES:
        raise SourceRefused(f"unsupported source {str(source)[:60]!r}: only aws.iam and aws.health are taken")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("missing `detail` object")
    # Health's organizational view names the management account in `account` and the account
    # the notice is about in `detail.affectedAccount`.
    account = str(detail.get("affectedAccount") or event.get("account") or detail.get("recipientAccountId") or "")
    if not _is_account(account):
        raise EventError("missing or malformed `account`")
    event_id = str(event.get("id") or detail.get("eventID") or "")
    if not event_id:
        raise EventError("missing event `id`")
    if source == HEALTH_SOURCE:
        return _health(detail, account, event_id, str(event.get("time") or ""))
    detail_type = event.get("detail-type")
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
    if not isinstance(identity, dict):
        raise EventError("`userIdentity` is not an object")
    trail_id = detail.get("eventID")
    common: dict[str, Any] = {
        "account_id": account,
        "event_id": event_id,
        "actor": _text(describe_actor(identity)),
        "when": _text(detail.get("eventTime")),
        "source_ip": _text(detail.get("sourceIPAddress")),
        # Absent when users change their own keys: then the caller is the user.
        "user_name": _text(params.get("userName") or _own_user(identity)),
        # CloudTrail's own ID is the same however often EventBridge delivers the event.
        "dedupe_id": f"cloudtrail-{trail_id}" if isinstance(trail_id, str) and trail_id else f"event-{event_id}",
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
    code = str(detail.get("eventTypeCode") or "")
    if not code.startswith(HEALTH_RISK_PREFIX):
        return Ignored(f"Health event {code[:60]!r} is not a risk notice")
    keys = _keys_named(detail)
    if not keys:
        if code in KEY_RISK_CODES:
            raise EventError(f"{code} without an access key in affectedEntities or eventMetadata")
        return Ignored(f"Health event {code[:60]!r} names no access key")
    arn = str(detail.get("eventArn") or "")
    communication = str(detail.get("communicationId") or "")
    # AWS's advice: the same notice, from whichever region, has the same eventArn + communicationId.
    dedupe = f"health-{_digest(arn + '|' + communication)}" if arn else f"event-{event_id}"
    metadata = detail.get("eventMetadata")
    claimed_user = metadata.get("userName") if isinstance(metadata, dict) else None
    user_name = claimed_user if isinstance(claimed_user, str) and claimed_user else None
    return KeyEvent(
        "exposed",
        account_id=account,
        event_id=event_id,
        key_id=keys[0],
        user_name=user_name,
        actor="AWS Health",
        when=health_time(detail.get("startTime")) or when or None,
        source="health",
        dedupe_id=dedupe,
        risk_code=code,
        description=_description(detail.get("eventDescription")),
    )


def _keys_named(detail: dict[str, Any]) -> list[str]:
    """Access key IDs in affectedEntities, then in eventMetadata's values, in order, once each."""
    found: dict[str, None] = {}
    for entity in detail.get("affectedEntities") or []:
        value = entity.get("entityValue") if isinstance(entity, dict) else None
        if isinstance(value, str) and is_access_key_id(value):
            found.setdefault(value, None)
    metadata = detail.get("eventMetadata")
    if isinstance(metadata, dict):
        for value in metadata.values():
            if isinstance(value, str) and is_access_key_id(value):
                found.setdefault(value, None)
    return list(found)


def health_time(value: Any) -> str | None:
    """Health's RFC 1123 times (`Mon, 17 Mar 2025 03:14:22 GMT`) as ISO 8601; ISO passes through."""
    if not isinstance(value, str) or not value:
        return None
    if value[:4].isdigit():
        return value
    try:
        return parsedate_to_datetime(value).isoformat().replace("+00:00", "Z")
    except (TypeError, ValueError):
        return None


def _description(value: Any) -> str | None:
    """The English latestDescription of Health's eventDescription list (else the first one)."""
    if not isinstance(value, list):
        return None
    texts = [d for d in value if isinstance(d, dict) and isinstance(d.get("latestDescription"), str)]
    chosen = next((d for d in texts if str(d.get("language", "")).startswith("en")), texts[0] if texts else None)
    if chosen is None:
        return None
    text = " ".join(chosen["latestDescription"].split())
    return text[:MAX_DESCRIPTION] or None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _is_account(value: str) -> bool:
    return value.isdigit() and len(value) == 12


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


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
