"""Ack latency of `/whose-key KEY`: signed requests against the real web process, 8 at a time.

    python3 dev.py bench ack [--requests 600] [--concurrency 8]

Latency is measured at the client over loopback, so it bounds the server-side time from above.
Goal: p99 under 100 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import summary_ms  # noqa: E402
from standins.stack import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    with Stack(extra_env={"WHOSE_KEY_SWEEP_INTERVAL": "0"}) as stack:
        assert stack.org is not None
        key_id = stack.org.key("acme-prod", "deploy-bot")
        for index in range(20):  # warm up: gunicorn workers, Bolt's auth.test, Redis connections
            stack.slash_command(key_id, user_id=f"UWARM{index:04d}")

        def one(index: int) -> tuple[int, float]:
            # A different asker each time, as in a busy workspace: the per-user rate limit is on the
            # path (one Redis round trip) but never refuses, so every request takes the full path.
            reply, _url = stack.slash_command(key_id, user_id=f"U{index:08d}")
            assert "Looking up" in reply.body, reply.body
            return reply.status, reply.elapsed

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - started

    statuses = {status for status, _ in results}
    latencies = [elapsed for _, elapsed in results]
    print(f"ack latency, /whose-key KEY, {args.concurrency} concurrent, {args.requests} requests")
    print(f"  statuses: {sorted(statuses)}")
    print(f"  {summary_ms(latencies)}")
    print(f"  throughput: {args.requests / wall:.0f} req/s")


if __name__ == "__main__":
    main()
