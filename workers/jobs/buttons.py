"""Jobs behind the answer's buttons (share in channel, FAQ, notify owner) and prepared replies."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.blockkit import Message, context, without_buttons
from core.contract import ButtonPress, Destination, Reply, from_json
from core.faq import render_faq
from core.redis_keys import ANSWER, ANSWER_REPORTS, redis_key
from core.slack_text import mention
from workers.jobs.delivery import deliver_once
from workers.render.heads_up import render_owner_heads_up
from workers.report import KeyReport
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def share_answer(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: post a stored answer in the channel for everyone, saying who shared it."""
    press = from_json(ButtonPress, args)
    user = press.user
    stored = runtime.redis.get(redis_key(ANSWER, press.request_id))
    private = _private(press)
    if stored is None:
        text = "That answer is no longer kept (answers are kept for a day). Run `/whose-key` again to share a new one."
        deliver_once(runtime, press.delivery_id, private, Message.plain(text))
        return {"shared": False}
    answer = json.loads(stored)
    blocks = without_buttons(answer.get("blocks", []))
    blocks.append(context(f"Shared by {mention(user)}" if user else "Shared"))
    public = Destination(channel=press.channel, response_url=press.response_url, ephemeral=False)
    deliver_once(runtime, press.delivery_id, public, Message(answer.get("text", ""), blocks))
    log.info("answer shared", extra={"request_id": press.request_id, "user": user})
    return {"shared": True}


def show_faq(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: the FAQ, privately, to the person who pressed the button."""
    press = from_json(ButtonPress, args)
    deliver_once(runtime, press.delivery_id, _private(press), render_faq())
    return {"shown": True}


def post_reply(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: post a message the web app prepared (help or input errors for mentions and DMs)."""
    reply = from_json(Reply, args)
    posted = deliver_once(runtime, reply.delivery_id, reply.destination, Message(reply.text, list(reply.blocks)))
    return {"posted": posted}


def notify_owner(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: DM a key's owner that someone is hitting errors with their key, then confirm."""
    press = from_json(ButtonPress, args)
    presser = press.user
    private = _private(press)
    request_id, _, key_id = press.request_id.partition("|")
    stored = runtime.redis.get(redis_key(ANSWER_REPORTS, request_id))
    report = next(
        (KeyReport.from_dict(r) for r in json.loads(stored or "[]") if r.get("key_id") == key_id),
        None,
    )
    if report is None or not report.owner.slack_user_id:
        text = "I cannot notify the owner: that answer is no longer kept, or the key has no owner on Slack."
        deliver_once(runtime, press.delivery_id, private, Message.plain(text))
        return {"notified": False}
    owner = report.owner.slack_user_id
    heads_up = render_owner_heads_up(report, asker=presser, channel=press.channel)
    deliver_once(runtime, press.delivery_id + "-owner", Destination(channel=owner, ephemeral=False), heads_up)
    confirmation = f":incoming_envelope: I told {mention(owner)} that you are hitting errors with `{key_id}`."
    deliver_once(runtime, press.delivery_id, private, Message.plain(confirmation))
    log.info("owner notified", extra={"key": key_id, "owner": owner, "asked_by": presser})
    return {"notified": True}


def _private(press: ButtonPress) -> Destination:
    """Back to the person who pressed, privately."""
    return Destination(channel=press.channel, user=press.user, response_url=press.response_url, ephemeral=True)
