"""Who is in a Slack user group, from `usergroups.users.list`, cached in Redis.

Shared by the web (who may ask, who is an admin) and the workers (whose refreshed Home tab shows
the organization's counts), so both read the same cache and Slack is asked once per group.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis import Redis
from slack_sdk import WebClient

from core.redis_keys import USERGROUP_MEMBERS, redis_key

# Keeps an empty group cached too: a set with no members does not exist in Redis.
_PLACEHOLDER = "-"


class GroupMembers:
    """Membership of user groups. Raises SlackApiError/OSError when Slack cannot say, RedisError
    when Redis is away: callers decide what "cannot say" means (the web refuses)."""

    def __init__(self, redis: Redis, client: WebClient) -> None:
        self.redis = redis
        self.client = client

    def in_any(self, user: str, groups: Iterable[str]) -> bool:
        """True when `user` is a member of at least one of `groups`."""
        return any(self.is_member(user, group) for group in sorted(groups))

    def is_member(self, user: str, group: str) -> bool:
        cache = redis_key(USERGROUP_MEMBERS, group)
        if not self.redis.exists(cache):
            members = self.client.usergroups_users_list(usergroup=group).get("users") or []
            with self.redis.pipeline() as pipe:
                pipe.delete(cache)
                pipe.sadd(cache, _PLACEHOLDER, *members)
                pipe.expire(cache, USERGROUP_MEMBERS.seconds)
                pipe.execute()
        return bool(self.redis.sismember(cache, user))
