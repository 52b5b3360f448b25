"""The payloads Slack sends an app, built the same way for the HTTP endpoint and for Socket Mode."""

from __future__ import annotations

import copy
import time
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
