"""An AWS organization held in memory, behind the boundary the workers use.

`FakeAws` has the methods of `workers.aws.gateway.AwsGateway` that the finder, the organization cache and
the CloudTrail reader call (`client`, `hub_client`, `hub_account`, `forget_session`). The clients
it hands out answer the few IAM, STS, Organizations and CloudTrail operations that
`workers/aws/gateway.py` and `workers/aws/cloudtrail.py` make, and fail the way AWS does (a botocore
`ClientError` with AWS's error code, or a botocore timeout), so the AWS layer's own paging and
error classification run for real. Every call is recorded per account, and a test can make any
operation fail or wait.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from standins.keys import synthesize_key_id
from workers.aws.gateway import GLOBAL_REGION, classify

MANAGEMENT = "111111111111"
# When things happened in the fake world.
CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
LAST_USED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
CHANGED = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
# Who made every change CloudTrail records here, as the reader names them.
ADMIN_ACTOR = "assumed-role/Admin/carol"
# How long a held call waits for its release before failing the test rather than hanging it.
HOLD_LIMIT = 10.0


def client_error(code: str, operation: str) -> ClientError:
    """What botocore raises when AWS answers with an error code."""
    return ClientError({"Error": {"Code": code, "Message": f"fake {code}"}}, operation)


@dataclass
class FakeKey:
    key_id: str
    status: str = "Active"
    last_used: datetime | None = LAST_USED


@dataclass
class FakeUser:
    name: str
    tags: dict[str, str]
    keys: dict[str, FakeKey] = field(default_factory=dict)


@dataclass
class FakeAccount:
    """One account: its users and keys, its CloudTrail, the failures scripted for it, its calls."""

    id: str
    name: str
    status: str = "ACTIVE"
    in_org: bool = True
    users: dict[str, FakeUser] = field(default_factory=dict)
    trail: list[dict[str, Any]] = field(default_factory=list)  # LookupEvents items, newest first
    failures: dict[str, BaseException] = field(default_factory=dict)  # operation -> raised by every call
    holds: dict[str, threading.Event] = field(default_factory=dict)  # operation -> answered once set
    calls: list[str] = field(default_factory=list)  # "service:Operation", in order
    changed: threading.Condition = field(default_factory=threading.Condition)

    def call(self, service: str, operation: str) -> None:
        """Record a call, then wait if it is held and raise if it is scripted to fail."""
        with self.changed:
            self.calls.append(f"{service}:{operation}")
            self.changed.notify_all()
        hold = self.holds.get(operation)
        if hold is not None and not hold.wait(HOLD_LIMIT):
            raise AssertionError(f"{operation} in {self.id} was held and never released")
        failure = self.failures.get(operation)
        if failure is not None:
            raise failure

    def calls_to(self, service: str) -> list[str]:
        return [c for c in self.calls if c.startswith(service + ":")]

    def find_key(self, key_id: str) -> tuple[FakeUser, FakeKey] | None:
        for user in self.users.values():
            if key_id in user.keys:
                return user, user.keys[key_id]
        return None


class FakeAws:
    """The fake organization and its gateway. The management account is the hub whose-key runs in."""

    partition = "aws"

    def __init__(self, management_name: str = "acme-management") -> None:
        self.management_id = MANAGEMENT
        self.accounts: dict[str, FakeAccount] = {}
        self.assume_failures: dict[str, BaseException] = {}
        self.forgotten: list[str] = []
        # moto (and some IAM endpoints) answer GetAccessKeyLastUsed for other accounts' keys.
        self.iam_answers_for_other_accounts = False
        self._rng = random.Random(20240601)  # noqa: S311 - repeatable key IDs, not secrets
        self.add_account(MANAGEMENT, management_name)

    # -- the AwsGateway methods the workers call ----------------------------------------------

    def hub_account(self) -> str:
        return self.management_id

    def hub_client(self, service: str, region: str = GLOBAL_REGION) -> Any:
        return self.client(self.management_id, service, region)

    def client(self, account_id: str, service: str, region: str = GLOBAL_REGION) -> Any:
        """A client acting in account_id; AssumeRole fails where scripted, or outside the org."""
        if account_id != self.management_id:
            failure = self.assume_failures.get(account_id)
            account = self.accounts.get(account_id)
            if failure is None and (account is None or not account.in_org):
                failure = client_error("AccessDenied", "AssumeRole")
            if failure is not None:
                raise classify(failure, assuming_role=True)
        account = self.accounts[account_id]
        clients = {"iam": FakeIam, "sts": FakeSts, "organizations": FakeOrganizations, "cloudtrail": FakeCloudTrail}
        return clients[service](self, account)

    def forget_session(self, account_id: str) -> None:
        self.forgotten.append(account_id)

    # -- building the world -----------------------------------------------------------------------

    def add_account(self, account_id: str, name: str, status: str = "ACTIVE", *, in_org: bool = True) -> FakeAccount:
        account = FakeAccount(account_id, name, status, in_org)
        self.accounts[account_id] = account
        return account

    def add_user(self, account_id: str, name: str, tags: dict[str, str] | None = None) -> FakeUser:
        user = FakeUser(name, dict(tags or {}))
        self.accounts[account_id].users[name] = user
        return user

    def add_key(
        self,
        account_id: str,
        user_name: str,
        *,
        key_id: str | None = None,
        status: str = "Active",
        last_used: datetime | None = LAST_USED,
    ) -> str:
        """A key of the user; its ID encodes the account, as AWS's do, unless key_id is given."""
        key_id = key_id or synthesize_key_id(account_id, rng=self._rng)
        self.accounts[account_id].users[user_name].keys[key_id] = FakeKey(key_id, status, last_used)
        return key_id

    def deactivate_key(self, account_id: str, key_id: str) -> None:
        found = self.accounts[account_id].find_key(key_id)
        assert found is not None
        user, key = found
        key.status = "Inactive"
        self._record(
            account_id, "UpdateAccessKey", {"userName": user.name, "accessKeyId": key_id, "status": "Inactive"}
        )

    def delete_key(self, account_id: str, key_id: str) -> None:
        found = self.accounts[account_id].find_key(key_id)
        assert found is not None
        user, _ = found
        del user.keys[key_id]
        self._record(account_id, "DeleteAccessKey", {"userName": user.name, "accessKeyId": key_id})

    def delete_user(self, account_id: str, user_name: str) -> None:
        """Delete the user's keys, then the user, as IAM requires."""
        for key_id in list(self.accounts[account_id].users[user_name].keys):
            self.delete_key(account_id, key_id)
        del self.accounts[account_id].users[user_name]
        self._record(account_id, "DeleteUser", {"userName": user_name})

    def fail(self, account_id: str, operation: str, error: str | BotoCoreError) -> None:
        """Every call of operation in account_id fails: an AWS error code, or a botocore error."""
        failure = client_error(error, operation) if isinstance(error, str) else error
        self.accounts[account_id].failures[operation] = failure

    def fail_assume_role(self, account_id: str, code: str = "AccessDenied") -> None:
        self.assume_failures[account_id] = client_error(code, "AssumeRole")

    def hold(self, account_id: str, operation: str) -> threading.Event:
        """Calls of operation in account_id wait until the returned event is set."""
        release = threading.Event()
        self.accounts[account_id].holds[operation] = release
        return release

    def wait_for_calls(self, account_id: str, call: str, count: int = 1, timeout: float = 5.0) -> None:
        """Block until account_id has received `call` ("service:Operation") count times."""
        account = self.accounts[account_id]
        with account.changed:
            if not account.changed.wait_for(lambda: account.calls.count(call) >= count, timeout):
                raise AssertionError(f"{call} was called {account.calls.count(call)} times in {account_id}")

    def _record(self, account_id: str, event_name: str, params: dict[str, Any]) -> None:
        """A CloudTrail record of a change made by an administrator's assumed-role session."""
        identity = {
            "type": "AssumedRole",
            "principalId": "AROAFAKEADMINROLE0001:carol",
            "arn": f"arn:aws:sts::{account_id}:assumed-role/Admin/carol",
            "accountId": account_id,
            "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin"}},
        }
        record = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": CHANGED.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.9",
            "requestParameters": params,
        }
        item = {
            "EventId": str(uuid.uuid4()),
            "EventName": event_name,
            "EventTime": CHANGED,
            "CloudTrailEvent": json.dumps(record),
        }
        self.accounts[account_id].trail.insert(0, item)


