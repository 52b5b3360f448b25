"""The edge's pure checks: Slack fixtures read the way the app reads them (body guard, the
asker's workspace), the body guard's verdicts, transport settings, and timeouts on every
outbound HTTP call in the product."""

from __future__ import annotations

import ast
import json
import urllib.parse
from pathlib import Path

import pytest

from bot.body_guard import MAX_DEPTH, check_aws_body, check_slack_body
from bot.members import outside_teams, teams_of_action, teams_of_command, teams_of_event
from cli.doctor.redact import redact_text
from cli.doctor.redact import redact_url as doctor_redact_url
from core.settings import Settings, SettingsError, redact_url

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "slack"
HOME = "T05WHOKEY01"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def wire_body(payload: dict) -> tuple[dict[str, str], bytes]:
    """The fixture as Slack puts it on the wire: commands and interactions as forms, events as JSON."""
    if "command" in payload:
        return FORM, urllib.parse.urlencode(payload).encode()
    if payload.get("type") in ("block_actions", "view_submission"):
        return FORM, urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return JSON, json.dumps(payload).encode()


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_slack_fixture_passes_the_body_guard_and_names_its_workspace(path: Path) -> None:
    """Each payload Slack sends gets past the guard; only the Slack Connect one is from outside."""
    payload = json.loads(path.read_text())
    headers, body = wire_body(payload)
    assert check_slack_body(headers, body) is None
    if "command" in payload:
        teams = teams_of_command(payload)
    elif "event" in payload:
        teams = teams_of_event(payload, payload["event"])
    elif payload.get("type") in ("block_actions", "view_submission"):
        teams = teams_of_action(payload)
    else:
        teams = ()
    outside = outside_teams(teams, HOME, frozenset())
    assert outside == (["T07PARTNER2"] if "slack-connect" in path.name else [])


@pytest.mark.parametrize("path", sorted((FIXTURES / "socket-mode-envelopes").glob("*.json")), ids=lambda p: p.name)
def test_socket_mode_envelopes_carry_payloads_the_guard_accepts(path: Path) -> None:
    """Socket Mode envelopes hold the same payloads as HTTP: each passes the same checks."""
    envelope = json.loads(path.read_text())
    if "payload" not in envelope:
        assert envelope["type"] in ("hello", "disconnect")
        return
    headers, body = wire_body(envelope["payload"])
    assert check_slack_body(headers, body) is None


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        # deeper than MAX_DEPTH
        (JSON, ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), 400),
        # deep enough to break the JSON parser itself
        (JSON, ("[" * 200_000 + "]" * 200_000).encode(), 400),
        # JSON that is not an object
        (JSON, b"null", 400),
        # a null event
        (JSON, b'{"type": "event_callback", "event": null}', 400),
        # not UTF-8
        (FORM, b"text=\xff", 400),
        # a payload field that is not JSON
        (FORM, b"payload=%7B", 400),
        # a content type Slack never sends
        ({"content-type": "text/xml"}, b"<a/>", 400),
        # over the size limit
        (JSON, b"{" + b" " * (1024 * 1024 + 1) + b"}", 413),
    ],
)
def test_slack_body_guard_refuses_with_a_reason(headers: dict[str, str], body: bytes, status: int) -> None:
    """Malformed, nested, mistyped or huge bodies get 400 or 413 with a reason."""
    problem = check_slack_body(headers, body)
    assert problem is not None and problem[1] == status and problem[0]


def test_aws_guard_refuses_an_sns_header_on_a_non_sns_body() -> None:
    """An SNS message-type header on an EventBridge body is a 400, not a signature failure."""
    problem = check_aws_body({"content-type": "application/json", "x-amz-sns-message-type": "Notification"}, b"{}")
    assert problem is not None and problem[1] == 400 and "not an SNS message" in problem[0]


BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://slack.com/api/", True),
        ("http://127.0.0.1:8080/api/", True),  # a loopback stand-in
        ("http://localhost:8080/api/", True),
        ("http://slack.example.com/api/", False),  # plain http off the machine
        ("http://10.0.0.5/api/", False),
    ],
)
def test_slack_api_url_must_be_https_except_on_loopback(url: str, ok: bool) -> None:
    """SLACK_API_URL over plain http is refused unless it points at loopback."""
    if ok:
        assert Settings.from_env({**BASE, "SLACK_API_URL": url}).slack_api_url == url
    else:
        with pytest.raises(SettingsError, match="SLACK_API_URL must use https"):
            Settings.from_env({**BASE, "SLACK_API_URL": url})


@pytest.mark.parametrize(
    "url",
    ["redis://:hunter2pass@redis.internal:6379/0", "redis://app:hunter2pass@redis.internal/0",
     "rediss://hunter2pass@redis.internal:6380"],
)  # fmt: skip
def test_redis_password_is_never_printed(url: str) -> None:
    """Neither the settings' repr nor redact_url shows the Redis password."""
    settings = Settings.from_env({**BASE, "REDIS_URL": url})
    assert "hunter2pass" not in repr(settings) and "hunter2pass" not in redact_url(url)
    assert "redis.internal" in redact_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://redis.internal:6379/0?password=hunter2pass", "redis://hunter2pass@redis.internal:6379/0",
     "rediss://app:hunter2pass@redis.internal:6380/0?ssl_cert_reqs=required&token=hunter2pass"],
)  # fmt: skip
def test_every_form_of_redis_secret_is_hidden_in_logs_and_the_doctor(url: str) -> None:
    """A password in the query, a bare token user, or both: neither the settings' repr (the start-up
    log line) nor the doctor's redaction of the URL and of an error naming it shows the secret."""
    settings = Settings.from_env({**BASE, "REDIS_URL": url})
    error = f"Error connecting to {url}: auth failed for hunter2pass"

    assert "hunter2pass" not in repr(settings)
    assert "hunter2pass" not in doctor_redact_url(url) and "redis.internal" in doctor_redact_url(url)
    assert "hunter2pass" not in redact_text(error, url)


def test_new_settings_are_read_and_validated() -> None:
    """Budget, concurrency, teams and guests settings parse, and bad values name the variable."""
    settings = Settings.from_env(
        {**BASE, "WHOSE_KEY_FULL_SEARCH_LIMIT": "3", "WHOSE_KEY_FULL_SEARCH_CONCURRENCY": "2",
         "WHOSE_KEY_ALLOWED_TEAMS": "T0AAA, E0BBB", "WHOSE_KEY_ALLOW_GUESTS": "yes"}
    )  # fmt: skip
    assert (settings.full_search_limit, settings.full_search_concurrency) == (3, 2)
    assert settings.allowed_teams == {"T0AAA", "E0BBB"} and settings.allow_guests
    assert Settings.from_env(BASE).full_search_limit == 10 and not Settings.from_env(BASE).allow_guests
    with pytest.raises(SettingsError, match="WHOSE_KEY_ALLOWED_TEAMS"):
        Settings.from_env({**BASE, "WHOSE_KEY_ALLOWED_TEAMS": "C0NOTATEAM"})
    with pytest.raises(SettingsError, match="WHOSE_KEY_ALLOW_GUESTS"):
        Settings.from_env({**BASE, "WHOSE_KEY_ALLOW_GUESTS": "maybe"})


# Calls that open an outbound HTTP connection, and where their timeout goes.
OUTBOUND = {"WebClient", "WebhookClient", "urlopen", "create_connection", "HTTPSConnection", "HTTPConnection"}


def test_every_outbound_http_call_in_the_product_has_a_timeout() -> None:
    """Every Slack client, webhook and urlopen in core/, bot/, workers/ and cli/ is given a timeout."""
    missing = []
    for package in ("core", "bot", "workers", "cli"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in OUTBOUND and not any(k.arg == "timeout" for k in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert missing == []
