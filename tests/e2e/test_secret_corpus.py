"""Secrets in every form, end to end: a corpus of pasted secret access keys (split, encoded,
escaped, slightly short or long, named), each sent by slash command, mention and DM, next to a key
ID. Once every request is answered, no 12-character piece of any secret is anywhere: not in a
Slack call, an HTTP response, a log line, an RQ job or a Redis value."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable

from redis import Redis

from standins.stack import Stack
from tests.e2e.test_no_secrets import fresh_secret, redis_dump
from tests.support.waiting import wait_for_queues_drained

PIECE = 12
# Variants tried per run: every form once, the rest picked at random.
VARIANTS = 60


def _split(secret: str, rng: random.Random, parts: int, sep: str, least: int = 6) -> str:
    """The secret cut in `parts` random pieces of at least `least` characters (a wrapped line or
    a stray space), joined by `sep`."""
    sizes = [least] * parts
    for _ in range(len(secret) - least * parts):
        sizes[rng.randrange(parts)] += 1
    pieces, at = [], 0
    for size in sizes:
        pieces.append(secret[at : at + size])
        at += size
    return sep.join(pieces)


def _encoded(secret: str) -> str:
    """Every character URL-encoded, as some tools print a whole value."""
    return "".join(f"%{ord(c):02X}" for c in secret)


NL, BS = "\n", "\\"

FORMS: dict[str, Callable[[str, str, random.Random], str]] = {
    "plain": lambda s, k, r: f"{k} {s}",
    "alone": lambda s, k, r: f"{s} {k}",
    "glued to the key": lambda s, k, r: f"{k}{s}",
    "after a colon": lambda s, k, r: f"{k}:{s}",
    "quoted": lambda s, k, r: f"{k} '{s}'",
    "in code": lambda s, k, r: f"{k} `{s}`",
    "in a code block": lambda s, k, r: f"{k}{NL}```{NL}{s}{NL}```",
    "split by a space": lambda s, k, r: f"{k} {_split(s, r, 2, ' ')}",
    "split by a line break": lambda s, k, r: f"{k}{NL}{_split(s, r, 2, NL)}",
    "split by a Windows line break": lambda s, k, r: f"{k}\r{NL}{_split(s, r, 2, chr(13) + NL)}",
    "split by a tab": lambda s, k, r: f"{k}\t{_split(s, r, 2, chr(9))}",
    "split by two spaces": lambda s, k, r: f"{k} {_split(s, r, 2, '  ')}",
    "split in three": lambda s, k, r: f"{k} {_split(s, r, 3, ' ')}",
    "split by space and break": lambda s, k, r: f"{k} {_split(s, r, 3, ' ' + NL)}",
    "split in four lines": lambda s, k, r: f"{k}{NL}{_split(s, r, 4, NL)}",
    "split in five": lambda s, k, r: f"{k} {_split(s, r, 5, ' ', least=5)}",
    "split in six lines": lambda s, k, r: f"{k}{NL}{_split(s, r, 6, NL, least=5)}",
    "split in quotes": lambda s, k, r: f'{k} "{_split(s, r, 2, " ")}"',
    "split in a sentence": lambda s, k, r: f"my key {k} has secret {_split(s, r, 2, ' ')} thanks",
    "URL-encoded": lambda s, k, r: f"{k} {s.replace('/', '%2F').replace('+', '%2B')}",
    "URL-encoded lower case": lambda s, k, r: f"{k} {s.replace('/', '%2f').replace('+', '%2b')}",
    "URL-encoded twice": lambda s, k, r: f"{k} {s.replace('/', '%252F').replace('+', '%252B')}",
    "every character URL-encoded": lambda s, k, r: f"{k} {_encoded(s)}",
    "in a URL query": lambda s, k, r: (
        f"https://example.com/?AccessKeyId={k}&SecretAccessKey={s.replace('/', '%2F').replace('+', '%2B')}&x=1"
    ),
    "JSON-escaped": lambda s, k, r: f'{{"AccessKeyId": "{k}", "Secret": "{s.replace("/", BS + "/")}"}}',
    "unicode-escaped": lambda s, k, r: f"{k} {s.replace('/', BS + 'u002f').replace('+', BS + 'u002b')}",
    "one short": lambda s, k, r: f"{k} {s[:-1]}",
    "two short": lambda s, k, r: f"{k} {s[1:-1]}",
    "one long": lambda s, k, r: f"{k} {s}Q",
    "two long": lambda s, k, r: f"{k} x{s}9",
    "one short, split": lambda s, k, r: f"{k} {_split(s[:-1], r, 2, ' ')}",
    "two long, split": lambda s, k, r: f"{k} {_split('Q' + s + 'z', r, 2, NL)}",
    "secret=": lambda s, k, r: f"{k} secret={s}",
    "secret = spaced": lambda s, k, r: f"{k} secret = {s}",
    "secret:": lambda s, k, r: f"{k} secret: {s}",
    "secret= glued to a split": lambda s, k, r: f"{k} secret={_split(s, r, 2, ' ')}",
    "secret_key=": lambda s, k, r: f"{k} secret_key={s}",
    "secret_key:": lambda s, k, r: f"{k} secret_key: {s}",
    "SECRET_KEY quoted": lambda s, k, r: f'{k} SECRET_KEY="{s}"',
    "aws_secret_access_key =": lambda s, k, r: f"aws_access_key_id = {k}{NL}aws_secret_access_key = {s}",
    "aws_secret_access_key :": lambda s, k, r: f"aws_access_key_id: {k}{NL}aws_secret_access_key : {s}",
    "AWS_SECRET_ACCESS_KEY export": lambda s, k, r: (
        f'export AWS_ACCESS_KEY_ID={k}{NL}export AWS_SECRET_ACCESS_KEY="{s}"'
    ),
    "SecretAccessKey JSON": lambda s, k, r: f'{{"AccessKeyId": "{k}", "SecretAccessKey": "{s}"}}',
    "SecretAccessKey JSON, spaced": lambda s, k, r: f'{{ "AccessKeyId" : "{k}" , "SecretAccessKey" : "{s}" }}',
    "SecretAccessKey JSON-escaped": lambda s, k, r: (
        f'{{"AccessKeyId": "{k}", "SecretAccessKey": "{s.replace("/", BS + "/")}"}}'
    ),
    "secretKey JSON": lambda s, k, r: f'{{"accessKeyId": "{k}", "secretKey": "{s}"}}',
    "secret JSON": lambda s, k, r: f'{{"id": "{k}", "secret": "{s}"}}',
    "secret_key JSON": lambda s, k, r: f'{{"id": "{k}", "secret_key": "{s}"}}',
    "SecretAccessKey YAML": lambda s, k, r: f"AccessKeyId: {k}{NL}SecretAccessKey: {s}",
    "console CSV": lambda s, k, r: f"Access key ID,Secret access key{NL}{k},{s}",
    "in a sentence": lambda s, k, r: f"our key {k} with secret {s} stopped working",
    "in a Slack link": lambda s, k, r: f"{k} <https://example.com/?s={s}|{s}>",
    "escaped by Slack": lambda s, k, r: f"{k} &lt;{s}&gt;",
    "with a zero-width space": lambda s, k, r: f"{k} {s[:20]}\u200b{s[20:]}",
}


def corpus(key_id: str, count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(form, secret, text) for `count` variants: every form at least once, a fresh secret each."""
    names = list(FORMS)
    picked = names + [rng.choice(names) for _ in range(max(0, count - len(names)))]
    return [(name, secret, FORMS[name](secret, key_id, rng)) for name in picked for secret in [fresh_secret()]]


