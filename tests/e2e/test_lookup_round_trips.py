"""A found key in two round trips, one when the key index names its user. Calls sent together are
shown by holding each at the AWS proxy until all of them have arrived (calls sent one after
another never would); a call sent after another's answer, by the times the proxy saw them arrive,
with latency injected there so that a round trip takes at least that long."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator

import pytest
from redis import Redis

from core.redis_keys import KEY_INDEX, redis_key
from standins.aws_proxy import SeenRequest
from standins.stack import Stack
from tests.e2e.test_outcomes import Answer, account
from tests.support.waiting import wait_until

# Injected per call: a call sent after another's answer arrives at least this long after it.
LATENCY = 0.4
INDEX = redis_key(KEY_INDEX)
# The reads of a user the lookup sends together, once it knows the user: action -> parameter.
USER_READS = {"ListAccessKeys": "UserName", "GetUser": "UserName", "ListAttachedUserPolicies": "UserName"}


@pytest.fixture
def slow_aws(stack: Stack) -> Iterator[None]:
    """Every AWS answer takes LATENCY seconds for the test, then none again."""
    stack.aws.latency = LATENCY
    try:
        yield
    finally:
        stack.aws.latency = 0.0


def ask(stack: Stack, key_id: str, *, together: Iterable[tuple[str, str, str]] = (), account_id: str = "") -> Answer:
    """Ask for key_id and return the answer. together: IAM reads in account_id (action, parameter,
    value) held at the proxy until every one of them has arrived, so the lookup must have had all
    of them in flight at once (released then, or the answer could never come)."""
    holds = [
        stack.aws.hold(action, lambda params, name=name, value=value: params.get(name) == value, account=account_id)
        for action, name, value in together
    ]
    try:
        reply, response_url = stack.slash_command(key_id, user_id=f"U{uuid.uuid4().hex[:10].upper()}")
        assert reply.status == 200, reply.body
        if holds:
            wait_until(lambda: all(held.hits for held in holds), what=f"{[t[0] for t in together]} in flight at once")
    finally:
        for held in holds:
            stack.aws.remove(held)
    return Answer(stack.slack.wait_for_hook(response_url, timeout=60)[0].body)


def calls_since(stack: Stack, mark: int, account_id: str) -> list[SeenRequest]:
    return [call for call in stack.aws.seen[mark:] if call.account == account_id and call.service == "iam"]


def arrival(calls: list[SeenRequest], action: str, **params: str) -> float:
    """When the first matching call arrived."""
    return next(c.at for c in calls if c.action == action and all(c.params.get(k) == v for k, v in params.items()))


def test_found_key_reads_its_user_side_by_side_once_iam_names_it(stack: Stack, redis: Redis, slow_aws: None) -> None:
    """Not indexed: GetAccessKeyLastUsed first, then ListAccessKeys, GetUser and ListAttachedUserPolicies
    together (two round trips)."""
    assert stack.org is not None
    prod = account(stack, "acme-prod")
    key_id = stack.org.key("acme-prod", "deploy-bot")
    ask(stack, key_id)  # a session in acme-prod, so only the lookup's own reads follow
    redis.hdel(INDEX, key_id)
    mark = len(stack.aws.seen)

    # The user's three reads are held until all three have arrived: sent together.
    answer = ask(stack, key_id, together=[(a, p, "deploy-bot") for a, p in USER_READS.items()], account_id=prod)

    assert "*deploy-bot*" in answer.lines[0]
    calls = calls_since(stack, mark, prod)
    named = arrival(calls, "GetAccessKeyLastUsed", AccessKeyId=key_id)
    firsts = [arrival(calls, action, UserName="deploy-bot") for action in USER_READS]
    assert min(firsts) - named >= LATENCY * 0.9, "the user is read once IAM named it"
    assert len(calls) == 4


def test_indexed_key_reads_everything_at_once(stack: Stack, redis: Redis) -> None:
    """When the key index names the account and user, all four IAM reads start together (one round trip)."""
    assert stack.org is not None
    prod = account(stack, "acme-prod")
    key_id = stack.org.key("acme-prod", "deploy-bot")
    ask(stack, key_id)  # remembered in the index, with a session in acme-prod
    assert redis.hexists(INDEX, key_id)
    mark = len(stack.aws.seen)

    # All four reads are held until all four have arrived: one round trip.
    reads = [("GetAccessKeyLastUsed", "AccessKeyId", key_id), *((a, p, "deploy-bot") for a, p in USER_READS.items())]
    answer = ask(stack, key_id, together=reads, account_id=prod)

    assert "*deploy-bot*" in answer.lines[0]
    calls = calls_since(stack, mark, prod)
    assert sorted(c.action for c in calls) == [
        "GetAccessKeyLastUsed",
        "GetUser",
        "ListAccessKeys",
        "ListAttachedUserPolicies",
    ]


def test_stale_index_entry_falls_back_to_the_user_iam_names(stack: Stack, redis: Redis) -> None:
    """An index entry naming the wrong user costs a second round trip for the right one, never a wrong answer."""
    assert stack.org is not None
    prod = account(stack, "acme-prod")
    key_id = stack.org.key("acme-prod", "alice", "Inactive")
    redis.hset(INDEX, key_id, json.dumps({"user": "someone-else", "account": f"acme-prod ({prod})"}))
    mark = len(stack.aws.seen)

    answer = ask(stack, key_id)

    assert answer.facts()["IAM user"] == "alice"
    assert answer.facts()["Status"] == "Inactive"
    calls = calls_since(stack, mark, prod)
    # The index's user was read at once (and came to nothing); the right user once IAM named her.
    assert arrival(calls, "GetUser", UserName="someone-else")
    assert arrival(calls, "GetUser", UserName="alice") > arrival(calls, "GetAccessKeyLastUsed", AccessKeyId=key_id)
    assert json.loads(redis.hget(INDEX, key_id) or "{}")["user"] == "alice", "the index is put right"


def test_index_entry_of_a_deleted_key_still_answers_gone(stack: Stack, redis: Redis) -> None:
    """An index entry for a key deleted since does not make it "found": the answer is that it no longer exists."""
    assert stack.org is not None
    staging = account(stack, "acme-staging")
    key_id = stack.org.key("acme-staging", "bob", "Deleted")
    redis.hset(INDEX, key_id, json.dumps({"user": "bob", "account": f"acme-staging ({staging})"}))

    answer = ask(stack, key_id)

    assert "no longer exists" in answer.lines[0]
