"""Who may ask: the allowed channels and user groups (WHOSE_KEY_ALLOWED_CHANNELS,
WHOSE_KEY_ALLOWED_USERGROUPS) and a per-user rate limit, the same for every surface.

Checked in the web before anything is queued. Group membership comes from
usergroups.users.list, cached in Redis for a few minutes; when it cannot be read, the answer is
no (fail closed) with a message saying why.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.redis_keys import RATE_COUNTER, USERGROUP_MEMBERS, redis_key
from core.settings import Settings

log = logging.getLogger(__name__)

GROUP_CACHE_TTL = 300
RATE_WINDOW = 60


@dataclass(frozen=True)
class Refusal:
    """Why a request is not served, in words for the person who asked."""

    reason: str  # short code for the audit trail: channel, usergroup, rate_limit, membership_unknown
    message: str


class AccessPolicy:
    def __init__(self, settings: Settings, redis: Redis, client: WebClient) -> None:
        self.settings = settings
        self.redis = redis
        self.client = client

    def check(self, user: str | None, channel: str | None, *, keys: int = 1) -> Refusal | None:
        """None when the user may ask here now; else the polite refusal. Raises RedisError."""
        refusal = self._channel(channel) or self._groups(user)
        if refusal is None and user and keys:
            refusal = self._rate(user, keys)
        return refusal

    def _channel(self, channel: str | None) -> Refusal | None:
        allowed = self.settings.allowed_channels
        if not allowed or channel in allowed:
            return None
        where = ", ".join(f"<#{c}>" for c in sorted(allowed))
        return Refusal(
            "channel",
            f":lock: whose-key answers only in {where}. Please ask there"
            + (f", or ask for access in <#{self.settings.audit_channel}>." if self.settings.audit_channel else "."),
        )

    def _groups(self, user: str | None) -> Refusal | None:
        groups = self.settings.allowed_usergroups
        if not groups:
            return None
        names = ", ".join(f"<!subteam^{g}>" for g in sorted(groups))
        if user is None:
            return Refusal("usergroup", f":lock: whose-key is limited to members of {names}.")
        try:
            if any(self._is_member(user, group) for group in sorted(groups)):
                return None
        except SlackApiError as exc:
            log.warning("user group membership unknown", extra={"error": exc.response.get("error")})
            return Refusal(
                "membership_unknown",
                ":lock: I could not check your group membership with Slack just now, so I cannot answer. "
                "Please try again in a minute.",
            )
        return Refusal(
            "usergroup",
            f":lock: whose-key is limited to members of {names}. Ask one of its managers to add you "
            "if you need to look up keys.",
        )

    def _is_member(self, user: str, group: str) -> bool:
        cache = redis_key(USERGROUP_MEMBERS, group)
        if not self.redis.exists(cache):
            members = self.client.usergroups_users_list(usergroup=group).get("users") or []
            with self.redis.pipeline() as pipe:
                pipe.delete(cache)
                # A placeholder keeps an empty group cached too.
                pipe.sadd(cache, "-", *members)
                pipe.expire(cache, GROUP_CACHE_TTL)
                pipe.execute()
        return bool(self.redis.sismember(cache, user))

    def _rate(self, user: str, keys: int) -> Refusal | None:
        limit = self.settings.rate_limit
        if limit <= 0:
            return None
        window = int(time.time() // RATE_WINDOW)
        name = redis_key(RATE_COUNTER, user, str(window))
        with self.redis.pipeline() as pipe:
            pipe.incrby(name, keys)
            pipe.expire(name, RATE_WINDOW * 2)
            used = int(pipe.execute()[0])
        if used <= limit:
            return None
        wait = RATE_WINDOW - int(time.time() % RATE_WINDOW)
        return Refusal(
            "rate_limit",
            f":hourglass: You have asked about {used} keys this minute; the limit is {limit} per minute. "
            f"Please try again in {wait} seconds.",
        )
