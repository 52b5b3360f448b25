"""Who owns a key: the IAM user's tags, resolved to a Slack member when possible.

Tags (keys case-insensitive): `slack-user-id` first, then `email`, then `owner` when it holds an
email address. Emails become Slack members through users.lookupByEmail, cached in Redis.
"""

from __future__ import annotations

import re
from dataclasses import replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.cache import JsonCache
from workers.constants import SLACK_USER_CACHE_TTL
from workers.model import Owner

_SLACK_MEMBER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


def owner_from_tags(tags: dict[str, str]) -> Owner:
    """The owner named by the user's tags, or an unknown Owner."""
    lowered = {k.strip().lower(): v.strip() for k, v in tags.items()}
    slack_id = lowered.get("slack-user-id", "")
    if _SLACK_MEMBER_ID.match(slack_id):
        return Owner(slack_user_id=slack_id, email=_email_in(lowered), source="slack-user-id")
    for tag in ("email", "owner"):
        value = lowered.get(tag, "")
        if _EMAIL.match(value):
            return Owner(email=value, source=tag)
    return Owner()


def _email_in(tags: dict[str, str]) -> str | None:
    for tag in ("email", "owner"):
        if _EMAIL.match(tags.get(tag, "")):
            return tags[tag]
    return None


def _member_cache_name(email: str) -> str:
    return "slack-user:" + email.lower()


def remember_member(cache: JsonCache, email: str, member_id: str) -> None:
    """Keep what another users.lookupByEmail call learned (the departure check asks the same
    question after every sweep), so resolving that owner costs no second call."""
    if member_id:
        cache.set(_member_cache_name(email), member_id, SLACK_USER_CACHE_TTL)


class SlackDirectory:
    """Email -> Slack member ID through users.lookupByEmail, cached (misses too, briefly)."""

    MISS_TTL = 600

    def __init__(self, client: WebClient, cache: JsonCache) -> None:
        self.client = client
        self.cache = cache

    def resolve(self, owner: Owner) -> Owner:
        if owner.slack_user_id or not owner.email:
            return owner
        cached = self.cache.get(_member_cache_name(owner.email))
        if cached is None:
            cached = self._lookup(owner.email)
            if cached is not None:
                self.cache.set(
                    _member_cache_name(owner.email), cached, SLACK_USER_CACHE_TTL if cached else self.MISS_TTL
                )
        return replace(owner, slack_user_id=cached) if cached else owner

    def _lookup(self, email: str) -> str | None:
        """The member ID, "" when Slack has no such user, None when Slack could not say."""
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            # A miss is an answer worth caching; other errors are not. Either way the owner's
            # email still shows in the answer.
            return "" if exc.response.get("error") == "users_not_found" else None
        except OSError:  # Slack unreachable after retries: answer with the email alone
            return None
        user = response.get("user") or {}
        return str(user.get("id") or "")
