"""The Slack Web API client both the web and the workers use: one timeout, one retry policy."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler

from core.settings import Settings

# Seconds for any one call to Slack, connect and read.
SLACK_TIMEOUT = 10


def retry_handlers() -> list[RetryHandler]:
    """Retry connection errors and 5xx briefly, and 429 as often as Retry-After allows."""
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=4),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def make_web_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.slack_bot_token or None,
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT,
        retry_handlers=retry_handlers(),
    )
