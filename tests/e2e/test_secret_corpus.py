"""Secrets in every form, end to end: a corpus of pasted secret access keys (split, encoded,
escaped, slightly short or long, named), each sent by slash command, mention and DM, next to a key
ID. Once every request is answered, no 12-character piece of any secret is anywhere: not in a
Slack call, an HTTP response, a log line, an RQ job or a Redis value."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

from redis import Redis

from standins.stack import Stack
from tests.e2e.test_no_secrets import fresh_secret, redis_dump

PIECE = 12


def _split(secret: str, rng: random.Random, parts: int, sep: str) -> str:
    """The secret cut in `parts` pieces of at least 6 characters (as a wrapped line or a stray space)."""
    while True:
        cuts = sorted(rng.sample(range(6, len(secret) - 5), parts - 1))
        if all(b - a >= 6 for a, b in zip(cuts, cuts[1:], strict=False)):
            break
    pieces = [secret[a:b] for a, b in zip([0, *cuts], [*cuts, len(secret)], strict=True)]
    return sep.join(pieces)


FORMS: dict[str, Callable[[str, str, random.Random], str]] = {
    "plain": lambda s, k, r: f"{k} {s}",
    "glued to the key": lambda s, k, r: f"{k}{s}",
    "quoted": lambda s, k, r: f"{k} '{s}'",
    "in code": lambda s, k, r: f"{k} `{s}`",
    "split by a space": lambda s, k, r: f"{k} {_split(s, r, 2, ' ')}",
    "split by a line break": lambda s, k, r: f"{k}\n{_split(s, r, 2, chr(10))}",
    "split in three": lambda s, k, r: f"{k} {_split(s, r, 3, ' ')}",
    "split by space and break": lambda s, k, r: f"{k} {_split(s, r, 3, ' ' + chr(10))}",
    "URL-encoded": lambda s, k, r: f"{k} {s.replace('/', '%2F').replace('+', '%2B')}",
    "URL-encoded lower case": lambda s, k, r: f"{k} {s.replace('/', '%2f').replace('+', '%2b')}",
    "JSON-escaped": lambda s, k, r: f'{{"AccessKeyId": "{k}", "Secret": "{s.replace("/", chr(92) + "/")}"}}',
    "unicode-escaped": lambda s, k, r: f"{k} {s.replace('/', chr(92) + 'u002f').replace('+', chr(92) + 'u002b')}",
    "one short": lambda s, k, r: f"{k} {s[:-1]}",
    "two short": lambda s, k, r: f"{k} {s[1:-1]}",
    "one long": lambda s, k, r: f"{k} {s}Q",
    "two long": lambda s, k, r: f"{k} x{s}9",
    "secret=": lambda s, k, r: f"{k} secret={s}",
    "secret:": lambda s, k, r: f"{k} secret: {s}",
    "secret_key=": lambda s, k, r: f"{k} secret_key={s}",
    "secret_key:": lambda s, k, r: f"{k} secret_key: {s}",
    "aws_secret_access_key =": lambda s, k, r: f"aws_access_key_id = {k}\naws_secret_access_key = {s}",
    "AWS_SECRET_ACCESS_KEY export": lambda s, k, r: f'export AWS_ACCESS_KEY_ID={k}\nexport AWS_SECRET_ACCESS_KEY="{s}"',
    "SecretAccessKey JSON": lambda s, k, r: f'{{"AccessKeyId": "{k}", "SecretAccessKey": "{s}"}}',
    "secretKey JSON": lambda s, k, r: f'{{"accessKeyId": "{k}", "secretKey": "{s}"}}',
    "SecretAccessKey YAML": lambda s, k, r: f"AccessKeyId: {k}\nSecretAccessKey: {s}",
    "in a sentence": lambda s, k, r: f"our key {k} with secret {s} stopped working",
    "in a Slack link": lambda s, k, r: f"{k} <https://example.com/?s={s}|{s}>",
}


def corpus(key_id: str, count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(form, secret, text) for `count` variants: every form at least once, a fresh secret each."""
    names = list(FORMS)
    picked = names + [rng.choice(names) for _ in range(max(0, count - len(names)))]
    return [(name, secret, FORMS[name](secret, key_id, rng)) for name in picked for secret in [fresh_secret()]]


def pieces(secret: str) -> set[str]:
    return {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}


def test_no_piece_of_any_secret_survives_any_surface(stack: Stack) -> None:
    """50+ secret variants through command, mention and DM: every one answered, no 12-character piece anywhere."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    variants = corpus(key_id, 52, random.Random(2112))
    replies: list[str] = []
    command_urls: list[str] = []
    conversations: list[str] = []
    for n, (_, _, text) in enumerate(variants):
        # A person each, so no per-person budget refuses any of them.
        reply, url = stack.slash_command(text, user_id=f"U0SCMD{n:03d}")
        replies.append(reply.body)
        command_urls.append(url)
        ts = f"1700200{n:03d}.000100"
        mention = {"type": "app_mention", "user": f"U0SMEN{n:03d}", "text": f"<@UWHOSEKEY> {text}", "ts": ts,
                   "event_ts": ts, "channel": f"C0SEC{n:04d}"}  # fmt: skip
        dm = {"type": "message", "channel_type": "im", "user": f"U0SDMS{n:03d}", "text": text, "ts": ts,
              "event_ts": ts, "channel": f"D0SEC{n:04d}"}  # fmt: skip
        replies.append(stack.event(mention).body)
        replies.append(stack.event(dm).body)
        conversations += [mention["channel"], dm["channel"]]

    # Every request answered (the positive signal that all the work is done), each warning of the secret.
    for url in command_urls:
        answer = stack.slack.wait_for_hook(url, timeout=120)[0].body
        assert "treat it as exposed" in json.dumps(answer), answer
    stack.slack.wait_for(
        lambda calls: set(conversations) <= {c.body.get("channel") for c in calls if c.name == "chat.postMessage"},
        timeout=120,
    )

    haystacks = {
        "HTTP responses": "\n".join(replies),
        "process logs": stack.logs(),
        "redis and RQ jobs": redis_dump(Redis.from_url(stack.redis.url)),
        "slack calls": "\n".join(json.dumps(c.body) + c.raw_body for c in stack.slack.calls),
    }
    found = [
        f"{form}: a piece in {where}"
        for form, secret, _ in variants
        for where, text in haystacks.items()
        if any(piece in text for piece in pieces(secret))
    ]
    print(f"\nsecret corpus: {len(variants)} variants x 3 surfaces, {len(found)} pieces found")
    assert found == []
