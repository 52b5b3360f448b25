"""`POST /aws/events` end to end: EventBridge and SNS deliveries into the real web process, the
notice from a real worker, and the owner's DM at the loopback Slack."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from werkzeug.serving import make_server

from bot.aws_events.sns import FETCHES_PER_MINUTE, SnsVerifier
from bot.web import create_web_app
from core.settings import Settings
from standins.loopback import free_port
from standins.stack import HttpResult, Stack, http_post
from tests.e2e.env import AUDIT_CHANNEL, EVENTS_TOKEN
from tests.support.aws_events import (
    cloudtrail_event,
    dms_about,
    fresh_key,
    health_event,
    owner_id,
    post_event,
    wait_for_dm,
)
from tests.support.sns_signing import CERT_URL, TOPIC_ARN, SnsSigner
from tests.support.waiting import jobs_mentioning, wait_for_jobs_finished, wait_until


def test_deactivation_event_dms_the_owner_by_slack_tag(stack: Stack) -> None:
    """An UpdateAccessKey Inactive event that IAM confirms reaches the owner named by slack-user-id."""
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    key.deactivate()
    event = cloudtrail_event(
        key.account_id, "UpdateAccessKey", {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"}
    )
    # Accepted without waiting for the notice job: IAM's answer about the key is held until the
    # 202 is in and the job is seen waiting for it, so a web that confirmed the event with IAM
    # before answering would never answer.
    held = stack.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == key.key_id)
    try:
        reply = post_event(stack, event)
        wait_until(lambda: held.hits, what="the notice job to ask IAM about the key")
        assert dms_about(stack, owner, key.key_id, delivered_only=False) == [], "accepted while IAM was still asked"
    finally:
        stack.aws.remove(held)
    assert reply.status == 202, reply.body
    text = json.dumps(wait_for_dm(stack, owner, key.key_id).body)
    assert "deactivated" in text
    # Who and from where come from CloudTrail's record of the change (the test's own role in the
    # stand-in), not from what the event claims (SecurityAdmin/carol from 203.0.113.7).
    assert "OrganizationAccountAccessRole/test-admin from 127.0.0.1" in text
    assert "SecurityAdmin" not in text and "203.0.113.7" not in text
    assert f"create-access-key --user-name {key.user_name}" in text
    assert "IAM in the account confirms the change" in text


def test_deletion_event_dms_the_owner_found_by_email(stack: Stack) -> None:
    """A DeleteAccessKey event reaches the owner whose `Email` tag resolves through users.lookupByEmail."""
    key = fresh_key(stack, "acme-prod", {"Email": "alice@example.com"})
    key.delete()
    event = cloudtrail_event(key.account_id, "DeleteAccessKey", {"userName": key.user_name, "accessKeyId": key.key_id})
    assert post_event(stack, event).status == 202
    text = json.dumps(wait_for_dm(stack, "U0ALICE01", key.key_id).body)
    assert "deleted" in text


def test_self_service_event_without_user_name_resolves_the_user_from_the_key(stack: Stack) -> None:
    """When a user deactivates their own key (no requestParameters.userName), the user is found anyway."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    key.deactivate()
    own = {"type": "IAMUser", "arn": f"arn:aws:iam::{key.account_id}:user/{key.user_name}", "userName": key.user_name}
    event = cloudtrail_event(
        key.account_id, "UpdateAccessKey", {"accessKeyId": key.key_id, "status": "Inactive"}, actor=own
    )
    assert post_event(stack, event).status == 202
    text = json.dumps(wait_for_dm(stack, owner, key.key_id).body)
    assert key.user_name in text


def test_exposed_key_health_event_tells_the_owner_to_rotate(stack: Stack) -> None:
    """An AWS Health AWS_RISK_CREDENTIALS_EXPOSED event reaches the owner with the quarantine and rotation steps."""
    assert stack.org is not None
    key_id = stack.org.key("acme-management", "break-glass")
    event = health_event("AWS_RISK_CREDENTIALS_EXPOSED", stack.org.management_account_id, key_id)
    assert post_event(stack, event).status == 202
    text = json.dumps(wait_for_dm(stack, "U0SECOPS1", key_id).body)
    assert "exposed" in text and "Quarantine" in text and "rotate" in text.lower()


