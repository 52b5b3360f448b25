"""The Slack checks: the bot token works (auth.test) and carries every scope the bot needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.scopes import BOT_SCOPES
from cli.doctor.model import Check, Status, not_checked
from core.settings import Settings
from core.slack_client import make_web_client

# auth.test errors that mean the token itself is wrong, revoked or expired.
_AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}


def slack_checks(settings: Settings, bad: frozenset[str]) -> list[Check]:
    """auth.test with the bot token, then the scopes Slack says the token has."""
    blocked = sorted(bad & {"SLACK_BOT_TOKEN", "SLACK_API_URL"})
    if blocked or not settings.slack_bot_token:
        return [not_checked("slack", "auth.test", " and ".join(blocked) or "SLACK_BOT_TOKEN")]
    client = make_web_client(settings)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in _AUTH_ERRORS:
            fix = (
                "SLACK_BOT_TOKEN is not accepted: copy the Bot User OAuth Token (xoxb-…) from the app's "
                "OAuth & Permissions page (reinstall the app if the token was revoked)"
            )
        else:
            fix = f"see https://api.slack.com/methods/auth.test for '{error}'; check SLACK_API_URL"
        return [Check("slack", "auth.test", Status.FAIL, f"Slack refused the bot token ({error})", fix)]
    except (SlackClientError, OSError) as exc:
        return [
            Check(
                "slack",
                "auth.test",
                Status.FAIL,
                f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})",
                "check SLACK_API_URL (or unset it for https://slack.com/api/) and outbound HTTPS to Slack",
            )
        ]

    bot = f"{response.get('user')} ({response.get('user_id')})"
    who = f"bot {bot} in {response.get('team')} ({response.get('team_id')})"
    if response.get("bot_id"):
        identity = Check("slack", "auth.test", Status.OK, f"{who} via {settings.slack_api_url}")
    else:
        identity = Check(
            "slack",
            "auth.test",
            Status.WARN,
            f"{who}: the token is not a bot token",
            "use the Bot User OAuth Token (xoxb-…), not a user token",
        )
    return [identity, scope_check(response.headers)]


def scope_check(headers: Mapping[str, Any]) -> Check:
    """Compare the X-OAuth-Scopes header of a Slack answer with the scopes the bot needs."""
    by_name = {name.lower(): value for name, value in headers.items()}
    raw = by_name.get("x-oauth-scopes")
    if raw is None:
        return Check(
            "slack",
            "scopes",
            Status.WARN,
            "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
            "check the app's OAuth & Permissions page has every scope in deploy/slack-manifest.yml",
        )
    text = ",".join(raw) if isinstance(raw, list) else str(raw)
    granted = {scope.strip() for scope in text.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return Check(
            "slack",
            "scopes",
            Status.FAIL,
            f"missing bot scopes: {', '.join(missing)}",
            f"add {', '.join(missing)} in the app's OAuth & Permissions page (or deploy/slack-manifest.yml) "
            "and reinstall the app",
        )
    return Check("slack", "scopes", Status.OK, f"all {len(BOT_SCOPES)} bot scopes granted")