def pieces(secret: str) -> set[str]:
    return {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}


def test_no_piece_of_any_secret_survives_any_surface(stack: Stack) -> None:
    """60 secret variants by command, mention and DM: each answered with a warning, no 12-character piece anywhere."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    variants = corpus(key_id, max(VARIANTS, len(FORMS)), random.Random())
    replies: list[str] = []
    command_urls: list[str] = []
    conversations: list[str] = []
    # Everything is submitted first and waited for once: the workers answer side by side.
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

    # The positive signal that all the work is done: every request answered, each warning of the secret.
    unwarned = []
    for (form, _, _), url in zip(variants, command_urls, strict=True):
        answer = stack.slack.wait_for_hook(url, timeout=120)[0].body
        if "treat it as exposed" not in json.dumps(answer):
            unwarned.append(f"{form}: command")
    calls = stack.slack.wait_for(
        lambda calls: set(conversations) <= {c.body.get("channel") for c in calls if c.name == "chat.postMessage"},
        timeout=120,
    )
    posted: dict[str, str] = defaultdict(str)
    for call in calls:
        if call.name == "chat.postMessage":
            posted[call.body.get("channel", "")] += json.dumps(call.body)
    for (form, _, _), mention_in, dm_in in zip(variants, conversations[::2], conversations[1::2], strict=True):
        unwarned += [f"{form}: mention"] if "treat it as exposed" not in posted[mention_in] else []
        unwarned += [f"{form}: DM"] if "treat it as exposed" not in posted[dm_in] else []
    assert unwarned == []
    # And nothing still at work that could yet write (reactions, follow-ups): every queue drained.
    redis = Redis.from_url(stack.redis.url)
    wait_for_queues_drained(redis, timeout=60)

    haystacks = {
        "HTTP responses": "\n".join(replies),
        "process logs": stack.logs(),
        "redis and RQ jobs": redis_dump(redis),
        "slack calls": "\n".join(json.dumps(c.body) + c.raw_body for c in stack.slack.calls),
    }
    # A control: the search would see what was sent, since the key ID asked about is in the answers.
    assert key_id in haystacks["slack calls"] and key_id in haystacks["redis and RQ jobs"]
    found = [
        f"{form}: {piece!r} in {where}"
        for form, secret, _ in variants
        for where, text in haystacks.items()
        for piece in sorted(pieces(secret))
        if piece in text
    ]
    print(f"\nsecret corpus: {len(variants)} variants ({len(FORMS)} forms) x 3 surfaces, {len(found)} pieces found")
    assert found == []
