"""A loopback HTTP proxy in front of the moto server that injects AWS failures at the boundary and
stands in for CloudTrail's LookupEvents, which moto does not implement.

Faults: moto does not enforce roles, throttle or stall, so tests that need AssumeRole denied in one
account, Throttling, or a slow answer point AWS_ENDPOINT_URL at this proxy and script faults;
every request no fault matches is forwarded to moto unchanged.

CloudTrail: the proxy watches what passes through it. It learns whose every access key is (an
STS AssumeRole answer names the session; a CreateAccessKey answer names the user; any other key
acts as a user of the management account, as moto treats it), records IAM's key and user writes
as management events of the caller's account, and records every call made with a session key.
LookupEvents is then answered from those records, in the caller's account, shaped as CloudTrail
shapes them, so the bot's "who deleted it, and when" works offline end to end.

The action and its parameters are read from the request as botocore sends them: the query
protocol (STS, IAM) posts a form with `Action=...`; the JSON protocol (Organizations, CloudTrail)
names the action in `X-Amz-Target` and sends a JSON body (its top-level values, as strings, are
the parameters). Errors are answered in the protocol the request used, so botocore raises the
ClientError with the scripted `Code`, exactly as it would from AWS. A fault scripted for
LookupEvents wins over the emulation.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import http.client
import itertools
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

Match = Callable[[dict[str, str]], bool]

# Namespaces of the query-protocol services' error documents (botocore ignores them, AWS sends them).
_XML_NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
# Headers that describe one hop, not the message; never forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
UPSTREAM_TIMEOUT = 30

# moto's default account: keys nobody issued through the proxy act as a user of this account.
DEFAULT_ACCOUNT_ID = "123456789012"
# The user such keys act as (moto has no user behind its fake "testing" credentials).
DEFAULT_USER_NAME = "moto"
# X-Amz-Target of CloudTrail's LookupEvents, as botocore sends it.
LOOKUP_EVENTS_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
# IAM calls recorded in full (request parameters, response elements), as CloudTrail records them.
RECORDED_IAM_ACTIONS = frozenset({"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "CreateUser", "DeleteUser"})
# Events kept per account; the oldest are dropped beyond this, so a long benchmark stays bounded.
MAX_EVENTS_PER_ACCOUNT = 10_000
# Requests remembered for `seen`; the earliest are forgotten beyond this (the Stack's proxy runs long).
MAX_SEEN_REQUESTS = 10_000
# Access keys whose owner is remembered; the earliest learned are forgotten beyond this.
MAX_KNOWN_KEYS = 100_000
# LookupEvents' page size when MaxResults is not given, and the most it allows.
LOOKUP_PAGE_SIZE = 50
# The attributes LookupEvents can filter on (one per call).
LOOKUP_ATTRIBUTES = frozenset(
    {"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}
)
# Where recorded calls come from: the loopback, where every offline caller runs.
SOURCE_IP = "127.0.0.1"
# Actions read from a call's name when guessing whether a session's call changed anything.
_READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search")


@dataclass
class Fault:
    """What to do with requests for `action` whose parameters `match` (None: every one)."""

    action: str
    match: Match | None
    status: int
    code: str
    message: str
    delay: float = 0.0
    times: int | None = None  # answer this many requests, then let them through; None: forever
    forward: bool = False  # True: only delay, then forward to moto (a slow answer, not an error)
    hits: int = 0

    def applies(self, action: str, params: dict[str, str]) -> bool:
        if action != self.action or (self.times is not None and self.hits >= self.times):
            return False
        return self.match is None or bool(self.match(params))


@dataclass(frozen=True)
class SeenRequest:
    """A request the proxy saw: its service, action and parameters, and whether a fault took it."""

    service: str
    action: str
    params: dict[str, str] = field(default_factory=dict)
    faulted: bool = False


@dataclass(frozen=True)
class Caller:
    """Who an access key acts as: an IAM user, an assumed-role session, or the account's root."""

    kind: str  # IAMUser, AssumedRole or Root, as CloudTrail's userIdentity.type names them
    account_id: str
    arn: str
    principal_id: str
    user_name: str | None = None  # IAMUser only
    issuer_arn: str | None = None  # AssumedRole only: the role's ARN (with its path)
    issuer_principal_id: str | None = None
    created: str | None = None  # AssumedRole only: when the session was issued (ISO 8601)

    @property
    def lookup_username(self) -> str:
        """What LookupEvents shows as Username: the user, the role session's name, or root."""
        if self.kind == "IAMUser" and self.user_name:
            return self.user_name
        if self.kind == "Root":
            return "root"
        return self.arn.rsplit("/", 1)[-1]

    def user_identity(self, access_key_id: str | None) -> dict[str, Any]:
        """The record's userIdentity, as CloudTrail writes it for this kind of caller."""
        identity: dict[str, Any] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
        }
        if access_key_id:
            identity["accessKeyId"] = access_key_id
        if self.kind == "IAMUser":
            identity["userName"] = self.user_name
        if self.kind == "AssumedRole":
            issuer_arn = self.issuer_arn or ""
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.issuer_principal_id or _fake_id("AROA", issuer_arn),
                    "arn": issuer_arn,
                    "accountId": self.account_id,
                    "userName": issuer_arn.rsplit("/", 1)[-1],
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": self.created or _iso(_now()), "mfaAuthenticated": "false"},
            }
        return identity


