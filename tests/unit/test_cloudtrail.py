"""CloudTrail enrichment against a real botocore client whose LookupEvents answers are stubbed
with recorded event shapes (moto does not implement LookupEvents)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from workers.aws.cloudtrail import (
    LOOKBACK,
    THROTTLE_BACKOFF,
    THROTTLE_RETRIES,
    CloudTrailReader,
    TrailAnswer,
    TrailEvent,
    TrailOutcome,
)
from workers.aws.cloudtrail_rate import AccountRateLimiter
from workers.aws.errors import AccountOutcome, AwsCallError

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
START = NOW - LOOKBACK
KEY = "AKIA2OGYBAH6STMMNXNN"
OTHER_KEY = "AKIA2OGYBAH6QQQQQQQQ"
SESSION_KEY = "ASIA2OGYBAH6RZ5JS4XP"
FAKE_SECRET = "fake-secret-key-never-shown"


# Recorded shapes: userIdentity as CloudTrail writes it for each kind of caller.


def iam_user(name: str, key: str = "ASIA2OGYBAH6CONSOLE1") -> dict[str, Any]:
    # A console user: console sessions call IAM with temporary ASIA keys.
    return {
        "type": "IAMUser",
        "principalId": "AIDA2OGYBAH6ALICE0001",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "userName": name,
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": "2024-05-20T09:58:11Z", "mfaAuthenticated": "true"},
        },
    }


def assumed_role(role: str, session: str, key: str = "ASIA2OGYBAH6ADMIN0001") -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROA2OGYBAH6ROLE00001:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROA2OGYBAH6ROLE00001",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2024-05-20T08:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def root() -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIA2OGYBAH6ROOT00001",
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": "2024-05-20T07:00:00Z", "mfaAuthenticated": "true"},
        },
    }


def trail_event(
    event_name: str,
    identity: dict[str, Any],
    when: datetime,
    request_parameters: dict[str, Any] | None,
    *,
    event_source: str = "iam.amazonaws.com",
    read_only: bool = False,
    error_code: str | None = None,
) -> dict[str, Any]:
    """One LookupEvents item as AWS returns it, with its CloudTrailEvent JSON string."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event_name}/{when.isoformat()}/{request_parameters}"))
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.24",
        "userAgent": "AWS Internal",
        "requestParameters": request_parameters,
        "responseElements": None,
        "requestID": "4a8f2c1e-7d1b-4b8e-9a9b-2f7c0e1d5a10",
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com",
        },
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = "User is not authorized to perform this action"
    resources = [
        {"ResourceType": kind, "ResourceName": (request_parameters or {})[param]}
        for kind, param in (("AWS::IAM::AccessKey", "accessKeyId"), ("AWS::IAM::User", "userName"))
        if param in (request_parameters or {})
    ]
    return {
        "EventId": event_id,
        "EventName": event_name,
        "ReadOnly": "true" if read_only else "false",
        "AccessKeyId": identity["accessKeyId"],
        "EventTime": when,
        "EventSource": event_source,
        "Username": identity.get("userName") or identity["arn"].rsplit("/", 1)[-1],
        "Resources": resources,
        "CloudTrailEvent": json.dumps(record),
    }


def key_deletion(key: str, identity: dict[str, Any], when: datetime, user: str | None = "alice") -> dict[str, Any]:
    params = {"accessKeyId": key} | ({"userName": user} if user else {})
    return trail_event("DeleteAccessKey", identity, when, params)


