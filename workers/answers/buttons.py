"""The answer's buttons (share in channel, FAQ, notify owner) and prepared replies, done."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from core.blockkit import Message, context, without_buttons
from core.contract import ButtonPress, Destination, FaqPress, NotifyPress, Reply, SharePress
from core.coordination import claim, release
from core.faq import render_faq
from core.redis_keys import ANSWER, ANSWER_REPORTS, ANSWER_SHARED, OWNER_NOTIFIED, RedisName, redis_key
from core.slack_text import code, mention
from workers.lookup.finding import KeyFinding
from workers.render.heads_up import render_owner_heads_up
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once

log = logging.getLogger(__name__)


def share_answer(runtime: Runtime, press: SharePress) -> dict[str, Any]:
    """post a stored answer in the channel for everyone, saying who shared it."""
    user = press.user
    stored = runtime.redis.get(redis_key(ANSWER, press.request_id))
    private = _private(press)
    if stored is None:
        text = "That answer is no longer kept (answers are kept for a day). Run `/whose-key` again to share a new one."
        deliver_once(runtime.poster, press.delivery_id, private, Message.plain(text))
        return {"shared": False}
    earlier = _claim_once(runtime, ANSWER_SHARED, press, press.request_id)
    if earlier is not None:
        # An answer is shared once, whoever presses and however often.
        text = f":speech_balloon: This answer was already shared in the channel{_by_when(earlier)}."
        deliver_once(runtime.poster, press.delivery_id, private, Message.plain(text))
        return {"shared": False, "already": True}
    answer = json.loads(stored)
    blocks = without_buttons(answer.get("blocks", []))
    blocks.append(context(f"Shared by {mention(user)}" if user else "Shared"))
    public = Destination(channel=press.channel, response_url=press.response_url, ephemeral=False)
    try:
        deliver_once(runtime.poster, press.delivery_id, public, Message(answer.get("text", ""), blocks))
    except Exception:
        _release(runtime, ANSWER_SHARED, press.request_id)  # not shared after all: a later press may
        raise
    log.info("answer shared", extra={"request_id": press.request_id, "user": user})
    return {"shared": True}


def show_faq(runtime: Runtime, press: FaqPress) -> dict[str, Any]:
    """the FAQ, privately, to the person who pressed the button."""
    deliver_once(runtime.poster, press.delivery_id, _private(press), render_faq())
    return {"shown": True}


def post_reply(runtime: Runtime, reply: Reply) -> dict[str, Any]:
    """post a message the web app prepared (help or input errors for mentions and DMs)."""
    posted = deliver_once(runtime.poster, reply.delivery_id, reply.destination, Message(reply.text, list(reply.blocks)))
    return {"posted": posted}


def notify_owner(runtime: Runtime, press: NotifyPress) -> dict[str, Any]:
    """DM a key's owner that someone is hitting errors with their key, then confirm."""
    presser = press.user
    private = _private(press)
    request_id, _, key_id = press.request_id.partition("|")
    stored = runtime.redis.get(redis_key(ANSWER_REPORTS, request_id))
    report = next(
        (KeyFinding.from_dict(r) for r in json.loads(stored or "[]") if r.get("key_id") == key_id),
        None,
    )
    if report is None or not report.owner.slack_user_id:
        text = "I cannot notify the owner: that answer is no longer kept, or the key has no owner on Slack."
        deliver_once(runtime.poster, press.delivery_id, private, Message.plain(text))
        return {"notified": False}
    owner = report.owner.slack_user_id
    cooldown = runtime.settings.notify_cooldown
    earlier = _claim_once(runtime, OWNER_NOTIFIED, press, owner, key_id, ttl=cooldown)
    if earlier is not None:
        # One DM per owner and key per cooldown, across every answer and whoever presses.
        text = (
            f":incoming_envelope: {mention(owner)} was already notified about {code(key_id)}{_by_when(earlier)}; "
            f"I tell an owner about the same key at most once every {_duration(cooldown)}."
        )
        deliver_once(runtime.poster, press.delivery_id, private, Message.plain(text))
        return {"notified": False, "already": True}
    heads_up = render_owner_heads_up(report, asker=presser, channel=press.channel)
    try:
        deliver_once(
            runtime.poster, f"owner-{request_id}-{key_id}", Destination(channel=owner, ephemeral=False), heads_up
        )
    except Exception:
        _release(runtime, OWNER_NOTIFIED, owner, key_id)  # nobody was told: a later press may try
        raise
    confirmation = f":incoming_envelope: I told {mention(owner)} that you are hitting errors with {code(key_id)}."
    deliver_once(runtime.poster, press.delivery_id, private, Message.plain(confirmation))
    log.info("owner notified", extra={"key": key_id, "owner": owner, "asked_by": presser})
    return {"notified": True}


def _claim_once(
    runtime: Runtime, name: RedisName, press: ButtonPress, *parts: str, ttl: int | None = None
) -> dict[str, Any] | None:
    """Claim a once-only action for this press; the earlier claim (who, when) when another press has it.

    A rerun of the same press (an RQ retry) finds its own claim and goes on.
    """
    key = redis_key(name, *parts)
    record = {"by": press.user, "at": time.time(), "press": press.delivery_id}
    if claim(runtime.redis, key, ttl or name.seconds, json.dumps(record)):
        return None
    earlier = json.loads(runtime.redis.get(key) or "{}")
    if not isinstance(earlier, dict) or earlier.get("press") == press.delivery_id:
        return None
    return earlier


def _release(runtime: Runtime, name: RedisName, *parts: str) -> None:
    release(runtime.redis, redis_key(name, *parts))


def _by_when(earlier: dict[str, Any]) -> str:
    """' by @someone <date>' for an earlier claim, in the reader's time zone (Slack's date markup)."""
    by = earlier.get("by")
    who = f" by {mention(by)}" if isinstance(by, str) and by else ""
    at = earlier.get("at")
    if not isinstance(at, int | float):
        return who
    stamp = int(at)
    fallback = datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{who} on <!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _duration(seconds: int) -> str:
    """'hour', '2 hours', '30 minutes': a cooldown in words."""
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = max(1, round(seconds / 60))
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _private(press: ButtonPress) -> Destination:
    """Back to the person who pressed, privately."""
    return Destination(channel=press.channel, user=press.user, response_url=press.response_url, ephemeral=True)
