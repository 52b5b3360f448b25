"""An AWS organization in moto, in this process, behind the production `AwsGateway`.

moto (`moto.mock_aws`) holds the organization, its accounts, users and keys, and answers the IAM,
STS and Organizations calls the workers make. The gateway is the real one (its assumed-role
sessions and client caches included), so the AWS layer's paging and error classification run on
real botocore clients against moto's answers, not against a hand-written imitation of them.

What moto cannot do is added here, and only that: a small layer on the clients the gateway hands
out (botocore's `before-call` event, registered per client, so each knows the account it acts
in), where an answer can replace moto's:
- CloudTrail's LookupEvents, which moto does not implement, is answered from the AWS proxy's
  emulation (`standins.aws_proxy.cloudtrail.Trail`), holding the changes this world's own methods
  make: who deactivated or deleted a key, who deleted a user, and when;
- moto answers GetAccessKeyLastUsed for other accounts' keys, and GetAccessKeyInfo with the
  caller's account for a key it never issued; real IAM and STS may not. `iam_mode` takes the AWS
  proxy's modes (standins/aws_proxy/strict_iam.py): `moto` leaves moto's answers, the strict
  ones refuse a key the calling account does not hold as that table says, and STS names the
  account that holds the key, else the account its ID encodes;
- AssumeRole into an account outside the organization is AccessDenied (moto assumes any role);
- failures and holds a test scripts per account and operation, and a record of every call per
  account. A scripted failure is answered before anything is sent, so botocore's retries do not
  run for it (the end-to-end layer covers those, through the AWS proxy).

The organization, users and keys are seeded in moto's backends directly (as moto's own tests
seed large state): quicker than an administrator's API calls, and the only way to give a key an
ID a test chooses (an old-format key, a key whose ID names another account).
"""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import create_parser
from moto import mock_aws
from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends

from standins.aws_proxy.callers import caller_from_arn
from standins.aws_proxy.cloudtrail import Trail
from standins.aws_proxy.recorder import resources_of
from standins.aws_proxy.strict_iam import check_mode, encoded_account
from standins.keys import synthesize_key_id
from standins.moto_org import FAKE_CREDENTIALS, MANAGEMENT_ACCOUNT_ID
from workers.aws.gateway import GLOBAL_REGION, AwsGateway

# The role whose-key assumes in member accounts (moto does not need it to exist).
ROLE_NAME = "WhoseKeyReadOnly"
# Who made every change this world records in CloudTrail, and how the reader names them.
ADMIN_SESSION_ARN = "arn:aws:sts::{account}:assumed-role/Admin/carol"
ADMIN_ACTOR = "assumed-role/Admin/carol"
# How long a held call waits for its release before failing the test rather than hanging it.
HOLD_LIMIT = 10.0
# Accounts per ListAccounts page asked of moto: the organization listing pages through moto's
# NextToken for the verdict table's four or five accounts; the cache tests' three fit in one.
ACCOUNTS_PAGE = 3
# What strict IAM answers for a key the calling account does not hold: (a key of another
# account, a key of this account that does not exist), as in standins/aws_proxy/strict_iam.py;
# None leaves moto's answer.
STRICT_REFUSALS: dict[str, tuple[str | None, str | None]] = {
    "moto": (None, None),
    "strict": ("AccessDenied", "AccessDenied"),
    "strict-mixed": ("AccessDenied", None),  # moto's own NoSuchEntity for a missing key
    "strict-nosuchentity": ("NoSuchEntity", "NoSuchEntity"),
}
_STATUS = {"AccessDenied": 403, "NoSuchEntity": 404}
# Service models are read from disk once per test run, not once per world.
_LOADER = botocore.loaders.create_loader()


def client_error(code: str, operation: str) -> ClientError:
    """What botocore raises when AWS answers with an error code."""
    return ClientError({"Error": {"Code": code, "Message": f"moto world: {code}"}}, operation)


@dataclass
class WorldAccount:
    """One account: the failures and holds scripted for it, and the calls the gateway's clients made there."""

    id: str
    name: str
    failures: dict[str, BaseException] = field(default_factory=dict)  # operation -> raised by every call
    holds: dict[str, threading.Event] = field(default_factory=dict)  # operation -> answered once set
    calls: list[str] = field(default_factory=list)  # "service:Operation", in order
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, call: str) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def calls_to(self, service: str) -> list[str]:
        return [c for c in self.calls if c.startswith(service + ":")]