def key_update(key: str, status: str, when: datetime, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {"userName": "alice", "accessKeyId": key, "status": status}
    return trail_event("UpdateAccessKey", identity or assumed_role("Admin", "bob@example.com"), when, params)


def lookup(attribute: str, value: str, token: str | None = None) -> dict[str, Any]:
    """The LookupEvents parameters the reader must send."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": attribute, "AttributeValue": value}],
        "StartTime": START,
        "MaxResults": 50,
    }
    if token:
        params["NextToken"] = token
    return params


def page(*events: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    return {"Events": list(events), **({"NextToken": token} if token else {})}


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def cloudtrail() -> Iterator[Any]:
    """A real us-east-1 CloudTrail client with fake credentials; every call must be stubbed."""
    client = boto3.client(
        "cloudtrail",
        region_name="us-east-1",
        aws_access_key_id="AKIAFAKEFAKEFAKEFAKE",
        aws_secret_access_key=FAKE_SECRET,
    )
    yield client


@pytest.fixture
def stubber(cloudtrail: Any) -> Iterator[Stubber]:
    """The client's stubber; the test fails if a stubbed answer was not asked for."""
    with Stubber(cloudtrail) as stub:
        yield stub
        stub.assert_no_pending_responses()


def reader_for(client: Any, **kwargs: Any) -> CloudTrailReader:
    """A reader whose every account gets `client`, with no real sleeping."""
    kwargs.setdefault("sleep", lambda _seconds: None)
    return CloudTrailReader(lambda _account: client, now=lambda: NOW, **kwargs)


def test_key_deletion_is_found_on_the_second_page(cloudtrail: Any, stubber: Stubber) -> None:
    """The reader follows NextToken and returns the admin session that deleted the key."""
    stubber.add_response(
        "lookup_events",
        page(key_deletion(OTHER_KEY, iam_user("carol"), days_ago(1), user="carol"), token="page-2"),
        lookup("EventName", "DeleteAccessKey"),
    )
    stubber.add_response(
        "lookup_events",
        page(
            key_deletion(OTHER_KEY, root(), days_ago(3), user="dave"),
            key_deletion(KEY, assumed_role("Admin", "bob@example.com"), days_ago(4)),
            token="page-3",
        ),
        lookup("EventName", "DeleteAccessKey", token="page-2"),
    )

    answer = reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY)

    assert answer == TrailAnswer(
        TrailOutcome.FOUND,
        TrailEvent(
            event_name="DeleteAccessKey",
            event_time="2024-05-28T12:00:00Z",
            actor="assumed-role/Admin/bob@example.com",
            source_ip="203.0.113.24",
            user_name="alice",
            access_key_id=KEY,
            session_issuer=f"arn:aws:iam::{ACCOUNT}:role/Admin",
        ),
    )


def test_key_deletion_not_on_any_page_is_none_found(cloudtrail: Any, stubber: Stubber) -> None:
    """When every page has been read without a match, the answer is NONE_FOUND with no caveat."""
    stubber.add_response(
        "lookup_events",
        page(key_deletion(OTHER_KEY, iam_user("carol"), days_ago(1), user="carol"), token="page-2"),
        lookup("EventName", "DeleteAccessKey"),
    )
    stubber.add_response(
        "lookup_events",
        page(key_deletion(OTHER_KEY, root(), days_ago(30), user="dave")),
        lookup("EventName", "DeleteAccessKey", token="page-2"),
    )

    assert reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY) == TrailAnswer(TrailOutcome.NONE_FOUND)


def test_search_stops_at_max_pages_and_says_older_events_were_not_read(cloudtrail: Any, stubber: Stubber) -> None:
    """Reaching max_pages with more pages left is NONE_FOUND, but the detail says the search was cut short."""
    stubber.add_response("lookup_events", page(token="page-2"), lookup("EventName", "DeleteAccessKey"))
    stubber.add_response("lookup_events", page(token="page-3"), lookup("EventName", "DeleteAccessKey", token="page-2"))

    answer = reader_for(cloudtrail, max_pages=2).who_deleted_key(ACCOUNT, KEY)

    assert answer.outcome is TrailOutcome.NONE_FOUND
    assert answer.detail == (
        f"Only the latest 100 DeleteAccessKey events in account {ACCOUNT}'s CloudTrail were read and none matched; "
        "older ones were not read."
    )


def test_failed_deletion_attempt_is_not_taken_for_the_deletion(cloudtrail: Any, stubber: Stubber) -> None:
    """A denied DeleteAccessKey (recorded with an errorCode) is skipped for the call that did delete the key."""
    denied = trail_event(
        "DeleteAccessKey",
        iam_user("mallory"),
        days_ago(1),
        {"userName": "alice", "accessKeyId": KEY},
        error_code="AccessDenied",
    )
    stubber.add_response(
        "lookup_events",
        page(denied, key_deletion(KEY, assumed_role("Admin", "bob@example.com"), days_ago(2))),
        lookup("EventName", "DeleteAccessKey"),
    )

    answer = reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY)

    assert answer.event is not None
    assert answer.event.actor == "assumed-role/Admin/bob@example.com"


