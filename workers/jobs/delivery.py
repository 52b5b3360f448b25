"""Post a message exactly once per request, however often the job that posts it runs."""

from __future__ import annotations

from workers.constants import ANSWERED_MARK_TTL
from workers.render import Message
from workers.runtime import Runtime
from workers.slack_post import Destination, Poster
from workers.state import key


def already_delivered(runtime: Runtime, delivery_id: str) -> bool:
    return bool(runtime.redis.exists(key("answered", delivery_id)))


def deliver_once(
    runtime: Runtime, delivery_id: str, destination: Destination, message: Message, *, replace_original: bool = False
) -> bool:
    """Post unless this delivery already happened; True when it posted now.

    The mark is set after Slack took the message: a worker dying between the two repeats one
    post at worst, whereas marking first could lose the answer.
    """
    if already_delivered(runtime, delivery_id):
        return False
    payload = {**message.payload(), **({"replace_original": True} if replace_original else {})}
    Poster(runtime.slack, runtime.settings, runtime.redis).post(destination, payload)
    runtime.redis.set(key("answered", delivery_id), "1", ex=ANSWERED_MARK_TTL)
    return True
