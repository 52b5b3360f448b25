"""Delivering to Slack (workers/slack/poster.py) against the loopback Slack double, in-process:
response_url first, the Web API when Slack refuses it or its five posts are used, a DM when the
bot is not in the channel, and never a post to a response_url outside Slack."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from redis import Redis

from core.contract import Destination
from core.settings import Settings
from core.slack_client import make_web_client
from standins.slack_double import Reply, SlackDouble
from workers.slack.poster import RESPONSE_URL_MAX_POSTS, RESPONSE_URL_WINDOW, DeliveryError, Poster

CHANNEL = "C0INCIDENT"
USER = "U0ASKER01"
THREAD = "1700000000.000100"
MESSAGE = {
    "text": "AKIA… belongs to deploy-bot",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}


@pytest.fixture
def poster(slack_settings: Settings, redis: Redis) -> Poster:
    """The worker's poster: the real Slack client (retries included) and the unit Redis."""
    return Poster(make_web_client(slack_settings), slack_settings, redis)


@pytest.fixture
def elsewhere() -> Iterator[SlackDouble]:
    """A second loopback server standing for a host that is not Slack."""
    with SlackDouble() as other:
        yield other


def ephemeral_to(slack: SlackDouble, channel: str = CHANNEL) -> list[dict[str, object]]:
    return [c.body for c in slack.api_calls("chat.postEphemeral") if c.body.get("channel") == channel and c.ok]


def test_answer_goes_to_the_response_url(poster: Poster, slack: SlackDouble) -> None:
    """With a working response_url the message goes there, privately, adding to (not replacing) the thread."""
    url = slack.new_response_url()
    poster.post(Destination(channel=CHANNEL, user=USER, response_url=url), MESSAGE)
    [post] = slack.hook_posts(url)
    assert post.body["response_type"] == "ephemeral" and post.body["replace_original"] is False
    assert post.body["text"] == MESSAGE["text"] and post.body["blocks"] == MESSAGE["blocks"]
    assert slack.api_calls() == []


def test_public_answer_goes_in_channel(poster: Poster, slack: SlackDouble) -> None:
    """A destination that is not private posts with response_type in_channel."""
    url = slack.new_response_url()
    poster.post(Destination(channel=CHANNEL, response_url=url, ephemeral=False), MESSAGE)
    assert slack.hook_posts(url)[0].body["response_type"] == "in_channel"


@pytest.mark.parametrize(
    "refusal",
    [
        Reply(404, "used_url"),  # Slack's answer once the five posts are spent
        Reply(404, "expired_url"),  # after 30 minutes
        Reply(400, "invalid_token"),  # any other refusal
    ],
    ids=lambda r: str(r.body),
)
def test_refused_response_url_falls_back_to_the_web_api(poster: Poster, slack: SlackDouble, refusal: Reply) -> None:
    """When Slack refuses the response_url, the message still arrives as an ephemeral in the channel and thread."""
    url = slack.new_response_url()
    slack.script(url, refusal)
    poster.post(Destination(channel=CHANNEL, user=USER, response_url=url, thread_ts=THREAD), MESSAGE)
    [call] = [c for c in slack.api_calls("chat.postEphemeral")]
    assert call.body["channel"] == CHANNEL and call.body["user"] == USER and call.body["thread_ts"] == THREAD
    assert call.body["text"] == MESSAGE["text"]


def test_sixth_post_goes_through_the_web_api_without_trying_the_url(
    poster: Poster, slack: SlackDouble, redis: Redis
) -> None:
    """The poster counts posts per response_url: the sixth goes by the Web API without a sixth attempt at the URL."""
    url = slack.new_response_url()
    for n in range(RESPONSE_URL_MAX_POSTS + 1):
        poster.post(Destination(channel=CHANNEL, user=USER, response_url=url), {"text": f"update {n}", "blocks": []})
    assert [p.status for p in slack.hook_posts(url)] == [200] * RESPONSE_URL_MAX_POSTS
    assert [body["text"] for body in ephemeral_to(slack)] == [f"update {RESPONSE_URL_MAX_POSTS}"]
    # The count lives for Slack's window, under a hash: the URL (a capability) is not stored.
    [name] = [k.decode() for k in redis.scan_iter("whose-key:response-url-uses:*")]
    assert url not in name and url.rsplit("/", 1)[-1] not in name
    assert 0 < redis.ttl(name) <= RESPONSE_URL_WINDOW


def test_without_redis_slacks_used_url_answer_still_falls_back(slack_settings: Settings, slack: SlackDouble) -> None:
    """With no counter (the CLI), Slack's used_url on the sixth post still sends it through the Web API."""
    poster = Poster(make_web_client(slack_settings), slack_settings, redis=None)
    url = slack.new_response_url()
    for n in range(RESPONSE_URL_MAX_POSTS + 1):
        poster.post(Destination(channel=CHANNEL, user=USER, response_url=url), {"text": f"update {n}", "blocks": []})
    assert [p.status for p in slack.hook_posts(url)] == [200] * RESPONSE_URL_MAX_POSTS + [404]
    assert [body["text"] for body in ephemeral_to(slack)] == [f"update {RESPONSE_URL_MAX_POSTS}"]


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "user_not_in_channel"])
def test_ephemeral_where_the_bot_cannot_post_becomes_a_dm(poster: Poster, slack: SlackDouble, error: str) -> None:
    """An ephemeral to a channel the bot is not in is delivered as a DM to the asker instead."""
    slack.script("chat.postEphemeral", Reply(200, {"ok": False, "error": error}))
    poster.post(Destination(channel="C0PRIVATE", user=USER), MESSAGE)
    [opened] = slack.api_calls("conversations.open")
    assert opened.args["users"] == USER
    [dm] = slack.api_calls("chat.postMessage")
    assert dm.ok and dm.body["channel"] == "D0ASKER01" and dm.body["text"] == MESSAGE["text"]


