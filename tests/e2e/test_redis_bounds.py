"""Nothing whose-key keeps in Redis lives forever: after the bot's main paths (lookups, buttons,
the Home tab, a sweep, the report, a key event), every key it wrote has a time to live, and an
answer's stored reports hold only what "Notify owner" needs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from redis import Redis

from core.blockkit import NOTIFY_ACTION, SHARE_ACTION
from core.redis_keys import ANSWER_REPORTS, PREFIX, SWEEP_LAST, redis_key
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.cli import run_cli
from tests.support.waiting import wait_for_audit, wait_until

ADMINS = "S0ADMINS1"
ASKER = "U0ASKER01"


@pytest.fixture(scope="module")
def bounded() -> Iterator[Stack]:
    """A bot of its own whose default asker is an admin."""
    with Stack(extra_env={**TEST_ENV, "WHOSE_KEY_ADMIN_USERGROUPS": ADMINS}) as running:
        running.slack.set_usergroup(ADMINS, [ASKER])
        yield running


def buttons_of(answer: dict) -> dict[str, str]:
    blocks = answer["blocks"] if isinstance(answer["blocks"], list) else json.loads(answer["blocks"])
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return {e["action_id"].split("-")[0]: e["value"] for e in elements}


def exercise(stack: Stack) -> str:
    """Run the bot's main paths once, each to its end; the request ID of the lookup answered."""
    assert stack.org is not None
    redis = Redis.from_url(stack.redis.url)
    _, url = stack.slash_command(f"{stack.org.key('acme-prod', 'deploy-bot')} AKIAZZZZZZZZZZZZZZZZ")
    answer = stack.slack.wait_for_hook(url, timeout=30)[0].body
    buttons = buttons_of(answer)
    for action in (SHARE_ACTION, NOTIFY_ACTION):
        stack.slack.wait_for_hook(stack.block_action(action, buttons[action])[1], timeout=30)
    stack.event({"type": "app_home_opened", "user": ASKER, "channel": "D0HOME", "tab": "home"})
    stack.slack.wait_for(lambda _: bool(stack.slack.views(ASKER)), timeout=30)
    swept = run_cli("sweep", env=stack.env())
    assert swept.returncode == 0, swept.stdout + swept.stderr
    sweep_id = json.loads(redis.get(redis_key(SWEEP_LAST)))["sweep_id"]
    wait_for_audit(redis, "sweep_finished", sweep_id=sweep_id)
    _, report_url = stack.slash_command("report")
    stack.slack.wait_for_hook(report_url, timeout=30)
    mention = {"type": "app_mention", "user": ASKER, "text": "<@UWHOSEKEY> AKIAZZZZZZZZZZZZZZZY",
               "ts": "1700008000.000100", "event_ts": "1700008000.000100", "channel": "C0BOUNDS1"}  # fmt: skip
    stack.event(mention)
    stack.slack.wait_for(lambda cs: any(c.body.get("channel") == "C0BOUNDS1" for c in cs), timeout=30)
    return buttons[SHARE_ACTION]


def test_every_key_whose_key_writes_expires(bounded: Stack) -> None:
    """After lookups, buttons, the Home tab, a sweep, the report and a mention, no whose-key key lacks a TTL."""
    exercise(bounded)
    redis = Redis.from_url(bounded.redis.url)
    names = wait_until(lambda: list(redis.scan_iter(PREFIX + "*")), what="keys written", timeout=5)
    forever = sorted(name.decode() for name in names if redis.ttl(name) == -1)
    families = {name.decode().split(":")[1] for name in names}
    assert not forever, f"keys without a time to live: {forever}"
    assert {"answer", "reports", "key-index", "snapshot", "sweep-last", "audit", "owner-notified"} <= families
    print(f"\nredis bounds: {len(names)} keys in {len(families)} families, all with a TTL")


def test_stored_reports_hold_only_keys_with_an_owner(bounded: Stack) -> None:
    """An answer's reports, kept for Notify owner, list only keys with a Slack owner and no search detail."""
    request_id = exercise(bounded)
    stored = json.loads(Redis.from_url(bounded.redis.url).get(redis_key(ANSWER_REPORTS, request_id)))
    assert [r["owner"]["slack_user_id"] for r in stored] == ["U0PLATFRM"]  # the unknown key is not kept
    assert stored[0]["unsearched"] == [] and stored[0]["similar"] == []
