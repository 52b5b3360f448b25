"""A loopback HTTP proxy in front of the moto server that injects AWS failures at the boundary and
stands in for CloudTrail's LookupEvents, which moto does not implement.

Faults: moto does not enforce roles, throttle or stall, so tests that need AssumeRole denied in one
account, Throttling, or a slow answer point AWS_ENDPOINT_URL at this proxy and script faults;
every request no fault matches is forwarded to moto unchanged. A fault scripted for LookupEvents
wins over the emulation.

CloudTrail: what passes through is recorded as CloudTrail would record it (recorder.py), and
LookupEvents is answered from those records in the caller's account (cloudtrail.py).

Strict IAM: `iam_mode` makes IAM answer as strictly as the real one where moto is lenient
(strict_iam.py). Roles: sessions of whose-key's read-only and responder roles may call only what
deploy/ grants those roles; anything else is AccessDenied, in every mode (role_policies.py).
Latency: `latency` holds every answer that long, as a distant AWS region would.
Holds: `hold()` keeps matching requests waiting until the test releases them, so a test can make
"the job is still busy at AWS" last exactly as long as it needs, not for a guessed time. A hold
comes on top of the faults: a held request, once released, meets the fault it would have met.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from standins.aws_proxy import strict_iam, wire
from standins.aws_proxy.callers import Caller, KeyOwners, caller_from_arn
from standins.aws_proxy.cloudtrail import LOOKUP_EVENTS_TARGET, MAX_EVENTS_PER_ACCOUNT, Trail
from standins.aws_proxy.key_ages import KeyAges
from standins.aws_proxy.quarantine import QuarantinePolicies
from standins.aws_proxy.recorder import Recorder, resources_of
from standins.aws_proxy.role_policies import RolePolicies
from standins.loopback import LoopbackServer, read_body, respond

Match = Callable[[dict[str, str]], bool]

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
# The longest a held request waits for its release: a test that never releases cannot leave a
# thread behind for good (the caller's own read timeout has usually given up long before).
HOLD_LIMIT = 120.0
# moto's default account: keys nobody issued through the proxy act as a user of this account.
DEFAULT_ACCOUNT_ID = "123456789012"
# Requests remembered for `seen`; the earliest are forgotten beyond this (the Stack's proxy runs long).
MAX_SEEN_REQUESTS = 10_000
# botocore's verbs; others are refused as http.server refuses them.
_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD")


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
    account: str | None = None  # only calls made in this account (by its signer); None: any
    hits: int = 0
    # Set by hold(): matching requests wait until it is set (release()), then go on.
    gate: threading.Event | None = field(default=None, repr=False, compare=False)

    def release(self) -> None:
        """Let the requests this hold keeps waiting (and any later ones) through; a no-op otherwise."""
        if self.gate is not None:
            self.gate.set()

    def applies(self, action: str, params: dict[str, str], account: str) -> bool:
        if action != self.action or (self.times is not None and self.hits >= self.times):
            return False
        if self.account is not None and account != self.account:
            return False
        return self.match is None or bool(self.match(params))


@dataclass(frozen=True)
class SeenRequest:
    """A request the proxy saw: its service, action and parameters, and whether a fault took it."""

    service: str
    action: str
    params: dict[str, str] = field(default_factory=dict)
    faulted: bool = False
    at: float = 0.0  # when it arrived (time.time())
    account: str = ""  # the account it was made in (its signer's)


class AwsFaultProxy:
    """Start with start(); point AWS_ENDPOINT_URL at `url`; script faults with fail() and slow(),
    and pauses with hold().

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
        iam_mode: str = strict_iam.DEFAULT_MODE,
        latency: float = 0.0,
        roles: RolePolicies | None = None,
    ) -> None:
        upstream = urlsplit(upstream_url)
        if upstream.scheme != "http" or not upstream.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_url!r}")
        self.upstream_host = upstream.hostname
        self.upstream_port = upstream.port or 80
        self.host = host
        self.default_account = default_account
        # Both may be changed while the proxy runs; each request reads them once.
        self.iam_mode = strict_iam.check_mode(iam_mode)
        self.latency = latency  # seconds added to every answer that is not a scripted fault
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._holds: list[Fault] = []
        self._seen: deque[SeenRequest] = deque(maxlen=MAX_SEEN_REQUESTS)
        self._owners = KeyOwners(default_account)
        self._trail = Trail(max_events_per_account)
        self._recorder = Recorder(self._owners, self._trail)
        self._quarantine = QuarantinePolicies()
        self._ages = KeyAges()
        # Which role names' sessions are held to their deploy/ grants.
        self.roles = roles or RolePolicies()
        self._server = LoopbackServer(self._handle, name="aws-fault-proxy", host=host, methods=_METHODS)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> AwsFaultProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> AwsFaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def issued_secrets(self) -> set[str]:
        """Secrets of the sessions STS issued through this proxy, for leak tests to search for."""
        return self._recorder.issued_secrets

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
        account: str | None = None,
    ) -> Fault:
        """Answer matching requests with this AWS error (after `delay` seconds); `account` scopes it
        to calls made in that account."""
        fault = Fault(action, match, status, code, message, delay, times, account=account)
        with self._lock:
            self._faults.append(fault)
        return fault

    def slow(
        self, action: str, match: Match | None, delay: float, *, times: int | None = None, account: str | None = None
    ) -> Fault:
        """Hold matching requests for `delay` seconds, then forward them (a slow, not a failed, AWS)."""
        fault = Fault(action, match, 200, "", "", delay, times, forward=True, account=account)
        with self._lock:
            self._faults.append(fault)
        return fault

    def hold(
        self, action: str, match: Match | None = None, *, times: int | None = None, account: str | None = None
    ) -> Fault:
        """Hold matching requests (the first `times` of them; None: every one) until the hold's
        release() or remove(), then let them go on to whatever fault or answer awaits them: AWS stays
        busy exactly until the test has seen what it waits for. At most HOLD_LIMIT seconds each."""
        held = Fault(action, match, 200, "", "", times=times, forward=True, account=account, gate=threading.Event())
        with self._lock:
            self._holds.append(held)
        return held

    def remove(self, fault: Fault) -> None:
        """Stop applying one scripted fault or hold (others stay); requests it holds go on."""
        with self._lock:
            for scripted in (self._faults, self._holds):
                if fault in scripted:
                    scripted.remove(fault)
        fault.release()

    def clear(self) -> None:
        """Drop every fault and hold (releasing what it holds) and forget the requests seen
        (recorded CloudTrail events are kept)."""
        with self._lock:
            holds = list(self._holds)
            self._faults.clear()
            self._holds.clear()
            self._seen.clear()
        for held in holds:
            held.release()

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def backdate_key(self, key_id: str, days: float) -> None:
        """Make IAM's ListAccessKeys say `key_id` was created `days` earlier than it was (moto cannot
        set a creation date); 0 undoes it."""
        self._ages.backdate(key_id, days)

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
            resources=resources_of(request_parameters),
        )

    def events(self, account_id: str) -> list[dict[str, Any]]:
        """The account's recorded events as CloudTrail records (parsed CloudTrailEvent), newest first."""
        return [json.loads(json.dumps(event.record)) for event in self._trail.events(account_id)]

    def caller(self, access_key_id: str) -> Caller:
        """Who the proxy takes access_key_id to be (the management account's user when not learned)."""
        return self._owners.caller(access_key_id)

    # -- request handling --------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = read_body(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        call = wire.describe(request.path, headers, body)
        caller = self._owners.caller(call.key_id)
        account = caller.account_id
        arrived = time.time()
        with self._lock:
            holds = [h for h in self._holds if h.applies(call.action, call.params, account)]
            for held in holds:
                held.hits += 1
            fault = next((f for f in self._faults if f.applies(call.action, call.params, account)), None)
            if fault is not None:
                fault.hits += 1
            faulted = fault is not None and not fault.forward
            self._seen.append(
                SeenRequest(call.service, call.action, call.params, faulted=faulted, at=arrived, account=account)
            )
        for held in holds:
            if held.gate is not None:
                held.gate.wait(HOLD_LIMIT)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and faulted:
            status, out_headers, payload = wire.error(
                call.protocol, call.service, fault.status, fault.code, fault.message
            )
        else:
            if self.latency > 0:
                time.sleep(self.latency)
            if (denied := self.roles.refusal(call, caller)) is not None:
                # Before any emulation: the quarantine policies are attached here, not by moto.
                status, out_headers, payload = wire.error(
                    call.protocol, call.service, denied.status, denied.code, denied.message
                )
            elif headers.get("x-amz-target") == LOOKUP_EVENTS_TARGET:
                # Answered in the caller's account, as CloudTrail answers it.
                status, out_headers, payload = self._trail.answer(account, body)
            elif (quarantined := self._quarantine.answer(call, account)) is not None:
                status, out_headers, payload = quarantined
            else:
                answered = self._answer(call, account, request.command, request.path, headers, body)
                status, out_headers, payload = self._ages.amend(call, self._quarantine.amend(call, account, answered))
        self._recorder.observe(
            call,
            status,
            payload,
            user_agent=headers.get("user-agent", ""),
            source_ip=request.client_address[0],
            error_code=fault.code if fault is not None and faulted else None,
        )
        respond(request, status, out_headers, payload)

    def _answer(
        self, call: wire.Request, account: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> wire.Answer:
        """moto's answer, unless strict IAM answers differently (see strict_iam.py)."""
        mode = self.iam_mode
        key_id = call.params.get("AccessKeyId", "")
        if mode != "moto" and call.service == "sts" and call.action == "GetAccessKeyInfo":
            info = strict_iam.access_key_info(mode, key_id)
            if info is not None:
                return info
        if mode != "moto" and call.service == "iam" and call.action == "GetAccessKeyLastUsed":
            refusal = strict_iam.foreign_key_refusal(mode, key_id, account)
            if refusal is None:
                answer = self._forward(method, path, headers, body)
                if wire.error_code(answer[2]) != "NoSuchEntity":
                    return answer
                refusal = strict_iam.missing_key_refusal(mode, key_id, account)
                if refusal is None:
                    return answer
            return wire.error(call.protocol, call.service, refusal.status, refusal.code, refusal.message)
        return self._forward(method, path, headers, body)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> wire.Answer:
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
