"""What one sweep's rotation nudges cost for a large organization: the Slack calls (by method, at
the loopback Slack double), how long until every owner has their DM, the pace, the longest job,
and a person's lookups meanwhile.

    python3 dev.py bench nudges --owners 1000

Runs the whole bot (web + worker from the Procfile, Redis, moto behind the AWS proxy, the Slack
double). Seeds the sweep's snapshots in Redis for `--owners` owners, each with 1 to 3 keys past
the rotation age (some past twice it), a quarter of them tagged by email (the double knows them),
plus young and ownerless keys that are not nudged; then enqueues the sweep's after-sweep job, as
the sweep's finalizer does, and waits for the last nudge job's audit record. Meanwhile a lookup
(`/whose-key KEY`) is answered every few seconds. Nudges are paced at the production rate
(workers/hygiene/nudge_send.py: one DM a second across the cluster), so 1,000 owners take about
17 minutes by design.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402
from rq.job import Job  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from bench.stats import summary_ms  # noqa: E402
from core.contract import AfterSweep  # noqa: E402
from core.queue import JobQueue  # noqa: E402
from core.redis_keys import SNAPSHOT, SWEEP_LAST, SWEEP_STATE, redis_key  # noqa: E402
from standins.stack import Stack  # noqa: E402
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV  # noqa: E402
from tests.support.waiting import wait_for_audit  # noqa: E402
from workers.hygiene.nudge_send import NUDGES_PER_SECOND  # noqa: E402

ROTATION_DAYS = 90
SWEEP_ID = "sweep-bench-nudges"
KEYS_PER_ACCOUNT = 50
EMAIL_SHARE = 0.25  # owners tagged by email rather than member ID
LOOKUP_EVERY = 3.0  # seconds between two lookups during the nudges
LOOKER = "U0LOOKER1"  # who asks them


def seed(stack: Stack, owners: int, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Snapshots as the sweep writes them; (keys due a nudge, keys in all)."""
    redis = Redis.from_url(stack.redis.url)
    entries: list[tuple[str, dict[str, object]]] = []
    due = 0
    for n in range(owners):
        member = f"U{n:08d}"
        by_email = rng.random() < EMAIL_SHARE
        if by_email:
            stack.slack.add_user(f"owner{n}@example.com", member)
        for k in range(rng.randint(1, 3)):
            due += 1
            age = rng.choice((rng.randint(ROTATION_DAYS, 2 * ROTATION_DAYS - 1), rng.randint(2 * ROTATION_DAYS, 1500)))
            entries.append((f"AKIA{n:08d}{k:08d}", entry(now - timedelta(days=age), member, by_email, n)))
        entries.append((f"AKIA{n:08d}{9:08d}", entry(now - timedelta(days=5), member, by_email, n)))  # young
        if n % 10 == 0:
            entries.append((f"AKIA{n:08d}{8:08d}", entry(now - timedelta(days=400), None, False, n)))  # ownerless
    for start in range(0, len(entries), KEYS_PER_ACCOUNT):
        account = f"{900000000000 + start // KEYS_PER_ACCOUNT:012d}"
        chunk = entries[start : start + KEYS_PER_ACCOUNT]
        redis.hset(redis_key(SNAPSHOT, account), mapping={k: json.dumps(v) for k, v in chunk})
    accounts = (len(entries) + KEYS_PER_ACCOUNT - 1) // KEYS_PER_ACCOUNT
    summary = {"sweep_id": SWEEP_ID, "finished_at": now.isoformat(), "accounts": accounts, "keys": len(entries)}
    redis.set(redis_key(SWEEP_LAST), json.dumps({**summary, "unreadable": []}))
    redis.hset(redis_key(SWEEP_STATE, SWEEP_ID), mapping={"started": repr(time.time()), "total": accounts})
    return due, len(entries)


def entry(created: datetime, member: str | None, by_email: bool, n: int) -> dict[str, object]:
    return {
        "user": f"svc-{n % 17}",
        "status": "Active",
        "created": created.isoformat(),
        "last_used": None,
        "owner_slack_id": None if by_email or member is None else member,
        "owner_email": f"owner{n}@example.com" if by_email and member else None,
        "account_name": "bench",
    }


def nudge_jobs(redis: Redis) -> list[Job]:
    ids = [k.decode().split(":", 2)[2] for k in redis.scan_iter(f"rq:job:nudges-{SWEEP_ID}-*")]
    return [Job.fetch(i, connection=redis, serializer=JSONSerializer) for i in ids if ":" not in i]


def run(owners: int) -> None:
    rng = random.Random(24)
    now = datetime.now(UTC)
    env = {**TEST_ENV, "WHOSE_KEY_ROTATION_DAYS": str(ROTATION_DAYS), "WHOSE_KEY_RATE_LIMIT": "0"}
    with Stack(extra_env=env) as stack:
        assert stack.org is not None
        redis = Redis.from_url(stack.redis.url)
        due, total = seed(stack, owners, now, rng)
        probe = next(k.key_id for k in stack.org.keys if k.status == "Active")
        print(f"--- {owners:,} owners, {due:,} keys due a nudge of {total:,}; pace {NUDGES_PER_SECOND:g} DM/s ---")
        stack.slack.reset()
        started = time.time()
        JobQueue(redis).enqueue(AfterSweep(SWEEP_ID))
        lookups: list[float] = []
        done = None
        while done is None:
            asked = time.perf_counter()
            _, url = stack.slash_command(probe, user_id=LOOKER)
            stack.slack.wait_for_hook(url, timeout=60)
            lookups.append(time.perf_counter() - asked)
            try:
                done = wait_for_audit(redis, "rotation_nudges_done", sweep_id=SWEEP_ID, timeout=LOOKUP_EVERY)
            except TimeoutError:
                continue
        finished = time.time()
        after = Job.fetch(f"after-sweep-{SWEEP_ID}", connection=redis, serializer=JSONSerializer)
        planned = after.return_value()["nudges"]
        # The probe's own calls (its audit-channel line, its asker's users.info) are not the nudges'.
        calls = [
            c
            for c in stack.slack.api_calls()
            if c.at >= started and c.args.get("channel") != AUDIT_CHANNEL and c.args.get("user") != LOOKER
        ]
        ended_at = after.ended_at.replace(tzinfo=UTC).timestamp() if after.ended_at else started
        by_method = Counter(c.name for c in calls if c.at <= ended_at)
        by_method_nudges = Counter(c.name for c in calls if c.at > ended_at)
        dms = [c for c in calls if c.name == "chat.postMessage" and str(c.args.get("channel", "")).startswith("U")]
        per_second = Counter(int(c.at) for c in dms)
        jobs = nudge_jobs(redis)
        longest = max(
            ((j.ended_at - j.started_at).total_seconds() for j in jobs if j.ended_at and j.started_at), default=0
        )
        print(f"  planned: {json.dumps(planned)}")
        print(
            f"  after-sweep job (report, departures, plan): {(ended_at - started):.1f} s; Slack calls {dict(by_method)}"
        )
        print(f"  nudge jobs: {len(jobs)}, longest {longest:.1f} s; Slack calls {dict(by_method_nudges)}")
        print(
            f"  every DM out {finished - started:.1f} s after the after-sweep job was queued; "
            f"{len(dms):,} DMs, at most {max(per_second.values(), default=0)} in any second"
        )
        print(f"  lookups meanwhile: {summary_ms(lookups)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--owners", type=int, default=1000)
    args = parser.parse_args()
    run(args.owners)


if __name__ == "__main__":
    main()
