"""Deliver messages to Slack: to a command's response_url, or through the Web API.

Every call retries on connection errors, 5xx and 429 (honouring Retry-After). A response_url
takes at most 5 posts in 30 minutes; when Slack refuses one, the message goes through the Web
API instead, so it is still delivered.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlparse

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from core.contract import Destination
from core.redis_keys import RESPONSE_URL_USES, redis_key
from core.settings import Settings
from core.slack_client import SLACK_TIMEOUT, retry_handlers

log = logging.getLogger(__name__)

# Slack lets a response_url take this many posts within this many seconds.
RESPONSE_URL_MAX_POSTS = 5
RESPONSE_URL_WINDOW = 30 * 60
# Where Slack's response URLs live; anything else is refused so a forged job cannot make the
# worker post elsewhere.
SLACK_HOOKS_ORIGIN = "https://hooks.slack.com"


class DeliveryError(Exception):
    """Slack did not take the message, even after retries and the fallback.

    `transient` when Slack was down or unreachable (5xx, 429, connection errors), as opposed to
    refusing this message (unknown channel, user gone): trying later elsewhere would not help.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def _refused(exc: SlackApiError) -> DeliveryError:
    status = getattr(exc.response, "status_code", 200)
    transient = status >= 500 or status == 429
    return DeliveryError(f"Slack refused the message ({exc.response.get('error')})", transient=transient)


class Poster:
    def __init__(self, client: WebClient, settings: Settings, redis: Redis | None = None) -> None:
        self.client = client
        self.redis = redis
        self.allowed_origins = {SLACK_HOOKS_ORIGIN, settings.slack_api_origin}

    def post(self, destination: Destination, payload: dict[str, Any]) -> None:
        """Deliver payload (text + blocks) to destination; raise DeliveryError if impossible."""
        url = destination.response_url
        if url and self._take_response_url_use(url) and self._post_to_response_url(url, payload, destination):
            return
        self._post_with_web_api(destination, payload)

    def _take_response_url_use(self, url: str) -> bool:
        """Count posts per response_url (Slack takes 5 in 30 minutes); False once they are used up."""
        if self.redis is None:
            return True
        # The URL is a capability: only its hash is stored.
        name = redis_key(RESPONSE_URL_USES, hashlib.sha256(url.encode()).hexdigest()[:32])
        with self.redis.pipeline() as pipe:
            pipe.set(name, 0, nx=True, ex=RESPONSE_URL_WINDOW)  # the window starts at the first post
            pipe.incr(name)
            uses = int(pipe.execute()[1])
        return uses <= RESPONSE_URL_MAX_POSTS

    def _post_to_response_url(self, url: str, payload: dict[str, Any], destination: Destination) -> bool:
        parsed = urlparse(url)
        if f"{parsed.scheme}://{parsed.netloc}" not in self.allowed_origins:
            log.warning("refusing a response_url outside Slack", extra={"host": parsed.netloc})
            return False
        webhook = WebhookClient(url, timeout=SLACK_TIMEOUT, retry_handlers=retry_handlers())
        body = {
            "response_type": "ephemeral" if destination.ephemeral else "in_channel",
            "replace_original": False,
            **payload,  # a progress update may replace the previous message
        }
        try:
            response = webhook.send_dict(body)
        except OSError as exc:  # connection failures after retries
            log.warning("response_url post failed", extra={"error": type(exc).__name__})
            return False
        if response.status_code == 200:
            return True
        # used_url / expired_url / 404: Slack will not take more here; use the Web API.
        log.info("response_url refused, falling back to the Web API", extra={"status": response.status_code})
        return False

    def post_or_update(self, destination: Destination, payload: dict[str, Any], ts: str | None) -> str | None:
        """Post a message in a channel or thread, or update the one at ts; returns its ts."""
        try:
            if ts and destination.channel:
                self.client.chat_update(channel=destination.channel, ts=ts, **payload)
                return ts
            response = self.client.chat_postMessage(
                channel=destination.channel or "", thread_ts=destination.thread_ts, **payload
            )
            return str(response.get("ts") or "") or None
        except SlackApiError as exc:
            raise DeliveryError(f"Slack refused the message ({exc.response.get('error')})") from exc
        except OSError as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})") from exc

    def delete(self, channel: str, ts: str) -> None:
        try:
            self.client.chat_delete(channel=channel, ts=ts)
        except (SlackApiError, OSError):
            log.info("could not delete a progress message")

    def _post_with_web_api(self, destination: Destination, payload: dict[str, Any]) -> None:
        if not destination.channel:
            raise DeliveryError("no channel to post to and the response_url was refused")
        try:
            if destination.ephemeral and destination.user:
                try:
                    self.client.chat_postEphemeral(
                        channel=destination.channel, user=destination.user, thread_ts=destination.thread_ts, **payload
                    )
                    return
                except SlackApiError as exc:
                    # The bot may not be in that channel; a DM to the asker still delivers.
                    if exc.response.get("error") not in {"channel_not_found", "not_in_channel", "user_not_in_channel"}:
                        raise
                    dm = self.client.conversations_open(users=destination.user)["channel"]["id"]
                    self.client.chat_postMessage(channel=dm, **payload)
                    return
            self.client.chat_postMessage(channel=destination.channel, thread_ts=destination.thread_ts, **payload)
        except SlackApiError as exc:
            raise _refused(exc) from exc
        except OSError as exc:
            raise DeliveryError(f"Slack could not be reached ({type(exc).__name__})", transient=True) from exc