def caller_from_arn(arn: str) -> Caller:
    """The caller an ARN names: `arn:aws:iam::A:user/N`, `arn:aws:sts::A:assumed-role/R/S` or `...:root`."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[4]:
        raise ValueError(f"not an IAM or STS principal ARN: {arn!r}")
    partition, service, account_id, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Caller("Root", account_id, arn, account_id)
    if service == "iam" and resource.startswith("user/"):
        return Caller("IAMUser", account_id, arn, _fake_id("AIDA", arn), user_name=resource.rsplit("/", 1)[-1])
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") >= 2:
        _, role, session = resource.split("/", 2)
        role_arn = f"arn:{partition}:iam::{account_id}:role/{role}"
        role_id = _fake_id("AROA", role_arn)
        return Caller(
            "AssumedRole", account_id, arn, f"{role_id}:{session}", issuer_arn=role_arn, issuer_principal_id=role_id
        )
    raise ValueError(f"not an IAM user, assumed-role session or root ARN: {arn!r}")


@dataclass(frozen=True)
class _Event:
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


class _LookupError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Trail:
    """Who each access key is, and the management events of every account (thread-safe, bounded)."""

    def __init__(self, default_account: str, max_events: int) -> None:
        self.default_account = default_account
        self._max_events = max_events
        self._lock = threading.Lock()
        self._callers: dict[str, Caller] = {}
        self._events: dict[str, list[_Event]] = {}  # per account, oldest first
        self._seq = itertools.count()

    def learn(self, key_id: str, caller: Caller) -> None:
        with self._lock:
            self._callers.pop(key_id, None)
            self._callers[key_id] = caller
            while len(self._callers) > MAX_KNOWN_KEYS:
                del self._callers[next(iter(self._callers))]

    def knows(self, key_id: str | None) -> bool:
        with self._lock:
            return key_id is not None and key_id in self._callers

    def caller(self, key_id: str | None) -> Caller:
        with self._lock:
            known = self._callers.get(key_id or "")
        if known is not None:
            return known
        return caller_from_arn(f"arn:aws:iam::{self.default_account}:user/{DEFAULT_USER_NAME}")

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
        when = (event_time or _now()).replace(microsecond=0)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        event_id = str(uuid.uuid4())
        record: dict[str, Any] = {
            "eventVersion": "1.08",
            "userIdentity": caller.user_identity(access_key_id),
            "eventTime": _iso(when),
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
            event = _Event(
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

    def events(self, account_id: str) -> list[_Event]:
        """The account's events, newest first."""
        with self._lock:
            return list(reversed(self._events.get(account_id, [])))

    def lookup(self, account_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """LookupEvents in account_id: one attribute, a time range, newest first, paged."""
        attributes = request.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise _LookupError("InvalidLookupAttributesException", "Only one lookup attribute is allowed.")
        wanted: tuple[str, str] | None = None
        if attributes:
            attribute = attributes[0] if isinstance(attributes[0], dict) else {}
            key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
            if key not in LOOKUP_ATTRIBUTES or not isinstance(value, str):
                raise _LookupError("InvalidLookupAttributesException", f"Invalid lookup attribute {key!r}.")
            wanted = (key, value)
        start, end = _epoch(request.get("StartTime")), _epoch(request.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise _LookupError("InvalidTimeRangeException", "StartTime must be before EndTime.")
        max_results = request.get("MaxResults", LOOKUP_PAGE_SIZE)
        if not isinstance(max_results, int) or not 1 <= max_results <= LOOKUP_PAGE_SIZE:
            raise _LookupError("InvalidMaxResultsException", f"MaxResults must be 1 to {LOOKUP_PAGE_SIZE}.")
        if request.get("EventCategory") not in (None, "insight"):
            raise _LookupError("InvalidEventCategoryException", "EventCategory must be insight.")
        scope = [account_id, list(wanted or ()), start, end]
        after = _read_token(request.get("NextToken"), scope)
        found: list[_Event] = []
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


class AwsFaultProxy:
    """Start with start(); point AWS_ENDPOINT_URL at `url`; script faults with fail() and slow().

    LookupEvents is answered from what passed through (see the module docstring); record_event()
    adds history directly, e.g. events older than the proxy.
    """

    def __init__(
        self,
        upstream_url: str,
        host: str = "127.0.0.1",
        *,
        default_account: str = DEFAULT_ACCOUNT_ID,
        max_events_per_account: int = MAX_EVENTS_PER_ACCOUNT,
    ) -> None:
        upstream = urlsplit(upstream_url)
        if upstream.scheme != "http" or not upstream.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        self.upstream_host = upstream.hostname
        self.upstream_port = upstream.port or 80
        self.host = host
        self.default_account = default_account
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seen: deque[SeenRequest] = deque(maxlen=MAX_SEEN_REQUESTS)
        self._trail = _Trail(default_account, max_events_per_account)
        # Secrets of the sessions STS issued through this proxy, for leak tests to search for.
        self.issued_secrets: set[str] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> AwsFaultProxy:
        if self._server is not None:
            return self
        self._server = _Server((self.host, 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="aws-fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> AwsFaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("AwsFaultProxy is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    # -- scripting ---------------------------------------------------------------------------

    def fail(
        self,
        action: str,
        match: Match | None,
        status: int,
        code: str,
        message: str,
        delay: float = 0,
        *,
        times: int | None = None,
    ) -> Fault:
        """Answer matching requests with this AWS error (after `delay` seconds)."""
        fault = Fault(action, match, status, code, message, delay, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def slow(self, action: str, match: Match | None, delay: float, *, times: int | None = None) -> Fault:
        """Hold matching requests for `delay` seconds, then forward them (a slow, not a failed, AWS)."""
        fault = Fault(action, match, 200, "", "", delay, times, forward=True)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Stop applying one scripted fault (others stay)."""
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        """Drop every fault and forget the requests seen (recorded CloudTrail events are kept)."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    # -- CloudTrail --------------------------------------------------------------------------

    def record_event(
        self,
        account_id: str,
        event_name: str,
        *,
        actor_arn: str,
        request_parameters: dict[str, Any] | None,
        event_time: datetime | None = None,
        access_key_id: str | None = None,
        response_elements: dict[str, Any] | None = None,
        error_code: str | None = None,
        event_source: str = "iam.amazonaws.com",
    ) -> str:
        """Record a management event in account_id made by actor_arn (now, or at event_time); its ID."""
        return self._trail.add(
            account_id,
            event_name,
            caller_from_arn(actor_arn),
            access_key_id=access_key_id,
            request_parameters=request_parameters,
            response_elements=response_elements,
            event_time=event_time,
            event_source=event_source,
            error_code=error_code,
            resources=_resources(request_parameters),
        )

    def events(self, account_id: str) -> list[dict[str, Any]]:
        """The account's recorded events as CloudTrail records (parsed CloudTrailEvent), newest first."""
        return [json.loads(json.dumps(event.record)) for event in self._trail.events(account_id)]

    def caller(self, access_key_id: str) -> Caller:
        """Who the proxy takes access_key_id to be (the management account's user when not learned)."""
        return self._trail.caller(access_key_id)

    # -- request handling --------------------------------------------------------------------

    def _handle(self, request: _Handler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length > 0 else b""
        headers = {name.lower(): value for name, value in request.headers.items()}
        service, action, params, protocol = _describe(request.path, headers, body)
        with self._lock:
            fault = next((f for f in self._faults if f.applies(action, params)), None)
            if fault is not None:
                fault.hits += 1
            self._seen.append(SeenRequest(service, action, params, faulted=fault is not None and not fault.forward))
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        key_id = _signing_key(headers.get("authorization", ""))
        if fault is not None and not fault.forward:
            status, out_headers, payload = _error(protocol, service, fault.status, fault.code, fault.message)
        elif headers.get("x-amz-target") == LOOKUP_EVENTS_TARGET:
            status, out_headers, payload = self._lookup_events(key_id, body)
        else:
            status, out_headers, payload = self._forward(request.command, request.path, headers, body)
        self._observe(
            _Call(service, action, params, key_id, _signing_region(headers.get("authorization", ""))),
            status,
            payload,
            user_agent=headers.get("user-agent", ""),
            source_ip=request.client_address[0],
            error_code=fault.code if fault is not None and not fault.forward else None,
        )
        try:
            request.send_response(status)
            for name, value in out_headers:
                request.send_header(name, value)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            request.close_connection = True  # the client gave up (its read timeout fired)

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=UPSTREAM_TIMEOUT)
        try:
            forwarded = {name: value for name, value in headers.items() if name not in _HOP_BY_HOP}
            forwarded["content-length"] = str(len(body))
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            out = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
            return response.status, out, payload
        except OSError as exc:
            return 502, [("Content-Type", "text/plain")], f"aws-fault-proxy: upstream failed: {exc}".encode()
        finally:
            connection.close()

    def _lookup_events(self, key_id: str | None, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Answer LookupEvents in the caller's account, in the JSON protocol."""
        account_id = self._trail.caller(key_id).account_id
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise _LookupError("SerializationException", "The request body must be a JSON object.")
            answer = self._trail.lookup(account_id, request)
        except ValueError:
            return _error("json", "cloudtrail", 400, "SerializationException", "The request body is not JSON.")
        except _LookupError as exc:
            return _error("json", "cloudtrail", 400, exc.code, exc.message)
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        return 200, headers, json.dumps(answer).encode()

    def _observe(
        self, call: _Call, status: int, payload: bytes, *, user_agent: str, source_ip: str, error_code: str | None
    ) -> None:
        """Learn whose keys pass by, and record the calls CloudTrail would record."""
        succeeded = 200 <= status < 300
        caller = self._trail.caller(call.key_id)
        if succeeded and call.service == "sts" and call.action == "AssumeRole":
            self._learn_session(call.params, payload)
        if succeeded and call.service == "iam" and call.action in RECORDED_IAM_ACTIONS:
            request_parameters = _request_parameters(call.params)
            response_elements = _response_elements(call.action, payload)
            if call.action == "CreateAccessKey" and response_elements:
                created = response_elements["accessKey"]
                user_arn = f"arn:aws:iam::{caller.account_id}:user/{created.get('userName') or DEFAULT_USER_NAME}"
                self._trail.learn(created["accessKeyId"], caller_from_arn(user_arn))
            self._trail.add(
                caller.account_id,
                call.action,
                caller,
                access_key_id=call.key_id,
                request_parameters=request_parameters,
                response_elements=response_elements,
                region=call.region,
                user_agent=user_agent,
                source_ip=source_ip,
                resources=_resources(request_parameters),
            )
        elif call.key_id is not None and call.key_id.startswith("ASIA") and self._trail.knows(call.key_id):
            # A session's every call is recorded, so LookupEvents by AccessKeyId names its issuer.
            self._trail.add(
                caller.account_id,
                call.action,
                caller,
                access_key_id=call.key_id,
                request_parameters=None,
                event_source=f"{call.service or 'unknown'}.amazonaws.com",
                region=call.region,
                read_only=call.action.startswith(_READ_ONLY_PREFIXES),
                user_agent=user_agent,
                source_ip=source_ip,
                error_code=None if succeeded else error_code or _error_code(payload) or str(status),
            )

    def _learn_session(self, params: dict[str, str], payload: bytes) -> None:
        credentials = _xml_fields(payload, "Credentials")
        assumed = _xml_fields(payload, "AssumedRoleUser")
        with self._lock:
            # Kept only so leak tests can search everything whose-key wrote for these values.
            self.issued_secrets.update(
                v for k, v in credentials.items() if k in ("SecretAccessKey", "SessionToken") and v
            )
        key_id = credentials.get("AccessKeyId")
        role_arn = params.get("RoleArn", "")
        role_parts = role_arn.split(":", 5)
        if not key_id or len(role_parts) != 6 or not role_parts[4]:
            return
        account_id = role_parts[4]
        session = params.get("RoleSessionName", "session")
        role_name = role_parts[5].rsplit("/", 1)[-1]
        arn = assumed.get("Arn") or f"arn:{role_parts[1]}:sts::{account_id}:assumed-role/{role_name}/{session}"
        principal = assumed.get("AssumedRoleId") or f"{_fake_id('AROA', role_arn)}:{session}"
        caller = Caller(
            "AssumedRole",
            account_id,
            arn,
            principal,
            issuer_arn=role_arn,
            issuer_principal_id=principal.split(":", 1)[0],
            created=_iso(_now()),
        )
        self._trail.learn(key_id, caller)


@dataclass(frozen=True)
class _Call:
    service: str
    action: str
    params: dict[str, str]
    key_id: str | None
    region: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], proxy: AwsFaultProxy) -> None:
        super().__init__(address, _Handler)
        self.proxy = proxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _Server

    def do_GET(self) -> None:
        self.server.proxy._handle(self)

    def do_POST(self) -> None:
        self.server.proxy._handle(self)

    def do_PUT(self) -> None:
        self.server.proxy._handle(self)

    def do_DELETE(self) -> None:
        self.server.proxy._handle(self)

    def do_HEAD(self) -> None:
        self.server.proxy._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the test output is not the place for request lines."""


def _describe(path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, dict[str, str], str]:
    """(service, action, parameters, protocol) of a botocore request."""
    service = _signing_service(headers.get("authorization", ""))
    target = headers.get("x-amz-target")
    if target:
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            decoded = {}
        if not isinstance(decoded, dict):
            decoded = {}
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
        return service, target.rsplit(".", 1)[-1], params, "json"
    form = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        form.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return service, form.get("Action", ""), form, "query"


def _credential_scope(authorization: str) -> list[str]:
    """SigV4's Credential=<key>/<date>/<region>/<service>/aws4_request, split; [] when unsigned."""
    marker = "Credential="
    if marker not in authorization:
        return []
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].strip().split("/")
    return scope if len(scope) >= 5 else []


def _signing_service(authorization: str) -> str:
    scope = _credential_scope(authorization)
    return scope[3] if scope else ""


def _signing_key(authorization: str) -> str | None:
    scope = _credential_scope(authorization)
    return scope[0] if scope and scope[0] else None


def _signing_region(authorization: str) -> str:
    scope = _credential_scope(authorization)
    return scope[2] if scope else "us-east-1"


def _error(
    protocol: str, service: str, status: int, code: str, message: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    if protocol == "json":
        payload = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)], payload
    namespace = _XML_NAMESPACES.get(service, f"https://{service or 'sts'}.amazonaws.com/doc/")
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>aws-fault-proxy</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml")], xml.encode()


def _xml_fields(payload: bytes, parent: str) -> dict[str, str]:
    """The text children of the first <parent> element of a query-protocol answer, by local name."""
    try:
        # The document is moto's answer on the loopback, not untrusted input.
        root = ElementTree.fromstring(payload)  # noqa: S314
    except ElementTree.ParseError:
        return {}
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == parent:
            return {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element if len(child) == 0}
    return {}


def _error_code(payload: bytes) -> str | None:
    """The error code of an AWS error answer in either protocol."""
    code = _xml_fields(payload, "Error").get("Code")
    if code:
        return code
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    kind = decoded.get("__type") if isinstance(decoded, dict) else None
    return kind.rsplit("#", 1)[-1] if isinstance(kind, str) and kind else None


def _request_parameters(form: dict[str, str]) -> dict[str, Any]:
    """CloudTrail's requestParameters from a query-protocol form: UserName becomes userName, etc.

    Parameters the caller did not send are absent, as in CloudTrail (a user changing their own key
    sends no UserName). Tags are gathered into CloudTrail's list; other nested members are dropped.
    """
    parameters: dict[str, Any] = {}
    tags: dict[str, dict[str, str]] = {}
    for name, value in form.items():
        if name in ("Action", "Version"):
            continue
        parts = name.split(".")
        if len(parts) == 4 and parts[:2] == ["Tags", "member"]:
            tags.setdefault(parts[2], {})[parts[3].lower()] = value
            continue
        if "." not in name:
            parameters[name[:1].lower() + name[1:]] = value
    if tags:
        parameters["tags"] = [tags[index] for index in sorted(tags, key=lambda i: int(i) if i.isdigit() else 0)]
    return parameters


def _response_elements(action: str, payload: bytes) -> dict[str, Any] | None:
    """CloudTrail's responseElements for the IAM calls that return something (never a secret)."""
    if action == "CreateAccessKey":
        key = _xml_fields(payload, "AccessKey")
        if not key.get("AccessKeyId"):
            return None
        return {
            "accessKey": {
                "accessKeyId": key["AccessKeyId"],
                "status": key.get("Status", "Active"),
                "userName": key.get("UserName"),
                "createDate": key.get("CreateDate"),
            }
        }
    if action == "CreateUser":
        user = _xml_fields(payload, "User")
        if not user.get("UserName"):
            return None
        names = ("Path", "UserName", "UserId", "Arn", "CreateDate")
        return {"user": {name[:1].lower() + name[1:]: user[name] for name in names if name in user}}
    return None


def _resources(request_parameters: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """The Resources LookupEvents lists for an IAM key or user event."""
    parameters = request_parameters or {}
    kinds = (("AWS::IAM::AccessKey", "accessKeyId"), ("AWS::IAM::User", "userName"))
    return tuple((kind, parameters[name]) for kind, name in kinds if isinstance(parameters.get(name), str))


def _order(event: _Event) -> tuple[float, int]:
    return event.order


def _fake_id(prefix: str, seed: str) -> str:
    """A stable, made-up IAM unique ID (AIDA..., AROA...) of the real length."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[:17]


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
            raise _LookupError("ValidationException", f"Invalid timestamp {value!r}.") from None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise _LookupError("ValidationException", "Invalid timestamp.")


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
        raise _LookupError("InvalidNextTokenException", "Invalid NextToken.") from None
    if not same_query:
        raise _LookupError("InvalidNextTokenException", "NextToken belongs to another query.")
    return position


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
