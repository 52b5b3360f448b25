"""Mentions, DMs and Slack's delivery rules, end to end on the real web and worker processes."""

from __future__ import annotations

import itertools
import json
from typing import Any

from redis import Redis

from core.blockkit import NOTIFY_ACTION
from core.contract import Destination
from core.redis_keys import connect
from core.settings import Settings
from core.slack_client import make_web_client
from standins.slack_double import RecordedCall, Reply
from standins.stack import BOT_TOKEN, Stack
from tests.support.waiting import wait_for_jobs_finished
from workers.slack.poster import Poster

_channels = itertools.count(1)


def new_channel(prefix: str = "C") -> str:
    """A channel ID of its own per test, so recorded calls do not mix."""
    return f"{prefix}0TEST{next(_channels):04d}"


def posts_to(stack: Stack, channel: str) -> list[RecordedCall]:
    return [c for c in stack.slack.api_calls("chat.postMessage") if c.body.get("channel") == channel]


def wait_for_post(stack: Stack, channel: str, count: int = 1) -> list[RecordedCall]:
    stack.slack.wait_for(lambda calls: len(posts_to(stack, channel)) >= count, timeout=30)
    return posts_to(stack, channel)


def mention(channel: str, text: str, ts: str, thread_ts: str | None = None, user: str = "U0ASKER01") -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def dm(channel: str, text: str, ts: str, **extra: object) -> dict[str, Any]:
    return {"type": "message", "channel_type": "im", "user": "U0ASKER01", "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, **extra}  # fmt: skip


def test_mention_in_a_thread_gets_a_threaded_answer_naming_the_owner(stack: Stack) -> None:
    """@whose-key in a thread answers in that thread with the owner, showing a reaction meanwhile."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    channel = new_channel()
    reply = stack.event(mention(channel, f"<@UWHOSEKEY> who owns {key_id}? deploys fail", "1700000001.000200",
                                thread_ts="1700000000.000100"))  # fmt: skip
    assert reply.status == 200
    post = wait_for_post(stack, channel)[0]
    assert post.body["thread_ts"] == "1700000000.000100"
    assert "deploy-bot" in json.dumps(post.body) and "<@U0PLATFRM>" in json.dumps(post.body)
    stack.slack.wait_for_api("reactions.remove", timeout=10)
    added = [c for c in stack.slack.api_calls("reactions.add") if c.body.get("channel") == channel]
    assert added and added[0].body["timestamp"] == "1700000001.000200"


def test_mention_outside_a_thread_starts_one(stack: Stack) -> None:
    """A mention in a channel is answered in a thread on that message."""
    assert stack.org is not None
    channel = new_channel()
    stack.event(mention(channel, f"<@UWHOSEKEY> {stack.org.key('acme-data', 'etl')}", "1700000100.000100"))
    assert wait_for_post(stack, channel)[0].body["thread_ts"] == "1700000100.000100"


def test_mention_without_a_key_gets_the_short_help(stack: Stack) -> None:
    """A mention with no key ID says so and shows how to ask."""
    channel = new_channel()
    stack.event(mention(channel, "<@UWHOSEKEY> hello there", "1700000200.000100"))
    post = wait_for_post(stack, channel)[0]
    assert "did not find an access key ID" in post.body["text"]
    assert post.body["thread_ts"] == "1700000200.000100"


def test_dm_with_a_key_gets_the_answer(stack: Stack) -> None:
    """A DM carrying a key gets the answer in the DM."""
    assert stack.org is not None
    channel = new_channel("D")
    stack.event(dm(channel, f"whose is `{stack.org.key('acme-prod', 'alice', 'Inactive')}`", "1700000300.000100"))
    text = json.dumps(wait_for_post(stack, channel)[0].body)
    assert "alice" in text and "Inactive" in text


def test_dm_without_a_key_gets_help(stack: Stack) -> None:
    """A DM with other text gets a short help."""
    channel = new_channel("D")
    stack.event(dm(channel, "what can you do?", "1700000400.000100"))
    assert "/whose-key AKIA" in wait_for_post(stack, channel)[0].body["text"]


def test_redelivered_event_is_answered_once(stack: Stack, redis: Redis) -> None:
    """The same event delivered twice (the second with X-Slack-Retry-Num: 1) is answered once."""
    assert stack.org is not None
    channel = new_channel()
    event = mention(channel, f"<@UWHOSEKEY> {stack.org.key('acme-data', 'etl')}", "1700000500.000100")
    assert stack.event(event, event_id="Ev0DUPLICATE1").status == 200
    assert stack.event(event, event_id="Ev0DUPLICATE1", retry_num=1).status == 200
    wait_for_post(stack, channel)
    # The retry was answered without a job (the web acks after enqueueing); the one lookup,
    # whose request ID is the event ID, has done all it will do.
    wait_for_jobs_finished(redis, ["lookup-Ev0DUPLICATE1"])
    assert len(posts_to(stack, channel)) == 1


def test_bot_messages_edits_and_own_messages_trigger_nothing(stack: Stack, redis: Redis) -> None:
    """The bot's own messages, other bots' messages and edits are ignored: no loops, no noise."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    channel = new_channel("D")
    stack.event({**dm(channel, key_id, "1700000600.000100"), "user": "UWHOSEKEY"})
    stack.event({**dm(channel, key_id, "1700000601.000100"), "bot_id": "B0OTHER"})
    stack.event(dm(channel, key_id, "1700000602.000100", subtype="message_changed"))
    # A person's DM after them, answered, shows the worker has handled everything enqueued before
    # it (one worker serves the queue in order): the help is the only post in the channel.
    stack.event(dm(channel, "hello?", "1700000603.000100"), event_id="Ev0SENTINEL1")
    wait_for_jobs_finished(redis, ["reply-Ev0SENTINEL1"])
    [post] = posts_to(stack, channel)
    assert "/whose-key AKIA" in post.body["text"]


def test_rate_limited_post_is_retried_after_retry_after_and_delivered(stack: Stack) -> None:
    """A 429 with Retry-After: 1 on chat.postMessage is waited out and the answer still arrives."""
    assert stack.org is not None
    channel = new_channel()
    stack.slack.script("chat.postMessage", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    stack.event(mention(channel, f"<@UWHOSEKEY> {stack.org.key('acme-data', 'etl')}", "1700000700.000100"))
    stack.slack.wait_for(lambda calls: any(c.status == 200 for c in posts_to(stack, channel)), timeout=30)
    calls = posts_to(stack, channel)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 0.9, "waited for Retry-After"


def test_notify_owner_button_dms_the_owner(stack: Stack) -> None:
    """ "Notify owner" DMs the key's owner who is hitting errors and where, and confirms to the presser."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    _, response_url = stack.slash_command(key_id, channel_id="C0DEPLOYS")
    answer = stack.slack.wait_for_hook(response_url, timeout=30)[0].body
    buttons = next(b for b in answer["blocks"] if b["type"] == "actions")["elements"]
    notify = next(b for b in buttons if b["action_id"].startswith(NOTIFY_ACTION))
    _, press_url = stack.block_action(notify["action_id"], notify["value"], user_id="U0ASKER01",
                                      channel_id="C0DEPLOYS")  # fmt: skip

    def notices() -> list[RecordedCall]:
        return [c for c in posts_to(stack, "U0PLATFRM") if "is hitting errors" in json.dumps(c.body)]

    stack.slack.wait_for(lambda _: bool(notices()), timeout=30)
    text = json.dumps(notices()[0].body)
    assert "<@U0ASKER01>" in text and key_id in text and "<#C0DEPLOYS>" in text
    confirmation = stack.slack.wait_for_hook(press_url, timeout=30)[0].body
    assert "I told <@U0PLATFRM>" in confirmation["text"]


def test_response_url_used_five_times_falls_back_to_the_web_api(stack: Stack) -> None:
    """After 5 posts to one response_url the 6th goes through chat.postEphemeral and still arrives."""
    settings = Settings.from_env({**stack.env(), "SLACK_BOT_TOKEN": BOT_TOKEN})
    poster = Poster(make_web_client(settings), settings, connect(stack.redis.url))
    url = stack.slack.new_response_url()
    channel = new_channel()
    destination = Destination(channel=channel, user="U0ASKER01", response_url=url, ephemeral=True)
    for index in range(6):
        poster.post(destination, {"text": f"answer {index}", "blocks": []})
    assert len(stack.slack.hook_posts(url)) == 5
    ephemeral = [c for c in stack.slack.api_calls("chat.postEphemeral") if c.body.get("channel") == channel]
    assert [c.body["text"] for c in ephemeral] == ["answer 5"]
