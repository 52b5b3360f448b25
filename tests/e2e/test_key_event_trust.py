"""Key events the bot can trust, end to end: IAM confirms every claim before anything is recorded
or sent; nothing from outside reaches Slack unescaped; a notice outlives a Slack outage and is
delivered exactly once; every AWS Health risk code is told; copies are told once; the events
token can be rotated; only aws.iam and aws.health events are taken."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from redis import Redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from werkzeug.serving import make_server

from bot.web import create_web_app
from core.jobs import spec_for
from core.key_events import KeyEvent, parse_event
from core.redis_keys import KEY_STATE, PENDING_NOTICES, redis_key
from core.settings import Settings
from standins.loopback import free_port
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, EVENTS_TOKEN
from tests.support.aws_events import (
    cloudtrail_event,
    dms_about,
    fixture,
    fresh_key,
    health_event,
    owner_id,
    post_event,
    wait_for_dm,
)
from tests.support.waiting import wait_for_audit, wait_until

NEW_TOKEN = "new-events-token-0123456789"
INJECTION = "<!channel> <@U0EVIL01> <https://evil.example|click> &"


def deactivation(key_account: str, user: str, key_id: str) -> dict[str, Any]:
    params = {"userName": user, "accessKeyId": key_id, "status": "Inactive"}
    return cloudtrail_event(key_account, "UpdateAccessKey", params)


def test_forged_deactivation_of_an_active_key_is_dropped_and_the_real_one_is_still_told(
    stack: Stack, redis: Redis
) -> None:
    """A claim that an Active key was deactivated sends nothing and records nothing; the real
    deactivation afterwards reaches the owner."""
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    forged = deactivation(key.account_id, key.user_name, key.key_id)
    assert post_event(stack, forged).status == 202
    record = wait_for_audit(redis, "aws_event_dropped", key=key.key_id, reason="unconfirmed")
    assert "Active" in record["detail"]
    assert not dms_about(stack, owner, key.key_id, delivered_only=False)
    assert redis.get(redis_key_state(key.key_id)) is None, "the forged claim recorded no state"

    key.deactivate()
    assert post_event(stack, deactivation(key.account_id, key.user_name, key.key_id)).status == 202
    assert "deactivated" in json.dumps(wait_for_dm(stack, owner, key.key_id).body)


def test_event_for_an_account_outside_the_organization_assumes_no_role_and_sends_nothing(
    stack: Stack, redis: Redis
) -> None:
    """An event naming an account that is not the organization's is dropped before any AssumeRole."""
    outsider = "999988887777"
    key_id = "AKIA" + uuid.uuid4().hex[:16].upper().translate(str.maketrans("0189", "ABCD"))
    event = deactivation(outsider, "mallory", key_id)
    assert post_event(stack, event).status == 202
    record = wait_for_audit(redis, "aws_event_dropped", key=key_id, reason="outside_organization")
    assert record["account"] == outsider
    assert not [r for r in stack.aws.seen if r.action == "AssumeRole" and outsider in r.params.get("RoleArn", "")]
    assert not [c for c in stack.slack.api_calls("chat.postMessage") if key_id in json.dumps(c.body)]