def test_other_web_api_refusals_raise_delivery_error(poster: Poster, slack: SlackDouble) -> None:
    """A refusal that a DM would not fix is a DeliveryError naming Slack's error, not a silent drop."""
    slack.script("chat.postEphemeral", Reply(200, {"ok": False, "error": "invalid_blocks"}))
    with pytest.raises(DeliveryError, match="invalid_blocks"):
        poster.post(Destination(channel=CHANNEL, user=USER), MESSAGE)
    assert slack.api_calls("conversations.open") == []


def test_response_url_on_another_host_is_never_called(
    poster: Poster, slack: SlackDouble, elsewhere: SlackDouble
) -> None:
    """A response_url outside Slack (a forged job) gets no request; the message goes by the Web API."""
    poster.post(Destination(channel=CHANNEL, user=USER, response_url=elsewhere.new_response_url()), MESSAGE)
    assert elsewhere.calls == []
    assert len(ephemeral_to(slack)) == 1


def test_origin_must_match_exactly(poster: Poster, slack: SlackDouble) -> None:
    """The same server under another host name is not Slack's origin: refused without a request."""
    url = slack.new_response_url().replace("127.0.0.1", "localhost")
    poster.post(Destination(channel=CHANNEL, user=USER, response_url=url), MESSAGE)
    assert [c for c in slack.calls if c.kind == "hook"] == []
    assert len(ephemeral_to(slack)) == 1


def test_refused_url_and_no_channel_is_a_delivery_error(poster: Poster, slack: SlackDouble) -> None:
    """With the response_url refused and no channel to fall back to, the poster raises instead of dropping it."""
    url = slack.new_response_url()
    slack.script(url, Reply(404, "expired_url"))
    with pytest.raises(DeliveryError, match="no channel"):
        poster.post(Destination(response_url=url, user=USER), MESSAGE)


def test_public_fallback_posts_in_the_thread(poster: Poster, slack: SlackDouble) -> None:
    """A public message whose response_url is refused is posted in its channel and thread."""
    url = slack.new_response_url()
    slack.script(url, Reply(404, "used_url"))
    poster.post(Destination(channel=CHANNEL, response_url=url, thread_ts=THREAD, ephemeral=False), MESSAGE)
    [call] = slack.api_calls("chat.postMessage")
    assert call.body["channel"] == CHANNEL and call.body["thread_ts"] == THREAD


def test_post_or_update_posts_then_edits_in_place(poster: Poster, slack: SlackDouble) -> None:
    """post_or_update posts a new message and returns its ts; given that ts, it edits the same message."""
    destination = Destination(channel=CHANNEL, thread_ts=THREAD, ephemeral=False)
    ts = poster.post_or_update(destination, {"text": "Searching 1 of 4"}, None)
    assert ts is not None
    assert poster.post_or_update(destination, {"text": "Searching 3 of 4"}, ts) == ts
    [update] = slack.api_calls("chat.update")
    assert update.body["ts"] == ts and update.body["text"] == "Searching 3 of 4"


def test_post_or_update_refused_is_a_delivery_error(poster: Poster, slack: SlackDouble) -> None:
    """A refused progress post raises DeliveryError with Slack's error."""
    slack.script("chat.postMessage", Reply(200, {"ok": False, "error": "is_archived"}))
    with pytest.raises(DeliveryError, match="is_archived"):
        poster.post_or_update(Destination(channel=CHANNEL, ephemeral=False), {"text": "x"}, None)


def test_slack_api_origin_counts_as_slack(slack_settings: Settings) -> None:
    """Besides hooks.slack.com, the configured Slack API's own origin may serve response URLs (a proxy, a double)."""
    proxied = dataclasses.replace(slack_settings, slack_api_url="https://slack-proxy.example.com/api/")
    poster = Poster(make_web_client(proxied), proxied)
    assert poster.allowed_origins == {"https://hooks.slack.com", "https://slack-proxy.example.com"}


def test_delete_removes_a_progress_message_and_a_failure_is_not_fatal(poster: Poster, slack: SlackDouble) -> None:
    """delete() removes the message; when Slack refuses, the answer already posted stands and nothing raises."""
    poster.delete(CHANNEL, "1700000000.000200")
    slack.script("chat.delete", Reply(200, {"ok": False, "error": "message_not_found"}))
    poster.delete(CHANNEL, "1700000000.000300")
    assert [(c.body["ts"], c.ok) for c in slack.api_calls("chat.delete")] == [
        ("1700000000.000200", True),
        ("1700000000.000300", False),
    ]
