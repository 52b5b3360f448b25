"""Redis full (maxmemory reached with noeviction, so writes fail with OOM) while the bot runs: every
surface gives the same clear "cannot take requests right now" answer as with Redis down, /healthz
says 503 and why, the doctor reports used_memory against maxmemory, and raising maxmemory brings
everything back without a restart."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis
from redis.exceptions import OutOfMemoryError

from cli.doctor import run_doctor
from core.blockkit import SHARE_ACTION
from standins.stack import Stack, http_get
from tests.e2e.env import TEST_ENV
from tests.support.aws_events import cloudtrail_event, post_event

UNAVAILABLE = "cannot take requests right now"
# Filler written by the test until Redis refuses it (never whose-key's own keys).
FILLER = "test-filler:"


@pytest.fixture(scope="module")
def crowded() -> Iterator[Stack]:
    """A bot of its own: its Redis is filled up under it."""
    with Stack(extra_env=dict(TEST_ENV)) as running:
        yield running


def fill_up(redis: Redis) -> int:
    """Cap Redis just above what it holds, with noeviction, and write filler until it refuses; the
    filler keys written. Then the cap is pinned a little under what Redis holds: the refused
    write's own buffer, freed, would otherwise leave room for the next small write."""
    redis.config_set("maxmemory-policy", "noeviction")
    redis.config_set("maxmemory", int(redis.info("memory")["used_memory"]) + 512 * 1024)
    for written in range(10_000):
        try:
            redis.set(f"{FILLER}{written}", b"x" * 64 * 1024)
        except OutOfMemoryError:
            redis.config_set("maxmemory", int(redis.info("memory")["used_memory"]) - 256 * 1024)
            return written
    raise AssertionError("Redis never refused a write")


def key_of(stack: Stack) -> str:
    assert stack.org is not None
    return stack.org.key("acme-prod", "deploy-bot")


def test_full_redis_gets_the_clear_answer_and_recovers_when_memory_frees(crowded: Stack) -> None:
    """With Redis out of memory a slash command gets the unavailable answer (200), a mention and a
    button press are told the same, AWS events get 503, /healthz 503 with used_memory and maxmemory, the doctor FAILs on
    memory; raising maxmemory makes the next command answered and /healthz 200, with no restart."""
    redis = Redis.from_url(crowded.redis.url)
    try:
        filled = fill_up(redis)
        reply, _ = crowded.slash_command(key_of(crowded))
        assert reply.status == 200 and UNAVAILABLE in reply.json()["text"]

        mention = {"type": "app_mention", "user": "U0ASKER01", "text": f"<@UWHOSEKEY> {key_of(crowded)}",
                   "ts": "1700009000.000100", "event_ts": "1700009000.000100", "channel": "C0FULLMEM"}  # fmt: skip
        assert crowded.event(mention, event_id=f"Ev{uuid.uuid4().hex[:10]}").status == 200
        crowded.slack.wait_for(
            lambda calls: any(
                c.body.get("channel") == "C0FULLMEM" and UNAVAILABLE in json.dumps(c.body) for c in calls
            ),
            timeout=30,
        )
        _, button_url = crowded.block_action(SHARE_ACTION, "req-full-memory")
        assert UNAVAILABLE in crowded.slack.wait_for_hook(button_url, timeout=30)[0].body["text"]
        assert crowded.org is not None
        event = cloudtrail_event(
            crowded.org.accounts["acme-prod"],
            "UpdateAccessKey",
            {"userName": "deploy-bot", "accessKeyId": key_of(crowded), "status": "Inactive"},
        )
        assert post_event(crowded, event).status == 503  # EventBridge and SNS deliver it again later

        health = http_get(crowded.web_url + "/healthz")
        assert health.status == 503
        reason = health.json()["reason"]
        assert reason.startswith("Redis is out of memory (used_memory ") and "of maxmemory " in reason

        out = io.StringIO()
        assert run_doctor(crowded.env(), out=out) == 1
        assert "Redis is out of memory and refuses writes: used_memory" in out.getvalue()
    finally:
        redis.config_set("maxmemory", 0)  # memory frees: nothing restarts
        for name in redis.scan_iter(f"{FILLER}*"):
            redis.delete(name)

    assert http_get(crowded.web_url + "/healthz").status == 200
    reply, url = crowded.slash_command(key_of(crowded))
    assert reply.status == 200 and "Looking up" in reply.body
    answer = crowded.slack.wait_for_hook(url, timeout=60)[0].body
    assert "deploy-bot" in json.dumps(answer)
    out = io.StringIO()
    run_doctor(crowded.env(), out=out)
    memory_line = re.search(r"^OK\s+redis\s+memory\s+(.*)$", out.getvalue(), re.MULTILINE)
    assert memory_line, out.getvalue()
    print(f"\nredis full memory: {filled} filler writes of 64 KiB until OOM; {reason}; after: {memory_line.group(1)}")
