"""The loopback Slack double, exercised over real HTTP through slack_sdk."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from standins.slack_double import RecordedCall, Reply, SlackDouble

TOKEN = "xoxb-double-test"  # noqa: S105 - fake token the double accepts


@pytest.fixture
def double() -> Iterator[SlackDouble]:
    """A started double that knows one member by email."""
    with SlackDouble(token=TOKEN, users_by_email={"ana@example.com": "U0ANA"}) as d:
        yield d


@pytest.fixture
def client(double: SlackDouble) -> WebClient:
    """A WebClient aimed at the double with the right token."""
    return WebClient(token=TOKEN, base_url=double.base_url)


def test_post_message_is_recorded_with_its_body(double: SlackDouble, client: WebClient) -> None:
    """chat.postMessage answers ok with a ts and is recorded with its parsed JSON body."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*AKIA...*"}}]
    first = client.chat_postMessage(channel="C0ASK", text="AKIA owner: ana", blocks=blocks)
    second = client.chat_postMessage(channel="C0ASK", text="again", thread_ts=first["ts"])

    assert first["ok"] is True and first["channel"] == "C0ASK"
    assert float(second["ts"]) > float(first["ts"])
    calls = double.api_calls("chat.postMessage")
    assert [c.body["text"] for c in calls] == ["AKIA owner: ana", "again"]
    assert calls[0].body["blocks"] == blocks
    assert calls[1].body["thread_ts"] == first["ts"]
    assert calls[0].status == 200 and calls[0].response == first.data
    assert calls[0].url == "/api/chat.postMessage"


def test_recorded_calls_never_carry_the_token(double: SlackDouble, client: WebClient) -> None:
    """The Authorization header is recorded redacted, so failure output cannot leak it."""
    client.auth_test()

    (call,) = double.api_calls("auth.test")
    assert call.headers["authorization"].startswith("Bearer ")
    assert TOKEN not in repr(call)


def test_every_api_answer_lists_the_oauth_scopes(client: WebClient) -> None:
    """Web API answers carry X-OAuth-Scopes, which slack_sdk and Bolt read."""
    response = client.auth_test()

    scopes = response.headers["X-OAuth-Scopes"]
    assert "chat:write" in scopes and "users:read.email" in scopes
    assert response["user_id"] == "UWHOSEKEY"


def test_wrong_token_is_invalid_auth(double: SlackDouble) -> None:
    """A token other than the configured one gets ok:false invalid_auth on HTTP 200."""
    bad = WebClient(token="xoxb-wrong", base_url=double.base_url)  # noqa: S106 - fake

    with pytest.raises(SlackApiError) as caught:
        bad.chat_postMessage(channel="C0ASK", text="hi")

    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "invalid_auth"
    assert double.api_calls("chat.postMessage")[0].response == {
        "ok": False,
        "error": "invalid_auth",
    }


def test_missing_token_is_not_authed(double: SlackDouble) -> None:
    """A call with no token at all gets not_authed."""
    anonymous = WebClient(base_url=double.base_url)

    with pytest.raises(SlackApiError) as caught:
        anonymous.auth_test()

    assert caught.value.response["error"] == "not_authed"


def test_lookup_by_email_finds_known_members_case_insensitively(client: WebClient) -> None:
    """users.lookupByEmail returns the configured member, matching email case-insensitively."""
    response = client.users_lookupByEmail(email="Ana@Example.com")

    assert response["user"]["id"] == "U0ANA"
    assert response["user"]["profile"]["email"] == "ana@example.com"


def test_lookup_by_email_misses_with_users_not_found(double: SlackDouble, client: WebClient) -> None:
    """An unknown email gets users_not_found until add_user makes it known."""
    with pytest.raises(SlackApiError) as caught:
        client.users_lookupByEmail(email="bo@example.com")
    assert caught.value.response["error"] == "users_not_found"

    double.add_user("bo@example.com", "U0BO")
    assert client.users_lookupByEmail(email="bo@example.com")["user"]["id"] == "U0BO"


def test_missing_channel_and_unknown_method_are_slack_errors(client: WebClient) -> None:
    """A post without a channel is channel_not_found; an unknown method is unknown_method."""
    with pytest.raises(SlackApiError) as no_channel:
        client.api_call("chat.postMessage", json={"text": "hi"})
    with pytest.raises(SlackApiError) as unknown:
        client.api_call("no.such.method")

    assert no_channel.value.response["error"] == "channel_not_found"
    assert unknown.value.response.status_code == 200
    assert unknown.value.response["error"] == "unknown_method"


def test_conversations_open_and_usergroups(double: SlackDouble, client: WebClient) -> None:
    """conversations.open gives a D channel for the user; usergroups list what was set."""
    double.set_usergroup("S0SEC", ["U0ANA", "U0BO"])

    assert client.conversations_open(users="U0ANA")["channel"]["id"] == "D0ANA"
    assert client.usergroups_users_list(usergroup="S0SEC")["users"] == ["U0ANA", "U0BO"]
    assert client.usergroups_users_list(usergroup="S0OTHER")["users"] == []
    assert double.api_calls("conversations.open")[0].body == {"users": "U0ANA"}


