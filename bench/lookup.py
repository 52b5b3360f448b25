"""From slash command to answer at the response_url, with AWS latency injected at the proxy.

    python3 dev.py bench lookup [--sizes 10] [--latencies 0.1,0.3] [--rounds 3]

For each organization size and injected per-call latency (a fresh stack each): keys in 10
different member accounts, each looked up one request at a time, in three phases:
- cold: the first lookup in each account (pays its AssumeRole), key not in the key index;
- warm: sessions cached, key removed from the index before each lookup (GetAccessKeyLastUsed,
  then ListAccessKeys and GetUser side by side: two round trips);
- indexed: sessions cached and the key indexed (every IAM read at once: one round trip).
Prints p50/max latency per phase, the AWS calls per lookup, and the goals: warm at most
2 x latency + 100 ms, indexed at most 1 x latency + 100 ms (p50). Also each phase's own time in
the worker: the job's time less the wall-clock time it waited on AWS, which should not grow
with the organization (goal: at 1,000 accounts within 1.5x of 10):

    python3 dev.py bench lookup --sizes 10,1000 --latencies 0.075
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
from core.jobs import LOOKUP_QUEUE  # noqa: E402
from core.redis_keys import KEY_INDEX, redis_key  # noqa: E402
from standins.moto_org import AccountSpec, UserSpec  # noqa: E402
from standins.stack import Stack  # noqa: E402

KEYED_ACCOUNTS = 10
KEY_INDEX_NAME = redis_key(KEY_INDEX)


def organization(size: int) -> list[AccountSpec]:
    """size accounts (management first); KEYED_ACCOUNTS of them spread evenly hold a user and key."""
    step = max(1, (size - 1) // KEYED_ACCOUNTS)
    keyed = {1 + i * step for i in range(KEYED_ACCOUNTS)}
    specs = [AccountSpec("management")]
    for index in range(1, size):
        users = (UserSpec(f"user-{index}", {"slack-user-id": f"U{index:08d}"}),) if index in keyed else ()
        specs.append(AccountSpec(f"account-{index:04d}", users))
    return specs


def aws_usage_by_response_url(redis: Redis) -> dict[str, tuple[int, float, float]]:
    """(AWS calls, seconds waiting on AWS, seconds in all) of every finished lookup, by its
    response_url."""
    queue = Queue(LOOKUP_QUEUE, connection=redis, serializer=JSONSerializer)
    usage = {}
    job_ids = queue.finished_job_registry.get_job_ids()
    for job in queue.job_class.fetch_many(job_ids, connection=redis, serializer=JSONSerializer):
        result = job.return_value() if job is not None else None
        if isinstance(result, dict):
            url = job.args[0]["destination"]["response_url"]
            usage[url] = (int(result["aws_calls"]), float(result["aws_seconds"]), float(result["seconds"]))
    return usage


def wait_for_warm_worker(redis: Redis, timeout: float = 60) -> None:
    """The worker lists the organization once at start; measure lookups, not that."""
    deadline = time.monotonic() + timeout
    while not redis.exists("whose-key:cache:org-accounts-meta") and time.monotonic() < deadline:
        time.sleep(0.1)


def lookup(stack: Stack, key_id: str, asker: str) -> tuple[float, str]:
    """Seconds from the command to the answer, and its response_url."""
    sent = time.time()
    reply, response_url = stack.slash_command(key_id, user_id=asker)
    assert reply.status == 200, reply.body
    post = stack.slack.wait_for_hook(response_url, timeout=120)[0]
    assert "user-" in str(post.body), post.body
    return post.at - sent, response_url


def measure(size: int, latency: float, rounds: int) -> dict[str, float]:
    # No scheduled sweep during the measurement: it would share the single worker with the lookups
    # (and fill the key index the warm phase keeps empty).
    with Stack(accounts=organization(size), extra_env={"WHOSE_KEY_SWEEP_INTERVAL": "0"}) as stack:
        assert stack.org is not None
        keys = [k.key_id for k in stack.org.keys]
        redis = Redis.from_url(stack.redis.url)
        wait_for_warm_worker(redis)
        stack.aws.latency = latency  # after seeding: only the lookups pay it
        phases: dict[str, list[float]] = {"cold": [], "warm": [], "indexed": []}
        urls: dict[str, list[str]] = {phase: [] for phase in phases}
        asked = 0

        def run(phase: str, forget: bool) -> None:
            nonlocal asked
            for key_id in keys:
                if forget:
                    redis.hdel(KEY_INDEX_NAME, key_id)
                asked += 1
                # One asker per request, so the per-user rate limit never refuses a measured request.
                elapsed, url = lookup(stack, key_id, f"U{asked:08d}")
                phases[phase].append(elapsed)
                urls[phase].append(url)

        run("cold", forget=True)
        for _ in range(rounds):
            run("warm", forget=True)
        for _ in range(rounds):
            run("indexed", forget=False)
        time.sleep(0.5)  # let the last job's result land
        usage = aws_usage_by_response_url(redis)
    every_url = [url for phase_urls in urls.values() for url in phase_urls]
    calls = [usage[url][0] for url in every_url if url in usage]
    own = {phase: [usage[u][2] - usage[u][1] for u in phase_urls if u in usage] for phase, phase_urls in urls.items()}
    ms = latency * 1000
    print(f"organization of {size} accounts, {ms:.0f} ms injected per AWS call, {len(keys)} keys")
    for phase, values in phases.items():
        print(f"  {phase:8} command -> answer: {summary_ms(values)}; own time in the worker: {summary_ms(own[phase])}")
    print(f"  AWS calls per lookup: min={min(calls)} max={max(calls)} mean={sum(calls) / len(calls):.2f}")
    warm, indexed = percentile(phases["warm"], 50), percentile(phases["indexed"], 50)
    for phase, value, goal in (("warm", warm, 2 * latency + 0.1), ("indexed", indexed, latency + 0.1)):
        verdict = "met" if value <= goal else "MISSED"
        print(f"  {phase} p50 {value * 1000:.0f} ms (goal <= {goal * 1000:.0f} ms: {verdict})")
    return {
        "cold": percentile(phases["cold"], 50),
        "warm": warm,
        "indexed": indexed,
        "max_calls": max(calls),
        "warm_own": percentile(own["warm"], 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10")
    parser.add_argument("--latencies", default="0.1,0.3", help="seconds added to every AWS call, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    own: dict[tuple[int, float], float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        for latency in (float(x) for x in args.latencies.split(",")):
            own[size, latency] = measure(size, latency, args.rounds)["warm_own"]
    smallest = min(size for size, _ in own)
    for (size, latency), value in sorted(own.items()):
        base = own[smallest, latency]
        print(
            f"warm lookup's own time at {size} accounts ({latency * 1000:.0f} ms per call): p50 {value * 1000:.1f} ms, "
            f"{value / base:.2f}x of {smallest} accounts (goal <= 1.5x)"
        )


if __name__ == "__main__":
    main()
