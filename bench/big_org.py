"""Shared by the organization-scale benchmarks: a moto server seeded with N accounts x M users
(one access key each), fast, and moto made to answer as AWS's costs grow (the measurement helpers
are in bench/measure.py).

Seeding goes through moto's public API (CreateOrganization, CreateAccount, CreateUser,
CreateAccessKey), in parallel across accounts. The IAM calls are plain HTTP requests that name
their account with moto's `x-moto-account-id` header, instead of boto3 clients built on a role
assumed in each account: no AssumeRole, no client per account and ~0.3 ms of client CPU per call
instead of ~3 ms, which matters when the seeder shares two cores with the moto server (itself
the bottleneck at ~5 ms of CPU per request). The same users and keys end up in the same accounts;
`check_seeded` confirms it through boto3 and an assumed role.
"""

from __future__ import annotations

import http.client
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
from botocore.config import Config

from standins.moto_org import FAKE_CREDENTIALS, MotoServer

# Seeding threads: enough to keep the (single-process) moto server busy.
SEED_THREADS = 8
# A key ID that no account holds and that decodes to no account of the organization
# (moto's account IDs are random 12-digit numbers; this one decodes to 000000000000).
MISSING_KEY_ID = "AKIAAAAAAAAAAAAAAAAA"

IAM_AUTH = (  # moto routes by the credential scope and does not check the signature
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"
)
_ACCESS_KEY_ID = re.compile(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>")


@dataclass
class SeededUser:
    name: str
    key_id: str


@dataclass
class BigOrg:
    """The seeded organization: account IDs in creation order (the management account first)."""

    management_account_id: str
    account_ids: list[str] = field(default_factory=list)
    users: dict[str, list[SeededUser]] = field(default_factory=dict)  # account ID -> its users
    seconds: float = 0.0
    calls: int = 0

    @property
    def key_count(self) -> int:
        return sum(len(u) for u in self.users.values())


class MotoIam:
    """IAM query-protocol calls straight over HTTP/1.1 to the moto server, in a named account
    (moto's `x-moto-account-id` header). Far cheaper on the client than boto3, which matters on
    two cores shared with the server. One instance per thread."""

    def __init__(self, server: MotoServer) -> None:
        self.port = server.port
        self._conn: http.client.HTTPConnection | None = None

    def call(self, account_id: str, action: str, **params: str) -> bytes:
        body = urlencode({"Action": action, "Version": "2010-05-08", **params})
        headers = {
            "Authorization": IAM_AUTH,
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "x-moto-account-id": account_id,
        }
        for attempt in range(3):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self._conn.request("POST", "/", body, headers)
                response = self._conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            if response.status != 200:
                raise RuntimeError(f"moto {action} in {account_id}: HTTP {response.status}: {data[:300]!r}")
            return data
        raise AssertionError("unreachable")

    def create_user_with_key(self, account_id: str, user_name: str, tags: dict[str, str]) -> str:
        params = {"UserName": user_name}
        for i, (k, v) in enumerate(tags.items(), start=1):
            params[f"Tags.member.{i}.Key"] = k
            params[f"Tags.member.{i}.Value"] = v
        self.call(account_id, "CreateUser", **params)
        match = _ACCESS_KEY_ID.search(self.call(account_id, "CreateAccessKey", UserName=user_name))
        if match is None:
            raise RuntimeError(f"moto CreateAccessKey for {user_name} in {account_id} returned no key ID")
        return match.group(1).decode()

    def set_key_status(self, account_id: str, user_name: str, key_id: str, status: str) -> None:
        self.call(account_id, "UpdateAccessKey", UserName=user_name, AccessKeyId=key_id, Status=status)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


def slack_id(account_index: int, user_index: int) -> str:
    return f"U{account_index:05d}{user_index:03d}"


def user_name(account_index: int, user_index: int) -> str:
    return f"user-{account_index:05d}-{user_index:03d}"


def seed_big_org(
    server: MotoServer,
    accounts: int,
    users: int,
    *,
    threads: int = SEED_THREADS,
    progress: Callable[[str], None] | None = None,
) -> BigOrg:
    """`accounts` accounts (the management account included), each with `users` IAM users holding
    one active access key and a slack-user-id tag, all created through moto's API."""
    started = time.perf_counter()
    org_client = boto3.client(
        "organizations",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard", "max_attempts": 4}),
    )
    org_client.create_organization(FeatureSet="ALL")
    management = org_client.describe_organization()["Organization"]["MasterAccountId"]
    big = BigOrg(management)
    big.account_ids.append(management)
    for index in range(1, accounts):
        name = f"account-{index:05d}"
        created = org_client.create_account(Email=f"{name}@example.com", AccountName=name)
        big.account_ids.append(created["CreateAccountStatus"]["AccountId"])
    if progress:
        progress(f"  created {accounts} accounts in {time.perf_counter() - started:.1f}s")

    local = threading.local()
    lock = threading.Lock()
    done = [0]
    clients: list[MotoIam] = []

    def seed_account(job: tuple[int, str]) -> list[SeededUser]:
        index, account_id = job
        iam = getattr(local, "iam", None)
        if iam is None:
            iam = local.iam = MotoIam(server)
            with lock:
                clients.append(iam)
        seeded = []
        for u in range(users):
            name = user_name(index, u)
            key_id = iam.create_user_with_key(account_id, name, {"slack-user-id": slack_id(index, u)})
            seeded.append(SeededUser(name, key_id))
        with lock:
            done[0] += 1
            if progress and done[0] % 250 == 0 and done[0] < accounts:
                progress(f"  seeded {done[0]}/{accounts} accounts, {time.perf_counter() - started:.0f}s")
        return seeded

    try:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="seed") as pool:
            results = pool.map(seed_account, enumerate(big.account_ids))
            for account_id, seeded in zip(big.account_ids, results, strict=True):
                big.users[account_id] = seeded
    finally:
        for client in clients:
            client.close()
    big.calls = 2 + (accounts - 1) + 2 * accounts * users
    big.seconds = time.perf_counter() - started
    return big


