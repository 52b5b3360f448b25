"""Owners who left: the Slack member a key's tags name is deactivated, or their email is no
longer found. Answers are cached in Redis (and per run in memory), so a report over 100,000 keys
asks Slack once per owner, not once per key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from workers.cache import JsonCache
from workers.hygiene.records import KeyRecord
from workers.slack.owners import remember_member

log = logging.getLogger(__name__)

# How long Slack's answer about one member is trusted.
MEMBER_STATUS_TTL = 3600

PRESENT = "present"
LEFT = "left"


class DepartureChecker:
    """Whether a key's owner has left Slack: True, False, or None when Slack could not say."""

    def __init__(self, client: WebClient, cache: JsonCache) -> None:
        self.client = client
        self.cache = cache
        self._seen: dict[str, bool | None] = {}

    def __call__(self, record: KeyRecord) -> bool | None:
        if record.owner_slack_id:
            return self._memo("member:" + record.owner_slack_id, lambda: self._member(record.owner_slack_id or ""))
        if record.owner_email:
            email = record.owner_email.lower()
            return self._memo("email:" + email, lambda: self._email(email))
        return None

    def _memo(self, name: str, ask: Callable[[], bool | None]) -> bool | None:
        if name in self._seen:
            return self._seen[name]
        cached = self.cache.get("owner-status:" + name)
        if cached in (PRESENT, LEFT):
            answer: bool | None = cached == LEFT
        else:
            answer = ask()
            if answer is not None:
                self.cache.set("owner-status:" + name, LEFT if answer else PRESENT, MEMBER_STATUS_TTL)
        self._seen[name] = answer
        return answer

    def _member(self, user_id: str) -> bool | None:
        try:
            user = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            # An ID Slack does not know is a tag to fix, not a departure: users.info still
            # answers for deactivated members (with deleted: true).
            log.info("owner not checked", extra={"error": exc.response.get("error")})
            return None
        except OSError:
            return None
        return bool(user.get("deleted"))

    def _email(self, email: str) -> bool | None:
        try:
            user = self.client.users_lookupByEmail(email=email).get("user") or {}
        except SlackApiError as exc:
            return True if exc.response.get("error") == "users_not_found" else None
        except OSError:
            return None
        if not user.get("deleted"):
            remember_member(self.cache, email, str(user.get("id") or ""))  # the nudges' owner, for free
        return bool(user.get("deleted"))
