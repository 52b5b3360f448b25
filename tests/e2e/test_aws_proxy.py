"""The AWS proxy's offline CloudTrail: IAM calls made through it to a real moto server are answered
by LookupEvents, in the caller's account, shaped as CloudTrail shapes them, and read correctly by
the bot's own CloudTrailReader. Also its scripted faults: an error, and a hold until released."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from standins.aws_proxy import AwsFaultProxy
from standins.moto_org import FAKE_CREDENTIALS, MANAGEMENT_ACCOUNT_ID, MotoServer
from tests.support.waiting import DEFAULT_TIMEOUT, wait_until
from workers.aws.cloudtrail import CloudTrailReader, TrailOutcome

MEMBER = "111111111111"
OTHER_MEMBER = "222222222222"
ADMIN_SESSION = "alice@example.com"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A moto server of its own, shared by this module's tests (they use unique user names)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[AwsFaultProxy]:
    """A fresh proxy in front of moto, so each test starts with no recorded events."""
    with AwsFaultProxy(moto.url, default_account=MANAGEMENT_ACCOUNT_ID) as running:
        yield running


def client(proxy: AwsFaultProxy, service: str, credentials: dict[str, str] | None = None) -> Any:
    """A boto3 client reaching moto through the proxy; moto's fake management credentials by default."""
    credentials = credentials or {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client(service, region_name="us-east-1", endpoint_url=proxy.url, **credentials)


def assume(proxy: AwsFaultProxy, account_id: str, role: str = "Admin", session: str = ADMIN_SESSION) -> dict[str, str]:
    """Credentials of a role session in account_id, issued through the proxy (so it learns them)."""
    creds = client(proxy, "sts").assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName=session)[
        "Credentials"
    ]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def new_user_with_key(iam: Any) -> tuple[str, str]:
    """A new user with one key; its name and key ID."""
    user = f"user-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    return user, iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]


def lookup(proxy: AwsFaultProxy, credentials: dict[str, str] | None, key: str, value: str, **kwargs: Any) -> Any:
    """LookupEvents through the proxy with one attribute, as the caller of those credentials."""
    attributes = [{"AttributeKey": key, "AttributeValue": value}]
    return client(proxy, "cloudtrail", credentials).lookup_events(LookupAttributes=attributes, **kwargs)


def record(item: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(item["CloudTrailEvent"])
    return parsed


def reader(proxy: AwsFaultProxy) -> CloudTrailReader:
    """The bot's reader, reading each account with a reader-role session in it, through the proxy."""
    return CloudTrailReader(
        lambda account: client(proxy, "cloudtrail", assume(proxy, account, "WhoseKeyReadOnly", "whose-key")),
        requests_per_second=1000,
    )


def test_key_deleted_by_a_role_session_is_found_in_that_account(proxy: AwsFaultProxy) -> None:
    """DeleteAccessKey by an assumed-role session is listed in its account, naming the role and session."""
    admin = assume(proxy, MEMBER)
    iam = client(proxy, "iam", admin)
    user, key_id = new_user_with_key(iam)
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)

    page = lookup(proxy, assume(proxy, MEMBER, "Auditor", "audit"), "EventName", "DeleteAccessKey")

    [item] = page["Events"]
    assert item["EventName"] == "DeleteAccessKey"
    assert item["Username"] == ADMIN_SESSION
    assert isinstance(item["EventTime"], datetime)
    assert "NextToken" not in page
    event = record(item)
    assert event["eventVersion"] == "1.08"
    assert event["eventSource"] == "iam.amazonaws.com"
    assert event["recipientAccountId"] == MEMBER
    assert event["requestParameters"] == {"userName": user, "accessKeyId": key_id}
    assert event["eventTime"].endswith("Z")
    identity = event["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{MEMBER}:assumed-role/Admin/{ADMIN_SESSION}"
    assert identity["accessKeyId"] == admin["aws_access_key_id"]
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert (issuer["arn"], issuer["userName"]) == (f"arn:aws:iam::{MEMBER}:role/Admin", "Admin")


def test_other_accounts_do_not_see_the_event(proxy: AwsFaultProxy) -> None:
    """The deletion is recorded in the member account only: another member and the management see nothing."""
    iam = client(proxy, "iam", assume(proxy, MEMBER))
    user, key_id = new_user_with_key(iam)
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)

    assert lookup(proxy, assume(proxy, OTHER_MEMBER), "EventName", "DeleteAccessKey")["Events"] == []
    assert lookup(proxy, None, "EventName", "DeleteAccessKey")["Events"] == []
    assert len(lookup(proxy, assume(proxy, MEMBER), "EventName", "DeleteAccessKey")["Events"]) == 1


