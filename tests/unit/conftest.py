"""Shared fixtures of the unit layer: one throwaway Redis for the whole run (flushed before each
test that asks for it), the loopback Slack double served in-process, and Hypothesis's budget.

Nothing here starts the bot's processes; the only child process is the redis-server, started
once, on a free port, and only that server is ever flushed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from redis import Redis

from core.settings import Settings
from standins.redis_server import RedisServer
from standins.slack_double import SlackDouble

# Property tests: a quick budget for every run, so the unit layer stays within about half a
# minute, and the earlier 500 examples on demand (HYPOTHESIS_PROFILE=thorough). No deadline: a
# 2-core machine running other suites must not turn a slow example into a failure.
settings.register_profile("quick", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

# The token the Slack double accepts and the clients under test present.
SLACK_TOKEN = "xoxb-unit-test-token"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole unit run, on a free loopback port, keeping nothing on disk."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[Redis]:
    """A client of the unit run's own Redis, emptied first so no test sees another's state."""
    client = Redis.from_url(redis_server.url)
    client.flushall()  # only ever the server this run started
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def slack_double() -> Iterator[SlackDouble]:
    """The loopback Slack (Web API and response URLs) on a thread of this process."""
    double = SlackDouble(token=SLACK_TOKEN).start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def slack(slack_double: SlackDouble) -> SlackDouble:
    """The Slack double with no recorded calls, scripts or response_url uses left from other tests."""
    slack_double.reset()
    return slack_double


@pytest.fixture
def slack_settings(slack: SlackDouble) -> Settings:
    """Settings pointing the Slack client at the double (change others with dataclasses.replace)."""
    return Settings(
        slack_bot_token=SLACK_TOKEN, slack_signing_secret="unit-signing-secret", slack_api_url=slack.base_url
    )
