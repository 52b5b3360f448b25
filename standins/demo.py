"""`whose-key demo`: the real web and worker processes, offline, on embedded defaults.

Starts a Redis server, a moto server seeded with a small organization, and a loopback Slack,
then sends signed `/whose-key` commands through the web app and prints what Slack would show.
"""

from __future__ import annotations

import json
import sys
import time

from standins.keys import synthesize_key_id
from standins.moto_org import iam_in_account
from standins.show import message_to_text
from standins.stack import Stack, http_post


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


DEMO_EVENTS_TOKEN = "demo-events-token"  # noqa: S105 - offline only
DEMO_ENV = {"WHOSE_KEY_EVENTS_TOKEN": DEMO_EVENTS_TOKEN, "WHOSE_KEY_SWEEP_INTERVAL": "0"}


def show_mention(stack: Stack) -> bool:
    """A mention in a thread, answered in the thread."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    text = f"<@UWHOSEKEY> deploys fail with InvalidAccessKeyId, who owns {key_id}?"
    _say("=" * 100)
    _say(f"A mention in a thread of #incident\n@whose-key {text.split('> ', 1)[1]}")
    event = {"type": "app_mention", "user": "U0ASKER01", "text": text, "ts": "1700000001.000200",
             "thread_ts": "1700000000.000100", "channel": "C0INCIDENT", "event_ts": "1700000001.000200"}  # fmt: skip
    stack.event(event)
    try:
        calls = stack.slack.wait_for(
            lambda cs: any(c.name == "chat.postMessage" and c.body.get("channel") == "C0INCIDENT" for c in cs), 30
        )
    except TimeoutError:
        _say("  no answer arrived within 30 s")
        return False
    post = next(c for c in calls if c.name == "chat.postMessage" and c.body.get("channel") == "C0INCIDENT")
    _say(f"\n[answer in the thread {post.body.get('thread_ts')}]")
    _say(message_to_text(post.body))
    return True


def show_deactivation_notice(stack: Stack) -> bool:
    """A key deactivated in AWS: the EventBridge event arrives and the owner gets a DM."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    account = stack.org.accounts["acme-prod"]
    _say("=" * 100)
    _say(f"An admin deactivates {key_id} in IAM, and EventBridge forwards the CloudTrail event to /aws/events")
    # The bot believes IAM, not the event: the key really is deactivated first.
    iam = iam_in_account(
        stack.moto, account, stack.org.management_account_id, endpoint_url=stack.env()["AWS_ENDPOINT_URL"]
    )
    iam.update_access_key(UserName="deploy-bot", AccessKeyId=key_id, Status="Inactive")
    event = {
        "version": "0",
        "id": "demo-deactivation-1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "us-east-1",
        "detail": {
            "eventName": "UpdateAccessKey",
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sourceIPAddress": "203.0.113.7",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": f"arn:aws:sts::{account}:assumed-role/SecurityAdmin/carol",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "SecurityAdmin"}},
            },
            "requestParameters": {"userName": "deploy-bot", "accessKeyId": key_id, "status": "Inactive"},
        },
    }
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {DEMO_EVENTS_TOKEN}"}
    reply = http_post(stack.web_url + "/aws/events", json.dumps(event).encode(), headers)
    _say(f"\n[/aws/events answered {reply.status} in {reply.elapsed * 1000:.0f} ms]")
    try:
        calls = stack.slack.wait_for(
            lambda cs: any(c.name == "chat.postMessage" and c.body.get("channel") == "U0PLATFRM" for c in cs), 30
        )
    except TimeoutError:
        _say("  no notice arrived within 30 s")
        return False
    post = next(c for c in calls if c.name == "chat.postMessage" and c.body.get("channel") == "U0PLATFRM")
    _say("\n[DM to the owner, @U0PLATFRM]")
    _say(message_to_text(post.body))
    return True


def run_demo() -> int:
    _say("whose-key demo: starting Redis, a moto AWS organization, a local Slack, and the web + worker processes…")
    started = time.monotonic()
    with Stack(extra_env=dict(DEMO_ENV)) as stack:
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
        if not (show_mention(stack) and show_deactivation_notice(stack)):
            return 1
        _say("=" * 100)
        _say("Done. Everything ran locally; nothing left the machine.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
