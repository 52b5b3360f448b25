"""Who is asking, beyond their user ID: which workspace they belong to (Slack Connect, other
Enterprise Grid teams) and whether they are a guest.

The workspace comes from the payload itself (no Slack call): Slack marks a person from another
organization with `user_team` / `source_team` on events, `user.team_id` on interactions and
`team_id` (or `user_team`) on slash commands. Guest status needs `users.info`, cached in Redis.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis import Redis
from slack_bolt import BoltContext
from slack_sdk import WebClient

from core.redis_keys import MEMBER_KIND, redis_key

GUEST = "guest"
MEMBER = "member"


def _teams(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if isinstance(v, str) and v}))


def teams_of_command(command: dict[str, Any]) -> tuple[str, ...]:
    """The asker's workspace(s) named by a slash command payload."""
    return _teams((command.get("user_team"), command.get("team_id")))


def teams_of_event(body: dict[str, Any], event: dict[str, Any]) -> tuple[str, ...]:
    """The asker's workspace(s) named by an Events API event; the envelope's team when none."""
    named = _teams((event.get("user_team"), event.get("source_team"), event.get("team")))
    return named or _teams((body.get("team_id"),))


def teams_of_action(body: dict[str, Any]) -> tuple[str, ...]:
    """The presser's workspace named by a block_actions payload."""
    user = body.get("user") or {}
    named = _teams((user.get("team_id"),))
    return named or _teams(((body.get("team") or {}).get("id"),))


def installing_team(context: BoltContext) -> str | None:
    """The workspace whose-key is installed in, as auth.test names it (context.team_id is the payload's)."""
    result = context.authorize_result
    return (result.team_id if result is not None else None) or context.team_id


def outside_teams(teams: Iterable[str], home_team: str | None, allowed: frozenset[str]) -> list[str]:
    """The teams among `teams` that may not ask: neither the installing team nor listed."""
    welcome = set(allowed) | ({home_team} if home_team else set())
    return sorted(t for t in teams if t not in welcome)


class GuestCheck:
    """Whether a member is a guest, from users.info, cached for MEMBER_KIND's lifetime."""

    def __init__(self, redis: Redis, client: WebClient) -> None:
        self.redis = redis
        self.client = client

    def is_guest(self, user: str) -> bool:
        """Raises SlackApiError (or OSError) when Slack cannot say, RedisError when Redis is away."""
        name = redis_key(MEMBER_KIND, user)
        cached = self.redis.get(name)
        if cached is not None:
            return cached == GUEST.encode()
        profile = self.client.users_info(user=user).get("user") or {}
        guest = bool(profile.get("is_restricted") or profile.get("is_ultra_restricted"))
        self.redis.set(name, GUEST if guest else MEMBER, ex=MEMBER_KIND.seconds)
        return guest
