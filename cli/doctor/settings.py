"""The settings checks: every bad variable (not only the first), and the optional ones left unset."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from cli.doctor.model import Check, Status
from cli.doctor.redact import redact_url
from core.settings import Settings, SettingsError

# A SettingsError message starts with the variable it is about.
_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]+")

_SETTING_FIXES = {
    "SLACK_BOT_TOKEN": "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…, from OAuth & Permissions)",
    "SLACK_SIGNING_SECRET": "set SLACK_SIGNING_SECRET from the app's Basic Information page, or set "
    "SLACK_APP_TOKEN (xapp-…) to run in Socket Mode",
    "SLACK_APP_TOKEN": "set SLACK_APP_TOKEN to an app-level token (xapp-…, Basic Information → App-Level "
    "Tokens, scope connections:write), or unset it for HTTP mode",
}

# How key events reach the bot: the token lives in the hub account only, members just forward.
EVENTS_DELIVERY_FIX = (
    "set WHOSE_KEY_EVENTS_TOKEN to a long random value (openssl rand -hex 32) and give the same value as "
    "EventsToken to deploy/events-hub.yaml, in the hub account only (us-east-1 and us-west-2); member accounts "
    "hold no token, they only forward key events to the hub (deploy/events-stackset.yaml, and events-member.yaml "
    "in the management account). For SNS instead: Delivery=Sns, and both TopicArn outputs in WHOSE_KEY_SNS_TOPICS. "
    "See deploy/README.md, step 3"
)


@dataclass(frozen=True)
class SettingsOutcome:
    """The settings checks, the settings to check the rest with, and the variables found bad."""

    checks: list[Check]
    settings: Settings
    bad: frozenset[str]


def settings_checks(env: Mapping[str, str]) -> SettingsOutcome:
    """Report every bad setting, then read the others with each bad one at its default."""
    checks: list[Check] = []
    bad: set[str] = set()
    remaining = dict(env)
    require_slack = True
    while True:
        try:
            settings = Settings.from_env(remaining, require_slack=require_slack)
            break
        except SettingsError as exc:
            variable = variable_in(exc)
            bad.add(variable)
            checks.append(Check("settings", variable or "environment", Status.FAIL, str(exc), setting_fix(variable)))
            if remaining.get(variable, "").strip():
                del remaining[variable]  # malformed: check the others with its default
            elif require_slack:
                require_slack = False  # a Slack setting is missing: check the others without it
            else:  # cannot happen with today's settings, but never loop forever
                settings = Settings(slack_bot_token="", slack_signing_secret=None)
                break

    if not bad:
        checks.append(Check("settings", "environment", Status.OK, _summary(settings)))
    checks += _optional_checks(settings)
    return SettingsOutcome(checks, settings, frozenset(bad))


def variable_in(exc: SettingsError) -> str:
    """The variable a SettingsError names, or "" when its message names none."""
    match = _VARIABLE.match(str(exc))
    return match.group(0) if match else ""


def setting_fix(variable: str) -> str:
    return _SETTING_FIXES.get(variable, f"fix {variable or 'the setting'} (see Configuration in README.md)")


def _summary(settings: Settings) -> str:
    mode = "Socket Mode" if settings.slack_app_token else "HTTP mode"
    external_id = "with an ExternalId" if settings.external_id else "no ExternalId"
    sweep = f"sweep every {settings.sweep_interval}s" + ("" if settings.sweep_interval else " (off)")
    return (
        f"{mode}; Slack API {settings.slack_api_url}; Redis {redact_url(settings.redis_url)}; "
        f"role {settings.role_name} ({external_id}); {sweep}"
    )


def _optional_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    # Events delivered through SNS carry no bearer token, so SNS topics alone are a working setup.
    if not settings.events_token and not settings.sns_topics:
        checks.append(
            Check(
                "settings",
                "events token",
                Status.WARN,
                "WHOSE_KEY_EVENTS_TOKEN is unset (and no WHOSE_KEY_SNS_TOPICS): /aws/events refuses all events, "
                "so key deactivations reach Slack only through the periodic sweep",
                EVENTS_DELIVERY_FIX,
            )
        )
    if not settings.audit_channel:
        checks.append(
            Check(
                "settings",
                "audit channel",
                Status.WARN,
                "WHOSE_KEY_AUDIT_CHANNEL is unset: key-deactivation notices and the audit trail are not posted",
                "set WHOSE_KEY_AUDIT_CHANNEL to a channel ID (C…) and invite the bot to that channel",
            )
        )
    return checks
