"""Benchmark of the key-hygiene report over big snapshots: 5,000 accounts x 20 keys by default.

Seeds a throwaway Redis with snapshots in the sweep's format (random ages, last uses, statuses,
owners), then times, and measures the peak Python memory (tracemalloc) of: the summary (one
streaming pass), the summary with departed owners checked at a loopback Slack (cold, then from
the Redis cache), the CSV export, and the renderings (Slack message, chart, one Home tab). Two
sizes are run so the figures show whether memory grows with the number of keys.

    python3 dev.py bench report                                # 500 and 5,000 accounts, 20 keys each
    python3 dev.py bench report --chart docs/report-chart.png  # also write the chart
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from core.redis_keys import SNAPSHOT, SWEEP_LAST, redis_key  # noqa: E402
from standins.redis_server import RedisServer  # noqa: E402
from standins.slack_double import SlackDouble  # noqa: E402
from workers.cache import JsonCache  # noqa: E402
from workers.hygiene.chart import render_chart  # noqa: E402
from workers.hygiene.departures import DepartureChecker  # noqa: E402
from workers.hygiene.export import write_csv  # noqa: E402
from workers.hygiene.home import HomeCollector, Viewer, render_home  # noqa: E402
from workers.hygiene.reader import iter_records, read_sweep_summary  # noqa: E402
from workers.hygiene.summary import summarize  # noqa: E402
from workers.hygiene.summary_message import render_report  # noqa: E402

OWNERS = 2000  # distinct Slack members owning keys
DEPARTED_SHARE = 0.03  # of owners, deactivated in Slack
SERVICES = ("s3", "sts", "ec2", "dynamodb", "sqs")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def seed(redis: Redis, accounts: int, keys: int, now: datetime, rng: random.Random) -> None:
    """Snapshots in the format the sweep writes, in pipelines of one account each."""
    for a in range(accounts):
        account_id = f"{100000000000 + a:012d}"
        entries = {}
        for k in range(keys):
            # Ages skewed old, as in organizations where keys are rarely rotated.
            bucket = rng.choices(((0, 29), (30, 89), (90, 364), (365, 2000)), weights=(12, 18, 30, 40))[0]
            created = now - timedelta(days=rng.randint(*bucket))
            used = None if rng.random() < 0.15 else created + (now - created) * rng.random()
            owner = rng.randrange(OWNERS)
            tagged = rng.random()
            entries[f"AKIA{a:08d}{k:08d}"] = json.dumps(
                {
                    "user": f"svc-{k % 7}",
                    "status": "Inactive" if rng.random() < 0.2 else "Active",
                    "created": created.isoformat(),
                    "last_used": used.isoformat() if used else None,
                    "last_service": rng.choice(SERVICES) if used else None,
                    "last_region": rng.choice(REGIONS) if used else None,
                    "owner_slack_id": f"U{owner:08d}" if tagged < 0.7 else None,
                    "owner_email": f"owner{owner}@example.com" if 0.7 <= tagged < 0.9 else None,
                    "account_name": f"team-{a}",
                }
            )
        redis.hset(redis_key(SNAPSHOT, account_id), mapping=entries)
    summary = {"sweep_id": "bench", "finished_at": now.isoformat(), "accounts": accounts, "keys": accounts * keys}
    redis.set(redis_key(SWEEP_LAST), json.dumps({**summary, "unreadable": []}))


def measure(label: str, work: Callable[[], Any]) -> Any:
    """Run work twice: timed alone, then under tracemalloc for its peak; print both."""
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {label:34s} {seconds:7.2f} s   peak {peak / 1e6:6.1f} MB", flush=True)
    return result


def run(accounts: int, keys: int, chart_path: str | None) -> None:
    rng = random.Random(15)
    now = datetime.now(UTC)
    with RedisServer() as server, SlackDouble(token="xoxb-bench") as slack:  # noqa: S106 - fake token
        redis = Redis.from_url(server.url)
        started = time.perf_counter()
        seed(redis, accounts, keys, now, rng)
        print(f"--- {accounts:,} accounts x {keys} keys = {accounts * keys:,} keys ---")
        print(f"  seeded in {time.perf_counter() - started:.1f} s")
        for owner in range(OWNERS):
            slack.add_user(f"owner{owner}@example.com", f"U{owner:08d}")
        for owner in rng.sample(range(OWNERS), int(OWNERS * DEPARTED_SHARE)):
            slack.deactivate_user(f"U{owner:08d}")
        sweep = read_sweep_summary(redis)
        report = measure("summary (no Slack)", lambda: summarize(iter_records(redis), now, sweep=sweep))
        client = WebClient(token="xoxb-bench", base_url=slack.base_url)  # noqa: S106 - fake token

        cold_calls: list[int] = []

        def with_departures(fresh: bool) -> Any:
            before = len(slack.calls)
            if fresh:
                for name in redis.scan_iter(match="whose-key:cache:owner-status:*", count=1000):
                    redis.delete(name)
            checker = DepartureChecker(client, JsonCache(redis))
            result = summarize(iter_records(redis), now, departed=checker, sweep=sweep)
            if fresh:
                cold_calls.append(len(slack.calls) - before)
            return result

        departed = measure("summary + departures (cold)", lambda: with_departures(True))
        measure("summary + departures (cached)", lambda: with_departures(False))
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
            path = handle.name
        try:

            def export() -> None:
                with open(path, "w", newline="") as out:
                    write_csv(iter_records(redis), out, now)

            measure("CSV export", export)
            size = os.path.getsize(path)
        finally:
            os.unlink(path)
        measure("Slack message", lambda: render_report(departed))
        png = measure("chart (PNG)", lambda: render_chart(report))

        def home() -> Any:
            viewer = Viewer("U00000042", "owner42@example.com")
            collector = HomeCollector([viewer])
            return render_home(viewer, summarize(collector.tap(iter_records(redis)), now, sweep=sweep))

        measure("Home tab (one pass)", home)
        print(
            f"  {report.keys:,} keys: {report.unused.total:,} unused 90d+, {report.ownerless.total:,} ownerless, "
            f"{departed.departed.total:,} with a departed owner ({cold_calls[0]:,} Slack calls when cold); "
            f"CSV {size / 1e6:.1f} MB; chart {len(png) / 1e3:.0f} kB"
        )
        if chart_path:
            with open(chart_path, "wb") as out:
                out.write(png)
            print(f"  chart written to {chart_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--keys", type=int, default=20, help="keys per account")
    parser.add_argument("--chart", help="write the chart of the largest size to this PNG file")
    args = parser.parse_args()
    sizes = sorted(args.accounts)
    for accounts in sizes:
        run(accounts, args.keys, args.chart if accounts == sizes[-1] else None)


if __name__ == "__main__":
    main()
