"""Settings are read in one place; a missing or malformed one stops each process with one clear
line naming it, and secrets never show in a settings repr."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

from core.settings import Settings, SettingsError
from standins.stack import PROJECT_ROOT
from tests.support.waiting import wait_until

BASE = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "shhh-signing-secret"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SLACK_BOT_TOKEN"),  # nothing set
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),  # HTTP mode without a secret
        ({**BASE, "SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN"),  # malformed token
        ({**BASE, "PORT": "eighty"}, "PORT"),  # not a number
        ({**BASE, "PORT": "70000"}, "PORT"),  # out of range
        ({**BASE, "REDIS_URL": "localhost:6379"}, "REDIS_URL"),  # no scheme
        ({**BASE, "WHOSE_KEY_ALLOWED_CHANNELS": "general"}, "WHOSE_KEY_ALLOWED_CHANNELS"),  # a name, not an ID
        ({**BASE, "WHOSE_KEY_ALLOWED_USERGROUPS": "C0123"}, "WHOSE_KEY_ALLOWED_USERGROUPS"),  # wrong kind of ID
        ({**BASE, "WHOSE_KEY_SWEEP_INTERVAL": "-1"}, "WHOSE_KEY_SWEEP_INTERVAL"),  # negative
        ({**BASE, "WHOSE_KEY_ROLE_NAME": "bad role"}, "WHOSE_KEY_ROLE_NAME"),  # not an IAM role name
        ({**BASE, "WHOSE_KEY_SNS_TOPICS": "my-topic"}, "WHOSE_KEY_SNS_TOPICS"),  # not an ARN
        ({**BASE, "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),  # not an app-level token
        ({**BASE, "WHOSE_KEY_RESPONDER_ROLE_NAME": "no/such"}, "WHOSE_KEY_RESPONDER_ROLE_NAME"),
        ({**BASE, "WHOSE_KEY_RESPONDER_USERGROUPS": "U0123"}, "WHOSE_KEY_RESPONDER_USERGROUPS"),  # a person
        ({**BASE, "WHOSE_KEY_RESPONDER_APPROVALS": "3"}, "WHOSE_KEY_RESPONDER_APPROVALS"),  # 1 or 2 only
        ({**BASE, "WHOSE_KEY_ROTATION_DAYS": "90d"}, "WHOSE_KEY_ROTATION_DAYS"),  # days as a plain number
        ({**BASE, "WHOSE_KEY_ROTATION_DAYS": "-1"}, "WHOSE_KEY_ROTATION_DAYS"),  # 0 turns nudges off; no less
    ],
)
def test_bad_setting_names_the_variable(env: dict[str, str], variable: str) -> None:
    """Each bad setting raises one error whose message starts with the variable's name."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(variable)


def test_defaults_follow_the_contract() -> None:
    """Unset variables take the defaults DESIGN.md fixes."""
    settings = Settings.from_env(BASE)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.redis_url == "redis://localhost:6379/0"
    assert settings.port == 3000
    assert settings.role_name == "WhoseKeyReadOnly"
    assert settings.sweep_interval == 3600
    assert settings.allowed_channels == frozenset() and settings.allowed_usergroups == frozenset()
    # whose-key only reads unless an operator opts in to the responder role.
    assert settings.responder_role_name is None and not settings.responder_enabled
    assert settings.responder_usergroups == frozenset() and settings.responder_approvals == 1
    # Owners are nudged about keys 90 days old (and 180) unless WHOSE_KEY_ROTATION_DAYS says otherwise.
    assert settings.rotation_days == 90


def test_repr_shows_no_secret() -> None:
    """The settings' repr (used in start-up logs) carries no token, secret or Redis password."""
    settings = Settings.from_env(
        {**BASE, "WHOSE_KEY_EVENTS_TOKEN": "evtok-123", "REDIS_URL": "redis://:pa55word@redis:6379/0"}
    )
    text = repr(settings)
    for secret in ("xoxb-1-2-abc", "shhh-signing-secret", "evtok-123", "pa55word"):
        assert secret not in text


@pytest.mark.parametrize("module", ["bot.web", "workers", "bot.socket"])
def test_process_without_a_setting_stops_with_one_line(module: str) -> None:
    """`web`, `worker` and `socket` started without SLACK_BOT_TOKEN exit at once with one line naming it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHOSE_KEY_"))}
    result = subprocess.run(
        [sys.executable, "-m", module], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "SLACK_BOT_TOKEN" in lines[0]


def test_socket_process_idles_without_an_app_token() -> None:
    """The Procfile's `socket` stays up quietly in HTTP mode, so Procfile runners keep the others running."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WHOSE_KEY_"))}, **BASE}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.socket"], cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        # It logs this line and then idles: once the line is out, it has passed every exit.
        line = first_line_with(process, "Socket Mode is off", timeout=30)
        assert json.loads(line)["level"] == "info"
        assert process.poll() is None, "it must not exit"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


def first_line_with(process: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The first line of the process's stderr containing text, read as it arrives."""
    assert process.stderr is not None
    stderr = process.stderr
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stderr:
            lines.put(line)
        lines.put(None)  # the process closed stderr: it exited

    threading.Thread(target=read, daemon=True).start()

    def matching_line() -> str | None:
        """The first line read so far that contains text (each line read once, in order)."""
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                return None
            assert line is not None, f"the process exited (code {process.wait()}) before logging {text!r}"
            if text in line:
                return line

    return wait_until(matching_line, what=f"the process to log {text!r}", timeout=timeout)