def test_self_service_deletion_names_the_callers_own_user(cloudtrail: Any, stubber: Stubber) -> None:
    """A user deleting their own key sends no userName; the user is the calling IAM user."""
    stubber.add_response(
        "lookup_events",
        page(key_deletion(KEY, iam_user("alice"), days_ago(2), user=None)),
        lookup("EventName", "DeleteAccessKey"),
    )

    answer = reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY)

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None
    assert answer.event.user_name == "alice"
    assert answer.event.actor == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert answer.event.session_issuer is None


def test_deactivation_is_the_latest_inactive_update_of_the_key(cloudtrail: Any, stubber: Stubber) -> None:
    """The most recent UpdateAccessKey to Inactive for the key wins; Active updates and other keys are ignored."""
    stubber.add_response(
        "lookup_events",
        page(
            key_update(OTHER_KEY, "Inactive", days_ago(1)),
            key_update(KEY, "Inactive", days_ago(5), iam_user("alice")),
            key_update(KEY, "Active", days_ago(9)),
            key_update(KEY, "Inactive", days_ago(10)),
        ),
        lookup("EventName", "UpdateAccessKey"),
    )

    answer = reader_for(cloudtrail).who_deactivated_key(ACCOUNT, KEY)

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None
    assert (answer.event.event_name, answer.event.event_time) == ("UpdateAccessKey", "2024-05-27T12:00:00Z")
    assert answer.event.actor == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert answer.event.access_key_id == KEY


def test_user_deletion_is_found(cloudtrail: Any, stubber: Stubber) -> None:
    """DeleteUser for the user is found, here made by the account's root user."""
    stubber.add_response(
        "lookup_events",
        page(
            trail_event("DeleteUser", root(), days_ago(2), {"userName": "carol"}),
            trail_event("DeleteUser", root(), days_ago(6), {"userName": "alice"}),
        ),
        lookup("EventName", "DeleteUser"),
    )

    answer = reader_for(cloudtrail).who_deleted_user(ACCOUNT, "alice")

    assert answer == TrailAnswer(
        TrailOutcome.FOUND,
        TrailEvent(
            event_name="DeleteUser",
            event_time="2024-05-26T12:00:00Z",
            actor="root",
            source_ip="203.0.113.24",
            user_name="alice",
            access_key_id=None,
        ),
    )