def check_seeded(server: MotoServer, big: BigOrg) -> None:
    """Spot-check, through boto3 and an assumed role as an administrator would, that the first,
    middle and last accounts hold exactly the users and keys the seeder reports."""
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    for account_id in dict.fromkeys([big.account_ids[-1], big.account_ids[len(big.account_ids) // 2]]):
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="check"
        )["Credentials"]
        iam = boto3.client(
            "iam",
            region_name="us-east-1",
            endpoint_url=server.url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        names = [u["UserName"] for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
        expected = big.users[account_id]
        if sorted(names) != sorted(u.name for u in expected):
            raise RuntimeError(f"account {account_id}: listed {len(names)} users, seeded {len(expected)}")
        if expected:
            last = expected[-1]
            keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=last.name)["AccessKeyMetadata"]]
            if keys != [last.key_id]:
                raise RuntimeError(f"account {account_id}: {last.name} has {keys}, seeded {last.key_id}")


def moto_pid(server: MotoServer) -> int | None:
    process = getattr(server, "_process", None)
    return process.pid if process is not None else None


def isolate_aws_env(server: MotoServer) -> None:
    """Point boto3 in this process at the moto server only (loopback), never at real AWS."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(server.env())
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


# Two of moto's costs grow with the organization, which AWS's do not, so this launcher starts the
# same moto server with them answered from indexes:
# - GetAccessKeyLastUsed lists every key of every user of every account on each call
#   (IAMBackend.get_all_access_keys_for_all_users); here each key's account is remembered when the
#   key is created and its key table read: the same answers (including moto's habit of answering
#   for keys of other accounts), in O(1) instead of O(all keys). (Looking in every account's key
#   table instead, O(accounts), was 13 % of moto's CPU in a 5,000-account sweep.)
# - Every request signed with a role session's key finds its account by scanning every account in
#   every partition (iam.models.get_account_id_from), touching backends moto then builds on the
#   spot: at 5,000 accounts that scan, not the request, was most of moto's CPU. Here the key's
#   account is remembered when STS creates the key, and any other key is looked up once.
# Two more costs are moto's per request whatever the organization, and were half of its CPU in a
# sweep (profiled with cProfile around its WSGI app): finding the service of each request lists
# moto's package directory and stats every entry (backends.list_of_moto_modules), and each
# response class is introspected anew (inspect.getmembers). Both answers never change while the
# server runs, so they are computed once. And werkzeug's log line per request (7 % at 5,000
# accounts) is turned off.
_INDEXED_SERVER = """
import functools
import logging
import sys
from moto import backends
from moto.core import responses
from moto.iam import models
from moto.sts import models as sts_models

_moto_modules = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _moto_modules
responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)

_accounts_of_keys = {}
_create_access_key = models.IAMBackend.create_access_key

def create_access_key(self, user_name, prefix="AKIA", status="Active"):
    key = _create_access_key(self, user_name, prefix=prefix, status=status)
    _accounts_of_keys[key.access_key_id] = self.account_id
    return key

def get_access_key_last_used(self, access_key_id):
    known = _accounts_of_keys.get(access_key_id)
    accounts = [models.iam_backends[known]] if known else list(models.iam_backends.values())
    for account in accounts:
        backend = account[self.partition]
        key = backend.access_keys.get(access_key_id)
        user = backend.users.get(key.user_name) if key is not None and key.user_name else None
        if user is not None and key in user.access_keys:
            return {"user_name": key.user_name, "last_used": key.last_used}
    raise models.NotFoundException(f"The Access Key with id {access_key_id} cannot be found")

_accounts_by_key = {}
_scan_for_account = models.get_account_id_from
_create_session_key = sts_models.STSBackend._create_access_key

def get_account_id_from(access_key):
    if access_key not in _accounts_by_key:
        _accounts_by_key[access_key] = _scan_for_account(access_key)
    return _accounts_by_key[access_key]

def create_session_key(self, role):
    account_id, key = _create_session_key(self, role)
    _accounts_by_key[key.access_key_id] = account_id
    return account_id, key

models.IAMBackend.get_access_key_last_used = get_access_key_last_used
models.IAMBackend.create_access_key = create_access_key
logging.getLogger("werkzeug").setLevel(logging.WARNING)
models.get_account_id_from = get_account_id_from
sts_models.STSBackend._create_access_key = create_session_key
from moto.server import main
main(sys.argv[1:])
"""


class IndexedMotoServer(MotoServer):
    """MotoServer whose per-request costs do not grow with the organization (see above)."""

    def argv(self) -> list[str]:
        import sys

        return [sys.executable, "-c", _INDEXED_SERVER, "-H", "127.0.0.1", "-p", str(self.port)]


class ClientBuildTimer:
    """Time spent constructing boto3 clients from a session (AwsGateway builds them under one
    process-wide lock, so this time is serialized)."""

    def __init__(self, session: boto3.Session) -> None:
        self.count = 0
        self.seconds = 0.0
        self._lock = threading.Lock()
        build = session.client

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return build(*args, **kwargs)
            finally:
                with self._lock:
                    self.count += 1
                    self.seconds += time.perf_counter() - started

        session.client = timed  # type: ignore[method-assign]

    def take(self) -> tuple[int, float]:
        with self._lock:
            taken = (self.count, self.seconds)
            self.count, self.seconds = 0, 0.0
        return taken


def cached_clients(gateway: Any) -> int:
    """boto3 clients an AwsGateway holds for member accounts (whichever way it caches them)."""
    clients = getattr(gateway, "_clients", None)
    if clients is not None:
        return len(clients)
    return sum(len(getattr(role, "clients", {})) for role in gateway._roles.values())
