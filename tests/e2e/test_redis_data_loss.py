"""Redis losing its data while the bot runs (FLUSHALL on the stack's own Redis, as a node replaced
without persistence comes back empty): noticed by every process, told once, and the next sweep
takes a fresh baseline that announces nothing and repeats no notice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from redis import Redis

from core.audit import recent
from core.data_loss import MARKER_KEY
from core.nudges import SNOOZE_ACTION
from core.redis_keys import DATA_LOSS_SEEN, SWEEP_LAST, redis_key
from standins import slack_payloads
from standins.moto_org import AccountSpec, UserSpec
from standins.socket_mode import SLASH_COMMANDS
from standins.stack import Stack, http_get
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV, iam_in
from tests.support.cli import run_cli
from tests.support.waiting import wait_for_audit, wait_for_queues_drained, wait_until

ORGANIZATION = (
    AccountSpec("management", (UserSpec("admin", {"slack-user-id": "U0ADMIN01"}),)),
    AccountSpec("payments", (UserSpec("api", {"slack-user-id": "U0PAYMENT"}, keys=2),)),
    AccountSpec("search", (UserSpec("indexer", {"slack-user-id": "U0SEARCH1"}),)),
)


@pytest.fixture(scope="module")
def forgetful() -> Iterator[Stack]:
    """A bot of its own: its Redis is flushed under it."""
    with Stack(accounts=ORGANIZATION, extra_env=dict(TEST_ENV)) as running:
        yield running


def sweep(stack: Stack, redis: Redis) -> dict[str, str]:
    """`whose-key sweep` as an operator runs it; the sweep's `sweep_finished` audit record."""
    result = run_cli("sweep", env=stack.env(), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    sweep_id = json.loads(redis.get(redis_key(SWEEP_LAST)))["sweep_id"]
    return wait_for_audit(redis, "sweep_finished", sweep_id=sweep_id)


def owner_notices(stack: Stack, key_id: str) -> list[dict]:
    """Deactivation notices about a key sent to its owner (not the audit channel's copies)."""
    calls = stack.slack.api_calls("chat.postMessage")
    bodies = [c.body for c in calls if c.body.get("channel") != AUDIT_CHANNEL]
    return [b for b in bodies if key_id in json.dumps(b) and "deactivated" in json.dumps(b)]


def nudges_to(stack: Stack, owner: str) -> list[dict]:
    """Rotation nudges DMed to `owner` (the messages with a nudge's buttons)."""
    calls = stack.slack.api_calls("chat.postMessage")
    return [
        c.body for c in calls if c.body.get("channel") == owner and SNOOZE_ACTION in json.dumps(c.body.get("blocks"))
    ]


def loss_messages(stack: Stack) -> list[dict]:
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == AUDIT_CHANNEL and "Redis lost" in json.dumps(c.body)
    ]


def test_data_loss_is_told_once_and_the_next_sweep_is_a_quiet_baseline(forgetful: Stack) -> None:
    """After FLUSHALL every process notices, one audit record and one audit-channel message say so,
    and the next sweep reports a fresh baseline: no key announced, a key notified before the loss
    is not notified again, an old key nudged before it is not nudged again."""
    assert forgetful.org is not None
    redis = Redis.from_url(forgetful.redis.url)
    key_id = forgetful.org.key("payments", "api")
    forgetful.aws.backdate_key(forgetful.org.key("search", "indexer"), 100)  # past the 90-day rotation age
    assert sweep(forgetful, redis)["baseline"] == "true"  # a first start: nothing known yet
    forgetful.slack.wait_for(lambda _: len(nudges_to(forgetful, "U0SEARCH1")) == 1, timeout=60)
    iam_in(forgetful, forgetful.org.accounts["payments"]).update_access_key(
        UserName="api", AccessKeyId=key_id, Status="Inactive"
    )
    before = sweep(forgetful, redis)
    assert before["baseline"] == "false" and before["deactivated"] == "1" and before["notified"] == "1"
    assert len(owner_notices(forgetful, key_id)) == 1
    lost_marker = redis.get(MARKER_KEY).decode()

    redis.flushall()
    assert http_get(forgetful.web_url + "/healthz").status == 200  # the web looks, and carries on

    record = wait_for_audit(redis, "redis_data_lost", timeout=30)
    assert record["lost_marker"] == lost_marker and record["marker"] != lost_marker
    forgetful.slack.wait_for(lambda _: bool(loss_messages(forgetful)), timeout=30)
    # Every worker process notices on its maintenance tick, the web on its requests: wait for all.
    seen = redis_key(DATA_LOSS_SEEN, lost_marker)

    def everyone_noticed() -> set[str] | None:
        members = {m.decode() for m in redis.smembers(seen)}
        workers = [m for m in members if m.startswith("worker:")]
        webs = [m for m in members if m.startswith("web:")]
        return members if len(workers) >= forgetful.pool_size and webs else None

    noticed = wait_until(everyone_noticed, what="every process noticing the loss", timeout=90)
    forgetful.wait_for_workers(forgetful.pool_size)
    wait_for_queues_drained(redis)
    assert [r for r in recent(redis) if r["action"] == "redis_data_lost"] == [record]
    assert len(loss_messages(forgetful)) == 1

    after = sweep(forgetful, redis)
    assert after["baseline"] == "true" and after["after_data_loss"] == "true"
    assert (after["keys"], after["deactivated"], after["deleted"], after["notified"]) == ("4", "0", "0", "0")
    assert len(owner_notices(forgetful, key_id)) == 1  # the notice delivered before the loss is not sent again
    nudges = wait_for_audit(redis, "rotation_nudges", sweep_id=after["sweep_id"], timeout=60)
    assert nudges["warn"] == "1" and nudges["not_sent"] == "told before the data loss"
    wait_for_queues_drained(redis)
    assert len(nudges_to(forgetful, "U0SEARCH1")) == 1  # nudged before the loss, not again
    print(
        f"\nredis data loss: noticed by {len(noticed)} processes, told once; "
        f"sweep after the loss: keys={after['keys']} deactivated={after['deactivated']} "
        f"deleted={after['deleted']} notified={after['notified']} baseline={after['baseline']}"
    )


def test_the_socket_process_notices_a_loss_on_its_own_and_answers_after_it() -> None:
    """Socket Mode has no /healthz and may get no envelope for hours: it looks at the marker on a
    timer, so it is among the processes that noticed, and it still answers after the loss."""
    with Stack(accounts=ORGANIZATION, extra_env=dict(TEST_ENV), socket=True) as stack:
        assert stack.socket_mode is not None and stack.org is not None
        redis = Redis.from_url(stack.redis.url)
        # The socket process reads the marker before it connects: connected means remembered.
        wait_until(lambda: stack.socket_mode.connected, what="the socket process to connect")
        lost_marker = redis.get(MARKER_KEY).decode()
        redis.flushall()
        seen = redis_key(DATA_LOSS_SEEN, lost_marker)
        wait_until(
            lambda: any(m.startswith(b"socket:") for m in redis.smembers(seen)),
            what="the socket process to notice the loss",
            timeout=60,
        )
        url = stack.slack.new_response_url()
        form = slack_payloads.slash_command(stack.org.key("payments", "api"), user_id="U0SOCKET1",
                                            channel_id="C0SOCKET1", response_url=url)  # fmt: skip
        stack.socket_mode.send(SLASH_COMMANDS, form)
        assert "api" in json.dumps(stack.slack.wait_for_hook(url, timeout=60)[0].body)