def test_session_issuer_is_found_from_a_call_made_with_the_key(cloudtrail: Any, stubber: Stubber) -> None:
    """For an ASIA key, any call made with it names the role session that owns it."""
    call = trail_event(
        "DescribeInstances",
        assumed_role("AWSReservedSSO_DeveloperAccess_5e4f1a2b3c4d5e6f", "erin@example.com", key=SESSION_KEY),
        days_ago(0.5),
        {"instancesSet": {}, "filterSet": {}},
        event_source="ec2.amazonaws.com",
        read_only=True,
    )
    stubber.add_response("lookup_events", page(call), lookup("AccessKeyId", SESSION_KEY))

    answer = reader_for(cloudtrail).who_issued_session(ACCOUNT, SESSION_KEY)

    assert answer.outcome is TrailOutcome.FOUND
    assert answer.event is not None
    assert answer.event.actor == "assumed-role/AWSReservedSSO_DeveloperAccess_5e4f1a2b3c4d5e6f/erin@example.com"
    assert answer.event.session_issuer == f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_DeveloperAccess_5e4f1a2b3c4d5e6f"
    assert answer.event.access_key_id == SESSION_KEY
    assert answer.event.user_name is None


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        # CloudTrail's own code when the role lacks cloudtrail:LookupEvents.
        ("AccessDeniedException", TrailOutcome.NOT_PERMITTED),
        # The spelling IAM and STS use for the same denial.
        ("AccessDenied", TrailOutcome.NOT_PERMITTED),
        # The spelling EC2 uses; denied all the same.
        ("UnauthorizedOperation", TrailOutcome.NOT_PERMITTED),
        # Still throttled after every backoff: could not look, which is not "nothing there".
        ("ThrottlingException", TrailOutcome.UNREACHABLE),
        # Any other service error is reported with its code.
        ("OperationNotPermittedException", TrailOutcome.UNREACHABLE),
    ],
)
def test_aws_error_codes_become_outcomes(cloudtrail: Any, stubber: Stubber, code: str, outcome: TrailOutcome) -> None:
    """Each AWS error code maps to NOT_PERMITTED or UNREACHABLE with a one-line detail naming the account."""
    # Throttling is tried again after each backoff; other errors are final at once.
    tries = THROTTLE_RETRIES + 1 if code == "ThrottlingException" else 1
    for _ in range(tries):
        stubber.add_client_error(
            "lookup_events",
            service_error_code=code,
            service_message=f"arn:aws:sts::{ACCOUNT}:assumed-role/WhoseKeyReadOnly/whose-key is not authorized",
            http_status_code=400,
            expected_params=lookup("EventName", "DeleteAccessKey"),
        )

    answer = reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY)

    assert answer == TrailAnswer(
        outcome,
        detail=f"CloudTrail could not be read in account {ACCOUNT} ({code}), so who deleted it and when is unknown.",
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        # The endpoint refused or could not be resolved.
        (EndpointConnectionError(endpoint_url="https://cloudtrail.us-east-1.amazonaws.com/"), "could not reach"),
        # The endpoint accepted the connection but did not answer within the read timeout.
        (ReadTimeoutError(endpoint_url="https://cloudtrail.us-east-1.amazonaws.com/"), "did not answer in time"),
    ],
)
def test_network_failures_are_unreachable(cloudtrail: Any, error: Exception, reason: str) -> None:
    """Network failures raised inside botocore become UNREACHABLE, never an exception."""

    def fail(**_: Any) -> None:
        raise error

    cloudtrail.meta.events.register("before-call.cloudtrail.LookupEvents", fail)

    answer = reader_for(cloudtrail).who_deactivated_key(ACCOUNT, KEY)

    assert answer.outcome is TrailOutcome.UNREACHABLE
    assert reason in answer.detail
    assert answer.detail.endswith("so who deactivated it and when is unknown.")


def test_client_for_failing_to_assume_the_role_is_unreachable() -> None:
    """An AwsCallError from client_for (the role could not be assumed) is UNREACHABLE with its detail."""

    def client_for(account_id: str) -> Any:
        raise AwsCallError(AccountOutcome.ASSUME_ROLE_FAILED, "could not assume the role (AccessDenied)")

    answer = CloudTrailReader(client_for, sleep=lambda _s: None).who_issued_session(ACCOUNT, SESSION_KEY)

    assert answer == TrailAnswer(
        TrailOutcome.UNREACHABLE,
        detail=(
            f"CloudTrail could not be read in account {ACCOUNT} (could not assume the role (AccessDenied)), "
            "so which role or user the session belongs to is unknown."
        ),
    )


def test_details_never_carry_credentials_or_aws_messages(cloudtrail: Any, stubber: Stubber) -> None:
    """Details hold the error code only: no secret, no key of whose-key, no AWS message text."""
    stubber.add_client_error(
        "lookup_events",
        service_error_code="AccessDeniedException",
        service_message=f"denied for AKIAFAKEFAKEFAKEFAKE {FAKE_SECRET}",
        http_status_code=400,
    )

    detail = reader_for(cloudtrail).who_deleted_key(ACCOUNT, KEY).detail

    assert FAKE_SECRET not in detail
    assert "AKIAFAKEFAKEFAKEFAKE" not in detail


