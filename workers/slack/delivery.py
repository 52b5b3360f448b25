"""Post a message exactly once per request, however often the job that posts it runs."""

from __future__ import annotations

from core.blockkit import Message
from core.contract import Destination
from core.redis_keys import DELIVERED, redis_key
from workers.runtime import Runtime
from workers.slack.poster import Poster


def already_delivered(runtime: Runtime, delivery_id: str) -> bool:
    return bool(runtime.redis.exists(redis_key(DELIVERED, delivery_id)))


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
    runtime.redis.set(redis_key(DELIVERED, delivery_id), "1", ex=DELIVERED.seconds)
    return True
