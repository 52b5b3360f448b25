"""The Slack double's agent view (assistant.threads.*) and Workflow Builder custom steps (functions.complete*),
and the payloads that start them, over real HTTP through slack_sdk (and Bolt, as the bot will use them)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_bolt import App, Assistant, BoltRequest, Complete, SetStatus, SetSuggestedPrompts, SetTitle
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from standins import slack_payloads
from standins.slack_double import (
    FUNCTION_TOKEN_LIFETIME_SECONDS,
    STATUS_TIMEOUT_SECONDS,
    AssistantThread,
    ExecutionState,
    Reply,
    SlackDouble,
    SuggestedPrompt,
    SuggestedPrompts,
    ThreadStatus,
)

TOKEN = "xoxb-double-test"  # noqa: S105 - fake token the double accepts
ASKER = "U0ANA"
PROMPTS = [
    {"title": "Whose key is this?", "message": "Whose key is AKIAIOSFODNN7EXAMPLE?"},
    {"title": "Fix InvalidAccessKeyId", "message": "Why do I get InvalidAccessKeyId?"},
]


class Clock:
    """A settable clock for the double, so statuses and function tokens can age without a test sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def double(clock: Clock) -> Iterator[SlackDouble]:
    """A started double counting ages on the test's clock."""
    with SlackDouble(token=TOKEN, clock=clock) as d:
        yield d


@pytest.fixture
def client(double: SlackDouble) -> WebClient:
    return WebClient(token=TOKEN, base_url=double.base_url)


@pytest.fixture
def thread(double: SlackDouble) -> AssistantThread:
    """An agent-view thread ASKER started, as the double knows it."""
    return double.new_assistant_thread(ASKER, context_channel_id="C0INCIDENT")


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    """The ok:false answer a Web API call got (on HTTP 200, as Slack answers)."""
    with pytest.raises(SlackApiError) as caught:
        call()
    assert caught.value.response.status_code == 200
    return dict(caught.value.response.data)


def set_status(client: WebClient, thread: AssistantThread, status: str) -> Any:
    """assistant.threads.setStatus on thread."""
    return client.assistant_threads_setStatus(channel_id=thread.channel_id, thread_ts=thread.thread_ts, status=status)


# -- assistant.threads.setStatus ------------------------------------------------------------------


