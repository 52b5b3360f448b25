"""Shared fixtures: the whole bot on real parts (throwaway Redis, moto server, loopback Slack,
and the Procfile's web and worker processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from standins.stack import Stack
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
