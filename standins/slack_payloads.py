"""The payloads Slack sends an app, built the same way for the HTTP endpoint and for Socket Mode."""

from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Mapping
from typing import Any

TEAM_ID = "T0TEST"
APP_ID = "A0WHOSEKEY"
BOT_USER_ID = "UWHOSEKEY"


def slash_command(
    text: str, *, user_id: str, channel_id: str, response_url: str, team_id: str = TEAM_ID
) -> dict[str, str]:
    """The fields of a `/whose-key` invocation (a form body over HTTP, a dict over Socket Mode)."""
    return {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": "acme",
        "channel_id": channel_id,
        "channel_name": "incident",
        "user_id": user_id,
        "user_name": "asker",
        "command": "/whose-key",
        "text": text,
        "api_app_id": APP_ID,
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def block_action(
    action_id: str,
    value: str,
    *,
    user_id: str,
    channel_id: str,
    response_url: str,
    user_team: str = TEAM_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A button press (block_actions) on one of the answer's buttons. Pass `trigger_id` from the Slack
    double's new_trigger_id(user_id) when the press should be able to open a modal; without one the
    press carries a made-up trigger that views.open refuses, as Slack refuses a trigger it never issued."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user_id, "username": "asker", "team_id": user_team},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {"type": "message", "channel_id": channel_id, "is_ephemeral": True},
        "trigger_id": trigger_id or _made_up_trigger_id(),
        "channel": {"id": channel_id, "name": "incident"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "whose_key_actions",
                "type": "button",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API callback carrying `event`, as installed in TEAM_ID."""
    return {
        "token": "deprecated-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{time.time_ns()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def function_executed(
    function_execution_id: str,
    *,
    callback_id: str,
    bot_access_token: str,
    inputs: Mapping[str, Any] | None = None,
    user_id: str | None = None,
    workflow_execution_id: str | None = None,
    title: str | None = None,
    output_parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The function_executed event a workflow sends when it runs the app's custom step `callback_id`: wrap it
    with event_callback. Pass the execution's ID, token and inputs from the Slack double's
    new_function_execution / function_execution(...), so functions.complete* accept them. The event names no
    user of its own: a step learns who runs the workflow from an input it declares (Slack's example: `user_id`,
    of type slack#/types/user_id), which `user_id` fills in."""
    given = dict(inputs or {})
    if user_id is not None:
        given["user_id"] = user_id
    return {
        "type": "function_executed",
        "function": {
            # Stable per callback_id, as a function keeps its ID across executions.
            "id": f"Fn{zlib.crc32(callback_id.encode()):010d}",
            "callback_id": callback_id,
            "title": title or callback_id.replace("_", " ").capitalize(),
            "description": "",
            "type": "app",
            "input_parameters": [_function_parameter(name, value) for name, value in given.items()],
            "output_parameters": output_parameters or [],
            "app_id": APP_ID,
            "date_created": 1_700_000_000,
            "date_updated": 1_700_000_000,
            "date_deleted": 0,
        },
        "inputs": given,
        "function_execution_id": function_execution_id,
        "workflow_execution_id": workflow_execution_id or f"Wx{function_execution_id[2:]}",
        "event_ts": f"{time.time():.6f}",
        "bot_access_token": bot_access_token,
    }


def assistant_thread_started(
    *,
    user_id: str,
    channel_id: str,
    thread_ts: str,
    context_channel_id: str | None = None,
    team_id: str = TEAM_ID,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """The assistant_thread_started event (wrap it with event_callback) when user_id opens the app's agent view:
    the thread is in their DM with the app (channel_id, thread_ts; the Slack double's new_assistant_thread makes
    one it knows), and the context is the channel they were viewing, if any."""
    context: dict[str, Any] = {"team_id": team_id}
    if context_channel_id is not None:
        context["channel_id"] = context_channel_id
    if enterprise_id is not None:
        context["enterprise_id"] = enterprise_id
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user_id,
            "context": context,
            "channel_id": channel_id,
            "thread_ts": thread_ts,
        },
        "event_ts": f"{time.time():.6f}",
    }


def app_home_opened(
    *, user_id: str, channel_id: str, tab: str = "messages", view: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The app_home_opened event (wrap it with event_callback) when user_id opens a tab of the app: "messages" (the
    DM channel_id, where the agent view lives) by default, or "home", which carries the view last published."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id,
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = copy.deepcopy(dict(view))
    return event


def _function_parameter(name: str, value: Any) -> dict[str, Any]:
    """An input parameter the step declares for a given input; a member ID is of Slack's user ID type."""
    is_user = isinstance(value, str) and value[:1] in ("U", "W") and value.isalnum() and value.isupper()
    return {
        "type": "slack#/types/user_id" if is_user else "string",
        "name": name,
        "title": name.replace("_", " ").capitalize(),
        "is_required": True,
    }


def view_submission(
    view: Mapping[str, Any],
    typed: Mapping[str, Mapping[str, str]] | None = None,
    *,
    user_id: str,
    user_team: str = TEAM_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A modal's submission (view_submission). `view` is the view as the Slack double answered views.open or
    views.update (SlackDouble.modal(view_id).view); `typed` is what the person typed, {block_id: {action_id: text}}.
    Every plain_text_input of the view is in the state, None where nothing was typed, as Slack sends it; typed
    values for inputs the view does not have are added too, so a test can forge a submission."""
    submitted = copy.deepcopy(dict(view))
    submitted["state"] = {"values": _submitted_values(submitted.get("blocks") or [], typed or {})}
    return {
        "type": "view_submission",
        "team": {"id": str(view.get("team_id") or TEAM_ID), "domain": "acme"},
        "user": {"id": user_id, "username": "asker", "name": "asker", "team_id": user_team},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or _made_up_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def _submitted_values(
    blocks: list[dict[str, Any]], typed: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """view.state.values of a submission: {block_id: {action_id: {"type": "plain_text_input", "value": ...}}}."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in blocks:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        if element.get("type") != "plain_text_input":
            continue  # other elements report selections in their own shapes; no modal here uses them
        block_id, action_id = str(block.get("block_id")), str(element.get("action_id"))
        text = typed.get(block_id, {}).get(action_id)
        values.setdefault(block_id, {})[action_id] = {"type": "plain_text_input", "value": text}
    for block_id, actions in typed.items():
        for action_id, text in actions.items():
            values.setdefault(block_id, {}).setdefault(action_id, {"type": "plain_text_input", "value": text})
    return values


def _made_up_trigger_id() -> str:
    """A trigger_id no Slack double issued: enough for payloads whose handlers open no modal."""
    return f"{time.time():.6f}.trigger"