def test_a_status_shows_on_the_thread_with_its_loading_messages(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """setStatus on a thread the double started answers ok, and the thread shows the status and loading messages."""
    response = client.assistant_threads_setStatus(
        channel_id=thread.channel_id,
        thread_ts=thread.thread_ts,
        status="is looking up the key...",
        loading_messages=["Asking AWS Organizations...", "Reading CloudTrail..."],
    )

    assert response.data == {"ok": True}
    assert double.thread_status(thread.channel_id, thread.thread_ts) == ThreadStatus(
        "is looking up the key...", ("Asking AWS Organizations...", "Reading CloudTrail...")
    )
    assert (thread.channel_id, thread.user_id) == ("D0ANA", ASKER)  # the asker's DM with the app
    (call,) = double.api_calls("assistant.threads.setStatus")
    assert call.ok and call.body["thread_ts"] == thread.thread_ts and call.response == {"ok": True}


def test_an_empty_status_clears_it(double: SlackDouble, client: WebClient, thread: AssistantThread) -> None:
    """An empty status clears the thread's status (Slack's way to clear it without replying); the history keeps both."""
    client.assistant_threads_setStatus(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, status="is thinking..."
    )

    set_status(client, thread, "")

    assert double.thread_status(thread.channel_id, thread.thread_ts) is None
    assert double.status_history(thread.channel_id, thread.thread_ts) == ["is thinking...", ""]
    assert double.api_calls("assistant.threads.setStatus")[1].body["status"] == ""


def test_a_reply_in_the_thread_clears_the_status(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """The app's reply in the thread clears its status, as Slack does; a reply elsewhere does not."""
    client.assistant_threads_setStatus(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, status="is thinking..."
    )
    client.chat_postMessage(channel=thread.channel_id, text="elsewhere")
    assert double.thread_status(thread.channel_id, thread.thread_ts) is not None

    client.chat_postMessage(channel=thread.channel_id, thread_ts=thread.thread_ts, text="ana owns it")

    assert double.thread_status(thread.channel_id, thread.thread_ts) is None
    assert double.wait_for_status_cleared(thread.channel_id, thread.thread_ts, timeout=1) == ["is thinking...", ""]


def test_a_status_goes_away_after_two_minutes(
    double: SlackDouble, client: WebClient, thread: AssistantThread, clock: Clock
) -> None:
    """A status not followed by a message is gone two minutes later on the double's clock."""
    client.assistant_threads_setStatus(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, status="is thinking..."
    )

    clock.now += STATUS_TIMEOUT_SECONDS - 1
    assert double.thread_status(thread.channel_id, thread.thread_ts) == ThreadStatus("is thinking...")
    clock.now += 2
    assert double.thread_status(thread.channel_id, thread.thread_ts) is None
    assert STATUS_TIMEOUT_SECONDS == 120.0


@pytest.mark.parametrize("missing", ["channel_id", "thread_ts", "status"])
def test_set_status_without_a_required_argument_is_invalid_arguments(
    double: SlackDouble, client: WebClient, thread: AssistantThread, missing: str
) -> None:
    """channel_id, thread_ts and status are required: leaving one out answers invalid_arguments naming it."""
    args = {"channel_id": thread.channel_id, "thread_ts": thread.thread_ts, "status": "is thinking..."}
    del args[missing]

    answer = refusal(lambda: client.api_call("assistant.threads.setStatus", json=args))

    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [f"[ERROR] missing required field: {missing}"]
    assert double.status_history(thread.channel_id, thread.thread_ts) == []


def test_more_than_ten_loading_messages_are_invalid_arguments(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """Slack takes at most ten loading_messages: eleven answer invalid_arguments and set nothing."""
    answer = refusal(
        lambda: client.assistant_threads_setStatus(
            channel_id=thread.channel_id,
            thread_ts=thread.thread_ts,
            status="is thinking...",
            loading_messages=[f"step {n}" for n in range(11)],
        )
    )

    assert answer["error"] == "invalid_arguments" and "/loading_messages" in answer["response_metadata"]["messages"][0]
    assert double.thread_status(thread.channel_id, thread.thread_ts) is None


# -- unknown channels and threads (all three assistant.threads methods) ------------------------------

ASSISTANT_CALLS: dict[str, Callable[[WebClient, str, str], Any]] = {
    "setStatus": lambda c, ch, ts: c.assistant_threads_setStatus(channel_id=ch, thread_ts=ts, status="is thinking..."),
    "setSuggestedPrompts": lambda c, ch, ts: c.assistant_threads_setSuggestedPrompts(
        channel_id=ch, thread_ts=ts, prompts=PROMPTS
    ),
    "setTitle": lambda c, ch, ts: c.assistant_threads_setTitle(channel_id=ch, thread_ts=ts, title="AKIA... owner"),
}


@pytest.mark.parametrize("method", ASSISTANT_CALLS)
def test_an_unknown_channel_is_channel_not_found(
    double: SlackDouble, client: WebClient, thread: AssistantThread, method: str
) -> None:
    """A channel the double never heard of answers channel_not_found, with Slack's detail."""
    answer = refusal(lambda: ASSISTANT_CALLS[method](client, "D0NOBODY", thread.thread_ts))

    assert answer == {"ok": False, "error": "channel_not_found", "detail": "Invalid channel_id"}


@pytest.mark.parametrize("method", ASSISTANT_CALLS)
def test_an_unknown_thread_is_invalid_thread_ts(
    double: SlackDouble, client: WebClient, thread: AssistantThread, method: str
) -> None:
    """A thread_ts the double never handed out, in a channel it knows, is invalid_thread_ts ("Thread not found")."""
    answer = refusal(lambda: ASSISTANT_CALLS[method](client, thread.channel_id, "1600000000.000100"))

    assert answer == {"ok": False, "error": "invalid_thread_ts", "detail": "Thread not found"}
    assert double.api_calls(f"assistant.threads.{method}")[0].status == 200


def test_channels_and_threads_the_double_knows(double: SlackDouble, client: WebClient) -> None:
    """Known: DMs opened with conversations.open, channels posted to (each message roots a thread), channels added
    or described with set_conversation, and threads added; a known channel's own prompts need no thread."""
    dm = client.conversations_open(users="U0BO")["channel"]["id"]
    posted = client.chat_postMessage(channel="C0ASK", text="AKIA... owner: ana")
    double.add_channel("C0ADDED")
    double.set_conversation("C0SHARED", ext_shared=True)
    double.add_thread("C0PEOPLE", "1700000000.999900")

    client.assistant_threads_setStatus(channel_id="C0ASK", thread_ts=posted["ts"], status="is thinking...")
    client.assistant_threads_setTitle(channel_id="C0PEOPLE", thread_ts="1700000000.999900", title="Key question")
    for channel in (dm, "C0ADDED", "C0SHARED"):
        client.assistant_threads_setSuggestedPrompts(channel_id=channel, prompts=PROMPTS)

    assert double.thread_status("C0ASK", posted["ts"]) == ThreadStatus("is thinking...")
    assert double.thread_title("C0PEOPLE", "1700000000.999900") == "Key question"
    assert all(double.suggested_prompts(channel) is not None for channel in (dm, "C0ADDED", "C0SHARED"))
    assert refusal(lambda: ASSISTANT_CALLS["setTitle"](client, "C0ADDED", posted["ts"]))["error"] == "invalid_thread_ts"


# -- assistant.threads.setSuggestedPrompts ----------------------------------------------------------


def test_prompts_are_set_for_a_thread_with_their_title(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """setSuggestedPrompts keeps the prompts (title and message each) and the list's title for the thread."""
    response = client.assistant_threads_setSuggestedPrompts(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, title="Ask about a key", prompts=PROMPTS
    )

    assert response.data == {"ok": True}
    assert double.suggested_prompts(thread.channel_id, thread.thread_ts) == SuggestedPrompts(
        (SuggestedPrompt(**PROMPTS[0]), SuggestedPrompt(**PROMPTS[1])), "Ask about a key"
    )
    assert double.suggested_prompts(thread.channel_id) is None  # the thread's, not the channel's
    assert double.api_calls("assistant.threads.setSuggestedPrompts")[0].body["prompts"] == PROMPTS


def test_prompts_without_a_thread_are_the_channels(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """Without thread_ts (agent-view apps must leave it out), the prompts are the channel's, with no title."""
    client.assistant_threads_setSuggestedPrompts(channel_id=thread.channel_id, prompts=PROMPTS[:1])

    assert double.suggested_prompts(thread.channel_id) == SuggestedPrompts((SuggestedPrompt(**PROMPTS[0]),))
    assert double.suggested_prompts(thread.channel_id, thread.thread_ts) is None


def test_prompts_as_json_text_in_a_form_are_read_too(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """A form-encoded call with the prompts as JSON text (as Slack accepts) sets them as well."""
    form = {"channel_id": thread.channel_id, "thread_ts": thread.thread_ts, "prompts": json.dumps(PROMPTS)}

    assert client.api_call("assistant.threads.setSuggestedPrompts", data=form)["ok"] is True
    prompts = double.suggested_prompts(thread.channel_id, thread.thread_ts)
    assert prompts is not None and [p.title for p in prompts.prompts] == [p["title"] for p in PROMPTS]


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        # Slack sets "up to four" prompts.
        (PROMPTS * 2 + PROMPTS[:1], "[ERROR] no more than 4 items allowed [json-pointer:/prompts]"),
        # Each prompt has a title and a message.
        ([{"title": "Whose key?"}], "[ERROR] missing required field: message [json-pointer:/prompts/0]"),
        ([PROMPTS[0], {"message": "Whose key?"}], "[ERROR] missing required field: title [json-pointer:/prompts/1]"),
        # The prompts are required.
        ([], "[ERROR] missing required field: prompts"),
    ],
)
def test_prompts_slack_would_refuse_are_invalid_arguments(
    double: SlackDouble, client: WebClient, thread: AssistantThread, prompts: list[dict[str, str]], message: str
) -> None:
    """Too many prompts, a prompt lacking a title or message, or none at all are invalid_arguments and set nothing."""
    args = {"channel_id": thread.channel_id, "thread_ts": thread.thread_ts, "prompts": prompts}

    answer = refusal(lambda: client.api_call("assistant.threads.setSuggestedPrompts", json=args))

    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [message]
    assert double.suggested_prompts(thread.channel_id, thread.thread_ts) is None


def test_four_prompts_are_the_most_and_a_missing_channel_is_invalid_arguments(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """Four prompts are taken; prompts without a channel_id answer invalid_arguments naming it."""
    client.assistant_threads_setSuggestedPrompts(channel_id=thread.channel_id, prompts=PROMPTS * 2)
    missing = refusal(lambda: client.api_call("assistant.threads.setSuggestedPrompts", json={"prompts": PROMPTS}))

    held = double.suggested_prompts(thread.channel_id)
    assert held is not None and len(held.prompts) == 4
    assert missing["response_metadata"]["messages"] == ["[ERROR] missing required field: channel_id"]


# -- assistant.threads.setTitle ---------------------------------------------------------------------


def test_a_title_is_set_and_replaced(double: SlackDouble, client: WebClient, thread: AssistantThread) -> None:
    """setTitle keeps the thread's title; a later one replaces it."""
    client.assistant_threads_setTitle(channel_id=thread.channel_id, thread_ts=thread.thread_ts, title="Whose key?")
    client.assistant_threads_setTitle(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, title="AKIA... is ana's"
    )

    assert double.thread_title(thread.channel_id, thread.thread_ts) == "AKIA... is ana's"
    # slack_sdk sends setTitle form-encoded.
    titles = [c.body["title"] for c in double.api_calls("assistant.threads.setTitle")]
    assert titles == ["Whose key?", "AKIA... is ana's"]


@pytest.mark.parametrize("missing", ["channel_id", "thread_ts", "title"])
def test_set_title_without_a_required_argument_is_invalid_arguments(
    double: SlackDouble, client: WebClient, thread: AssistantThread, missing: str
) -> None:
    """channel_id, thread_ts and title are required: leaving one out answers invalid_arguments naming it."""
    args = {"channel_id": thread.channel_id, "thread_ts": thread.thread_ts, "title": "Whose key?"}
    del args[missing]

    answer = refusal(lambda: client.api_call("assistant.threads.setTitle", json=args))

    assert answer["response_metadata"]["messages"] == [f"[ERROR] missing required field: {missing}"]
    assert double.thread_title(thread.channel_id, thread.thread_ts) is None


# -- functions.completeSuccess and functions.completeError ---------------------------------------------


def test_complete_success_records_the_outputs_once(double: SlackDouble, client: WebClient) -> None:
    """completeSuccess on a minted execution answers ok and keeps the outputs; completing it again is refused."""
    execution_id = double.new_function_execution("whose_key_lookup", {"key_id": "AKIAIOSFODNN7EXAMPLE"})

    response = client.functions_completeSuccess(function_execution_id=execution_id, outputs={"owner": "U0ANA"})
    again = refusal(lambda: client.functions_completeSuccess(function_execution_id=execution_id, outputs={}))
    failed_after = refusal(lambda: client.functions_completeError(function_execution_id=execution_id, error="late"))

    assert response.data == {"ok": True}
    execution = double.function_execution(execution_id)
    assert (execution.state, execution.outputs, execution.error) == (ExecutionState.COMPLETED, {"owner": "U0ANA"}, None)
    assert execution.inputs == {"key_id": "AKIAIOSFODNN7EXAMPLE"} and execution.callback_id == "whose_key_lookup"
    assert again["error"] == failed_after["error"] == "execution_not_in_running_state"
    # slack_sdk sends the outputs as JSON text in a form.
    assert double.api_calls("functions.completeSuccess")[0].body["outputs"] == '{"owner": "U0ANA"}'


def test_complete_error_records_the_error(double: SlackDouble, client: WebClient) -> None:
    """completeError on a minted execution answers ok, keeps the message, and the execution can complete no more."""
    execution_id = double.new_function_execution("whose_key_lookup")

    client.functions_completeError(function_execution_id=execution_id, error="No such key in the organization")
    again = refusal(lambda: client.functions_completeSuccess(function_execution_id=execution_id, outputs={}))

    execution = double.function_execution(execution_id)
    assert (execution.state, execution.error, execution.outputs) == (
        ExecutionState.FAILED,
        "No such key in the organization",
        None,
    )
    assert again["error"] == "execution_not_in_running_state"


def test_an_execution_the_double_never_minted_is_not_found(double: SlackDouble, client: WebClient) -> None:
    """completeSuccess and completeError of an unknown function_execution_id answer function_execution_not_found."""
    success = refusal(lambda: client.functions_completeSuccess(function_execution_id="Fx0NOSUCHONE", outputs={}))
    error = refusal(lambda: client.functions_completeError(function_execution_id="Fx0NOSUCHONE", error="x"))

    assert success["error"] == error["error"] == "function_execution_not_found"
    with pytest.raises(KeyError):
        double.function_execution("Fx0NOSUCHONE")


@pytest.mark.parametrize(
    ("method", "args", "missing"),
    [
        ("functions.completeSuccess", {"outputs": "{}"}, "function_execution_id"),
        ("functions.completeSuccess", {"function_execution_id": "FX"}, "outputs"),
        ("functions.completeError", {"error": "boom"}, "function_execution_id"),
        ("functions.completeError", {"function_execution_id": "FX"}, "error"),
    ],
)
def test_completing_without_a_required_argument_is_invalid_arguments(
    double: SlackDouble, client: WebClient, method: str, args: dict[str, str], missing: str
) -> None:
    """function_execution_id, and outputs or error, are required: leaving one out answers invalid_arguments."""
    execution_id = double.new_function_execution("whose_key_lookup")
    form = {k: (execution_id if v == "FX" else v) for k, v in args.items()}

    answer = refusal(lambda: client.api_call(method, params=form))

    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [f"[ERROR] missing required field: {missing}"]
    assert double.function_execution(execution_id).state is ExecutionState.RUNNING


def test_outputs_missing_a_required_output_fail_validation(double: SlackDouble, client: WebClient) -> None:
    """Outputs without a required output parameter answer parameter_validation_failed; the execution still runs."""
    execution_id = double.new_function_execution("whose_key_lookup", required_outputs=("owner",))

    answer = refusal(lambda: client.functions_completeSuccess(function_execution_id=execution_id, outputs={"x": 1}))
    not_an_object = refusal(lambda: client.api_call("functions.completeSuccess", params={
        "function_execution_id": execution_id, "outputs": "[1]"}))  # fmt: skip

    assert answer["error"] == "parameter_validation_failed"
    assert answer["response_metadata"]["messages"] == ["[ERROR] missing required field: owner [json-pointer:/outputs]"]
    assert not_an_object["error"] == "invalid_arguments"
    assert double.function_execution(execution_id).state is ExecutionState.RUNNING
    assert client.functions_completeSuccess(function_execution_id=execution_id, outputs={"owner": "U0ANA"})["ok"]


def test_the_executions_own_token_works_until_it_is_completed(double: SlackDouble) -> None:
    """The execution's bot_access_token (Bolt's client while it handles the step) is accepted and redacted from the
    record; once the execution is completed it is token_revoked, and any other made-up token invalid_auth."""
    execution_id = double.new_function_execution("whose_key_lookup")
    token = double.function_execution(execution_id).bot_access_token
    as_step = WebClient(token=token, base_url=double.base_url)

    as_step.chat_postMessage(channel="D0ANA", text="Looking it up")
    as_step.functions_completeSuccess(function_execution_id=execution_id, outputs={})
    revoked = refusal(lambda: as_step.chat_postMessage(channel="D0ANA", text="too late"))
    made_up = refusal(lambda: WebClient(token="xwfp-made-up", base_url=double.base_url).auth_test())

    assert token.startswith("xwfp-")
    assert (revoked["error"], made_up["error"]) == ("token_revoked", "invalid_auth")
    assert all(token not in repr(call) for call in double.calls)


def test_the_executions_token_expires_after_fifteen_minutes(double: SlackDouble, clock: Clock) -> None:
    """An execution's token left running past fifteen minutes on the double's clock is token_expired."""
    execution_id = double.new_function_execution("whose_key_lookup")
    as_step = WebClient(token=double.function_execution(execution_id).bot_access_token, base_url=double.base_url)

    clock.now += FUNCTION_TOKEN_LIFETIME_SECONDS + 1
    answer = refusal(lambda: as_step.functions_completeSuccess(function_execution_id=execution_id, outputs={}))

    assert answer["error"] == "token_expired"
    # The app's own token still completes it.
    assert WebClient(token=TOKEN, base_url=double.base_url).functions_completeError(
        function_execution_id=execution_id, error="timed out"
    )["ok"]


# -- waiting -----------------------------------------------------------------------------------------------


def test_waits_wake_when_another_thread_sets_the_state(
    double: SlackDouble, client: WebClient, thread: AssistantThread
) -> None:
    """wait_for_status, wait_for_suggested_prompts, wait_for_thread_title and wait_for_function_completion block
    until the state they wait for is set, and return it."""
    channel, ts = thread.channel_id, thread.thread_ts
    execution_id = double.new_function_execution("whose_key_lookup")

    def work() -> None:
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=ts, status="is thinking...")
        client.assistant_threads_setStatus(channel_id=channel, thread_ts=ts, status="is reading CloudTrail...")
        client.assistant_threads_setSuggestedPrompts(channel_id=channel, prompts=PROMPTS)
        client.assistant_threads_setTitle(channel_id=channel, thread_ts=ts, title="AKIA... owner")
        client.functions_completeSuccess(function_execution_id=execution_id, outputs={"owner": ASKER})

    threading.Timer(0.2, work).start()

    # Timeouts are bounds, not goals.
    status = double.wait_for_status(channel, ts, lambda s: "CloudTrail" in s.status, timeout=30)
    prompts = double.wait_for_suggested_prompts(channel, timeout=30)
    title = double.wait_for_thread_title(channel, ts, lambda t: t.startswith("AKIA"), timeout=30)
    execution = double.wait_for_function_completion(execution_id, timeout=30)

    assert status.status == "is reading CloudTrail..." and len(prompts.prompts) == 2 and title == "AKIA... owner"
    assert execution.outputs == {"owner": ASKER}


def test_a_wait_times_out_naming_the_refused_calls(double: SlackDouble, client: WebClient) -> None:
    """A status that never shows ends the wait with TimeoutError listing the setStatus refusals."""
    refusal(lambda: ASSISTANT_CALLS["setStatus"](client, "D0NOBODY", "1.2"))

    with pytest.raises(TimeoutError) as caught:
        double.wait_for_status("D0NOBODY", "1.2", timeout=0.3)

    assert "assistant.threads.setStatus" in str(caught.value) and "channel_not_found" in str(caught.value)


# -- rate limits, scripted errors and outages ------------------------------------------------------------------


def test_a_scripted_429_on_set_status_is_waited_out(double: SlackDouble, thread: AssistantThread) -> None:
    """A scripted 429 with Retry-After: 1 on setStatus is retried by slack_sdk after a second, then the status shows."""
    double.script(
        "assistant.threads.setStatus", Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    )
    retrying = WebClient(
        token=TOKEN, base_url=double.base_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)]
    )

    retrying.assistant_threads_setStatus(
        channel_id=thread.channel_id, thread_ts=thread.thread_ts, status="is thinking..."
    )

    calls = double.api_calls("assistant.threads.setStatus")
    assert [c.status for c in calls] == [429, 200] and calls[1].at - calls[0].at >= 1.0
    assert double.thread_status(thread.channel_id, thread.thread_ts) == ThreadStatus("is thinking...")


def test_a_scripted_error_on_complete_success_leaves_the_execution_running(
    double: SlackDouble, client: WebClient
) -> None:
    """A scripted refusal of completeSuccess is given once and completes nothing; the next call completes it."""
    double.script("functions.completeSuccess", Reply(200, {"ok": False, "error": "internal_error"}))
    execution_id = double.new_function_execution("whose_key_lookup")

    assert (
        refusal(lambda: client.functions_completeSuccess(function_execution_id=execution_id, outputs={}))["error"]
        == "internal_error"
    )
    assert double.function_execution(execution_id).state is ExecutionState.RUNNING
    assert client.functions_completeSuccess(function_execution_id=execution_id, outputs={})["ok"] is True


def test_an_outage_answers_the_new_methods_too(double: SlackDouble, client: WebClient, thread: AssistantThread) -> None:
    """While Slack is "down" the assistant and functions methods get the outage's status and change nothing."""
    execution_id = double.new_function_execution("whose_key_lookup")
    double.start_outage(503)
    try:
        for call in (
            lambda: ASSISTANT_CALLS["setTitle"](client, thread.channel_id, thread.thread_ts),
            lambda: client.functions_completeError(function_execution_id=execution_id, error="x"),
        ):
            with pytest.raises(SlackApiError) as caught:
                call()
            assert caught.value.response.status_code == 503
    finally:
        double.end_outage()

    assert double.thread_title(thread.channel_id, thread.thread_ts) is None
    assert double.function_execution(execution_id).state is ExecutionState.RUNNING


# -- the payloads that start them, through Bolt ---------------------------------------------------------------


def bolt_app(double: SlackDouble) -> App:
    """A Bolt app on the double, as bot/app.py builds one (answers before responding; no signatures here)."""
    return App(
        client=WebClient(token=TOKEN, base_url=double.base_url),
        request_verification_enabled=False,
        token_verification_enabled=False,
        process_before_response=True,
    )


def deliver(app: App, event: dict[str, Any]) -> int:
    """Hand Bolt an Events API callback carrying event; the HTTP status it answers."""
    body = json.dumps(slack_payloads.event_callback(event))
    return app.dispatch(BoltRequest(body=body, headers={"content-type": ["application/json"]})).status


def test_a_function_executed_event_runs_a_bolt_step_that_completes_on_the_double(double: SlackDouble) -> None:
    """function_executed from a minted execution reaches Bolt's step listener with the inputs and the workflow's user,
    and Bolt's complete() (with the execution's own token) completes the execution on the double."""
    execution_id = double.new_function_execution("whose_key_lookup", {"key_id": "AKIAIOSFODNN7EXAMPLE"})
    held = double.function_execution(execution_id)
    event = slack_payloads.function_executed(
        execution_id, callback_id=held.callback_id, inputs=held.inputs, user_id=ASKER,
        bot_access_token=held.bot_access_token, workflow_execution_id=held.workflow_execution_id,
    )  # fmt: skip
    app = bolt_app(double)
    seen: list[dict[str, Any]] = []

    @app.function("whose_key_lookup")
    def lookup(inputs: dict[str, Any], complete: Complete) -> None:
        seen.append(inputs)
        complete(outputs={"owner": inputs["user_id"]})

    assert deliver(app, event) == 200
    assert seen == [{"key_id": "AKIAIOSFODNN7EXAMPLE", "user_id": ASKER}]
    assert double.wait_for_function_completion(execution_id, timeout=30).outputs == {"owner": ASKER}
    assert event["function"]["input_parameters"][1] == {
        "type": "slack#/types/user_id", "name": "user_id", "title": "User id", "is_required": True,
    }  # fmt: skip
    assert (event["workflow_execution_id"], event["function"]["app_id"]) == (held.workflow_execution_id, "A0WHOSEKEY")


def test_an_assistant_thread_started_event_drives_bolts_assistant_on_the_double(
    double: SlackDouble, thread: AssistantThread
) -> None:
    """assistant_thread_started for a thread the double started reaches Bolt's Assistant, whose set_status,
    set_suggested_prompts and set_title land on that thread."""
    event = slack_payloads.assistant_thread_started(
        user_id=thread.user_id, channel_id=thread.channel_id, thread_ts=thread.thread_ts,
        context_channel_id=thread.context_channel_id,
    )  # fmt: skip
    app, assistant = bolt_app(double), Assistant()

    @assistant.thread_started
    def start(set_status: SetStatus, set_suggested_prompts: SetSuggestedPrompts, set_title: SetTitle) -> None:
        set_status("is getting ready...")
        set_suggested_prompts(prompts=PROMPTS, title="Ask about a key")
        set_title("Whose key?")

    app.use(assistant)

    assert deliver(app, event) == 200
    assert event["assistant_thread"]["context"] == {"team_id": "T0TEST", "channel_id": "C0INCIDENT"}
    assert double.thread_status(thread.channel_id, thread.thread_ts) == ThreadStatus("is getting ready...")
    prompts = double.suggested_prompts(thread.channel_id, thread.thread_ts)
    assert prompts is not None and prompts.title == "Ask about a key"
    assert double.thread_title(thread.channel_id, thread.thread_ts) == "Whose key?"


def test_app_home_opened_on_the_messages_tab(double: SlackDouble) -> None:
    """app_home_opened defaults to the messages tab (the DM where the agent view lives), carries no view there, and
    reaches Bolt's app_home_opened listener."""
    event = slack_payloads.app_home_opened(user_id=ASKER, channel_id="D0ANA")
    app = bolt_app(double)
    tabs: list[str] = []
    app.event("app_home_opened")(lambda event: tabs.append(event["tab"]))

    assert deliver(app, event) == 200
    assert {k: v for k, v in event.items() if k != "event_ts"} == {
        "type": "app_home_opened", "user": ASKER, "channel": "D0ANA", "tab": "messages",
    }  # fmt: skip
    assert tabs == ["messages"]
    home = slack_payloads.app_home_opened(user_id=ASKER, channel_id="D0ANA", tab="home", view={"type": "home"})
    assert home["view"] == {"type": "home"} and home["tab"] == "home"