def test_deletion_claim_for_a_key_iam_still_has_is_dropped(stack: Stack, redis: Redis) -> None:
    """A DeleteAccessKey claim for a key IAM still lists is dropped as unconfirmed."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    event = cloudtrail_event(key.account_id, "DeleteAccessKey", {"userName": key.user_name, "accessKeyId": key.key_id})
    assert post_event(stack, event).status == 202
    record = wait_for_audit(redis, "aws_event_dropped", key=key.key_id, reason="unconfirmed")
    assert "still has the key" in record["detail"]
    assert not dms_about(stack, owner, key.key_id, delivered_only=False)


def test_injection_in_every_event_field_reaches_slack_escaped(stack: Stack) -> None:
    """Slack markup in the actor, session, source IP and time of an event, and in a Health notice's
    words, code and metadata, shows as text: nothing pings, mentions or links."""
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    key.deactivate()
    actor = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{key.account_id}:assumed-role/Admin/{INJECTION}",
        "accountId": key.account_id,
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": INJECTION}},
    }
    event = cloudtrail_event(
        key.account_id,
        "UpdateAccessKey",
        {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"},
        actor=actor,
    )
    event["detail"]["sourceIPAddress"] = INJECTION
    event["detail"]["eventTime"] = INJECTION
    assert post_event(stack, event).status == 202
    shown = json.dumps(wait_for_dm(stack, owner, key.key_id).body)

    exposed = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    notice = health_event(f"AWS_RISK_{INJECTION}", key.account_id, exposed.key_id, in_metadata=True)
    notice["detail"]["eventDescription"][0]["latestDescription"] = INJECTION
    notice["detail"]["eventMetadata"]["userName"] = INJECTION
    assert post_event(stack, notice).status == 202
    shown += json.dumps(wait_for_dm(stack, owner, exposed.key_id).body)

    for raw in ("<!channel>", "<@U0EVIL01>", "<https://evil.example"):
        assert raw not in shown
    assert "&lt;!channel&gt;" in shown and "&lt;@U0EVIL01&gt;" in shown and "&amp;" in shown


def test_notice_survives_a_slack_outage_and_the_owner_gets_exactly_one_dm(stack: Stack, redis: Redis) -> None:
    """Slack fails every call while a deactivation arrives and for many retry periods after; once
    it is back, the pending notice is delivered, once."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    key.deactivate()
    stack.slack.start_outage()
    try:
        assert post_event(stack, deactivation(key.account_id, key.user_name, key.key_id)).status == 202
        # The notice was tried, failed and is pending; let several retry periods fail as well.
        stack.slack.wait_for(lambda _: len(dms_about(stack, owner, key.key_id, delivered_only=False)) >= 1)
        first_failure = time.monotonic()
        # Each attempt is three calls (Slack's client retries 5xx twice): wait for three attempts.
        stack.slack.wait_for(lambda _: failed_retries(stack, owner, key.key_id) >= 9, timeout=90)
        assert redis.zscore(redis_key(PENDING_NOTICES), notice_prefix_member(redis, key.key_id)) is not None
        assert time.monotonic() - first_failure >= 2
    finally:
        stack.slack.end_outage()
    wait_for_dm(stack, owner, key.key_id, timeout=60)
    wait_for_audit(redis, "notice_sent", key=key.key_id)
    wait_until_not_pending(redis, key.key_id)
    assert len(dms_about(stack, owner, key.key_id)) == 1
    instead = [
        c for c in dms_about(stack, AUDIT_CHANNEL, key.key_id) if "No owner to tell directly" in json.dumps(c.body)
    ]
    assert not instead, "Slack being down is no reason to tell the audit channel instead of the owner"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AWS_RISK_CREDENTIALS_EXPOSED", "exposed"),
        ("AWS_RISK_CREDENTIALS_COMPROMISED", "compromised"),
        ("AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED", "may be *compromised*"),
        ("AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED", "may have been *exposed*"),
        ("AWS_RISK_IAM_QUARANTINE", "AWS *quarantined* its user"),
        ("AWS_RISK_SOMETHING_NEW", "AWS *risk notice*"),  # a code AWS adds later
    ],
)
def test_every_health_risk_code_tells_the_owner_what_aws_says_and_what_to_do(
    stack: Stack, code: str, words: str
) -> None:
    """Each Health risk code (delivered org-wide: the key's account in affectedAccount) reaches the
    key's owner with its own headline, AWS's words and the steps."""
    owner = owner_id()
    key = fresh_key(stack, "acme-staging", {"slack-user-id": owner})
    event = health_event(code, key.account_id, key.key_id, in_metadata=code == "AWS_RISK_SOMETHING_NEW")
    assert stack.org is not None
    assert event["account"] != key.account_id, "the envelope names the management account"
    assert post_event(stack, event).status == 202
    text = json.dumps(wait_for_dm(stack, owner, key.key_id).body)
    assert words in text
    assert f"AWS says {code} about {key.key_id}." in text
    assert "update-access-key" in text and code in text


def test_health_copies_from_the_backup_region_notify_once(stack: Stack, redis: Redis) -> None:
    """The same Health notice from us-east-1 and again from us-west-2 (new `id`, same eventArn and
    communicationId) notifies once, even when the second copy reaches the worker."""
    owner = owner_id()
    key = fresh_key(stack, "acme-staging", {"slack-user-id": owner})
    first = health_event("AWS_RISK_CREDENTIALS_EXPOSED", key.account_id, key.key_id)
    copy = json.loads(json.dumps(first))
    copy["id"], copy["region"] = str(uuid.uuid4()), "us-west-2"
    assert post_event(stack, first).status == 202
    assert post_event(stack, copy).json()["status"] == "duplicate"
    wait_for_dm(stack, owner, key.key_id)
    # A copy arriving after the web's claim expired (2 h) still reaches the worker, which claims
    # once. By then RQ has let go of the first job too (its result is kept 1 h): until it does, the
    # job's ID alone keeps a copy from being enqueued at all.
    wait_for_job_result(redis, first)
    for name in redis.scan_iter("whose-key:event:aws-health-*"):
        redis.delete(name)
    Job.fetch(job_id_of(copy), connection=redis, serializer=JSONSerializer).delete()
    assert post_event(stack, copy).status == 202
    record = wait_for_job_result(redis, copy)
    assert record.get("reason") == "already notified"
    assert len(dms_about(stack, owner, key.key_id)) == 1