class _Paginator:
    """botocore's paginator shape: pages fetched lazily, as the real one does."""

    def __init__(self, pages: Any) -> None:
        self._pages = pages

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        yield from self._pages(**kwargs)


class _FakeClient:
    def __init__(self, aws: FakeAws, account: FakeAccount) -> None:
        self.aws = aws
        self.account = account


class FakeIam(_FakeClient):
    def get_access_key_last_used(self, AccessKeyId: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.account.call("iam", "GetAccessKeyLastUsed")
        answering = list(self.aws.accounts.values()) if self.aws.iam_answers_for_other_accounts else [self.account]
        for account in answering:
            found = account.find_key(AccessKeyId)
            if found is not None:
                user, key = found
                if key.last_used is None:
                    used: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
                else:
                    used = {"LastUsedDate": key.last_used, "ServiceName": "s3", "Region": "eu-west-1"}
                return {"UserName": user.name, "AccessKeyLastUsed": used}
        raise client_error("NoSuchEntity", "GetAccessKeyLastUsed")

    def get_paginator(self, operation: str) -> _Paginator:
        pages = {
            "list_users": self._list_users,
            "list_access_keys": self._list_access_keys,
            "list_attached_user_policies": self._list_attached_user_policies,
        }
        assert operation in pages, operation
        return _Paginator(pages[operation])

    def _list_users(self) -> Iterator[dict[str, Any]]:
        self.account.call("iam", "ListUsers")
        # One user per page, so the AWS layer's paging is exercised.
        for user in self.account.users.values():
            yield {"Users": [{"UserName": user.name, "Arn": f"arn:aws:iam::{self.account.id}:user/{user.name}"}]}

    def _list_attached_user_policies(self, UserName: str) -> Iterator[dict[str, Any]]:  # noqa: N803
        self.account.call("iam", "ListAttachedUserPolicies")
        if UserName not in self.account.users:
            raise client_error("NoSuchEntity", "ListAttachedUserPolicies")
        yield {"AttachedPolicies": []}

    def _list_access_keys(self, UserName: str) -> Iterator[dict[str, Any]]:  # noqa: N803
        self.account.call("iam", "ListAccessKeys")
        user = self.account.users.get(UserName)
        if user is None:
            raise client_error("NoSuchEntity", "ListAccessKeys")
        # One key per page, so the AWS layer's paging is exercised.
        for key in user.keys.values():
            meta = {"UserName": user.name, "AccessKeyId": key.key_id, "Status": key.status, "CreateDate": CREATED}
            yield {"AccessKeyMetadata": [meta]}

    def get_user(self, UserName: str) -> dict[str, Any]:  # noqa: N803
        self.account.call("iam", "GetUser")
        user = self.account.users.get(UserName)
        if user is None:
            raise client_error("NoSuchEntity", "GetUser")
        arn = f"arn:aws:iam::{self.account.id}:user/{user.name}"
        return {
            "User": {"UserName": user.name, "Arn": arn, "Tags": [{"Key": k, "Value": v} for k, v in user.tags.items()]}
        }


class FakeSts(_FakeClient):
    def get_access_key_info(self, AccessKeyId: str) -> dict[str, Any]:  # noqa: N803
        self.account.call("sts", "GetAccessKeyInfo")
        for account in self.aws.accounts.values():
            if account.find_key(AccessKeyId) is not None:
                return {"Account": account.id}
        # The fake cannot place a key that exists nowhere in it.
        raise client_error("NoSuchEntity", "GetAccessKeyInfo")


class FakeOrganizations(_FakeClient):
    def describe_organization(self) -> dict[str, Any]:
        self.account.call("organizations", "DescribeOrganization")
        return {"Organization": {"MasterAccountId": self.aws.management_id}}

    def get_paginator(self, operation: str) -> _Paginator:
        assert operation == "list_accounts", operation
        return _Paginator(self._list_accounts)

    def _list_accounts(self) -> Iterator[dict[str, Any]]:
        self.account.call("organizations", "ListAccounts")
        members = [a for a in self.aws.accounts.values() if a.in_org]
        # Two accounts a page, so the listing's paging is exercised.
        for start in range(0, len(members), 2):
            page = [{"Id": a.id, "Name": a.name, "Status": a.status} for a in members[start : start + 2]]
            yield {"Accounts": page}


class FakeCloudTrail(_FakeClient):
    def lookup_events(self, LookupAttributes: list[dict[str, str]], **_: Any) -> dict[str, Any]:  # noqa: N803
        self.account.call("cloudtrail", "LookupEvents")
        wanted = LookupAttributes[0]
        if wanted["AttributeKey"] == "EventName":
            events = [e for e in self.account.trail if e["EventName"] == wanted["AttributeValue"]]
        else:  # AccessKeyId: the calls made with that key
            events = [
                e
                for e in self.account.trail
                if json.loads(e["CloudTrailEvent"])["userIdentity"].get("accessKeyId") == wanted["AttributeValue"]
            ]
        return {"Events": events}
