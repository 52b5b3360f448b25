"""Socket Mode end to end: the Procfile's `socket` process connects to a loopback Socket Mode
double (found through the Slack double's apps.connections.open), answers a slash command, a
mention and a button, and after the server drops the connection it reconnects with nothing
lost or doubled."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest

from core.blockkit import FAQ_ACTION
from standins import slack_payloads
from standins.socket_mode import EVENTS_API, INTERACTIVE, SLASH_COMMANDS, SocketModeDouble
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.signals import needs_tgkill, other_threads, signal_one_thread
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def socket_stack() -> Iterator[Stack]:
    """The whole bot with the `socket` process connected to the Socket Mode double."""
    with Stack(extra_env=dict(TEST_ENV), socket=True) as running:
        yield running


def double(stack: Stack) -> SocketModeDouble:
    assert stack.socket_mode is not None
    return stack.socket_mode


def key_of(stack: Stack) -> str:
    assert stack.org is not None
    return stack.org.key("acme-prod", "deploy-bot")


def mention(stack: Stack, channel: str, ts: str) -> dict:
    event = {"type": "app_mention", "user": "U0SOCKET1", "text": f"<@UWHOSEKEY> whose is {key_of(stack)}?",
             "ts": ts, "channel": channel, "event_ts": ts}  # fmt: skip
    return slack_payloads.event_callback(event, event_id=f"Ev{channel}{ts.replace('.', '')}")


def answers_in(stack: Stack, channel: str) -> list[dict]:
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == channel and "deploy-bot" in json.dumps(c.body)
    ]


def wait_answers(stack: Stack, channel: str, count: int = 1) -> list[dict]:
    stack.slack.wait_for(lambda _: len(answers_in(stack, channel)) >= count, timeout=30)
    return answers_in(stack, channel)


def test_the_socket_process_connects_through_apps_connections_open(socket_stack: Stack) -> None:
    """The process asked the Slack double for a URL with its app-level token and connected."""
    opened = socket_stack.slack.api_calls("apps.connections.open")
    assert opened and opened[0].ok
    assert double(socket_stack).connected


def test_slash_command_is_acked_with_the_reply_and_answered(socket_stack: Stack) -> None:
    """/whose-key over Socket Mode: the ack carries "Looking up", the answer reaches the response_url."""
    url = socket_stack.slack.new_response_url()
    form = slack_payloads.slash_command(key_of(socket_stack), user_id="U0SOCKET1", channel_id="C0SOCKET1",
                                        response_url=url)  # fmt: skip
    envelope_id = double(socket_stack).send(SLASH_COMMANDS, form)
    ack = double(socket_stack).wait_for_ack(envelope_id)
    assert "Looking up" in json.dumps(ack.get("payload"))
    assert "deploy-bot" in json.dumps(socket_stack.slack.wait_for_hook(url, timeout=30)[0].body)
    print("\nsocket mode: slash command acked with its reply and answered")


def test_mention_is_answered_in_its_thread(socket_stack: Stack) -> None:
    """An app_mention envelope is acked and answered once in the thread it came from."""
    envelope_id = double(socket_stack).send(EVENTS_API, mention(socket_stack, "C0SOCKET2", "1700003000.000100"))
    double(socket_stack).wait_for_ack(envelope_id)
    answer = wait_answers(socket_stack, "C0SOCKET2")[0]
    assert answer.get("thread_ts") == "1700003000.000100"
    print("\nsocket mode: mention acked and answered in its thread")


def test_button_press_is_acked_and_answered(socket_stack: Stack) -> None:
    """A block_actions envelope (the FAQ button) is acked and answered at its response_url."""
    url = socket_stack.slack.new_response_url()
    payload = slack_payloads.block_action(FAQ_ACTION, "faq", user_id="U0SOCKET1", channel_id="C0SOCKET1",
                                          response_url=url)  # fmt: skip
    envelope_id = double(socket_stack).send(INTERACTIVE, payload)
    double(socket_stack).wait_for_ack(envelope_id)
    assert "recover" in json.dumps(socket_stack.slack.wait_for_hook(url, timeout=30)[0].body).lower()
    print("\nsocket mode: button acked and answered")


def test_after_a_dropped_connection_it_reconnects_and_nothing_is_lost_or_doubled(socket_stack: Stack) -> None:
    """An event sent as the server drops the connection is answered once (acked before the drop,
    or redelivered as a retry after it), and events after the reconnect are answered too."""
    sm = double(socket_stack)
    before = sm.connections
    in_flight = sm.send(EVENTS_API, mention(socket_stack, "C0SOCKET3", "1700003001.000100"))
    sm.drop()
    sm.wait_connected(before + 1, timeout=30)
    redelivered = sm.envelope(in_flight).retry_attempt > 0
    sm.wait_for_ack(in_flight)
    after = sm.send(EVENTS_API, mention(socket_stack, "C0SOCKET4", "1700003002.000100"))
    sm.wait_for_ack(after)
    wait_answers(socket_stack, "C0SOCKET4")
    wait_answers(socket_stack, "C0SOCKET3")
    # The later event's answer is out, and the worker takes jobs in order: any double of the
    # in-flight event would have been posted by now.
    assert len(answers_in(socket_stack, "C0SOCKET3")) == 1
    assert len(answers_in(socket_stack, "C0SOCKET4")) == 1
    print(
        f"\nsocket mode: dropped and reconnected (connection #{sm.connections}); in-flight event "
        f"{'redelivered as a retry' if redelivered else 'acked before the drop'}, answered once; "
        "next event answered once"
    )


@needs_tgkill
def test_a_sigterm_taken_by_another_thread_still_stops_the_socket_process() -> None:
    """The kernel may hand a process's SIGTERM to any of its threads; Python runs the handler in
    the main thread only. The socket process must still drain and exit, as in a rolling restart."""
    with Stack(extra_env=dict(TEST_ENV), socket=True) as stack:
        socket = next(p for p in stack.processes if p.name.startswith("socket"))
        others = other_threads(socket.pid)
        assert others, "Socket Mode runs threads of its own"
        signal_one_thread(socket.pid, others[-1], signal.SIGTERM)
        wait_until(lambda: socket.returncode is not None, what="the socket process to exit", timeout=30)
        assert socket.returncode == 0 and "socket mode draining" in socket.log()
