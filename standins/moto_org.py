"""A moto server holding an AWS Organization with IAM users and keys in several accounts.

The server runs as its own process (as real AWS would be), so the web and worker processes and
the test process all reach the same state over HTTP through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3

from standins.loopback import free_port
from standins.processes import ChildProcess

# moto's default account: plain credentials act as the organization's management account.
MANAGEMENT_ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105 - moto's documented fake credentials
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# How long a fresh server may take to listen (it imports every moto backend first).
READY_TIMEOUT = 30.0
# How long it may take to exit on SIGTERM before it is killed.
STOP_GRACE = 5.0


@dataclass(frozen=True)
class UserSpec:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    keys: int = 1
    inactive_keys: int = 0  # how many of its keys to deactivate
    deleted_keys: int = 0  # keys created, then deleted (their IDs are kept for lookups)


@dataclass(frozen=True)
class AccountSpec:
    name: str
    users: tuple[UserSpec, ...] = ()


@dataclass(frozen=True)
class SeededKey:
    key_id: str
    account_id: str
    account_name: str
    user_name: str
    status: str  # Active, Inactive or Deleted


@dataclass
class SeededOrg:
    management_account_id: str
    accounts: dict[str, str] = field(default_factory=dict)  # name -> id
    keys: list[SeededKey] = field(default_factory=list)

    def key(self, account_name: str, user_name: str, status: str = "Active") -> str:
        """The ID of a seeded key, by account name, user and status."""
        for key in self.keys:
            if key.account_name == account_name and key.user_name == user_name and key.status == status:
                return key.key_id
        raise KeyError(f"no {status} key for {user_name} in {account_name}")


class MotoServer:
    """A moto server process on a free loopback port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server process's ID (for benchmarks that measure its CPU)."""
        if self._process is None:
            raise RuntimeError("not started")
        return self._process.pid

    def env(self) -> dict[str, str]:
        """Environment that points boto3 in another process at this server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def argv(self) -> list[str]:
        """The command that runs the server (a subclass may run a patched moto)."""
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def start(self, seed: int | None = 7) -> MotoServer:
        self._process = ChildProcess("moto-server", self.argv())
        self._process.start().wait_for_port(self.port, timeout=READY_TIMEOUT)
        if seed is not None:
            # Repeatable account and key IDs, so the demo prints the same thing every run.
            self._post(f"/moto-api/seed?a={seed}")
        return self

    def reset(self) -> None:
        self._post("/moto-api/reset")

    def _post(self, path: str) -> None:
        request = urllib.request.Request(self.url + path, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback moto server
            pass

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(grace=STOP_GRACE)
        self._process = None

    def client(
        self, service: str, credentials: dict[str, str] | None = None, *, endpoint_url: str | None = None
    ) -> Any:
        """A boto3 client of this server (or of endpoint_url, e.g. a proxy in front of it)."""
        creds = credentials or {
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint_url or self.url, **creds)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


DEMO_ORGANIZATION = (
    AccountSpec(
        "acme-management",
        (UserSpec("break-glass", {"slack-user-id": "U0SECOPS1", "team": "security"}),),
    ),
    AccountSpec(
        "acme-prod",
        (
            UserSpec("deploy-bot", {"slack-user-id": "U0PLATFRM", "team": "platform"}),
            UserSpec("alice", {"Email": "alice@example.com"}, keys=2, inactive_keys=1),
        ),
    ),
    AccountSpec(
        "acme-staging",
        (UserSpec("bob", {"owner": "bob@example.com"}, keys=1, deleted_keys=1),),
    ),
    AccountSpec("acme-dev", (UserSpec("ci-runner"),)),
    AccountSpec("acme-data", (UserSpec("etl", {"slack-user-id": "U0DATAENG"}),)),
    AccountSpec("acme-security", ()),
    AccountSpec("acme-sandbox", ()),
)

# Slack members the demo's stand-in knows by email, to show owner resolution by `email` tags.
DEMO_SLACK_USERS = {"alice@example.com": "U0ALICE01", "bob@example.com": "U0BOB0001"}


def seed_organization(
    server: MotoServer, accounts: Iterable[AccountSpec] = DEMO_ORGANIZATION, *, endpoint_url: str | None = None
) -> SeededOrg:
    """Create the organization, its accounts, users and keys in the moto server.

    endpoint_url sends the calls through a proxy in front of the server instead (the offline
    CloudTrail then records who deactivated and deleted the seeded keys).
    """
    client = partial(server.client, endpoint_url=endpoint_url)
    org = client("organizations")
    org.create_organization(FeatureSet="ALL")
    management = org.describe_organization()["Organization"]["MasterAccountId"]
    seeded = SeededOrg(management_account_id=management)
    for index, spec in enumerate(accounts):
        if index == 0:
            account_id = management  # the first spec describes the management account itself
        else:
            created = org.create_account(Email=f"{spec.name}@example.com", AccountName=spec.name)
            account_id = created["CreateAccountStatus"]["AccountId"]
        seeded.accounts[spec.name] = account_id
        if spec.users:
            iam = _iam_in(client, account_id, management)
            for user in spec.users:
                seeded.keys.extend(_seed_user(iam, user, account_id, spec.name))
    return seeded


def iam_in_account(server: MotoServer, account_id: str, management: str, *, endpoint_url: str | None = None) -> Any:
    """An IAM client acting as an administrator of one account of the organization."""
    return _iam_in(partial(server.client, endpoint_url=endpoint_url), account_id, management)


def _iam_in(client: Callable[..., Any], account_id: str, management: str) -> Any:
    if account_id == management:
        return client("iam")
    creds = client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
    )["Credentials"]
    return client(
        "iam",
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        },
    )


def _seed_user(iam: Any, user: UserSpec, account_id: str, account_name: str) -> list[SeededKey]:
    tags = [{"Key": k, "Value": v} for k, v in user.tags.items()]
    iam.create_user(UserName=user.name, Tags=tags)
    seeded: list[SeededKey] = []
    for index in range(user.keys + user.deleted_keys):
        # The secret is dropped at once: nothing offline needs it.
        key_id = iam.create_access_key(UserName=user.name)["AccessKey"]["AccessKeyId"]
        status = "Active"
        if index >= user.keys:
            iam.delete_access_key(UserName=user.name, AccessKeyId=key_id)
            status = "Deleted"
        elif index < user.inactive_keys:
            iam.update_access_key(UserName=user.name, AccessKeyId=key_id, Status="Inactive")
            status = "Inactive"
        seeded.append(SeededKey(key_id, account_id, account_name, user.name, status))
    return seeded
