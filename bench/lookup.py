"""From slash command to answer at the response_url, for organizations of 10 and 1,000 accounts.

    python3 dev.py bench lookup [--sizes 10,1000] [--rounds 3]

For each size: a moto organization with keys in 10 different member accounts; each key is looked
up `rounds` times, one request at a time (the first round pays one AssumeRole per account, later
rounds use the cached sessions). Prints p50/p99 latency and the AWS API calls per lookup, read
from the jobs' results. Goals: at most 5 AWS calls for a found key whatever the size, and the
1,000-account p50 within 1.2x of the 10-account p50.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from bench.stats import percentile, summary_ms  # noqa: E402
from standins.moto_org import AccountSpec, UserSpec  # noqa: E402
from standins.stack import Stack  # noqa: E402
from workers.constants import LOOKUP_QUEUE  # noqa: E402

KEYED_ACCOUNTS = 10


def organization(size: int) -> list[AccountSpec]:
    """size accounts (management first); KEYED_ACCOUNTS of them spread evenly hold a user and key."""
    step = max(1, (size - 1) // KEYED_ACCOUNTS)
    keyed = {1 + i * step for i in range(KEYED_ACCOUNTS)}
    specs = [AccountSpec("management")]
    for index in range(1, size):
        users = (UserSpec(f"user-{index}", {"slack-user-id": f"U{index:08d}"}),) if index in keyed else ()
        specs.append(AccountSpec(f"account-{index:04d}", users))
    return specs


def aws_usage_by_response_url(redis: Redis) -> dict[str, tuple[int, float]]:
    """(AWS calls, seconds spent in AWS calls) of every finished lookup, by its response_url."""
    queue = Queue(LOOKUP_QUEUE, connection=redis, serializer=JSONSerializer)
    usage = {}
    job_ids = queue.finished_job_registry.get_job_ids()
    for job in queue.job_class.fetch_many(job_ids, connection=redis, serializer=JSONSerializer):
        result = job.return_value() if job is not None else None
        if isinstance(result, dict):
            url = job.args[0]["destination"]["response_url"]
            usage[url] = (int(result["aws_calls"]), float(result["aws_seconds"]))
    return usage


def wait_for_warm_worker(redis: Redis, timeout: float = 60) -> None:
    """The worker lists the organization once at start; measure lookups, not that."""
    deadline = time.monotonic() + timeout
    while not redis.exists("whose-key:cache:org-accounts-meta") and time.monotonic() < deadline:
        time.sleep(0.1)


def measure(size: int, rounds: int) -> dict[str, float]:
    seed_started = time.perf_counter()
    # No scheduled sweep during the measurement: it would share the single worker with the lookups.
    with Stack(accounts=organization(size), extra_env={"WHOSE_KEY_SWEEP_INTERVAL": "0"}) as stack:
        assert stack.org is not None
        seeded = time.perf_counter() - seed_started
        keys = [k.key_id for k in stack.org.keys]
        redis = Redis.from_url(stack.redis.url)
        wait_for_warm_worker(redis)
        latencies: list[float] = []
        first_round: list[float] = []
        own_time: list[float] = []
        urls: list[str] = []
        for round_index in range(rounds):
            for key_id in keys:
                sent = time.time()
                # One asker per request, so the per-user rate limit never refuses a measured request.
                reply, response_url = stack.slash_command(key_id, user_id=f"U{round_index:04d}{len(urls):04d}")
                assert reply.status == 200, reply.body
                post = stack.slack.wait_for_hook(response_url, timeout=120)[0]
                assert "user-" in str(post.body), post.body
                elapsed = post.at - sent
                latencies.append(elapsed)
                urls.append(response_url)
                if round_index == 0:
                    first_round.append(elapsed)
        time.sleep(0.5)  # let the last job's result land
        usage = aws_usage_by_response_url(redis)
    calls = [usage[url][0] for url in urls]
    aws_time = [usage[url][1] for url in urls]
    own_time = [total - aws for total, aws in zip(latencies, aws_time, strict=True)]
    print(f"organization of {size} accounts (set up in {seeded:.0f}s), {len(keys)} keys x {rounds} rounds")
    print(f"  command -> answer, all:        {summary_ms(latencies)}")
    print(f"  command -> answer, cold round: {summary_ms(first_round)}")
    print(f"  of which waiting on AWS (moto): {summary_ms(aws_time)}")
    print(f"  of which whose-key itself:      {summary_ms(own_time)}")
    print(f"  AWS calls per lookup: min={min(calls)} max={max(calls)} mean={sum(calls) / len(calls):.2f}")
    return {"p50": percentile(latencies, 50), "own_p50": percentile(own_time, 50), "max_calls": max(calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,1000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {size: measure(size, args.rounds) for size in (int(s) for s in args.sizes.split(","))}
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(f"p50 ratio {sizes[-1]} vs {sizes[0]} accounts: {large['p50'] / small['p50']:.2f}x (goal <= 1.2x)")
        print(f"p50 ratio of whose-key's own time (AWS waits excluded): {large['own_p50'] / small['own_p50']:.2f}x")
    print(f"max AWS calls for a found key: {max(r['max_calls'] for r in results.values())} (goal <= 5)")


if __name__ == "__main__":
    main()
