"""The payloads Slack sends an app, built the same way for the HTTP endpoint and for Socket Mode."""

from __future__ import annotations

import time
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
    action_id: str, value: str, *, user_id: str, channel_id: str, response_url: str, user_team: str = TEAM_ID
) -> dict[str, Any]:
    """A button press (block_actions) on one of the answer's buttons."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "acme"},
        "user": {"id": user_id, "username": "asker", "team_id": user_team},
        "api_app_id": APP_ID,
        "token": "deprecated-verification-token",
        "container": {"type": "message", "channel_id": channel_id, "is_ephemeral": True},
        "trigger_id": f"{time.time():.6f}.trigger",
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