class MotoWorld:
    """The organization in moto, its gateway (`gateway`), and what a test scripts on top.

    Start it with `with MotoWorld() as world:`; the management account is moto's own and is the
    hub whose-key runs in.
    """

    def __init__(self, *, iam_mode: str = "moto") -> None:
        self.iam_mode = check_mode(iam_mode)
        self.management_id = MANAGEMENT_ACCOUNT_ID
        self.accounts: dict[str, WorldAccount] = {}  # id -> account, the management account first
        self.ids: dict[str, str] = {}  # account name -> id
        self.forgotten: list[str] = []  # accounts whose session the gateway was told to forget
        # Calls whose answer depends on iam_mode (about a key the calling account does not hold),
        # since answer_as: with none, every mode would have given the same answers.
        self.mode_sensitive_calls = 0
        self.trail = Trail()
        self._assume_failures: dict[str, str] = {}  # account -> error code AssumeRole answers
        self._keys: dict[str, tuple[str, str]] = {}  # key ID -> (account, user), while it exists
        self._rng = random.Random(20240601)  # noqa: S311 - repeatable key IDs, not secrets
        self._lock = threading.Lock()  # the finder's threads call at once
        self._mock = mock_aws()
        # The production gateway, whose clients go through the layer below (no call made yet).
        self.gateway: AwsGateway = _WorldGateway(self, _session())

    def __enter__(self) -> MotoWorld:
        self._mock.start()
        try:
            organizations = _organizations(self.management_id)
            organizations.create_organization(region=GLOBAL_REGION, FeatureSet="ALL")
            assert organizations.describe_organization()["Organization"]["MasterAccountId"] == self.management_id
            self.accounts[self.management_id] = WorldAccount(self.management_id, "management")
            self.ids["management"] = self.management_id
        except BaseException:
            self._mock.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._mock.stop()

    # -- building the world: seeded in moto's backends, as its own tests seed large state ----

    def add_account(self, name: str, status: str = "ACTIVE") -> str:
        """A new member account of the organization (closed at once for SUSPENDED); its ID."""
        organizations = _organizations(self.management_id)
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = str(created["CreateAccountStatus"]["AccountId"])
        if status == "SUSPENDED":
            organizations.close_account(AccountId=account_id)
        else:
            assert status == "ACTIVE", status
        self.accounts[account_id] = WorldAccount(account_id, name)
        self.ids[name] = account_id
        return account_id

    def add_user(self, account_id: str, name: str, tags: dict[str, str] | None = None) -> None:
        tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        _iam(account_id).create_user(region_name=GLOBAL_REGION, user_name=name, tags=tag_list)

    def add_key(self, account_id: str, user_name: str, *, key_id: str | None = None, status: str = "Active") -> str:
        """A key of the user, as IAM issues it (its ID encodes the account), or with key_id."""
        key = _iam(account_id).create_access_key(user_name, status=status)
        if key_id is not None:
            _rename_key(account_id, key.access_key_id, key_id)
        self._keys[key.access_key_id] = (account_id, user_name)
        return str(key.access_key_id)

    def key_id_for(self, account_id: str, prefix: str = "AKIA") -> str:
        """A well-formed key ID of the account that no key has (yet)."""
        return synthesize_key_id(account_id, prefix, rng=self._rng)

    def deactivate_key(self, account_id: str, key_id: str) -> None:
        """An administrator deactivates the key; CloudTrail records it."""
        user = self._user_of(account_id, key_id)
        _iam(account_id).update_access_key(user, key_id, "Inactive")
        self._record(account_id, "UpdateAccessKey", {"userName": user, "accessKeyId": key_id, "status": "Inactive"})

    def delete_key(self, account_id: str, key_id: str, *, days_ago: int = 0) -> None:
        """An administrator deletes the key, days_ago (CloudTrail keeps 90 days); CloudTrail records it."""
        user = self._user_of(account_id, key_id)
        _iam(account_id).delete_access_key(key_id, user)
        del self._keys[key_id]
        self._record(account_id, "DeleteAccessKey", {"userName": user, "accessKeyId": key_id}, days_ago=days_ago)

    def delete_user(self, account_id: str, user_name: str) -> None:
        """Delete the user's keys, then the user, as IAM requires; CloudTrail records each."""
        for key_id, (account, user) in list(self._keys.items()):
            if (account, user) == (account_id, user_name):
                self.delete_key(account_id, key_id)
        _iam(account_id).delete_user(user_name)
        self._record(account_id, "DeleteUser", {"userName": user_name})

    # -- scripting the calls --------------------------------------------------------------------

    def answer_as(self, iam_mode: str) -> None:
        """From now on IAM and STS answer in iam_mode; the calls recorded so far are forgotten."""
        self.iam_mode = check_mode(iam_mode)
        for account in self.accounts.values():
            with account.changed:
                account.calls.clear()
        self.forgotten.clear()
        self.mode_sensitive_calls = 0

    def fail(self, account_id: str, operation: str, error: str | BotoCoreError) -> None:
        """Every call of operation in account_id fails: an AWS error code, or a botocore error."""
        failure = client_error(error, operation) if isinstance(error, str) else error
        self.accounts[account_id].failures[operation] = failure

    def fail_assume_role(self, account_id: str, code: str = "AccessDenied") -> None:
        """The hub's AssumeRole into account_id is refused with code."""
        self._assume_failures[account_id] = code

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

    # -- what the gateway's clients go through --------------------------------------------------

    def watch(self, client: Any, account_id: str) -> Any:
        """The client, with the world's layer on it (once per client: it keeps its account)."""
        events = client.meta.events
        events.register("before-parameter-build", _keep_params, unique_id="moto-world-params")
        events.register("before-call", partial(self._before_call, account_id), unique_id="moto-world-call")
        return client

    def _before_call(
        self, account_id: str, model: Any, params: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]] | None:
        """Record the call; hold, fail or answer it as scripted, or as moto cannot; else let moto answer.

        An answer given here is what botocore would have parsed from AWS's (it raises an error
        answer's ClientError itself). botocore hands over the serialized request as `params`; the
        call's own parameters were kept in `context` (_keep_params)."""
        service, operation = event_name.split(".")[1], model.name
        request, call = params, context.get("moto_world_params", {})
        account = self.accounts[account_id]
        account.record(f"{service}:{operation}")
        hold = account.holds.get(operation)
        if hold is not None and not hold.wait(HOLD_LIMIT):
            raise AssertionError(f"{operation} in {account_id} was held and never released")
        failure = account.failures.get(operation)
        if isinstance(failure, ClientError):
            return _error(str(failure.response["Error"]["Code"]))
        if failure is not None:
            raise failure
        if (service, operation) == ("cloudtrail", "LookupEvents"):
            return self._lookup_events(account_id, model, request)
        if (service, operation) == ("sts", "AssumeRole"):
            target = str(call["RoleArn"]).split(":")[4]
            code = self._assume_failures.get(target) or (None if target in self.accounts else "AccessDenied")
            return _error(code) if code else None
        if (service, operation) == ("iam", "GetAccessKeyLastUsed"):
            code = self._strict_refusal(account_id, str(call["AccessKeyId"]))
            return _error(code) if code else None
        if (service, operation) == ("sts", "GetAccessKeyInfo"):
            key_id = str(call["AccessKeyId"])
            if key_id in self._keys:
                return None  # moto names the account holding the key, as STS does
            with self._lock:
                self.mode_sensitive_calls += 1
            home = encoded_account(key_id)
            if self.iam_mode == "moto" or home is None:
                return None
            return _ok(), {"Account": home, "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    def _strict_refusal(self, account_id: str, key_id: str) -> str | None:
        """The error strict IAM answers GetAccessKeyLastUsed with in account_id, None for moto's answer."""
        held = self._keys.get(key_id)
        if held is not None and held[0] == account_id:
            return None
        with self._lock:
            self.mode_sensitive_calls += 1
        foreign, missing = STRICT_REFUSALS[self.iam_mode]
        return missing if self._home_of(key_id) == account_id else foreign

    def _home_of(self, key_id: str) -> str | None:
        """The account a key belongs to: the one holding it, else the one its ID encodes."""
        held = self._keys.get(key_id)
        return held[0] if held is not None else encoded_account(key_id)

    def _lookup_events(
        self, account_id: str, model: Any, request: dict[str, Any]
    ) -> tuple[AWSResponse, dict[str, Any]]:
        """LookupEvents in account_id, answered as CloudTrail would from this world's trail, and
        parsed by botocore's own parser from the JSON CloudTrail would send."""
        body = request.get("body") or b"{}"
        status, headers, payload = self.trail.answer(account_id, body if isinstance(body, bytes) else body.encode())
        header_map = dict(headers)
        parsed = create_parser(model.metadata["protocol"]).parse(
            {"status_code": status, "headers": header_map, "body": payload}, model.output_shape
        )
        return AWSResponse("https://moto-world.invalid/", status, header_map, _Body(payload)), parsed

    # -- helpers --------------------------------------------------------------------------------

    def _user_of(self, account_id: str, key_id: str) -> str:
        account, user = self._keys[key_id]
        assert account == account_id, f"{key_id} is in {account}, not {account_id}"
        return user

    def _record(self, account_id: str, event_name: str, params: dict[str, Any], *, days_ago: int = 0) -> None:
        """A CloudTrail record of a change made by an administrator's assumed-role session."""
        self.trail.add(
            account_id,
            event_name,
            caller_from_arn(ADMIN_SESSION_ARN.format(account=account_id)),
            access_key_id=None,
            request_parameters=params,
            event_time=datetime.now(UTC) - timedelta(days=days_ago),
            source_ip="203.0.113.9",
            resources=resources_of(params),
        )


class _WorldGateway(AwsGateway):
    """The production gateway, on moto, with every client it hands out watched by the world."""

    def __init__(self, world: MotoWorld, base: boto3.Session) -> None:
        super().__init__(ROLE_NAME, base=base)
        self._world = world

    def hub_client(self, service: str, region: str = GLOBAL_REGION, *, single_attempt: bool = False) -> Any:
        client = super().hub_client(service, region, single_attempt=single_attempt)
        return self._world.watch(client, self._world.management_id)

    def client(
        self, account_id: str, service: str, region: str = GLOBAL_REGION, *, single_attempt: bool = False
    ) -> Any:
        return self._world.watch(super().client(account_id, service, region, single_attempt=single_attempt), account_id)

    def fresh_client(self, account_id: str, service: str, config: Any) -> Any:
        return self._world.watch(super().fresh_client(account_id, service, config), account_id)

    def forget_session(self, account_id: str) -> None:
        self._world.forgotten.append(account_id)
        super().forget_session(account_id)


class _Body(io.BytesIO):
    """A response body as botocore reads it from urllib3."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def _session() -> boto3.Session:
    """A session with moto's fake credentials that ignores any endpoint configured outside the test."""
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    core.set_credentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    return boto3.Session(botocore_session=core, region_name=GLOBAL_REGION)


def _keep_params(params: dict[str, Any], context: dict[str, Any], event_name: str, **_: Any) -> None:
    """Keep the call's parameters for before-call; ask moto for small ListAccounts pages."""
    if event_name.endswith("organizations.ListAccounts"):
        params.setdefault("MaxResults", ACCOUNTS_PAGE)
    context["moto_world_params"] = dict(params)


def _ok() -> AWSResponse:
    return AWSResponse("https://moto-world.invalid/", 200, {}, _Body(b""))


def _error(code: str) -> tuple[AWSResponse, dict[str, Any]]:
    """What botocore makes of an AWS error answer (it raises the ClientError itself)."""
    status = _STATUS.get(code, 400)
    parsed = {"Error": {"Code": code, "Message": f"moto world: {code}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return AWSResponse("https://moto-world.invalid/", status, {}, _Body(b"")), parsed


def _iam(account_id: str) -> Any:
    """moto's IAM in the account."""
    return iam_backends[account_id]["aws"]


def _organizations(management_id: str) -> Any:
    """moto's Organizations, as the management account reaches it."""
    return organizations_backends[management_id]["aws"]


def _rename_key(account_id: str, issued: str, wanted: str) -> None:
    """Give a key moto issued the ID a test chose (moto's backend keys its access keys by ID)."""
    backend = _iam(account_id)
    key = backend.access_keys.pop(issued)
    key.access_key_id = wanted
    backend.access_keys[wanted] = key