def test_deactivation_is_recorded_with_its_status(proxy: AwsFaultProxy) -> None:
    """UpdateAccessKey to Inactive is recorded with requestParameters.status, by the management user."""
    iam = client(proxy, "iam")
    user, key_id = new_user_with_key(iam)
    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")

    [item] = lookup(proxy, None, "EventName", "UpdateAccessKey")["Events"]
    event = record(item)
    assert event["requestParameters"] == {"userName": user, "accessKeyId": key_id, "status": "Inactive"}
    assert event["userIdentity"]["type"] == "IAMUser"
    assert event["userIdentity"]["arn"] == f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:user/moto"
    assert event["recipientAccountId"] == MANAGEMENT_ACCOUNT_ID


def test_self_service_change_leaves_user_name_out(proxy: AwsFaultProxy) -> None:
    """A user deactivating their own key sends no UserName: it is absent, and the identity is that user."""
    iam = client(proxy, "iam", assume(proxy, MEMBER))
    user = f"user-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    own = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = client(
        proxy, "iam", {"aws_access_key_id": own["AccessKeyId"], "aws_secret_access_key": own["SecretAccessKey"]}
    )
    as_user.update_access_key(AccessKeyId=own["AccessKeyId"], Status="Inactive")

    [item] = lookup(proxy, assume(proxy, MEMBER), "EventName", "UpdateAccessKey")["Events"]
    event = record(item)
    assert event["requestParameters"] == {"accessKeyId": own["AccessKeyId"], "status": "Inactive"}
    assert event["userIdentity"]["type"] == "IAMUser"
    assert event["userIdentity"]["userName"] == user
    assert event["userIdentity"]["arn"] == f"arn:aws:iam::{MEMBER}:user/{user}"
    answer = reader(proxy).who_deactivated_key(MEMBER, own["AccessKeyId"])
    assert answer.event is not None and answer.event.user_name == user


def test_paging_returns_newest_first_with_next_token(proxy: AwsFaultProxy) -> None:
    """MaxResults=1 pages through the events newest first, with a NextToken until the last one."""
    iam = client(proxy, "iam")
    users = [f"user-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for user in users:
        iam.create_user(UserName=user)

    names: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 1}
    for _ in range(3):
        page = lookup(proxy, None, "EventName", "CreateUser", **kwargs)
        [item] = page["Events"]
        names.append(record(item)["requestParameters"]["userName"])
        kwargs["NextToken"] = page.get("NextToken")
    assert names == users[::-1]
    assert kwargs["NextToken"] is None, "the last page has no NextToken"


def test_scripted_lookup_fault_wins_over_the_emulation(proxy: AwsFaultProxy) -> None:
    """A LookupEvents AccessDenied scripted on the proxy reaches the caller as that error code."""
    proxy.record_event(
        MANAGEMENT_ACCOUNT_ID, "DeleteUser", actor_arn="arn:aws:iam::123456789012:root", request_parameters={}
    )
    fault = proxy.fail("LookupEvents", None, 400, "AccessDeniedException", "not authorized")

    with pytest.raises(ClientError) as raised:
        lookup(proxy, None, "EventName", "DeleteUser")

    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert fault.hits == 1
    answer = reader(proxy).who_deleted_user(MANAGEMENT_ACCOUNT_ID, "anyone")
    assert answer.outcome is TrailOutcome.NOT_PERMITTED


def test_held_request_waits_for_its_release_then_gets_motos_answer(proxy: AwsFaultProxy) -> None:
    """A hold keeps matching requests waiting (others pass) until released, then forwards them."""
    iam = client(proxy, "iam")
    user, _ = new_user_with_key(iam)
    held = proxy.hold("GetUser", lambda params: params.get("UserName") == user)

    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(iam.get_user, UserName=user)
        # Seen is recorded before the hold is waited on: from then on the answer waits for release().
        wait_until(
            lambda: any(r.action == "GetUser" and r.params.get("UserName") == user for r in proxy.seen),
            what="the held GetUser to reach the proxy",
        )
        assert iam.list_users()["Users"], "other requests are answered meanwhile"
        assert not answer.done(), "held until released"
        held.release()
        assert answer.result(timeout=DEFAULT_TIMEOUT)["User"]["UserName"] == user

    assert held.hits == 1
    proxy.remove(held)
    assert iam.get_user(UserName=user)["User"]["UserName"] == user
    assert held.hits == 1, "a removed hold takes no more requests"