def test_key_without_owner_goes_to_the_audit_channel_saying_why(stack: Stack) -> None:
    """A key whose user has no owner tags is reported in the audit channel, with the reason."""
    key = fresh_key(stack, "acme-dev")
    key.deactivate()
    event = cloudtrail_event(
        key.account_id, "UpdateAccessKey", {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"}
    )
    assert post_event(stack, event).status == 202
    text = json.dumps(wait_for_dm(stack, AUDIT_CHANNEL, key.key_id).body)
    assert "no slack-user-id, email or owner tag" in text


def test_wrong_or_missing_token_gets_401_and_nothing_is_sent(stack: Stack, redis: Redis) -> None:
    """A wrong or missing bearer token gets 401 and nothing is queued, so no notice can be sent."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    event = cloudtrail_event(
        stack.org.accounts["acme-data"], "DeleteAccessKey", {"userName": "etl", "accessKeyId": key_id}
    )
    assert post_event(stack, event, token="not-the-token").status == 401
    assert post_event(stack, event, token=None).status == 401
    # The web enqueues before it answers: after a 401, no event job for the key can exist.
    assert [job for job in jobs_mentioning(redis, key_id) if job.startswith("event-")] == []
    assert not [c for c in dms_about(stack, "U0DATAENG", key_id) if "deleted" in json.dumps(c.body)]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),  # garbage
        (b"[]", "must be a JSON object"),  # JSON but not an event
        (
            json.dumps(
                {"id": "1", "source": "aws.iam", "account": "123456789012", "detail-type": "x", "detail": {}}
            ).encode(),
            "detail-type",
        ),
        (
            json.dumps(
                cloudtrail_event("123456789012", "UpdateAccessKey", {"accessKeyId": "nope", "status": "Inactive"})
            ).encode(),
            "accessKeyId",
        ),  # a malformed key ID
    ],
)
def test_malformed_body_gets_400_with_a_reason(stack: Stack, body: bytes, reason: str) -> None:
    """A body that is not a usable event gets 400 naming what is wrong."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {EVENTS_TOKEN}"}
    reply = http_post(stack.web_url + "/aws/events", body, headers)
    assert reply.status == 400
    assert reason in reply.json()["error"]