def test_cloudtrail_event_redelivered_with_a_new_id_notifies_once(stack: Stack) -> None:
    """A CloudTrail event delivered again under a new EventBridge `id` (same eventID) is a duplicate."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    key.deactivate()
    event = deactivation(key.account_id, key.user_name, key.key_id)
    again = {**event, "id": str(uuid.uuid4())}
    assert post_event(stack, event).status == 202
    assert post_event(stack, again).json()["status"] == "duplicate"
    wait_for_dm(stack, owner, key.key_id)
    assert len(dms_about(stack, owner, key.key_id)) == 1


def test_events_from_other_sources_get_400_and_are_audited(stack: Stack, redis: Redis) -> None:
    """An event whose source is not aws.iam or aws.health is refused with 400 and audited."""
    event = fixture("eventbridge/cloudtrail-update-access-key-inactive.json")
    event["source"] = "whose-key.fake"
    reply = post_event(stack, event)
    assert reply.status == 400 and "unsupported source" in reply.json()["error"]
    record = wait_for_audit(redis, "aws_event_dropped", reason="other_source")
    assert "whose-key.fake" in record["detail"]


@pytest.fixture(scope="module")
def rotating_web(stack: Stack) -> Iterator[str]:
    """The real web app over real HTTP mid-rotation: a new token, the old one as the previous."""
    settings = Settings.from_env(stack.env())
    settings = replace(settings, events_token=NEW_TOKEN, events_token_previous=settings.events_token)
    port = free_port()
    server = make_server("127.0.0.1", port, create_web_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_current_and_previous_events_tokens_are_both_accepted_during_a_rotation(
    stack: Stack, rotating_web: str
) -> None:
    """While a token is rotated, both the new and the previous one are accepted; any other gets 401."""
    ignorable = fixture("eventbridge/health-non-risk.json")
    for token in (NEW_TOKEN, EVENTS_TOKEN):
        reply = post_event(stack, ignorable, token=token, url=rotating_web)
        assert reply.status == 200 and reply.json()["status"] == "ignored"
    assert post_event(stack, ignorable, token="not-a-token", url=rotating_web).status == 401


# -- helpers ---------------------------------------------------------------------------------------


def redis_key_state(key_id: str) -> str:
    return redis_key(KEY_STATE, key_id)


def failed_retries(stack: Stack, channel: str, key_id: str) -> int:
    return sum(1 for c in dms_about(stack, channel, key_id, delivered_only=False) if not c.ok)


def notice_prefix_member(redis: Redis, key_id: str) -> str:
    members = [m.decode() for m in redis.zrange(redis_key(PENDING_NOTICES), 0, -1)]
    return next(m for m in members if key_id in m)


def wait_until_not_pending(redis: Redis, key_id: str, timeout: float = 30) -> None:
    wait_until(
        lambda: not any(key_id in m.decode() for m in redis.zrange(redis_key(PENDING_NOTICES), 0, -1)),
        what=f"the notice about {key_id} no longer pending",
        timeout=timeout,
    )


def job_id_of(event: dict[str, Any]) -> str:
    """The ID of the key-event job a delivery of `event` queues (the job table's once-policy)."""
    parsed = parse_event(event)
    assert isinstance(parsed, KeyEvent)
    job_id = spec_for(parsed).id_of(parsed)
    assert job_id is not None
    return job_id


def wait_for_job_result(redis: Redis, event: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """The result of the key-event job a delivery of `event` queued, once it has finished."""
    job_id = job_id_of(event)

    def finished() -> Job | None:
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        return job if job.get_status() is JobStatus.FINISHED else None

    result = wait_until(finished, what=f"job {job_id} finished", timeout=timeout).return_value()
    assert isinstance(result, dict)
    return result


def test_lookup_of_a_key_whose_user_aws_quarantined_says_so(stack: Stack) -> None:
    """A key whose user has an AWSCompromisedKeyQuarantine policy attached is answered with the
    quarantine: AWS restricted the user because the key was exposed."""
    key = fresh_key(stack, "acme-staging", {"slack-user-id": owner_id()})
    arn = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    key.iam.attach_user_policy(UserName=key.user_name, PolicyArn=arn)
    attached = key.iam.list_attached_user_policies(UserName=key.user_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    reply, response_url = stack.slash_command(key.key_id)
    assert reply.status == 200
    text = json.dumps(stack.slack.wait_for_hook(response_url, timeout=30)[0].body)
    assert f"AWS quarantined the IAM user {key.user_name} because its key was exposed" in text
    assert "AWSCompromisedKeyQuarantineV3" in text
