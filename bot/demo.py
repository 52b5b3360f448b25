"""`whose-key demo`: the real web and worker processes, offline, on embedded defaults.

Starts a Redis server, a moto server seeded with a small organization, and a loopback Slack,
then sends signed `/whose-key` commands through the web app and prints what Slack would show.
"""

from __future__ import annotations

import sys
import time

from bot.offline.keys import synthesize_key_id
from bot.offline.show import message_to_text
from bot.offline.stack import Stack


def _say(text: str) -> None:
    print(text, flush=True)


def demo_requests(stack: Stack) -> list[tuple[str, str]]:
    """(what it shows, command text) pairs covering the main answers."""
    org = stack.org
    assert org is not None
    return [
        ("A key in a member account", org.key("acme-prod", "deploy-bot")),
        ("A key of the management account itself", org.key("acme-management", "break-glass")),
        ("A deactivated key, owner found by email", org.key("acme-prod", "alice", "Inactive")),
        ("A deleted key: its account is ours, the key is gone", org.key("acme-staging", "bob", "Deleted")),
        ("A key from an account outside the organization", synthesize_key_id("999988887777")),
        ("A typo: a look-alike digit instead of a letter", with_typo(org.key("acme-dev", "ci-runner"))),
        ("An IAM user ID pasted instead of a key", "AIDAJQABLZS4A3QDU576Q"),
        ("Help", "help"),
    ]


def with_typo(key_id: str) -> str:
    """The key as someone might mistype it: a digit for the letter it resembles, or lower case."""
    for letter, digit in (("O", "0"), ("I", "1"), ("B", "8")):
        position = key_id.find(letter, 4)
        if position != -1:
            return key_id[:position] + digit + key_id[position + 1 :]
    return key_id.lower()


def run_demo() -> int:
    _say("whose-key demo: starting Redis, a moto AWS organization, a local Slack, and the web + worker processes…")
    started = time.monotonic()
    with Stack() as stack:
        assert stack.org is not None
        _say(
            f"Ready in {time.monotonic() - started:.1f}s: organization of {len(stack.org.accounts)} accounts, "
            f"{len(stack.org.keys)} keys; web on {stack.web_url}\n"
        )
        for title, text in demo_requests(stack):
            _say("=" * 100)
            _say(f"{title}\n/whose-key {text}")
            sent_at = time.time()
            reply, response_url = stack.slash_command(text)
            if reply.status != 200:
                _say(f"  the web app answered HTTP {reply.status}: {reply.body}")
                continue
            _say(f"\n[ack in {reply.elapsed * 1000:.0f} ms]")
            _say(message_to_text(reply.body) if reply.body else "(empty ack)")
            if "Looking up" not in reply.body:
                continue  # answered at once: nothing was enqueued
            try:
                post = stack.slack.wait_for_hook(response_url, timeout=30)[0]
            except TimeoutError:
                _say("  no answer arrived within 30 s; worker log:\n" + stack.logs()[-2000:])
                return 1
            _say(f"\n[answer at the response_url after {post.at - sent_at:.2f} s]")
            _say(message_to_text(post.body))
        _say("=" * 100)
        _say("Done. Everything ran locally; nothing left the machine.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