def test_failed_calls_and_other_events_are_acknowledged_and_ignored(stack: Stack) -> None:
    """An event of a failed call (errorCode) is acknowledged with 200 and changes nothing."""
    event = cloudtrail_event("123456789012", "DeleteAccessKey", {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"})
    event["detail"]["errorCode"] = "AccessDenied"
    reply = post_event(stack, event)
    assert reply.status == 200 and reply.json()["status"] == "ignored"


def test_redelivered_event_notifies_once(stack: Stack) -> None:
    """The same event delivered twice notifies once."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    key.deactivate()
    event = cloudtrail_event(
        key.account_id, "UpdateAccessKey", {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"}
    )
    assert post_event(stack, event).status == 202
    assert post_event(stack, event).json()["status"] == "duplicate"
    wait_for_dm(stack, owner, key.key_id)
    # The second delivery was never queued (the "duplicate" answer says so): one DM is all there is.
    assert len(dms_about(stack, owner, key.key_id)) == 1


# -- SNS -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def serving_sns(stack: Stack) -> Iterator[tuple[str, SnsSigner]]:
    """The real web app over real HTTP, with an SNS verifier whose certificate source the test
    controls (a self-signed certificate at an sns.us-east-1.amazonaws.com URL, fetches recorded).
    Every check of production still runs; only where the certificate bytes come from differs."""
    signer = SnsSigner()
    env = {**stack.env(), "WHOSE_KEY_SNS_TOPICS": TOPIC_ARN}
    settings = Settings.from_env(env)
    verifier = SnsVerifier(settings.sns_topics, fetch_certificate=signer.fetch_certificate)
    port = free_port()
    server = make_server("127.0.0.1", port, create_web_app(settings, sns=verifier), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", signer
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def sns_web(stack: Stack) -> Iterator[tuple[str, SnsSigner]]:
    """One SNS-verifying web app for the module's tests (see serving_sns)."""
    with serving_sns(stack) as served:
        yield served


def post_sns(url: str, message: dict[str, Any], topic: str | None = None) -> HttpResult:
    """POST a message the way SNS does: JSON as text/plain, the type and topic in headers."""
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "x-amz-sns-message-type": message.get("Type", "Notification"),
        "x-amz-sns-topic-arn": topic or message.get("TopicArn", TOPIC_ARN),
    }
    return http_post(url + "/aws/events", json.dumps(message).encode(), headers)


def test_signed_sns_notification_is_accepted_and_notifies(
    stack: Stack, redis: Redis, sns_web: tuple[str, SnsSigner]
) -> None:
    """An SNS notification carrying a deletion, correctly signed (SignatureVersion 2), notifies,
    once when delivered twice."""
    url, signer = sns_web
    key = fresh_key(stack, "acme-staging", {"owner": "bob@example.com"})
    key.delete()
    for _ in range(2):
        params = {"userName": key.user_name, "accessKeyId": key.key_id}
        event = cloudtrail_event(key.account_id, "DeleteAccessKey", params)
        reply = post_sns(url, signer.notification(json.dumps(event)))
        assert reply.status in (200, 202), reply.body
    text = json.dumps(wait_for_dm(stack, "U0BOB0001", key.key_id).body)
    assert "deleted" in text
    wait_for_jobs_finished(redis, jobs_mentioning(redis, key.key_id))  # both deliveries were handled
    assert len(dms_about(stack, "U0BOB0001", key.key_id)) == 1, "the second delivery is the same transition"


def test_tampered_sns_notification_gets_401(sns_web: tuple[str, SnsSigner]) -> None:
    """An SNS notification whose message was changed after signing gets 401."""
    url, signer = sns_web
    message = signer.notification(json.dumps({"hello": "world"}))
    message["Message"] = json.dumps({"hello": "tampered"})
    reply = post_sns(url, message)
    assert reply.status == 401
    assert "signature" in reply.json()["error"]


def test_sns_from_an_untrusted_certificate_host_gets_401(sns_web: tuple[str, SnsSigner]) -> None:
    """A notification pointing at a certificate outside sns.<region>.amazonaws.com gets 401."""
    url, signer = sns_web
    message = signer.notification("{}", cert_url="https://evil.example.com/cert.pem")
    assert post_sns(url, message).status == 401


def test_sns_subscription_confirmation_is_verified_and_accepted(sns_web: tuple[str, SnsSigner]) -> None:
    """A signed SubscriptionConfirmation is accepted (a job confirms it); an unsigned one is refused."""
    url, signer = sns_web
    confirmation = signer.subscription_confirmation()
    assert post_sns(url, confirmation).status == 200
    confirmation["Signature"] = "AAAA"
    assert post_sns(url, confirmation).status == 401


def ignorable_event() -> str:
    """An event whose-key acknowledges and ignores (a call that failed): verifies, changes nothing."""
    event = cloudtrail_event("123456789012", "DeleteAccessKey", {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"})
    event["detail"]["errorCode"] = "AccessDenied"
    return json.dumps(event)


def test_sns_signature_version_1_gets_401(sns_web: tuple[str, SnsSigner]) -> None:
    """A notification correctly signed with SignatureVersion 1 (SHA1) is refused with 401."""
    url, signer = sns_web
    reply = post_sns(url, signer.notification("{}", version="1"))
    assert reply.status == 401 and "signature version" in reply.json()["error"]


def test_sns_certificate_from_another_regions_host_gets_401_unfetched(sns_web: tuple[str, SnsSigner]) -> None:
    """A us-east-1 topic's notification pointing at sns.eu-west-1.amazonaws.com is refused, never fetched."""
    url, signer = sns_web
    other_region = CERT_URL.replace("us-east-1", "eu-west-1")
    reply = post_sns(url, signer.notification("{}", cert_url=other_region))
    assert reply.status == 401 and "certificate URL" in reply.json()["error"]
    assert other_region not in signer.fetched


def test_sns_for_a_topic_not_ours_gets_401(sns_web: tuple[str, SnsSigner]) -> None:
    """An SNS message whose topic header names a topic we do not take is 401 (its body is not read)."""
    url, signer = sns_web
    reply = post_sns(url, signer.notification("{}"), topic=TOPIC_ARN + "-other")
    assert reply.status == 401 and "topic" in reply.json()["error"]


def test_sns_header_for_our_topic_on_a_non_sns_body_is_a_400(sns_web: tuple[str, SnsSigner]) -> None:
    """An EventBridge-shaped body sent as an SNS message for our topic is refused as not an SNS message."""
    url, _signer = sns_web
    reply = post_sns(url, {"detail-type": "AWS API Call via CloudTrail", "detail": {}})
    assert reply.status == 400 and "not an SNS message" in reply.json()["error"]


def test_failed_sns_certificate_url_is_not_fetched_again_at_once(sns_web: tuple[str, SnsSigner]) -> None:
    """A certificate URL whose fetch failed is answered 503 (retry later) and not fetched again on the
    next deliveries: one fetch for three messages."""
    url, signer = sns_web
    missing = CERT_URL.replace(".pem", "-missing.pem")
    replies = [post_sns(url, signer.notification("{}", cert_url=missing)) for _ in range(3)]
    assert [r.status for r in replies] == [503, 503, 503]
    assert "a moment ago" in replies[-1].json()["error"]
    assert signer.fetched.count(missing) == 1


def test_sns_certificate_fetches_are_capped_per_web_process(stack: Stack) -> None:
    """Beyond six certificate fetches a minute the web answers 503 without fetching, and a cached
    certificate still verifies."""
    with serving_sns(stack) as (url, signer):
        assert post_sns(url, signer.notification(ignorable_event())).status == 200  # CERT_URL fetched, cached
        others = [CERT_URL.replace(".pem", f"-{n}.pem") for n in range(FETCHES_PER_MINUTE)]
        statuses = [post_sns(url, signer.notification("{}", cert_url=u)).status for u in others]
        assert statuses == [503] * FETCHES_PER_MINUTE
        refused = post_sns(url, signer.notification("{}", cert_url=others[-1].replace(".pem", "-x.pem")))
        assert refused.status == 503 and "too many" in refused.json()["error"]
        assert signer.fetched == [CERT_URL, *others[:-1]]  # five more fetches fill the six
        assert post_sns(url, signer.notification(ignorable_event())).status == 200
