"""`/whose-key` end to end: signed HTTP into the real web process, a real RQ worker, moto for
AWS, and the answer at the loopback response_url."""

from __future__ import annotations

import json
import time

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from standins.keys import synthesize_key_id
from standins.stack import Stack
from tests.support.waiting import jobs_mentioning, sentinel_lookup, wait_for_lookup_answered, wait_until


def job_keys(redis: Redis) -> set[bytes]:
    return set(redis.scan_iter("rq:job:*"))


def answer_text(stack: Stack, response_url: str) -> str:
    posts = stack.slack.wait_for_hook(response_url, timeout=30)
    return json.dumps(posts[0].body)


def test_member_account_key_is_answered_with_owner_account_and_status(stack: Stack) -> None:
    """A key in a member account is acked fast, then answered with its user, account and status."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    # Fast means without waiting for the lookup: IAM's answer about the key is held until the ack
    # is in and the job is seen waiting for it, so a web that waited for the job would never ack.
    # (How fast, in seconds, is bench/ack.py's to measure.)
    held = stack.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == key_id)
    try:
        reply, response_url = stack.slash_command(key_id)
        wait_until(lambda: held.hits, what="the lookup job to ask IAM about the key")
        assert stack.slack.hook_posts(response_url) == [], "acked while the lookup was still at IAM"
    finally:
        stack.aws.remove(held)

    assert reply.status == 200
    assert "Looking up" in reply.body and key_id in reply.body
    posts = stack.slack.wait_for_hook(response_url, timeout=30)
    assert len(posts) == 1
    answer = posts[0].body
    assert answer["response_type"] == "ephemeral"
    text = json.dumps(answer)
    assert "deploy-bot" in text
    assert stack.org.accounts["acme-prod"] in text
    assert "Active" in text
    assert "<@U0PLATFRM>" in text, "owner resolved from the slack-user-id tag"
    assert key_id in answer["text"], "fallback text carries the key"


def test_management_account_key_is_looked_up_directly(stack: Stack) -> None:
    """A key of the management account is found with the hub's own credentials."""
    assert stack.org is not None
    key_id = stack.org.key("acme-management", "break-glass")
    reply, response_url = stack.slash_command(key_id)
    assert reply.status == 200
    text = answer_text(stack, response_url)
    assert "break-glass" in text
    assert stack.org.management_account_id in text
    assert "(management)" in text


