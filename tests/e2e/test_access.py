"""Who may ask, on every surface, and the audit trail of who asked what: end to end on a bot
restricted to one channel and one user group."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from redis import Redis

from core.audit import recent
from core.blockkit import SHARE_ACTION
from core.redis_keys import RATE_COUNTER
from standins.slack_double import Reply
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV
from tests.support.budget_windows import Burst, in_one_window
from tests.support.waiting import jobs_mentioning, sentinel_lookup, wait_for_audit

ALLOWED_CHANNEL = "C0ALLOWED"
GROUP = "S0KEYUSERS"
MEMBER = "U0MEMBER1"
OUTSIDER = "U0OUTSIDE"
RATE_LIMIT = 4


@pytest.fixture(scope="module")
def locked() -> Iterator[Stack]:
    """A bot that answers only members of one user group, in one channel, a few keys a minute."""
    env = {
        **TEST_ENV,
        "WHOSE_KEY_ALLOWED_CHANNELS": ALLOWED_CHANNEL,
        "WHOSE_KEY_ALLOWED_USERGROUPS": GROUP,
        "WHOSE_KEY_RATE_LIMIT": str(RATE_LIMIT),
    }
    with Stack(extra_env=env) as running:
        running.slack.set_usergroup(GROUP, [MEMBER])
        yield running


def key_of(stack: Stack) -> str:
    assert stack.org is not None
    return stack.org.key("acme-prod", "deploy-bot")


def test_member_in_the_allowed_channel_gets_the_answer(locked: Stack) -> None:
    """A group member asking in the allowed channel is answered as usual."""
    reply, url = locked.slash_command(key_of(locked), user_id=MEMBER, channel_id=ALLOWED_CHANNEL)
    assert "Looking up" in reply.body
    assert "deploy-bot" in json.dumps(locked.slack.wait_for_hook(url, timeout=30)[0].body)


def test_command_in_another_channel_is_refused_politely(locked: Stack) -> None:
    """The command elsewhere is refused at once, naming where to ask, and nothing is looked up."""
    redis = Redis.from_url(locked.redis.url)
    reply, url = locked.slash_command(key_of(locked), user_id=MEMBER, channel_id="C0ELSEWHERE")
    text = reply.json()["text"]
    assert f"<#{ALLOWED_CHANNEL}>" in text and f"<#{AUDIT_CHANNEL}>" in text
    refusal = wait_for_audit(redis, "refused", channel="C0ELSEWHERE", user=MEMBER)
    assert refusal["reason"] == "channel"
    assert jobs_mentioning(redis, url) == [], "the refusal enqueued nothing"
    # A later request from the same member, answered, shows the worker has nothing older left to post.
    sentinel_lookup(locked, key_of(locked), user_id=MEMBER, channel_id=ALLOWED_CHANNEL)
    assert locked.slack.hook_posts(url) == []


def test_non_member_is_refused_naming_the_group(locked: Stack) -> None:
    """Someone outside the allowed user groups is told which group grants access."""
    reply, _ = locked.slash_command(key_of(locked), user_id=OUTSIDER, channel_id=ALLOWED_CHANNEL)
    assert f"<!subteam^{GROUP}>" in reply.json()["text"]


def test_mention_and_dm_are_held_to_the_same_rules(locked: Stack) -> None:
    """A mention in another channel and a DM get the refusal in place, not an answer."""
    key_id = key_of(locked)
    event = {"type": "app_mention", "user": MEMBER, "text": f"<@UWHOSEKEY> {key_id}", "ts": "1700001000.000100",
             "channel": "C0ELSEWHERE", "event_ts": "1700001000.000100"}  # fmt: skip
    locked.event(event)
    dm = {"type": "message", "channel_type": "im", "user": MEMBER, "text": key_id, "ts": "1700001001.000100",
          "channel": "D0MEMBER1", "event_ts": "1700001001.000100"}  # fmt: skip
    locked.event(dm)
    for channel in ("C0ELSEWHERE", "D0MEMBER1"):
        locked.slack.wait_for(
            lambda calls, ch=channel: any(c.body.get("channel") == ch for c in calls if c.name == "chat.postMessage"),
            timeout=30,
        )
        posts = [c for c in locked.slack.api_calls("chat.postMessage") if c.body.get("channel") == channel]
        assert len(posts) == 1
        assert "answers only in" in posts[0].body["text"]
        assert "deploy-bot" not in json.dumps(posts[0].body)


def test_share_button_pressed_by_an_outsider_is_refused(locked: Stack) -> None:
    """A button press is checked too: an outsider cannot share an answer in the channel."""
    reply, url = locked.block_action(SHARE_ACTION, "0" * 32, user_id=OUTSIDER, channel_id=ALLOWED_CHANNEL)
    assert reply.status == 200
    post = locked.slack.wait_for_hook(url, timeout=30)[0].body
    assert post["response_type"] == "ephemeral"
    assert f"<!subteam^{GROUP}>" in post["text"]


def test_rate_limit_refuses_with_a_clear_message(locked: Stack) -> None:
    """Past the per-user limit of keys a minute, the request is refused, saying when to retry."""
    key_id = key_of(locked)
    redis = Redis.from_url(locked.redis.url)

    def burst(attempt: Burst) -> list[str]:
        person = attempt.person("U0RATE")
        locked.slack.set_usergroup(GROUP, [MEMBER, person])
        redis.delete(f"whose-key:usergroup:{GROUP}")  # the group's cached members predate this person
        replies = [locked.slash_command(key_id, user_id=person, channel_id=ALLOWED_CHANNEL)[0] for _ in range(6)]
        return [r.json()["text"] for r in replies]

    # The six requests must be counted in one minute window, or no limit is reached.
    texts = in_one_window(redis, RATE_COUNTER, burst)
    assert sum("Looking up" in t for t in texts) == RATE_LIMIT
    assert f"the limit is {RATE_LIMIT} per minute" in texts[-1]


def test_unknown_membership_fails_closed(locked: Stack) -> None:
    """When Slack cannot say who is in the group, the request is refused with that reason."""
    locked.slack.script("usergroups.users.list", Reply(200, {"ok": False, "error": "ratelimited"}))
    Redis.from_url(locked.redis.url).delete(f"whose-key:usergroup:{GROUP}")
    reply, _ = locked.slash_command(key_of(locked), user_id=MEMBER, channel_id=ALLOWED_CHANNEL)
    assert "could not check your group membership" in reply.json()["text"]


def test_every_request_refusal_and_answer_is_audited(locked: Stack) -> None:
    """The audit stream records who asked what and where, refusals with their reason, and outcomes."""
    redis = Redis.from_url(locked.redis.url)
    records = recent(redis, 500)
    actions = {r["action"] for r in records}
    assert {"lookup_requested", "lookup_answered", "refused"} <= actions
    refused = [r for r in records if r["action"] == "refused"]
    assert {json.loads(r["reason"]) if r["reason"].startswith('"') else r["reason"] for r in refused} >= {
        "channel",
        "usergroup",
        "rate_limit",
    }
    answered = next(r for r in records if r["action"] == "lookup_answered" and r.get("user") == MEMBER)
    assert key_of(locked) in answered["keys"] and "found" in answered["outcome"]
    assert answered["channel"] == ALLOWED_CHANNEL
    # The audit channel gets one compact line per answered lookup.
    audit_posts = [c for c in locked.slack.api_calls("chat.postMessage") if c.body.get("channel") == AUDIT_CHANNEL]
    assert any(f"<@{MEMBER}> looked up `{key_of(locked)}` found" in json.dumps(c.body) for c in audit_posts)
