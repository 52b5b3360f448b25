"""CloudTrail's LookupEvents, which moto does not implement, answered from recorded events.

Events are kept per account, newest first on the way out, and looked up as CloudTrail does: one
lookup attribute, a time range, pages of at most 50 with a NextToken bound to the query. The
records are shaped as CloudTrail writes them, so the bot's "who deleted it, and when" works
offline end to end.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import itertools
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standins.aws_proxy import wire
from standins.aws_proxy.callers import Caller, iso, now

# X-Amz-Target of CloudTrail's LookupEvents, as botocore sends it.
LOOKUP_EVENTS_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
# Events kept per account; the oldest are dropped beyond this, so a long benchmark stays bounded.
MAX_EVENTS_PER_ACCOUNT = 10_000
# LookupEvents' page size when MaxResults is not given, and the most it allows.
LOOKUP_PAGE_SIZE = 50
# The attributes LookupEvents can filter on (one per call).
LOOKUP_ATTRIBUTES = frozenset(
    {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}
)
# Where recorded calls come from: the loopback, where every offline caller runs.
SOURCE_IP = "127.0.0.1"


@dataclass(frozen=True)
class TrailEvent:
    """One recorded management event, with what LookupEvents filters and answers on."""

    seq: int
    time: datetime
    event_id: str
    event_name: str
    event_source: str
    read_only: bool
    username: str
    access_key_id: str | None
    resources: tuple[tuple[str, str], ...]  # (ResourceType, ResourceName)
    record: dict[str, Any]

    @property
    def order(self) -> tuple[float, int]:
        return (self.time.timestamp(), self.seq)

    def matches(self, attribute: str, value: str) -> bool:
        if attribute == "ResourceType":
            return any(kind == value for kind, _ in self.resources)
        if attribute == "ResourceName":
            return any(name == value for _, name in self.resources)
        actual = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "Username": self.username,
            "EventSource": self.event_source,
            "AccessKeyId": self.access_key_id,
        }[attribute]
        return actual == value

    def item(self) -> dict[str, Any]:
        """The LookupEvents item, in the JSON protocol (EventTime as epoch seconds)."""
        item: dict[str, Any] = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "EventTime": self.time.timestamp(),
            "EventSource": self.event_source,
            "Username": self.username,
            "Resources": [{"ResourceType": kind, "ResourceName": name} for kind, name in self.resources],
            "CloudTrailEvent": json.dumps(self.record),
        }
        if self.access_key_id:
            item["AccessKeyId"] = self.access_key_id
        return item


class LookupRefused(Exception):
    """A LookupEvents request CloudTrail would refuse, with the error code it would answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Trail:
    """The management events of every account (thread-safe, bounded per account)."""

    def __init__(self, max_events: int = MAX_EVENTS_PER_ACCOUNT) -> None:
        self._max_events = max_events
        self._lock = threading.Lock()
        self._events: dict[str, list[TrailEvent]] = {}  # per account, oldest first
        self._seq = itertools.count()

    def add(
        self,
        account_id: str,
        event_name: str,
        caller: Caller,
        *,
        access_key_id: str | None,
        request_parameters: dict[str, Any] | None,
        response_elements: dict[str, Any] | None = None,
        event_time: datetime | None = None,
        event_source: str = "iam.amazonaws.com",
        region: str = "us-east-1",
        read_only: bool = False,
        user_agent: str = "aws-cli/2 whose-key-offline",
        source_ip: str = SOURCE_IP,
        error_code: str | None = None,
        resources: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """Record one management event made by caller in account_id; its event ID."""
        when = (event_time or now()).replace(microsecond=0)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        event_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": caller.user_identity(access_key_id),
            "eventTime": iso(when),
            "eventSource": event_source,
            "eventName": event_name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
            "requestParameters": request_parameters,
            "responseElements": response_elements,
            "requestID": str(uuid.uuid4()),
            "eventID": event_id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account_id,
            "eventCategory": "Management",
        }
        if error_code:
            record["errorCode"] = error_code
            record["errorMessage"] = f"{event_name} failed with {error_code}"
        with self._lock:
            event = TrailEvent(
                seq=next(self._seq),
                time=when,
                event_id=event_id,
                event_name=event_name,
                event_source=event_source,
                read_only=read_only,
                username=caller.lookup_username,
                access_key_id=access_key_id,
                resources=resources,
                record=record,
            )
            events = self._events.setdefault(account_id, [])
            bisect.insort(events, event, key=_order)
            if len(events) > self._max_events:
                del events[: len(events) - self._max_events]
        return event_id

    def events(self, account_id: str) -> list[TrailEvent]:
        """The account's events, newest first."""
        with self._lock:
            return list(reversed(self._events.get(account_id, [])))

    def lookup(self, account_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """LookupEvents in account_id: one attribute, a time range, newest first, paged."""
        attributes = request.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise LookupRefused("InvalidLookupAttributesException", "Only one lookup attribute is allowed.")
        wanted: tuple[str, str] | None = None
        if attributes:
            attribute = attributes[0] if isinstance(attributes[0], dict) else {}
            key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
            if key not in LOOKUP_ATTRIBUTES or not isinstance(value, str):
                raise LookupRefused("InvalidLookupAttributesException", f"Invalid lookup attribute {key!r}.")
            wanted = (key, value)
        start, end = _epoch(request.get("StartTime")), _epoch(request.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise LookupRefused("InvalidTimeRangeException", "StartTime must be before EndTime.")
        max_results = request.get("MaxResults", LOOKUP_PAGE_SIZE)
        if not isinstance(max_results, int) or not 1 <= max_results <= LOOKUP_PAGE_SIZE:
            raise LookupRefused("InvalidMaxResultsException", f"MaxResults must be 1 to {LOOKUP_PAGE_SIZE}.")
        if request.get("EventCategory") not in (None, "insight"):
            raise LookupRefused("InvalidEventCategoryException", "EventCategory must be insight.")
        scope = [account_id, list(wanted or ()), start, end]
        after = _read_token(request.get("NextToken"), scope)
        found: list[TrailEvent] = []
        has_more = False
        for event in self.events(account_id):
            if request.get("EventCategory") == "insight":
                break  # only management events are recorded, never Insights events
            if after is not None and event.order >= after:
                continue
            stamp = event.time.timestamp()
            if (start is not None and stamp < start) or (end is not None and stamp > end):
                continue
            if wanted is not None and not event.matches(*wanted):
                continue
            if len(found) == max_results:
                has_more = True
                break
            found.append(event)
        answer: dict[str, Any] = {"Events": [event.item() for event in found]}
        if has_more:
            answer["NextToken"] = _write_token(found[-1].order, scope)
        return answer

    def answer(self, account_id: str, body: bytes) -> wire.Answer:
        """A LookupEvents request in account_id answered in the JSON protocol, as CloudTrail would."""
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise LookupRefused("SerializationException", "The request body must be a JSON object.")
            answer = self.lookup(account_id, request)
        except ValueError:
            return wire.error("json", "cloudtrail", 400, "SerializationException", "The request body is not JSON.")
        except LookupRefused as exc:
            return wire.error("json", "cloudtrail", 400, exc.code, exc.message)
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        return 200, headers, json.dumps(answer).encode()


def _order(event: TrailEvent) -> tuple[float, int]:
    return event.order


def _epoch(value: object) -> float | None:
    """A JSON-protocol timestamp (epoch seconds, or ISO 8601) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise LookupRefused("ValidationException", f"Invalid timestamp {value!r}.") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise LookupRefused("ValidationException", "Invalid timestamp.")


def _write_token(after: tuple[float, int], scope: list[Any]) -> str:
    raw = json.dumps({"after": list(after), "scope": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: object, scope: list[Any]) -> tuple[float, int] | None:
    """Where the previous page stopped; a token from another query or account is refused, as AWS does."""
    if token is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        after = decoded["after"]
        same_query = decoded["scope"] == json.loads(json.dumps(scope))
        position = (float(after[0]), int(after[1]))
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError):
        raise LookupRefused("InvalidNextTokenException", "Invalid NextToken.") from None
    if not same_query:
        raise LookupRefused("InvalidNextTokenException", "NextToken belongs to another query.")
    return position
