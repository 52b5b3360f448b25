"""The demo's sections for the surfaces people already work in: the DM in Slack's agent view
(suggested prompts, the status while a lookup runs, the thread's title, the answer) and the
Workflow Builder step `find_key_owner` (a `function_executed` event in, the step's outputs out)."""

from __future__ import annotations

import json
import time
from typing import Any

from standins import slack_payloads
from standins.show import message_to_text
from standins.slack_double import ExecutionState, RecordedCall
from standins.stack import Stack

DM_USER = "U0ASKER01"
SEP = "=" * 100


def _say(text: str) -> None:
    print(text, flush=True)


def show_agent_dm(stack: Stack) -> bool:
    """A person opens whose-key's DM (prompts), asks about a key in a new thread, and sees the
    status, then the answer in the thread, under a title naming the key."""
    assert stack.org is not None
    key_id = stack.org.key("acme-staging", "bob")
    channel = "D" + DM_USER[1:]
    _say(SEP)
    _say(f"The DM in Slack's agent view: @{DM_USER} opens it from the top bar")
    stack.slack.add_channel(channel)
    stack.event(slack_payloads.app_home_opened(user_id=DM_USER, channel_id=channel))
    try:
        prompts = stack.slack.wait_for_suggested_prompts(channel, timeout=30)
    except TimeoutError:
        _say("  no suggested prompts within 30 s")
        return False
    _say("\n[suggested prompts]")
    for prompt in prompts.prompts:
        _say(f"  • {prompt.title}  →  sends “{prompt.message}”")
    thread = stack.slack.new_assistant_thread(DM_USER)
    text = f"who owns {key_id}?"
    _say(f"\n[they type in a new thread] {text}")
    started, asked_at = time.monotonic(), time.time()
    stack.event({"type": "message", "channel_type": "im", "user": DM_USER, "text": text, "ts": thread.thread_ts,
                 "channel": thread.channel_id, "event_ts": thread.thread_ts})  # fmt: skip
    try:
        status = stack.slack.wait_for_status(thread.channel_id, thread.thread_ts, timeout=30)
        _say(f"[status after {(time.monotonic() - started) * 1000:.0f} ms] whose-key {status.status}")
        reply = _wait_for_reply(stack, thread.channel_id, thread.thread_ts, key_id)
        title = stack.slack.wait_for_thread_title(thread.channel_id, thread.thread_ts, timeout=30)
    except TimeoutError as exc:
        _say(f"  {exc}")
        return False
    cleared = stack.slack.thread_status(thread.channel_id, thread.thread_ts)
    _say(f"[thread title] {title}")
    _say(f"\n[answer in the thread, {reply.at - asked_at:.2f} s after the question]")
    _say(message_to_text(reply.body))
    _say(f"[status now] {'cleared by the answer' if cleared is None or not cleared.status else cleared.status}")
    return True


def _wait_for_reply(stack: Stack, channel: str, thread_ts: str, marker: str) -> RecordedCall:
    def replied(calls: list[RecordedCall]) -> bool:
        return any(_is_reply(c, channel, thread_ts, marker) for c in calls)

    calls = stack.slack.wait_for(replied, timeout=30)
    return next(c for c in calls if _is_reply(c, channel, thread_ts, marker))


def _is_reply(call: RecordedCall, channel: str, thread_ts: str, marker: str) -> bool:
    body = call.body
    return (
        call.name == "chat.postMessage"
        and body.get("channel") == channel
        and body.get("thread_ts") == thread_ts
        and marker in json.dumps(body)
    )


def show_workflow_step(stack: Stack) -> bool:
    """A workflow's "Find the owner of an AWS access key" step runs: its outputs, as Workflow
    Builder hands them to the next step (e.g. "Send a message to" the owner)."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    _say(SEP)
    _say(f"A Workflow Builder step: “Find the owner of an AWS access key” with access_key_id = {key_id}")
    inputs: dict[str, Any] = {"access_key_id": key_id, "user_id": DM_USER}
    execution = stack.slack.new_function_execution("find_key_owner", inputs, required_outputs=("status", "summary"))
    minted = stack.slack.function_execution(execution)
    event = slack_payloads.function_executed(
        execution,
        callback_id="find_key_owner",
        bot_access_token=minted.bot_access_token,
        inputs=inputs,
        user_id=DM_USER,
        workflow_execution_id=minted.workflow_execution_id,
    )
    started = time.monotonic()
    reply = stack.event(event, event_id=f"Ev{execution}")
    _say(f"\n[function_executed acked: HTTP {reply.status} in {reply.elapsed * 1000:.0f} ms]")
    try:
        done = stack.slack.wait_for_function_completion(execution, timeout=30)
    except TimeoutError:
        _say("  the step was not completed within 30 s")
        return False
    elapsed = time.monotonic() - started
    if done.state is not ExecutionState.COMPLETED or done.outputs is None:
        _say(f"  the step failed: {done.error}")
        return False
    _say(f"[functions.completeSuccess after {elapsed * 1000:.0f} ms, outputs for the next steps]")
    for name, value in done.outputs.items():
        _say(f"  {name:<14} {value}")
    return True
