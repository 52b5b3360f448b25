"""CloudTrail's LookupEvents limit (2 a second per account and region) kept across the cluster:
the Redis token bucket on its own, then three worker processes answering at once, counted at the
AWS proxy."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from standins.processes import ChildProcess
from standins.redis_server import RedisServer
from standins.stack import Stack
from tests.e2e.env import iam_in
from tests.e2e.test_outcomes import Answer, account
from workers.trail_rate import SLOT_MARGIN, RedisRateLimiter

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
SLOT = 0.5 + SLOT_MARGIN


@pytest.fixture(scope="module")
def own_redis() -> Iterator[Redis]:
    """A throwaway Redis for the limiter alone."""
    server = RedisServer()
    server.start()
    try:
        yield Redis.from_url(server.url)
    finally:
        server.close()


def claim_together(limiter: RedisRateLimiter, account_id: str, count: int) -> list[bool]:
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        allowed = limiter.wait(account_id)
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=claim) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


def test_racing_callers_get_distinct_slots_half_a_second_apart(own_redis: Redis) -> None:
    """Six callers racing for one account wait 0, 0.55, 1.1 … seconds: one slot each, none lost to the race."""
    waits: list[float] = []
    limiter = RedisRateLimiter(own_redis, sleep=waits.append)

    assert claim_together(limiter, f"{uuid.uuid4().int % 10**12:012d}", 6) == [True] * 6

    expected = [0.0] + [SLOT * n for n in range(1, 6)]
    assert sorted([0.0, *waits]) == pytest.approx(expected, abs=0.05)


def test_a_slot_too_far_off_is_refused_and_not_claimed(own_redis: Redis) -> None:
    """Callers beyond the longest wait are refused at once; the slots they did not take stay free."""
    limiter = RedisRateLimiter(own_redis, sleep=lambda _s: None, max_wait=1.0)
    account_id = f"{uuid.uuid4().int % 10**12:012d}"

    results = claim_together(limiter, account_id, 5)

    assert results.count(True) == 2  # now and in 0.55 s; 1.1 s is past the longest wait
    assert results.count(False) == 3


def test_accounts_have_buckets_of_their_own(own_redis: Redis) -> None:
    """A busy account never delays another: each account and region has its own bucket."""
    waits: list[float] = []
    limiter = RedisRateLimiter(own_redis, sleep=waits.append)
    busy = f"{uuid.uuid4().int % 10**12:012d}"
    claim_together(limiter, busy, 3)
    before = len(waits)

    assert limiter.wait(f"{uuid.uuid4().int % 10**12:012d}")
    assert len(waits) == before, "the other account's first call did not wait"


def max_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_three_workers_share_two_lookups_a_second_per_account(stack: Stack) -> None:
    """Four workers (two worker pools) answering 32 deactivated keys of one account never make 3 LookupEvents in
    one second between them, and every answer still says who deactivated the key."""
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
    extra: list[ChildProcess] = [stack.start_process("worker")]
    try:
        stack.wait_for_workers(2 * stack.pool_size)
        mark = len(stack.aws.seen)
        started = time.time()
        urls = []
        for _ in range(8):  # each request asks about the 4 keys, looked up side by side
            reply, url = stack.slash_command(" ".join(keys), user_id=f"U{uuid.uuid4().hex[:10].upper()}")
            assert reply.status == 200
            urls.append(url)
        answers = [Answer(stack.slack.wait_for_hook(url, timeout=90)[0].body) for url in urls]
        elapsed = time.time() - started
    finally:
        for process in extra:
            process.stop()
            stack.processes.remove(process)

    for answer in answers:
        assert all("Deactivated" in part.facts() for part in answer.per_key()), answer.all_text
    times = sorted(c.at for c in stack.aws.seen[mark:] if c.action == "LookupEvents" and c.account == sandbox)
    assert len(times) >= 30
    peak = max_in_one_second(times)
    rate = (len(times) - 1) / (times[-1] - times[0])
    print(
        f"\n{2 * stack.pool_size} workers: {len(times)} LookupEvents in {elapsed:.1f} s, {rate:.2f}/s, "
        f"at most {peak} in any second"
    )
    assert peak <= 2
