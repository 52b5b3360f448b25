"""The deactivation sweep end to end: `whose-key sweep` against a moto organization, notices at
the loopback Slack, exactly once per change, together with the real-time events."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest
from redis import Redis

from standins.moto_org import AccountSpec, UserSpec
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, EVENTS_TOKEN, TEST_ENV, iam_in
from tests.support.aws_events import cloudtrail_event, post_event
from tests.support.cli import run_cli

ORGANIZATION = (
    AccountSpec("management", (UserSpec("admin", {"slack-user-id": "U0ADMIN01"}),)),
    AccountSpec("payments", (UserSpec("api", {"slack-user-id": "U0PAYMENT"}, keys=2),)),
    AccountSpec("search", (UserSpec("indexer", {"email": "alice@example.com"}),)),
    AccountSpec("sandbox", (UserSpec("tmp"),)),
)


@pytest.fixture(scope="module")
def org_stack() -> Iterator[Stack]:
    """A bot of its own: sweeps read every account, so they must not meet other tests' changes."""
    with Stack(accounts=ORGANIZATION, extra_env=dict(TEST_ENV)) as running:
        yield running


def sweep(stack: Stack, *options: str) -> subprocess.CompletedProcess[str]:
    """`whose-key sweep` as an operator runs it, with the bot's environment."""
    return run_cli("sweep", *options, env=stack.env(), timeout=120)


def notices_about(stack: Stack, key_id: str, word: str) -> list[dict]:
    """Notices about a key, not counting the audit channel's copies."""
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if key_id in json.dumps(c.body) and word in json.dumps(c.body) and c.body.get("channel") != AUDIT_CHANNEL
    ]


def set_status(stack: Stack, account: str, user: str, key_id: str, status: str) -> None:
    iam_in(stack, stack.org.accounts[account]).update_access_key(UserName=user, AccessKeyId=key_id, Status=status)


def test_first_sweep_is_a_baseline_and_notifies_nothing(org_stack: Stack) -> None:
    """The first sweep records every key's state and sends no notice."""
    result = sweep(org_stack)
    assert result.returncode == 0, result.stderr
    assert "swept 4 accounts, 5 keys" in result.stdout
    assert "0 notified" in result.stdout
    # Every account's reads are counted: ListUsers per account, ListAccessKeys per user, and more.
    calls = int(re.search(r"\((\d+) AWS calls\)", result.stdout).group(1))
    assert calls >= 4 + 4
    assert org_stack.slack.api_calls("chat.postMessage") == []


def test_deactivated_key_is_notified_once(org_stack: Stack) -> None:
    """A key deactivated in AWS is found by the next sweep and its owner is told once; a second sweep says nothing."""
    assert org_stack.org is not None
    key_id = org_stack.org.key("payments", "api")
    set_status(org_stack, "payments", "api", key_id, "Inactive")
    first = sweep(org_stack)
    assert "1 deactivated" in first.stdout, first.stdout + first.stderr
    notices = notices_about(org_stack, key_id, "deactivated")
    assert len(notices) == 1 and notices[0]["channel"] == "U0PAYMENT"
    audit_copies = [c for c in org_stack.slack.api_calls("chat.postMessage") if c.body.get("channel") == AUDIT_CHANNEL]
    assert any(key_id in json.dumps(c.body) and "Told <@U0PAYMENT>" in json.dumps(c.body) for c in audit_copies)
    second = sweep(org_stack)
    assert "0 notified" in second.stdout
    assert len(notices_about(org_stack, key_id, "deactivated")) == 1


def test_deleted_key_is_notified(org_stack: Stack) -> None:
    """A key deleted in AWS is reported deleted by the next sweep, to the owner found by email."""
    assert org_stack.org is not None
    key_id = org_stack.org.key("search", "indexer")
    iam_in(org_stack, org_stack.org.accounts["search"]).delete_access_key(UserName="indexer", AccessKeyId=key_id)
    result = sweep(org_stack)
    assert "1 deleted" in result.stdout, result.stdout + result.stderr
    notices = notices_about(org_stack, key_id, "deleted")
    assert len(notices) == 1 and notices[0]["channel"] == "U0ALICE01"


def test_event_then_sweep_notifies_the_deactivation_once(org_stack: Stack) -> None:
    """A deactivation seen first by the real-time event and then by the sweep is notified once."""
    assert org_stack.org is not None
    account = org_stack.org.accounts["payments"]
    api_keys = [k.key_id for k in org_stack.org.keys if k.user_name == "api"]
    key_id = api_keys[1]
    set_status(org_stack, "payments", "api", key_id, "Inactive")
    params = {"userName": "api", "accessKeyId": key_id, "status": "Inactive"}
    assert post_event(org_stack, cloudtrail_event(account, "UpdateAccessKey", params), EVENTS_TOKEN).status == 202
    org_stack.slack.wait_for(lambda _: bool(notices_about(org_stack, key_id, "deactivated")), timeout=30)
    result = sweep(org_stack)
    assert "0 notified" in result.stdout, result.stdout
    assert len(notices_about(org_stack, key_id, "deactivated")) == 1


