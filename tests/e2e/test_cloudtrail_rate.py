"""CloudTrail's LookupEvents limit (2 a second per account and region) kept across the cluster:
the Redis token bucket on its own, then two worker processes answering at once, counted on the
sends the workers record (and checked against what reached the AWS proxy)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from standins.redis_server import RedisServer
from standins.stack import Stack
from tests.e2e.env import iam_in
from tests.e2e.test_outcomes import Answer, account
from tests.support.racing import race
from workers.aws.cloudtrail_rate import RedisRateLimiter

SLOT = 0.625  # seconds between reserved slots: 2 calls per 1 s + the 0.25 s arrival margin
WINDOW = 2 * SLOT  # at most 2 calls sent within it


@pytest.fixture(scope="module")
def own_redis() -> Iterator[Redis]:
    """A throwaway Redis for the limiter alone."""
    server = RedisServer()
    server.start()
    try:
        yield Redis.from_url(server.url)
    finally:
        server.close()


def new_account() -> str:
    return f"{uuid.uuid4().int % 10**12:012d}"


def test_the_limiter_spaces_two_calls_per_second_plus_the_arrival_margin(own_redis: Redis) -> None:
    """2 calls a second become at most 2 calls in 1.25 s (the margin for arrival), slots 0.625 s apart."""
    limiter = RedisRateLimiter(own_redis)

    assert (limiter.burst, limiter.window_ms, limiter.slot_ms) == (2, 1250, 625)
    assert limiter.slot_ms / 1000 == SLOT


def test_racing_callers_reserve_distinct_slots_in_order(own_redis: Redis) -> None:
    """Six callers racing for one account reserve 0, 0.625, 1.25 … seconds: one slot each, none lost to the race."""
    limiter = RedisRateLimiter(own_redis)
    account_id = new_account()

    waits = race(6, lambda: limiter.reserve(account_id))

    assert sorted(w / 1000 for w in waits) == pytest.approx([SLOT * n for n in range(6)], abs=0.05)  # type: ignore[operator]


def test_a_call_goes_only_when_fewer_than_two_left_within_the_window(own_redis: Redis) -> None:
    """What counts is when calls leave: a third call within the window is told how long to wait, and not recorded."""
    # A window of ten minutes, so the test does not depend on how fast it runs.
    limiter = RedisRateLimiter(own_redis, arrival_margin=600)
    account_id = new_account()

    assert race(2, lambda: limiter.try_send(account_id)) == [0, 0]
    third = limiter.try_send(account_id)
    assert limiter.window_ms - 60_000 < third <= limiter.window_ms
    assert limiter.try_send(account_id) > 0, "the refused call was not recorded as sent"


def test_a_caller_whose_slot_comes_after_two_fresh_sends_waits_again_or_gives_up(own_redis: Redis) -> None:
    """A slot is not enough: a caller waking while two calls just left waits for the window, and is
    refused when that is past the longest wait (its reserved slot was free, the sends were not)."""
    sleeps: list[float] = []
    limiter = RedisRateLimiter(own_redis, arrival_margin=600, sleep=sleeps.append, max_wait=10)
    account_id = new_account()
    # Two calls leave without reserving (as two callers that overslept their slots would).
    assert [limiter.try_send(account_id), limiter.try_send(account_id)] == [0, 0]

    assert limiter.wait(account_id) is False
    assert sleeps == [], "it never slept for a slot it could not use"


def test_a_slot_too_far_off_is_refused_and_not_claimed(own_redis: Redis) -> None:
    """Callers beyond the longest wait are refused at once; the slots they did not take stay free."""
    limiter = RedisRateLimiter(own_redis, sleep=lambda _s: None, max_wait=1.0)
    account_id = new_account()

    results = race(5, lambda: limiter.wait(account_id))

    assert results.count(True) == 2  # now and in 0.625 s; 1.25 s is past the longest wait
    assert results.count(False) == 3


def test_accounts_have_buckets_of_their_own(own_redis: Redis) -> None:
    """A busy account never delays another: each account and region has its own slots and sends."""
    waits: list[float] = []
    limiter = RedisRateLimiter(own_redis, sleep=waits.append)
    busy = new_account()
    race(2, lambda: limiter.wait(busy))
    before = len(waits)

    assert limiter.wait(new_account())
    assert len(waits) == before, "the other account's first call did not wait"


def max_within(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def recorded_sends(logs: str, account_id: str, since_ms: int) -> list[float]:
    """The send times (s, Redis's clock) the workers logged for account_id since since_ms."""
    sends = []
    for line in logs.splitlines():
        if '"cloudtrail call sent"' not in line:
            continue
        entry = json.loads(line)
        if entry["account"] == account_id and entry["sent_ms"] >= since_ms:
            sends.append(entry["sent_ms"] / 1000)
    return sorted(sends)


def redis_now_ms(stack: Stack) -> int:
    seconds, micros = Redis.from_url(stack.redis.url).time()
    return seconds * 1000 + micros // 1000


def test_two_worker_processes_share_two_lookups_a_second_per_account(stack: Stack) -> None:
    """Four workers (two worker pools) answering 32 deactivated keys of one account never send 3
    LookupEvents within one window (CloudTrail's second plus the arrival margin) between them, and
    every answer still says who deactivated the key.

    Counted on the cluster's own record of each send (Redis's clock): when a request then reaches
    CloudTrail is up to the machine's load and the network, which the margin is there to absorb."""
    sandbox = account(stack, "acme-sandbox")
    iam = iam_in(stack, sandbox)
    keys: list[str] = []
    for _ in range(4):
        user = f"paced-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=user)
        key_id = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
        keys.append(key_id)
    # A second `worker` process: each runs a pool of two RQ workers that take lookups.
    extra = stack.start_process("worker")
    try:
        stack.wait_for_workers(2 * stack.pool_size)
        mark = len(stack.aws.seen)
        since_ms = redis_now_ms(stack)
        urls = []
        for _ in range(8):  # each request asks about the 4 keys, looked up side by side
            reply, url = stack.slash_command(" ".join(keys), user_id=f"U{uuid.uuid4().hex[:10].upper()}")
            assert reply.status == 200
            urls.append(url)
        answers = [Answer(stack.slack.wait_for_hook(url, timeout=90)[0].body) for url in urls]
    finally:
        extra.stop()
        stack.processes.remove(extra)
        stack.retired.append(extra)  # its log stays in stack.logs()

    for answer in answers:
        assert all("Deactivated" in part.facts() for part in answer.per_key()), answer.all_text
    sends = recorded_sends(stack.logs(), sandbox, since_ms)
    arrivals = sorted(c.at for c in stack.aws.seen[mark:] if c.action == "LookupEvents" and c.account == sandbox)
    assert len(sends) == len(arrivals) >= 30, "every LookupEvents that reached AWS was one the limiter let go"
    senders = {p.name for p in [*stack.retired, *stack.processes] if recorded_sends(p.log(), sandbox, since_ms)}
    assert extra.name in senders and len(senders) >= 2, "both worker processes sent"
    rate = (len(sends) - 1) / (sends[-1] - sends[0])
    print(
        f"\n{2 * stack.pool_size} workers: {len(sends)} LookupEvents sent at {rate:.2f}/s, at most "
        f"{max_within(sends, WINDOW)} in any {WINDOW} s (sent) and {max_within(arrivals, 1.0)} in any second (arrived)"
    )
    assert max_within(sends, WINDOW) <= 2
