"""No secret ever leaves: after secrets are pasted on every surface, search everything the bot
wrote (process logs, every Redis value, every Slack call) for them, for the Slack tokens and for
the AWS session credentials STS issued to the workers."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import string
import zlib

from redis import Redis

from core.secrets import looks_like_secret
from standins.stack import BOT_TOKEN, SIGNING_SECRET, Stack
from tests.e2e.env import EVENTS_TOKEN

_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"
SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")


def fresh_secret() -> str:
    """A secret access key shaped like AWS's: 40 characters, mixed case, digits and / or +."""
    while True:
        candidate = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        if looks_like_secret(candidate):
            return candidate


def redis_dump(redis: Redis) -> str:
    """Every value in the bot's Redis as text; RQ's compressed job data is inflated first."""
    parts: list[str] = []
    for name in redis.scan_iter("*"):
        kind = redis.type(name).decode()
        values: list[bytes] = [name]
        if kind == "string":
            values.append(redis.get(name) or b"")
        elif kind == "hash":
            for field, value in redis.hgetall(name).items():
                values += [field, value]
        elif kind == "list":
            values += redis.lrange(name, 0, -1)
        elif kind == "set":
            values += list(redis.smembers(name))
        elif kind == "zset":
            values += [member for member, _ in redis.zrange(name, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in redis.xrange(name):
                for field, value in fields.items():
                    values += [field, value]
        for value in values:
            with contextlib.suppress(zlib.error):
                value = zlib.decompress(value)
            parts.append(value.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def test_no_secret_in_logs_redis_or_slack(stack: Stack) -> None:
    """Secrets pasted by command, mention and DM, tokens and AWS session credentials appear nowhere."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    pasted = [fresh_secret() for _ in range(4)]
    _, url = stack.slash_command(f"{key_id} {pasted[0]}")
    stack.slash_command(f"aws_secret_access_key = {pasted[1]}")
    stack.event({"type": "app_mention", "user": "U0ASKER01", "text": f"<@UWHOSEKEY> {key_id}:{pasted[2]}",
                 "ts": "1700009000.000100", "channel": "C0LEAKTEST", "event_ts": "1700009000.000100"})  # fmt: skip
    stack.event({"type": "message", "channel_type": "im", "user": "U0ASKER01", "text": f"secret={pasted[3]}",
                 "ts": "1700009001.000100", "channel": "D0LEAKTEST", "event_ts": "1700009001.000100"})  # fmt: skip
    answer = stack.slack.wait_for_hook(url, timeout=30)[0].body
    assert "treat it as exposed" in json.dumps(answer)
    stack.slack.wait_for(
        lambda calls: {"C0LEAKTEST", "D0LEAKTEST"} <= {c.body.get("channel") for c in calls}, timeout=30
    )

    captured = {
        "process logs": stack.logs(),
        "redis": redis_dump(Redis.from_url(stack.redis.url)),
        "slack calls": "\n".join(json.dumps(c.body) + c.raw_body + json.dumps(c.headers) for c in stack.slack.calls),
    }
    forbidden = {f"pasted secret {i}": s for i, s in enumerate(pasted)}
    forbidden.update({"bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET, "events token": EVENTS_TOKEN})
    issued = stack.aws.issued_secrets
    assert issued, "the workers assumed roles, so STS issued session credentials"
    forbidden.update({f"AWS session credential {i}": s for i, s in enumerate(sorted(issued))})
    leaks = [
        f"{what} in {where}" for where, text in captured.items() for what, value in forbidden.items() if value in text
    ]
    assert leaks == []
    # And nothing shaped like a secret access key at all, whatever its origin.
    shaped = [
        where for where, text in captured.items() if any(looks_like_secret(m) for m in SECRET_SHAPE.findall(text))
    ]
    assert shaped == []