def test_reactivated_then_deactivated_again_notifies_again(org_stack: Stack) -> None:
    """A key reactivated and then deactivated again is a new change, so it is notified again."""
    assert org_stack.org is not None
    key_id = org_stack.org.key("payments", "api")  # deactivated by an earlier test
    set_status(org_stack, "payments", "api", key_id, "Active")
    assert "0 notified" in sweep(org_stack).stdout
    set_status(org_stack, "payments", "api", key_id, "Inactive")
    assert "1 deactivated" in sweep(org_stack).stdout
    assert len(notices_about(org_stack, key_id, "deactivated")) == 2


def test_sweep_fills_the_did_you_mean_index(org_stack: Stack) -> None:
    """Keys seen by the sweep feed "did you mean" even if nobody looked them up."""
    assert org_stack.org is not None
    real = org_stack.org.key("sandbox", "tmp")
    near = real[:12] + ("B" if real[12] != "B" else "C") + real[13:]
    _, url = org_stack.slash_command(near)
    answer = json.dumps(org_stack.slack.wait_for_hook(url, timeout=30)[0].body)
    assert "Did you mean" in answer and real in answer


def test_unreadable_account_is_reported_and_its_keys_are_not_taken_for_deleted(org_stack: Stack) -> None:
    """An account whose role cannot be assumed is reported; the rest is swept; its keys are not "deleted".

    In-process (`--local`): a fresh process assumes every role, whereas the workers hold sessions
    from earlier sweeps (tests/e2e/test_sweep_scale.py covers an unreadable account through them)."""
    assert org_stack.org is not None
    sandbox = org_stack.org.accounts["sandbox"]
    key_id = org_stack.org.key("sandbox", "tmp")
    fault = org_stack.aws.fail(
        "AssumeRole", lambda p: f"::{sandbox}:" in p.get("RoleArn", ""), 403, "AccessDenied", "not authorized"
    )
    try:
        result = sweep(org_stack, "--local")
    finally:
        org_stack.aws.remove(fault)
    assert result.returncode == 1
    assert f"not read: sandbox ({sandbox}): could not assume the role" in result.stdout
    assert "swept 4 accounts" in result.stdout
    assert notices_about(org_stack, key_id, "deleted") == []
    # The audit channel hears about the blind spot.
    audit_posts = [c for c in org_stack.slack.api_calls("chat.postMessage") if c.body.get("channel") == AUDIT_CHANNEL]
    assert any("could not read 1 of 4 accounts" in json.dumps(c.body) for c in audit_posts)


def test_unchanged_keys_keep_last_use_and_tags_while_a_changed_one_is_read_again(org_stack: Stack) -> None:
    """Between two sweeps one key is deactivated: the second sweep tells it once, lists every user's
    keys, and reads last use and tags again only for that key and user (others are not due yet)."""
    assert org_stack.org is not None
    redis = Redis.from_url(org_stack.redis.url)
    assert sweep(org_stack).returncode == 0  # the state as earlier tests left it, read once
    before = snapshot_entries(redis, org_stack)
    key_id = org_stack.org.key("management", "admin")
    set_status(org_stack, "management", "admin", key_id, "Inactive")
    org_stack.aws.clear()
    result = sweep(org_stack)
    assert "1 deactivated" in result.stdout, result.stdout + result.stderr
    assert len(notices_about(org_stack, key_id, "deactivated")) == 1
    after = snapshot_entries(redis, org_stack)
    seen = org_stack.aws.seen
    listed = {r.params.get("UserName") for r in seen if r.action == "ListAccessKeys"}
    assert {"admin", "api", "indexer", "tmp"} <= listed  # every user's status, every sweep
    last_use_read = {r.params.get("AccessKeyId") for r in seen if r.action == "GetAccessKeyLastUsed"}
    reread = {k for k in after if after[k].get("details_read_at") != before.get(k, {}).get("details_read_at")}
    assert last_use_read == reread and key_id in reread
    assert len(reread) < len(after), "unchanged keys keep their last use until it is due"
    tags_read = {r.params.get("UserName") for r in seen if r.action == "ListUserTags"}
    assert "admin" in tags_read and tags_read < {"admin", "api", "indexer", "tmp"}
    for k, entry in after.items():  # what was kept is what was read before
        if k not in reread:
            assert (
                entry["last_used"] == before[k]["last_used"] and entry["owner_slack_id"] == before[k]["owner_slack_id"]
            )


def snapshot_entries(redis: Redis, stack: Stack) -> dict[str, dict]:
    """Every key's snapshot entry, across the organization's accounts."""
    assert stack.org is not None
    entries: dict[str, dict] = {}
    for account_id in stack.org.accounts.values():
        for key, value in redis.hgetall(f"whose-key:snapshot:{account_id}").items():
            entries[key.decode()] = json.loads(value)
    return entries
