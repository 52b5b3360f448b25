"""Who may ask, end to end: people of other workspaces (Slack Connect, other Enterprise Grid
teams) and guests are refused politely; listed teams and, when allowed, guests are served; the
check runs before an event is claimed, so neither a refusal nor a Slack error drops a retry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from core.blockkit import FAQ_ACTION
from standins.slack_double import Reply, set_member
from standins.stack import Stack
from tests.e2e.env import TEST_ENV

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
LISTED_TEAM = "T0FRIENDS"
GUEST = "U0GUEST01"
SINGLE_CHANNEL_GUEST = "U0GUEST02"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Stack]:
    """A bot with the default rules (no guests, no other workspaces) and one listed team."""
    with Stack(extra_env={**TEST_ENV, "WHOSE_KEY_ALLOWED_TEAMS": LISTED_TEAM}) as running:
        set_member(running.slack, GUEST, restricted=True)
        set_member(running.slack, SINGLE_CHANNEL_GUEST, restricted=True, ultra_restricted=True)
        yield running


def key_of(stack: Stack) -> str:
    assert stack.org is not None
    return stack.org.key("acme-prod", "deploy-bot")


def posts_to(stack: Stack, channel: str, count: int = 1) -> list[dict]:
    calls = stack.slack.wait_for(
        lambda cs: sum(c.body.get("channel") == channel for c in cs if c.name == "chat.postMessage") >= count,
        timeout=30,
    )
    return [c.body for c in calls if c.name == "chat.postMessage" and c.body.get("channel") == channel]


def connect_mention(stack: Stack, channel: str, user_team: str, ts: str) -> dict:
    """The Slack Connect mention fixture, re-aimed at this stack's workspace and a real key."""
    body = json.loads((FIXTURES / "event-app-mention-slack-connect.json").read_text())
    event = body["event"]
    event.update(channel=channel, ts=ts, event_ts=ts, user_team=user_team, source_team=user_team, team=user_team)
    event["text"] = f"<@UWHOSEKEY> whose is {key_of(stack)}?"
    event.pop("thread_ts", None)
    return event


def test_slack_connect_mention_is_refused_politely(guarded: Stack) -> None:
    """A person from a partner organization in a shared channel gets a polite no, not an answer."""
    guarded.event(connect_mention(guarded, "C0SHARED1", "T0PARTNER", "1700002000.000100"))
    post = posts_to(guarded, "C0SHARED1")[0]
    assert "another" in post["text"] and "workspace" in post["text"]
    assert "deploy-bot" not in json.dumps(post)


def test_listed_team_is_served(guarded: Stack) -> None:
    """A team listed in WHOSE_KEY_ALLOWED_TEAMS gets the answer like the installing workspace."""
    guarded.event(connect_mention(guarded, "C0SHARED2", LISTED_TEAM, "1700002001.000100"))
    posts = guarded.slack.wait_for(
        lambda cs: any("deploy-bot" in json.dumps(c.body) and c.body.get("channel") == "C0SHARED2" for c in cs),
        timeout=30,
    )
    assert posts


def test_other_grid_team_command_and_button_are_refused(guarded: Stack) -> None:
    """A slash command or button from an Enterprise Grid team not listed is refused too."""
    import urllib.parse

    from standins import slack_payloads
    from standins.stack import http_post, sign

    form = slack_payloads.slash_command(
        key_of(guarded), user_id="U0GRID001", channel_id="C0INCIDENT",
        response_url=guarded.slack.new_response_url(), team_id="T0GRIDTWO",
    )  # fmt: skip
    body = urllib.parse.urlencode(form).encode()
    reply = http_post(
        guarded.web_url + "/slack/events", body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    )
    assert "another" in reply.json()["text"] and "Looking up" not in reply.json()["text"]

    payload = slack_payloads.block_action(
        FAQ_ACTION, "faq", user_id="U0GRID001", channel_id="C0INCIDENT",
        response_url=guarded.slack.new_response_url(), user_team="T0GRIDTWO",
    )  # fmt: skip
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    http_post(
        guarded.web_url + "/slack/events", body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    )
    post = guarded.slack.wait_for_hook(payload["response_url"], timeout=30)[0].body
    assert "another" in post["text"]


