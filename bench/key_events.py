"""Key events end to end: event-to-DM time, events dropped by reason, and how long after a Slack
outage the pending notices are all delivered.

    python3 dev.py bench key_events [--events 100] [--concurrency 4] [--outage-events 20] [--outage 10]

Runs the whole bot (web + worker from the Procfile, moto behind the AWS proxy, the loopback
Slack). Each event is a real deactivation (the key is deactivated in IAM first, so IAM confirms
it); its time is from posting it to `/aws/events` to the owner's DM reaching Slack. Then come
events whose-key must drop (forged, outside the organization, another source, malformed,
copies), counted from the audit trail. Last, Slack goes down (every call 503) while deactivations
arrive, stays down `--outage` seconds, and comes back: the figure is from its return to the last
pending notice delivered, with WHOSE_KEY_NOTICE_RETRY_INTERVAL=1 (in production it adds up to
that interval, 60 s by default).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402

from bench.stats import summary_ms  # noqa: E402
from core.audit import recent  # noqa: E402
from core.redis_keys import PENDING_NOTICES, redis_key  # noqa: E402
from standins.stack import Stack  # noqa: E402
from tests.support.aws_events import (  # noqa: E402
    FreshKey,
    cloudtrail_event,
    dms_about,
    fixture,
    fresh_key,
    owner_id,
    post_event,
)

TOKEN = "bench-events-token-0123456789"
ENV = {
    "WHOSE_KEY_EVENTS_TOKEN": TOKEN,
    "WHOSE_KEY_AUDIT_CHANNEL": "C0AUDIT01",
    "WHOSE_KEY_SWEEP_INTERVAL": "0",
    "WHOSE_KEY_NOTICE_RETRY_INTERVAL": "1",
}
ACCOUNTS = ("acme-prod", "acme-staging", "acme-data", "acme-dev")


def deactivation(key: FreshKey, actor_session: str = "bench") -> dict[str, Any]:
    params = {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"}
    event = cloudtrail_event(key.account_id, "UpdateAccessKey", params)
    event["detail"]["userIdentity"]["arn"] += f"-{actor_session}"
    return event


def owned_keys(stack: Stack, count: int) -> list[tuple[str, FreshKey]]:
    keys = []
    for index in range(count):
        owner = owner_id()
        keys.append((owner, fresh_key(stack, ACCOUNTS[index % len(ACCOUNTS)], {"slack-user-id": owner})))
    return keys


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def event_to_dm(stack: Stack, count: int, concurrency: int = 4) -> list[float]:
    keys = owned_keys(stack, count)
    for _, key in keys:
        key.deactivate()

    def one(item: tuple[str, FreshKey]) -> float:
        owner, key = item
        sent = time.time()
        assert post_event(stack, deactivation(key), token=TOKEN).status == 202
        stack.slack.wait_for(lambda _: bool(dms_about(stack, owner, key.key_id)), timeout=60)
        return dms_about(stack, owner, key.key_id)[0].at - sent

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(one, keys))


def drops(stack: Stack, redis: Redis, each: int) -> collections.Counter[str]:
    """Post `each` events of every kind whose-key must drop; count the audit trail's reasons."""
    before = len([r for r in recent(redis, 100_000) if r.get("action") == "aws_event_dropped"])
    expected = 0
    for _, key in owned_keys(stack, each):  # forged: the key is still Active in IAM
        assert post_event(stack, deactivation(key), token=TOKEN).status == 202
        expected += 1
    for _ in range(each):  # an account outside the organization
        key_id = "AKIA" + uuid.uuid4().hex[:16].upper().translate(str.maketrans("0189", "ABCD"))
        event = cloudtrail_event("999988887777", "UpdateAccessKey", {"accessKeyId": key_id, "status": "Inactive"})
        assert post_event(stack, event, token=TOKEN).status == 202
        expected += 1
    for _ in range(each):  # another source
        event = fixture("eventbridge/cloudtrail-update-access-key-inactive.json")
        event["source"] = "bench.fake"
        assert post_event(stack, event, token=TOKEN).status == 400
        expected += 1
    for _, key in owned_keys(stack, each):  # a copy of a real event under a new EventBridge id
        key.deactivate()
        event = deactivation(key)
        assert post_event(stack, event, token=TOKEN).status == 202
        assert post_event(stack, {**event, "id": str(uuid.uuid4())}, token=TOKEN).json()["status"] == "duplicate"
        expected += 1

    def dropped() -> list[dict[str, str]]:
        return [r for r in recent(redis, 100_000) if r.get("action") == "aws_event_dropped"]

    wait(lambda: len(dropped()) - before >= expected, 120, "every dropped event audited")
    return collections.Counter(r["reason"] for r in dropped()[: len(dropped()) - before])


def outage(stack: Stack, redis: Redis, count: int, seconds: float) -> tuple[float, int]:
    keys = owned_keys(stack, count)
    for _, key in keys:
        key.deactivate()
    pending = redis_key(PENDING_NOTICES)
    stack.slack.start_outage()
    try:
        for _, key in keys:
            assert post_event(stack, deactivation(key, "outage"), token=TOKEN).status == 202
        wait(lambda: redis.zcard(pending) >= count, 120, "every notice pending")
        time.sleep(seconds)  # Slack stays down this long: several retry periods fail
    finally:
        back = time.time()
        stack.slack.end_outage()
    wait(lambda: redis.zcard(pending) == 0, 300, "every pending notice delivered")
    stack.slack.wait_for(lambda _: all(dms_about(stack, owner, key.key_id) for owner, key in keys), timeout=60)
    last = max(dms_about(stack, owner, key.key_id)[0].at for owner, key in keys)
    extra = sum(len(dms_about(stack, owner, key.key_id)) - 1 for owner, key in keys)
    return last - back, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4, help="events in flight at once (one worker)")
    parser.add_argument("--drops-each", type=int, default=5)
    parser.add_argument("--outage-events", type=int, default=20)
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args()

    with Stack(extra_env=ENV) as stack:
        redis = Redis.from_url(stack.redis.url)
        event_to_dm(stack, 5)  # warm up: gunicorn, assumed-role sessions, the account list
        latencies = event_to_dm(stack, args.events, args.concurrency)
        reasons = drops(stack, redis, args.drops_each)
        recovery, extra = outage(stack, redis, args.outage_events, args.outage)

    print(f"key events, {args.events} IAM-confirmed deactivations, {args.concurrency} at a time, one worker")
    print(f"  event -> DM: {summary_ms(latencies)}")
    print(
        f"events dropped by reason ({args.drops_each} of each kind posted): {json.dumps(dict(sorted(reasons.items())))}"
    )
    print(f"Slack down {args.outage:g} s while {args.outage_events} deactivations arrived:")
    print(f"  all pending notices delivered {recovery:.2f} s after Slack came back; extra DMs: {extra}")


if __name__ == "__main__":
    main()
