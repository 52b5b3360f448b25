"""Whether a channel or DM is shared with people outside this workspace, from `conversations.info`.

An answer names a key's owner, account, last use and the CloudTrail actor: in a conversation
shared with another organization (Slack Connect) or workspace, posting it for everyone would show
it to exactly the people whose-key refuses to serve. Cached in Redis; when Slack cannot say, the
conversation counts as shared (fail closed: the answer goes privately).
"""

from __future__ import annotations

import logging

from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.redis_keys import CONVERSATION_KIND, redis_key

log = logging.getLogger(__name__)

SHARED = "shared"
INTERNAL = "internal"
# conversations.info's flags for each way a conversation reaches beyond this workspace.
SHARED_FLAGS = ("is_ext_shared", "is_shared", "is_org_shared", "is_pending_ext_shared")


def is_shared_outside(redis: Redis, client: WebClient, channel: str) -> bool:
    """True when people of another workspace or organization can read `channel`. Raises RedisError."""
    name = redis_key(CONVERSATION_KIND, channel)
    cached = redis.get(name)
    if cached is not None:
        return cached == SHARED.encode()
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except (SlackApiError, OSError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.warning("conversation kind unknown; answering privately", extra={"channel": channel, "error": error})
        return True  # not cached: the next request asks Slack again
    shared = any(bool(info.get(flag)) for flag in SHARED_FLAGS)
    redis.set(name, SHARED if shared else INTERNAL, ex=CONVERSATION_KIND.seconds)
    return shared
