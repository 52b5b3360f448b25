"""Who deleted or deactivated a key, deleted its user, or issued a session: from CloudTrail's
LookupEvents in the key's account, which keeps management events for 90 days.

IAM is global and records its events in us-east-1, so one region holds every key and user event.
A session's own calls are recorded in the region they were made in; only us-east-1 is read here,
so "none found" for a session means none in us-east-1, not "never used".

LookupEvents allows 2 requests a second per account and region. Every call takes a slot from a
limiter first (in a worker, one shared by the whole cluster through Redis: cloudtrail_rate.py), botocore
never retries on its own (its retries would skip the limiter), and a throttled call backs off and
tries again a few times; when CloudTrail stays busy the answer says so and keeps everything else.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from workers.aws.cloudtrail_rate import AccountRateLimiter, RateLimiter
from workers.aws.errors import AwsCallError, error_code, is_denied, is_throttling

# LookupEvents only reaches back this far.
LOOKBACK = timedelta(days=90)
# The most LookupEvents returns in one page.
PAGE_SIZE = 50

# A throttled LookupEvents is tried again this many times, after a backoff that doubles from
# THROTTLE_BACKOFF seconds (with jitter, so throttled workers do not come back together).
THROTTLE_RETRIES = 3
THROTTLE_BACKOFF = 0.5


@dataclass(frozen=True)
class TrailEvent:
    """One CloudTrail record, reduced to what the user is told."""

    event_name: str  # e.g. DeleteAccessKey
    event_time: str  # ISO 8601
    actor: str  # "arn:aws:iam::111:user/alice", "assumed-role/Admin/bob@example.com", "root", ...
    source_ip: str | None
    user_name: str | None  # the IAM user acted on; the actor's own user for self-service changes
    access_key_id: str | None  # the key acted on; for sessions, the session key that made the call
    session_issuer: str | None = None  # ARN of the role or user whose session the actor used


class TrailOutcome(StrEnum):
    """How reading CloudTrail went. "Could not read" is never "nothing there"."""

    FOUND = "found"
    NONE_FOUND = "none_found"
    NOT_PERMITTED = "not_permitted"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class TrailAnswer:
    outcome: TrailOutcome
    event: TrailEvent | None = None
    # One line for the user: why CloudTrail could not be read, or that only part of it was.
    detail: str = ""


Record = dict[str, Any]
Matcher = Callable[[Record], bool]


class CloudTrailReader:
    """Answers "who did this to the key, and when" from CloudTrail in the key's account."""

    def __init__(
        self,
        client_for: Callable[[str], Any],
        *,
        max_pages: int = 5,
        requests_per_second: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: RateLimiter | None = None,
    ) -> None:
        self._client_for = client_for
        self._max_pages = max_pages
        self._limiter = limiter or AccountRateLimiter(requests_per_second, sleep=sleep, clock=clock)
        self._sleep = sleep
        self._now = now

    def who_deleted_key(self, account_id: str, key_id: str) -> TrailAnswer:
        """The DeleteAccessKey call that removed key_id."""

        def match(record: Record) -> bool:
            return _succeeded(record) and _param(record, "accessKeyId") == key_id

        return self._find(account_id, "EventName", "DeleteAccessKey", match, "who deleted it and when")

    def who_deactivated_key(self, account_id: str, key_id: str) -> TrailAnswer:
        """The most recent UpdateAccessKey call that made key_id Inactive."""

        def match(record: Record) -> bool:
            return (
                _succeeded(record)
                and _param(record, "accessKeyId") == key_id
                and _param(record, "status") == "Inactive"
            )

        return self._find(account_id, "EventName", "UpdateAccessKey", match, "who deactivated it and when")

    def who_deleted_user(self, account_id: str, user_name: str) -> TrailAnswer:
        """The DeleteUser call that removed user_name."""
        # IAM user names are unique regardless of case, so "Alice" and "alice" are the same user.
        wanted = user_name.casefold()

        def match(record: Record) -> bool:
            name = _param(record, "userName")
            return _succeeded(record) and name is not None and name.casefold() == wanted

        return self._find(account_id, "EventName", "DeleteUser", match, "who deleted the user and when")

    def who_issued_session(self, account_id: str, key_id: str) -> TrailAnswer:
        """The most recent call made with temporary key_id, whose identity names the session's issuer."""

        # A call that was denied still shows whose session made it, so failed calls count too.
        def match(record: Record) -> bool:
            return _text(_dict(record.get("userIdentity")).get("accessKeyId")) == key_id

        return self._find(
            account_id, "AccessKeyId", key_id, match, "which role or user the session belongs to", session=True
        )

    def _find(
        self,
        account_id: str,
        attribute: str,
        value: str,
        match: Matcher,
        unknown: str,
        *,
        session: bool = False,
    ) -> TrailAnswer:
        """Read up to max_pages of matching events, newest first, and return the first that matches."""
        try:
            client = self._client_for(account_id)
        except AwsCallError as exc:
            return _cannot_read(TrailOutcome.UNREACHABLE, account_id, exc.detail, unknown)
        except (ClientError, BotoCoreError) as exc:
            return _failed(exc, account_id, unknown)
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": attribute, "AttributeValue": value}],
            "StartTime": self._now() - LOOKBACK,
            "MaxResults": PAGE_SIZE,
        }
        for _ in range(self._max_pages):
            page = self._call(client, account_id, params)
            if isinstance(page, str):
                return _cannot_read(TrailOutcome.UNREACHABLE, account_id, page, unknown)
            if not isinstance(page, dict):
                return _failed(page, account_id, unknown)
            # LookupEvents lists the most recent event first, so the first match is the latest.
            for item in page.get("Events", []):
                record = _record(item)
                if record is not None and match(record):
                    return TrailAnswer(TrailOutcome.FOUND, _event(item, record, session=session))
            token = page.get("NextToken")
            if not token:
                return TrailAnswer(TrailOutcome.NONE_FOUND)
            params["NextToken"] = token
        # Older events exist but were not read: say so, or "none found" would overstate the search.
        what = f"{value} events" if attribute == "EventName" else "events made with the key"
        return TrailAnswer(
            TrailOutcome.NONE_FOUND,
            detail=(
                f"Only the latest {self._max_pages * PAGE_SIZE} {what} in account {account_id}'s CloudTrail "
                "were read and none matched; older ones were not read."
            ),
        )

    def _call(self, client: Any, account_id: str, params: dict[str, Any]) -> Record | str | ClientError | BotoCoreError:
        """One page: the answer, a reason the limiter refused, or the error that ended the tries."""
        attempt = 0
        while True:
            if not self._limiter.wait(account_id):
                return "too many CloudTrail lookups are waiting for its rate limit"
            try:
                return dict(client.lookup_events(**params))
            except (ClientError, BotoCoreError) as exc:
                if not is_throttling(exc) or attempt >= THROTTLE_RETRIES:
                    return exc
            self._sleep(THROTTLE_BACKOFF * 2**attempt * (0.5 + random.random() / 2))  # noqa: S311 - jitter
            attempt += 1