def test_a_released_request_meets_the_fault_scripted_for_it(proxy: AwsFaultProxy) -> None:
    """A hold comes on top of the faults: released, the request gets its scripted error; `times`
    bounds how many requests a hold takes."""
    iam = client(proxy, "iam")
    held = proxy.hold("ListUsers", times=1)
    fault = proxy.fail("ListUsers", None, 403, "AccessDenied", "not authorized", times=1)

    with ThreadPoolExecutor(max_workers=1) as pool:
        answer = pool.submit(iam.list_users)
        wait_until(lambda: held.hits, what="the held ListUsers to reach the proxy")  # counted, then held
        assert not answer.done(), "held until released"
        held.release()
        with pytest.raises(ClientError) as raised:
            answer.result(timeout=DEFAULT_TIMEOUT)

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert "Users" in iam.list_users(), "neither takes a second request"
    assert (held.hits, fault.hits) == (1, 1)


def test_more_than_one_lookup_attribute_is_refused(proxy: AwsFaultProxy) -> None:
    """Two LookupAttributes are refused with InvalidLookupAttributesException, as CloudTrail does."""
    attributes = [
        {"AttributeKey": "EventName", "AttributeValue": "DeleteUser"},
        {"AttributeKey": "Username", "AttributeValue": "moto"},
    ]
    with pytest.raises(ClientError) as raised:
        client(proxy, "cloudtrail").lookup_events(LookupAttributes=attributes)
    assert raised.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


def test_bots_reader_finds_who_deleted_the_key(proxy: AwsFaultProxy) -> None:
    """The bot's CloudTrailReader reads the emulated deletion as FOUND, naming the admin session."""
    iam = client(proxy, "iam", assume(proxy, MEMBER))
    user, key_id = new_user_with_key(iam)
    _, other_key = new_user_with_key(iam)
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)

    answer = reader(proxy).who_deleted_key(MEMBER, key_id)

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None
    assert answer.event.actor == f"assumed-role/Admin/{ADMIN_SESSION}"
    assert answer.event.user_name == user
    assert answer.event.access_key_id == key_id
    assert answer.event.source_ip == "127.0.0.1"
    assert reader(proxy).who_deleted_key(MEMBER, other_key).outcome is TrailOutcome.NONE_FOUND


def test_bots_reader_names_the_role_behind_a_session_key(proxy: AwsFaultProxy) -> None:
    """Any call made with a session key is recorded, so LookupEvents by AccessKeyId names its role."""
    session = assume(proxy, MEMBER, "Deployer", "ci-run-42")
    client(proxy, "sts", session).get_caller_identity()

    answer = reader(proxy).who_issued_session(MEMBER, session["aws_access_key_id"])

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None
    assert answer.event.event_name == "GetCallerIdentity"
    assert answer.event.session_issuer == f"arn:aws:iam::{MEMBER}:role/Deployer"
    assert answer.event.actor == "assumed-role/Deployer/ci-run-42"


def test_recorded_history_respects_the_time_range(proxy: AwsFaultProxy) -> None:
    """record_event seeds older history: 30 days ago is found, 100 days ago is outside the 90-day lookback."""
    key_id = "AKIAOLDHISTORY000001"
    now = datetime.now(UTC)
    for days, actor in ((100, "arn:aws:iam::111111111111:user/old-admin"), (30, "arn:aws:iam::111111111111:root")):
        proxy.record_event(
            MEMBER,
            "DeleteAccessKey",
            actor_arn=actor,
            request_parameters={"userName": "carol", "accessKeyId": key_id},
            event_time=now - timedelta(days=days),
        )

    answer = reader(proxy).who_deleted_key(MEMBER, key_id)

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None and answer.event.actor == "root"
    member = assume(proxy, MEMBER)
    assert lookup(proxy, member, "EventName", "DeleteAccessKey", StartTime=now - timedelta(days=20))["Events"] == []
    assert len(lookup(proxy, member, "EventName", "DeleteAccessKey", EndTime=now - timedelta(days=50))["Events"]) == 1


def test_events_per_account_are_bounded_oldest_dropped() -> None:
    """Beyond max_events_per_account the oldest events are dropped, whatever order they were added in."""
    bounded = AwsFaultProxy("http://127.0.0.1:9", max_events_per_account=3)
    now = datetime.now(UTC)
    for days in (1, 5, 2, 4, 3):
        bounded.record_event(
            MEMBER,
            "DeleteUser",
            actor_arn=f"arn:aws:iam::{MEMBER}:root",
            request_parameters={"userName": f"u{days}"},
            event_time=now - timedelta(days=days),
        )
    assert [e["requestParameters"]["userName"] for e in bounded.events(MEMBER)] == ["u1", "u2", "u3"]