def test_inactive_key_owner_resolved_by_email(stack: Stack) -> None:
    """An Inactive key says so, and an `Email` tag resolves to the Slack member by users.lookupByEmail."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "alice", "Inactive")
    _, response_url = stack.slash_command(key_id)
    text = answer_text(stack, response_url)
    assert "Inactive" in text
    assert "<@U0ALICE01>" in text
    lookups = stack.slack.api_calls("users.lookupByEmail")
    assert any(call.body.get("email") == "alice@example.com" for call in lookups)


def test_key_outside_the_organization_is_named_as_not_ours(stack: Stack) -> None:
    """A well-formed key of a foreign account names that account and says it is not ours."""
    key_id = synthesize_key_id("999988887777")
    _, response_url = stack.slash_command(key_id)
    text = answer_text(stack, response_url)
    assert "999988887777" in text
    assert "not one of this organization" in text


def test_deleted_key_in_an_org_account_is_reported_gone(stack: Stack) -> None:
    """A deleted key of an org account is not reported as unknown: it was there and is gone."""
    assert stack.org is not None
    key_id = stack.org.key("acme-staging", "bob", "Deleted")
    _, response_url = stack.slash_command(key_id)
    text = answer_text(stack, response_url)
    assert "no longer exists" in text
    assert stack.org.accounts["acme-staging"] in text


def test_bad_signature_is_rejected_with_401(stack: Stack, redis: Redis) -> None:
    """A request signed with the wrong secret gets 401 and nothing is enqueued."""
    reply, response_url = stack.slash_command("AKIAIOSFODNN7EXAMPLE", secret="not-the-secret")
    assert reply.status == 401
    # The web answers after enqueueing, so a request it took would have a job by now.
    assert jobs_mentioning(redis, response_url) == []
    assert stack.org is not None
    sentinel_lookup(stack, stack.org.key("acme-data", "etl"))  # everything enqueued before it is handled
    assert stack.slack.hook_posts(response_url) == []


def test_stale_timestamp_is_rejected_with_401(stack: Stack) -> None:
    """A correctly signed request older than five minutes (a replay) gets 401."""
    reply, _ = stack.slash_command("AKIAIOSFODNN7EXAMPLE", timestamp=int(time.time()) - 600)
    assert reply.status == 401


def test_malformed_key_gets_a_clear_error_and_no_job(stack: Stack, redis: Redis) -> None:
    """A malformed key is explained at once (length, look-alike character) and no job is enqueued."""
    before = job_keys(redis)
    reply, response_url = stack.slash_command("AKIA0OSFODNN7EXAMPL")
    assert reply.status == 200
    body = reply.json()
    assert "19 characters long" in body["text"]
    assert "exactly 20" in body["text"]
    reply2, _ = stack.slash_command("AKIAI0SFODNN7EXAMPLE")
    text2 = reply2.json()["text"]
    assert "position 6" in text2 and "probably `O`" in text2
    assert "AKIAIOSFODNN7EXAMPLE" in text2, "suggests the likely intended key"
    # The replies came after anything the web would have enqueued.
    assert job_keys(redis) == before
    assert stack.org is not None
    sentinel_lookup(stack, stack.org.key("acme-data", "etl"))  # everything enqueued before it is handled
    assert stack.slack.hook_posts(response_url) == []


def test_empty_text_and_help_answer_usage_without_a_job(stack: Stack, redis: Redis) -> None:
    """An empty command and `help` answer with usage at once and enqueue nothing."""
    before = job_keys(redis)
    for text in ("", "help", "  HELP  "):
        reply, _ = stack.slash_command(text)
        assert reply.status == 200
        assert "/whose-key AKIA" in reply.json()["text"]
    assert job_keys(redis) == before


def test_other_iam_id_is_named_for_what_it_is(stack: Stack) -> None:
    """Pasting a user ID (AIDA…) says it is a user ID, not an access key."""
    reply, _ = stack.slash_command("AIDAJQABLZS4A3QDU576Q")
    assert "IAM user ID" in reply.json()["text"]


def test_healthz_reports_ok_with_redis_up(stack: Stack) -> None:
    """/healthz is 200 while the process and its Redis are fine."""
    from standins.stack import http_get

    result = http_get(stack.web_url + "/healthz")
    assert result.status == 200
    assert result.json()["redis"] == "ok"


def test_job_arguments_are_json_and_carry_no_secret(stack: Stack, redis: Redis) -> None:
    """The enqueued job holds JSON-safe arguments: key, destination, asker; never a secret."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    _, response_url = stack.slash_command(f"{key_id} {secret}")
    answer_text(stack, response_url)
    found = False
    for job_key in redis.scan_iter("rq:job:*"):
        job_id = job_key.decode().split(":", 2)[2]
        if ":" in job_id:
            continue  # not a job hash (execution records and the like)
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        encoded = json.dumps(job.args)  # raises if anything in them is not JSON-safe
        if key_id in encoded:
            found = True
            assert secret not in encoded
            assert secret not in json.dumps(job.kwargs)
    assert found
    assert secret not in stack.logs()
    assert all(secret not in json.dumps(call.body) for call in stack.slack.calls)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("akia4g6h7j4rxsc5lkr4", "lower-case letters"),  # lower case, with the upper-case suggestion
        ("AKIA4G6H7J4RXSC5LKR8", "`8` at position 20 (probably `B`)"),  # a digit for a letter
        ("AROA4G6H7J4RXSC5LKR4A", "IAM role ID"),  # a role ID
        ("ANPA4G6H7J4RXSC5LKR4A", "managed policy ID"),  # a policy ID
        ("hello world", "did not find an access key ID"),  # no key at all
    ],
)
def test_bad_input_gets_its_message_in_slack(stack: Stack, redis: Redis, text: str, expected: str) -> None:
    """Each kind of bad input is answered at once with what is wrong, and nothing is enqueued."""
    before = job_keys(redis)
    reply, _ = stack.slash_command(text)
    assert reply.status == 200
    assert expected in reply.json()["text"]
    assert job_keys(redis) == before


def test_quotes_backticks_and_slack_links_are_stripped(stack: Stack) -> None:
    """A key wrapped in quotes, backticks or Slack's auto-link markup is looked up as the key."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    for wrapped in (f'"{key_id}"', f"`{key_id}`", f"<http://{key_id}|{key_id}>", f"<{key_id}>"):
        reply, url = stack.slash_command(wrapped)
        assert "Looking up" in reply.body, wrapped
        assert "deploy-bot" in answer_text(stack, url)


def test_pasted_secret_alone_is_never_echoed_and_is_flagged(stack: Stack, redis: Redis) -> None:
    """A secret access key pasted alone gets the rotate-now warning at once, is not echoed, and starts no job."""
    secret = "Zq8vT2mK9pL4xR7wN1sB5dF3gH6jK0lA2cE4uY8i"
    before = job_keys(redis)
    reply, _ = stack.slash_command(f"aws_secret_access_key={secret}")
    assert reply.status == 200
    assert "treat it as exposed" in reply.body
    assert secret not in reply.body
    assert job_keys(redis) == before


def test_one_request_id_follows_the_request_from_web_to_worker(stack: Stack, redis: Redis) -> None:
    """The web's and the worker's JSON log lines for one lookup carry the same request ID."""
    assert stack.org is not None
    _, url = stack.slash_command(stack.org.key("acme-data", "etl"))
    answer_text(stack, url)
    [job_id] = jobs_mentioning(redis, url)
    request_id = Job.fetch(job_id, connection=redis, serializer=JSONSerializer).args[0]["request_id"]
    # The worker logs its audit line before storing the record: once stored, the line is written.
    wait_for_lookup_answered(redis, request_id)
    records = []
    for process in stack.processes:
        for line in process.log().splitlines():
            if line.startswith("{"):
                records.append((process.name, json.loads(line)))
    names = {name.split("-")[0] for name, r in records if r.get("request_id") == request_id}
    assert names == {"web", "worker"}