def test_scripted_429_is_retried_after_retry_after(double: SlackDouble) -> None:
    """A scripted 429 with Retry-After: 1 is waited out, then the message is delivered."""
    double.script(
        "chat.postMessage",
        Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}),
    )
    client = WebClient(
        token=TOKEN,
        base_url=double.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )

    response = client.chat_postMessage(channel="C0ASK", text="after the limit")

    assert response["ok"] is True
    calls = double.api_calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert calls[1].body["text"] == "after the limit"


def test_scripted_replies_are_one_shot(double: SlackDouble, client: WebClient) -> None:
    """Scripted replies are used in order, then default answers resume."""
    double.script("chat.postMessage", Reply(200, {"ok": False, "error": "channel_not_found"}))

    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C0GONE", text="hi")
    assert caught.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C0GONE", text="hi")["ok"] is True


def test_webhook_post_is_recorded_as_a_hook(double: SlackDouble) -> None:
    """A WebhookClient post to a response_url is answered "ok" and recorded as a hook."""
    url = double.new_response_url()

    response = WebhookClient(url).send(text="working on it", response_type="ephemeral")

    assert (response.status_code, response.body) == (200, "ok")
    (post,) = double.hook_posts(url)
    assert post.kind == "hook" and post.name == url.removeprefix(double.origin)
    assert post.body == {"text": "working on it", "response_type": "ephemeral"}
    assert double.api_calls() == []


def test_response_urls_are_unique(double: SlackDouble) -> None:
    """Each new_response_url is distinct and posts to one are not counted for another."""
    first, second = double.new_response_url(), double.new_response_url()
    WebhookClient(first).send(text="one")

    assert first != second
    assert len(double.hook_posts(first)) == 1 and double.hook_posts(second) == []


def test_sixth_post_to_a_response_url_is_used_url(double: SlackDouble) -> None:
    """A response_url takes five posts; the sixth gets 404 used_url and is still recorded."""
    url = double.new_response_url()
    hook = WebhookClient(url)

    statuses = [hook.send(text=f"post {n}").status_code for n in range(1, 7)]
    sixth = double.hook_posts(url)[-1]

    assert statuses == [200, 200, 200, 200, 200, 404]
    assert (sixth.status, sixth.response, sixth.body["text"]) == (404, "used_url", "post 6")


def test_wait_for_hook_returns_posts_made_by_another_thread(double: SlackDouble) -> None:
    """wait_for_hook blocks until a post arrives from elsewhere and returns it."""
    url = double.new_response_url()
    threading.Timer(0.2, lambda: WebhookClient(url).send(text="late")).start()

    (post,) = double.wait_for_hook(url, timeout=30)  # a bound for a loaded machine, not a speed goal

    assert post.body["text"] == "late"


def test_wait_for_hook_times_out_with_a_summary(double: SlackDouble, client: WebClient) -> None:
    """wait_for_hook raises TimeoutError naming the calls that did arrive."""
    client.chat_postMessage(channel="C0ASK", text="not a hook")
    started = time.monotonic()

    with pytest.raises(TimeoutError) as caught:
        double.wait_for_hook(double.new_response_url(), timeout=0.3)

    # It waited its whole timeout first (how much longer it took is the machine's load, not the double's).
    assert time.monotonic() - started >= 0.3
    assert "chat.postMessage" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_form_encoded_token_field_authenticates(double: SlackDouble) -> None:
    """A form body with a token field authenticates, and JSON-string fields stay strings."""
    blocks = json.dumps([{"type": "divider"}])
    data = urlencode({"token": TOKEN, "channel": "C0ASK", "text": "hi", "blocks": blocks})
    url = double.base_url + "chat.postMessage"
    request = urllib.request.Request(url, data=data.encode())  # noqa: S310 - loopback

    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        answer = json.loads(response.read())

    assert answer["ok"] is True
    (call,) = double.api_calls("chat.postMessage")
    assert call.body["blocks"] == blocks
    assert call.body["token"] != TOKEN and TOKEN not in call.raw_body


def test_reset_forgets_calls_and_scripts_but_not_users(double: SlackDouble, client: WebClient) -> None:
    """reset clears recorded calls and pending scripts while users stay known."""
    double.script("auth.test", Reply(500, "boom"))
    client.chat_postMessage(channel="C0ASK", text="hi")

    double.reset()

    assert double.calls == []
    assert client.auth_test()["ok"] is True
    assert client.users_lookupByEmail(email="ana@example.com")["user"]["id"] == "U0ANA"


def test_stop_closes_the_port() -> None:
    """After stop() the port refuses connections."""
    double = SlackDouble().start()
    base_url = double.base_url
    double.stop()

    with pytest.raises(OSError):
        urllib.request.urlopen(base_url + "auth.test", timeout=2)  # noqa: S310 - loopback


def _texts(calls: list[RecordedCall]) -> list[str]:
    """The text of each recorded call, for compact assertions."""
    return [str(c.body.get("text")) for c in calls]


def test_concurrent_clients_are_all_recorded(double: SlackDouble) -> None:
    """Many threads posting at once are all answered and recorded."""
    client = WebClient(token=TOKEN, base_url=double.base_url)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda n: client.chat_postMessage(channel="C0", text=str(n)), range(64)))

    assert all(r["ok"] for r in results)
    assert len({r["ts"] for r in results}) == 64
    assert sorted(_texts(double.wait_for_api("chat.postMessage", 64)), key=int) == [str(n) for n in range(64)]
