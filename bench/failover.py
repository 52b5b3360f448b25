"""Lookups across a managed Redis failover: how long they were refused or delayed.

    python3 dev.py bench failover [--runs 5] [--drop] [--pace 0.1]

Runs the whole bot (web + worker from the Procfile, moto, the loopback Slack) with REDIS_URL
pointing at a loopback endpoint (standins/tcp_forwarder.py) in front of a primary and its replica
(real redis-servers). A thread asks a lookup every `--pace` seconds, each on its own response_url.
Each run fails over (standins/redis_replicas.py: writes paused until the replica caught up, the
replica promoted, the old primary made its replica, the endpoint moved), the next one fails back.
Connections already open stay with the old primary, which refuses writes (READONLY); `--drop`
resets them instead, as when the old node goes away.

Printed per run and summarised: the gap between the last answer posted before the failover began
and the first one posted after it ended (a steady stream answers every `--pace` seconds, so that
is the stall the failover caused); the slowest lookup asked within a second of the failover, from
ask to answer, against the median of the rest; and how many lookups were refused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import summary_ms  # noqa: E402
from standins.redis_replicas import fail_over, replicate  # noqa: E402
from standins.redis_server import RedisServer  # noqa: E402
from standins.stack import Stack  # noqa: E402
from standins.tcp_forwarder import TcpForwarder  # noqa: E402
from tests.e2e.env import TEST_ENV  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

# Steady traffic before and after each failover, seconds.
STEADY = 3.0


@dataclass
class Asked:
    at: float
    url: str
    taken: bool


def answered_at(stack: Stack, asked: Asked) -> float | None:
    posts = stack.slack.hook_posts(asked.url)
    return posts[0].at if posts else None


def one_run(
    stack: Stack, endpoint: TcpForwarder, servers: list[RedisServer], key_id: str, args: argparse.Namespace
) -> tuple[float, float, float, int]:
    """One failover under a steady stream: (gap, slowest lookup near it, others' median, refused)."""
    asked: list[Asked] = []
    stopping = threading.Event()

    def ask() -> None:
        while not stopping.is_set():
            at = time.time()
            reply, url = stack.slash_command(key_id)
            asked.append(Asked(at, url, "Looking up" in reply.body))
            stopping.wait(args.pace)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    time.sleep(STEADY)
    old, new = (servers[0], servers[1]) if endpoint.target == servers[0].port else (servers[1], servers[0])
    began = time.time()
    fail_over(old, new, endpoint, drop=args.drop)
    ended = time.time()
    time.sleep(STEADY)
    stopping.set()
    thread.join(30)
    taken = [a for a in asked if a.taken]
    wait_until(lambda: all(answered_at(stack, a) for a in taken), what="every lookup answered", timeout=120)
    answers = sorted(at for a in taken if (at := answered_at(stack, a)) is not None)
    before = [at for at in answers if at < began]
    after = [at for at in answers if at > ended]
    gap = after[0] - before[-1]
    latency = {a.at: (answered_at(stack, a) or 0.0) - a.at for a in taken}
    near = [v for at, v in latency.items() if began - 1 <= at <= ended + 1]
    rest = [v for at, v in latency.items() if not began - 1 <= at <= ended + 1]
    return gap, max(near, default=float("nan")), statistics.median(rest), len(asked) - len(taken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drop", action="store_true", help="reset the connections open to the old primary")
    parser.add_argument("--pace", type=float, default=0.1, help="seconds between two lookups asked")
    args = parser.parse_args()
    endpoint = TcpForwarder().start()
    replica = RedisServer()
    env = {**TEST_ENV, "REDIS_URL": endpoint.redis_url, "WHOSE_KEY_RATE_LIMIT": "0"}
    stack = Stack(extra_env=env)
    endpoint.point_at(stack.redis.port)
    try:
        replica.start()
        with stack:
            assert stack.org is not None
            replicate(replica, stack.redis)
            key_id = stack.org.key("acme-prod", "deploy-bot")
            _, url = stack.slash_command(key_id)  # warm: the worker's role session
            stack.slack.wait_for_hook(url, timeout=60)
            runs = [one_run(stack, endpoint, [stack.redis, replica], key_id, args) for _ in range(args.runs)]
    finally:
        endpoint.stop()
        replica.close()
    how = "resetting the old primary's connections" if args.drop else "the old primary keeping its connections"
    print(f"{args.runs} failovers, {how}, a lookup asked every {args.pace * 1000:.0f} ms:")
    for gap, slowest, median, refused in runs:
        print(f"  gap {gap * 1000:.0f} ms; slowest lookup near it {slowest * 1000:.0f} ms "
              f"(others' median {median * 1000:.0f} ms); refused {refused}")  # fmt: skip
    print(f"  gap between the last answer before and the first after: {summary_ms([r[0] for r in runs])}")
    print(f"  slowest lookup asked within 1 s of the failover:        {summary_ms([r[1] for r in runs])}")
    print(f"  lookups refused: {sum(r[3] for r in runs)}")


if __name__ == "__main__":
    main()