@pytest.mark.parametrize("guest", [GUEST, SINGLE_CHANNEL_GUEST])
def test_guests_are_refused(guarded: Stack, guest: str) -> None:
    """Multi- and single-channel guests are refused unless WHOSE_KEY_ALLOW_GUESTS is set."""
    reply, _ = guarded.slash_command(key_of(guarded), user_id=guest)
    text = reply.json()["text"]
    assert "guests" in text and "Looking up" not in text


def test_refused_event_is_not_claimed_so_a_retry_is_still_checked(guarded: Stack) -> None:
    """A refusal does not claim the event; Slack's retry is checked afresh and refused once, not twice."""
    event = {"type": "app_mention", "user": GUEST, "text": f"<@UWHOSEKEY> {key_of(guarded)}",
             "ts": "1700002002.000100", "channel": "C0GUESTS1", "event_ts": "1700002002.000100"}  # fmt: skip
    guarded.event(event, event_id="Ev0GUEST001")
    guarded.event(event, event_id="Ev0GUEST001", retry_num=1)
    assert len(posts_to(guarded, "C0GUESTS1")) == 1
    assert not Redis.from_url(guarded.redis.url).exists("whose-key:event:Ev0GUEST001")


def test_slack_error_during_the_check_does_not_drop_the_retry(guarded: Stack) -> None:
    """When users.info fails, the person is told to retry and the event stays unclaimed: Slack's
    retry of the same event is then answered."""
    guarded.slack.script("users.info", Reply(200, {"ok": False, "error": "fatal_error"}))
    user = "U0FLAKY01"
    event = {"type": "app_mention", "user": user, "text": f"<@UWHOSEKEY> {key_of(guarded)}",
             "ts": "1700002003.000100", "channel": "C0FLAKY01", "event_ts": "1700002003.000100"}  # fmt: skip
    guarded.event(event, event_id="Ev0FLAKY001")
    first = posts_to(guarded, "C0FLAKY01")[0]
    assert "could not check your account" in first["text"]
    assert not Redis.from_url(guarded.redis.url).exists("whose-key:event:Ev0FLAKY001")
    guarded.event(event, event_id="Ev0FLAKY001", retry_num=1)
    answered = posts_to(guarded, "C0FLAKY01", count=2)
    assert "deploy-bot" in json.dumps(answered[-1])


def test_pasted_secret_fragment_is_never_echoed_stored_or_queued(guarded: Stack) -> None:
    """A secret glued to a key ID, cut short or padded is dropped: the reply warns and never
    echoes it, and no job argument or Redis value holds it."""
    key_id = key_of(guarded)
    fragment = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE"  # 37 characters of a secret
    reply, url = guarded.slash_command(f"{key_id}{fragment}xyz {key_id}")
    text = reply.json()["text"]
    assert "secret" in text and fragment not in reply.body and "K7MDENG" not in reply.body
    guarded.slack.wait_for_hook(url, timeout=30)
    redis = Redis.from_url(guarded.redis.url)
    for name in redis.scan_iter(count=500):
        kind = redis.type(name)
        value = redis.dump(name) or b""
        assert b"K7MDENG" not in value, f"{name!r} ({kind!r}) holds part of the secret"
    assert "K7MDENG" not in guarded.logs()


def test_escaped_markup_comes_back_inert(guarded: Stack) -> None:
    """`/whose-key AKIA1A&lt;!channel&gt;x` is answered without a live @channel or any link."""
    reply, _ = guarded.slash_command("AKIA1A&lt;!channel&gt;x")
    body = reply.body
    assert reply.status == 200
    # Not shaped like a key ID, the token is named by its position, never echoed.
    assert "<!channel>" not in body and "channel" not in body and "Word 1" in body
