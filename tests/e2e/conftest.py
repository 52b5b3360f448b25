"""Shared fixtures: the whole bot on real parts (throwaway Redis, moto server, loopback Slack,
and the Procfile's web and worker processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from redis import Redis

from standins.stack import IAM_MODE_VARIABLE, Stack
from tests.e2e.env import TEST_ENV


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """One running bot for the session; tests isolate themselves by their own response_url."""
    with Stack(extra_env=dict(TEST_ENV)) as running:
        yield running


@pytest.fixture
def redis(stack: Stack) -> Redis:
    """A client of the stack's own throwaway Redis (never a Redis the tests did not start)."""
    return Redis.from_url(stack.redis.url)


# Modules whose AWS calls are incidental (the Slack double's own tests, Redis transport and
# process restarts, templates and packaging): the strict-IAM run (WHOSE_KEY_TEST_IAM_MODE=strict,
# which holds every call to the roles' grants) would repeat them and prove nothing new, so it
# leaves them to the moto run, keeping CI inside its time.
NOT_ABOUT_IAM = frozenset(
    {
        "test_slack_double.py",
        "test_slack_double_files.py",
        "test_slack_double_views.py",
        "test_slack_double_assistant.py",
        "test_redis_tls.py",
        "test_redis_failover.py",
        "test_redis_full_memory.py",
        "test_rolling_restart.py",
        "test_deploy_lint.py",
        "test_packaging.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(IAM_MODE_VARIABLE) != "strict":
        return
    left = [item for item in items if item.path.name in NOT_ABOUT_IAM]
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if item.path.name not in NOT_ABOUT_IAM]
