"""Post a message exactly once per request, however often the job that posts it runs."""

from __future__ import annotations

from redis import Redis

from core.blockkit import Message
from core.contract import Destination
from core.redis_keys import DELIVERED, redis_key
from workers.slack.poster import Poster


def already_delivered(redis: Redis, delivery_id: str) -> bool:
    return bool(redis.exists(redis_key(DELIVERED, delivery_id)))


def deliver_once(
    poster: Poster, delivery_id: str, destination: Destination, message: Message, *, replace_original: bool = False
) -> bool:
    """Post unless this delivery already happened; True when it posted now (the poster's Redis
    remembers deliveries; without one, as in a one-off CLI run, every call posts).

    The mark is set after Slack took the message: a worker dying between the two repeats one
    post at worst, whereas marking first could lose the answer.
    """
    redis = poster.redis
    if redis is not None and already_delivered(redis, delivery_id):
        return False
    payload = {**message.payload(), **({"replace_original": True} if replace_original else {})}
    poster.post(destination, payload)
    if redis is not None:
        redis.set(redis_key(DELIVERED, delivery_id), "1", ex=DELIVERED.seconds)
    return True