class FakeTime:
    """A clock that moves only when slept on, recording each sleep; safe to share between threads."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def record_call_times(client: Any, clock: Callable[[], float]) -> list[float]:
    """The fake time of every LookupEvents request the client makes."""
    times: list[float] = []
    client.meta.events.register("before-parameter-build.cloudtrail.LookupEvents", lambda **_: times.append(clock()))
    return times


def test_a_throttled_lookup_backs_off_and_is_answered_by_the_next_try(cloudtrail: Any, stubber: Stubber) -> None:
    """A ThrottlingException is waited out (a growing backoff, each retry paced again) and the answer still comes."""
    fake = FakeTime()
    times = record_call_times(cloudtrail, fake.clock)
    for _ in range(2):
        stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("lookup_events", page(), lookup("EventName", "DeleteAccessKey"))
    reader = reader_for(cloudtrail, sleep=fake.sleep, clock=fake.clock)

    assert reader.who_deleted_key(ACCOUNT, KEY).outcome is TrailOutcome.NONE_FOUND

    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Full-jitter halves at most: the second backoff is at least the first's whole base.
    assert gaps[0] >= THROTTLE_BACKOFF * 0.5 and gaps[1] >= THROTTLE_BACKOFF


def test_a_limiter_too_busy_to_give_a_slot_makes_no_call_and_says_cloudtrail_was_busy(cloudtrail: Any) -> None:
    """When the shared rate limit has no slot soon enough, CloudTrail is not called and the answer says why."""

    class Busy:
        def wait(self, account_id: str) -> bool:
            return False

    with Stubber(cloudtrail) as stub:  # no response stubbed: any call would fail the test
        answer = reader_for(cloudtrail, limiter=Busy()).who_deleted_key(ACCOUNT, KEY)
        stub.assert_no_pending_responses()

    assert answer == TrailAnswer(
        TrailOutcome.UNREACHABLE,
        detail=f"CloudTrail could not be read in account {ACCOUNT} (too many CloudTrail lookups are waiting for "
        "its rate limit), so who deleted it and when is unknown.",
    )


def test_calls_to_one_account_stay_within_two_per_second(cloudtrail: Any, stubber: Stubber) -> None:
    """Five lookups in one account are spaced so that no one-second window holds more than two requests."""
    fake = FakeTime()
    times = record_call_times(cloudtrail, fake.clock)
    for _ in range(5):
        stubber.add_response("lookup_events", page(), lookup("EventName", "DeleteAccessKey"))
    reader = reader_for(cloudtrail, sleep=fake.sleep, clock=fake.clock)

    for _ in range(5):
        assert reader.who_deleted_key(ACCOUNT, KEY).outcome is TrailOutcome.NONE_FOUND

    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert all(sum(1 for t in times if start <= t < start + 1.0) <= 2 for start in times)


def test_calls_to_different_accounts_do_not_wait_for_each_other(cloudtrail: Any, stubber: Stubber) -> None:
    """Back-to-back lookups in two accounts are both made at once; only a repeat in the same account waits."""
    fake = FakeTime()
    times = record_call_times(cloudtrail, fake.clock)
    for _ in range(3):
        stubber.add_response("lookup_events", page(), lookup("EventName", "DeleteUser"))
    reader = reader_for(cloudtrail, sleep=fake.sleep, clock=fake.clock)

    reader.who_deleted_user(ACCOUNT, "alice")
    reader.who_deleted_user(OTHER_ACCOUNT, "alice")
    reader.who_deleted_user(ACCOUNT, "alice")

    assert times == pytest.approx([0.0, 0.0, 0.5])


def test_an_account_sleeping_for_its_turn_does_not_block_another_account() -> None:
    """While one thread sleeps for its account's next slot, another account's call goes through at once."""
    sleeping = threading.Event()
    wake = threading.Event()

    def sleep(_seconds: float) -> None:
        sleeping.set()
        wake.wait(timeout=10)

    limiter = AccountRateLimiter(2.0, sleep=sleep, clock=lambda: 0.0)

    def twice() -> None:
        limiter.wait(ACCOUNT)
        limiter.wait(ACCOUNT)  # its turn is half a second away: this one sleeps

    busy = threading.Thread(target=twice)
    other = threading.Thread(target=limiter.wait, args=(OTHER_ACCOUNT,))
    busy.start()
    try:
        assert sleeping.wait(timeout=5)
        other.start()
        other.join(timeout=2)
        # The other account got through while the first is still asleep waiting for its slot.
        assert not other.is_alive()
        assert busy.is_alive()
    finally:
        wake.set()
        busy.join(timeout=5)
        if other.is_alive():
            other.join(timeout=5)


def test_concurrent_calls_to_one_account_each_get_their_own_slot() -> None:
    """Threads racing for one account are given distinct half-second slots, none lost to the race."""
    delays: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            delays.append(seconds)

    limiter = AccountRateLimiter(2.0, sleep=sleep, clock=lambda: 0.0)
    threads = [threading.Thread(target=limiter.wait, args=(ACCOUNT,)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert sorted(delays) == pytest.approx([0.5, 1.0, 1.5, 2.0])
