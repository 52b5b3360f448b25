"""The thin AWS layer: clients with one shared Config, cached assumed-role sessions per account,
and `get_*` functions that paginate and return plain data (failures classified by errors.py).

Nothing here decides what a result means for the user; the finder does that.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from workers.aws.errors import classified
from workers.constants import (
    AWS_CONNECT_TIMEOUT,
    AWS_MAX_ATTEMPTS,
    AWS_MAX_POOL,
    AWS_READ_TIMEOUT,
    MAX_CACHED_CLIENTS,
    ROLE_SESSION_NAME,
    SESSION_DURATION,
    SESSION_REFRESH_MARGIN,
)
from workers.model import Account

CLIENT_CONFIG = Config(
    # total_max_attempts counts the first try; botocore's `max_attempts` key counts only retries,
    # which made every call try AWS_MAX_ATTEMPTS + 1 times (a stalled account took 5 read timeouts).
    retries={"mode": "standard", "total_max_attempts": AWS_MAX_ATTEMPTS},
    connect_timeout=AWS_CONNECT_TIMEOUT,
    read_timeout=AWS_READ_TIMEOUT,
    max_pool_connections=AWS_MAX_POOL,
)
# The sweep's clients (one per account's run): adaptive retries slow down when IAM throttles.
SWEEP_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "adaptive", "total_max_attempts": 8}))
# For callers that pace and retry themselves (CloudTrail, under its shared rate limit): botocore's
# own retries would make calls the limiter never saw.
SINGLE_ATTEMPT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
# IAM, STS and Organizations are global; their endpoints live in us-east-1.
GLOBAL_REGION = "us-east-1"


@dataclass
class CallStats:
    """AWS API calls made for one lookup, and the time spent waiting on them: wall-clock time with
    at least one call in flight, so calls made side by side count once (the lookup's own time is
    then its duration less this)."""

    calls: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiting_since = 0.0

    def started(self) -> None:
        with self._lock:
            if self._in_flight == 0:
                self._waiting_since = time.perf_counter()
            self._in_flight += 1

    def ended(self) -> None:
        with self._lock:
            self.calls += 1
            if self._in_flight == 0:
                return  # an end without its start: nothing was being waited on
            self._in_flight -= 1
            if self._in_flight == 0:
                self.seconds += time.perf_counter() - self._waiting_since


# Each lookup sets fresh stats; threads it starts run in a copy of its context, so their calls
# count towards the same lookup.
_call_stats: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar("aws_call_stats", default=None)


def start_counting_calls() -> CallStats:
    stats = CallStats()
    _call_stats.set(stats)
    return stats


def _call_started(context: dict[str, Any], **_: Any) -> None:
    stats = _call_stats.get()
    if stats is not None:
        stats.started()
        context["whose_key_counted"] = True


def _call_ended(context: dict[str, Any], **_: Any) -> None:
    stats = _call_stats.get()
    if stats is not None and context.pop("whose_key_counted", False):
        stats.ended()


@dataclass
class _AssumedRole:
    """Temporary credentials for one account, kept in process memory only."""

    credentials: dict[str, str]
    expires_at: float

    def fresh(self) -> bool:
        return self.expires_at - SESSION_REFRESH_MARGIN > time.time()


class AwsGateway:
    """Builds clients for the hub (where whose-key runs) and for any account of the organization.

    Assumed-role credentials are cached per account and renewed before they expire, so a busy
    worker assumes each role about once an hour, not once per lookup. Every client is built from
    one botocore session, so service models are loaded once per process, not once per account.
    """

    def __init__(
        self,
        role_name: str,
        external_id: str | None = None,
        base: boto3.Session | None = None,
        endpoint_url: str | None = None,
        *,
        always_assume: bool = False,
    ) -> None:
        self.role_name = role_name
        # The responder's gateway assumes its role even in the hub's own account: the hub's own
        # credentials may only read (and assume roles), never change a key.
        self.always_assume = always_assume
        self.external_id = external_id
        self.base = base or boto3.Session()
        # None leaves the endpoint to boto3's chain (AWS_ENDPOINT_URL, the config file, AWS's own).
        self.endpoint_url = endpoint_url
        self.base.events.register("before-call", _call_started)
        self.base.events.register("after-call", _call_ended)
        self.base.events.register("after-call-error", _call_ended)
        self._roles: dict[str, _AssumedRole] = {}
        self._clients: OrderedDict[tuple[str, str, str, float, bool], Any] = OrderedDict()
        self._clients_lock = threading.Lock()
        self._hub_clients: dict[tuple[str, str, bool], Any] = {}
        # Clients are thread-safe; building them from the shared session is not, hence the lock.
        self._build_lock = threading.Lock()
        self._locks_lock = threading.Lock()
        self._account_locks: dict[str, threading.Lock] = {}
        self._hub_account: str | None = None
        self._partition = "aws"

    def _build_client(
        self,
        service: str,
        region: str,
        credentials: dict[str, str] | None = None,
        config: Config | None = None,
        *,
        single_attempt: bool = False,
    ) -> Any:
        config = config or (SINGLE_ATTEMPT_CONFIG if single_attempt else CLIENT_CONFIG)
        with self._build_lock:
            return self.base.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=config, **(credentials or {})
            )

    def hub_client(self, service: str, region: str = GLOBAL_REGION, *, single_attempt: bool = False) -> Any:
        """A client with the hub's own credentials; single_attempt: botocore never retries it."""
        cache_key = (service, region, single_attempt)
        client = self._hub_clients.get(cache_key)
        if client is None:
            built = self._build_client(service, region, single_attempt=single_attempt)
            client = self._hub_clients.setdefault(cache_key, built)
        return client

    def hub_account(self) -> str:
        """The account whose credentials whose-key runs with (cached for the process)."""
        if self._hub_account is None:
            with classified():
                arn = self.hub_client("sts").get_caller_identity()["Arn"]
            self._partition = arn.split(":")[1]
            self._hub_account = arn.split(":")[4]
        return self._hub_account

    @property
    def partition(self) -> str:
        return self._partition

    def client(
        self, account_id: str, service: str, region: str = GLOBAL_REGION, *, single_attempt: bool = False
    ) -> Any:
        """A client acting in account_id: the hub's own credentials there, else the member role.
        single_attempt: botocore never retries its calls (for callers that pace themselves)."""
        if not self.always_assume and account_id == self.hub_account():
            return self.hub_client(service, region, single_attempt=single_attempt)
        with self._session_lock(account_id):
            role = self._session(account_id)
            cache_key = (account_id, service, region, role.expires_at, single_attempt)
            with self._clients_lock:
                client = self._clients.get(cache_key)
                if client is not None:
                    self._clients.move_to_end(cache_key)
                    return client
            client = self._build_client(service, region, role.credentials, single_attempt=single_attempt)
            with self._clients_lock:
                self._clients[cache_key] = client
                # A client weighs about half a megabyte: keep the most recently used ones only, so
                # a worker of a 5,000-account organization does not hold 5,000 of them. Credentials,
                # which are small, stay cached for every account.
                while len(self._clients) > MAX_CACHED_CLIENTS:
                    self._clients.popitem(last=False)
            return client

    def fresh_client(self, account_id: str, service: str, config: Config) -> Any:
        """An uncached client in account_id with its own config: a sweeping worker keeps no clients."""
        if account_id == self.hub_account():
            return self._build_client(service, GLOBAL_REGION, None, config)
        with self._session_lock(account_id):
            role = self._session(account_id)
        return self._build_client(service, GLOBAL_REGION, role.credentials, config)

    def has_session(self, account_id: str) -> bool:
        """Whether a client for account_id needs no AssumeRole now."""
        role = self._roles.get(account_id)
        return account_id == self._hub_account or (role is not None and role.fresh())

    def _session_lock(self, account_id: str) -> threading.Lock:
        with self._locks_lock:  # one AssumeRole per account even when many threads ask at once
            return self._account_locks.setdefault(account_id, threading.Lock())

    def _session(self, account_id: str) -> _AssumedRole:
        """The account's assumed role, renewed when stale; the caller holds its session lock."""
        role = self._roles.get(account_id)
        if role is None or not role.fresh():
            role = self._assume(account_id)
            self._roles[account_id] = role
        return role

    def forget_session(self, account_id: str) -> None:
        self._roles.pop(account_id, None)

    def _assume(self, account_id: str) -> _AssumedRole:
        role_arn = f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": ROLE_SESSION_NAME,
            "DurationSeconds": SESSION_DURATION,
        }
        if self.external_id:
            params["ExternalId"] = self.external_id
        with classified(assuming_role=True):
            creds = self.hub_client("sts").assume_role(**params)["Credentials"]
        expiration = creds["Expiration"]
        expires_at = expiration.timestamp() if isinstance(expiration, datetime) else time.time() + SESSION_DURATION
        credentials = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        return _AssumedRole(credentials, expires_at)


@classified()
def get_organization_accounts(org_client: Any) -> Iterator[Account]:
    """Every account of the organization (all pages)."""
    for page in org_client.get_paginator("list_accounts").paginate():
        for item in page["Accounts"]:
            yield Account(id=item["Id"], name=item.get("Name"), status=item.get("Status", "ACTIVE"))


@classified()
def get_management_account_id(org_client: Any) -> str:
    return str(org_client.describe_organization()["Organization"]["MasterAccountId"])


@classified()
def get_key_account(sts_client: Any, key_id: str) -> str:
    """The account that owns any access key ID, from sts:GetAccessKeyInfo."""
    return str(sts_client.get_access_key_info(AccessKeyId=key_id)["Account"])