def _failed(exc: ClientError | BotoCoreError, account_id: str, unknown: str) -> TrailAnswer:
    """Turn a botocore failure into an answer; details carry error codes only, never messages."""
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return _cannot_read(TrailOutcome.UNREACHABLE, account_id, "AWS did not answer in time", unknown)
    if isinstance(exc, EndpointConnectionError):
        return _cannot_read(TrailOutcome.UNREACHABLE, account_id, "could not reach the AWS endpoint", unknown)
    code = error_code(exc) or "unknown error"
    if is_denied(exc):
        return _cannot_read(TrailOutcome.NOT_PERMITTED, account_id, code, unknown)
    # Throttling reaches here only after the backoffs gave up, so it is reported, not retried.
    return _cannot_read(TrailOutcome.UNREACHABLE, account_id, code, unknown)


def _cannot_read(outcome: TrailOutcome, account_id: str, reason: str, unknown: str) -> TrailAnswer:
    detail = f"CloudTrail could not be read in account {account_id} ({reason}), so {unknown} is unknown."
    return TrailAnswer(outcome, detail=detail)


def _record(item: Record) -> Record | None:
    """The CloudTrailEvent JSON of a LookupEvents item, or None when it is missing or unreadable."""
    try:
        record = json.loads(item.get("CloudTrailEvent") or "")
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _event(item: Record, record: Record, *, session: bool) -> TrailEvent:
    identity = _dict(record.get("userIdentity"))
    issuer = _dict(_dict(identity.get("sessionContext")).get("sessionIssuer"))
    # Users changing their own keys send no userName: IAM then acts on the caller's user.
    own_user = _text(identity.get("userName")) if identity.get("type") == "IAMUser" else None
    event_time = _text(record.get("eventTime"))
    if event_time is None and isinstance(item.get("EventTime"), datetime):
        event_time = item["EventTime"].isoformat()
    return TrailEvent(
        event_name=_text(record.get("eventName")) or _text(item.get("EventName")) or "",
        event_time=event_time or "",
        actor=_actor(identity),
        source_ip=_text(record.get("sourceIPAddress")),
        user_name=_param(record, "userName") or own_user,
        access_key_id=_text(identity.get("accessKeyId")) if session else _param(record, "accessKeyId"),
        session_issuer=_text(issuer.get("arn")),
    )


def _actor(identity: Record) -> str:
    """A readable name for who made the call, from the record's userIdentity."""
    kind = identity.get("type")
    arn = _text(identity.get("arn"))
    if kind == "Root":
        return "root"
    if kind == "AssumedRole":
        role = _text(_dict(_dict(identity.get("sessionContext")).get("sessionIssuer")).get("userName"))
        # The session name is the last part of the assumed-role ARN, and follows ":" in principalId.
        principal = _text(identity.get("principalId")) or ""
        session_name = arn.rsplit("/", 1)[-1] if arn else principal.partition(":")[2]
        if role and session_name:
            return f"assumed-role/{role}/{session_name}"
    if kind == "AWSService":
        return _text(identity.get("invokedBy")) or "an AWS service"
    return arn or _text(identity.get("principalId")) or _text(identity.get("invokedBy")) or str(kind or "unknown")


def _succeeded(record: Record) -> bool:
    # Failed calls (denied, no such key) are recorded too, with an errorCode; they changed nothing.
    return not record.get("errorCode")


def _param(record: Record, name: str) -> str | None:
    return _text(_dict(record.get("requestParameters")).get(name))


def _dict(value: object) -> Record:
    # requestParameters and others are null in some records.
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
