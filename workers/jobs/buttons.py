"""Jobs behind the answer's buttons: share it in the channel, show the FAQ."""

from __future__ import annotations

import json
import logging
from typing import Any

from workers.jobs.delivery import deliver_once
from workers.render import Message, render_faq, render_owner_notice, without_buttons
from workers.report import KeyReport
from workers.runtime import get_runtime
from workers.slack_post import Destination
from workers.state import key

log = logging.getLogger(__name__)


def share_answer(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: post a stored answer in the channel for everyone, saying who shared it."""
    runtime = get_runtime()
    user = request.get("user")
    stored = runtime.redis.get(key("answer", str(request.get("request_id"))))
    private = Destination(
        channel=request.get("channel"), user=user, response_url=request.get("response_url"), ephemeral=True
    )
    if stored is None:
        text = "That answer is no longer kept (answers are kept for a day). Run `/whose-key` again to share a new one."
        deliver_once(runtime, request["delivery_id"], private, Message(text, []))
        return {"shared": False}
    answer = json.loads(stored)
    blocks = without_buttons(answer.get("blocks", []))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Shared by <@{user}>"}]})
    public = Destination(channel=request.get("channel"), response_url=request.get("response_url"), ephemeral=False)
    deliver_once(runtime, request["delivery_id"], public, Message(answer.get("text", ""), blocks))
    log.info("answer shared", extra={"request_id": request.get("request_id"), "user": user})
    return {"shared": True}


def show_faq(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: the FAQ, privately, to the person who pressed the button."""
    runtime = get_runtime()
    destination = Destination(
        channel=request.get("channel"),
        user=request.get("user"),
        response_url=request.get("response_url"),
        ephemeral=True,
    )
    deliver_once(runtime, request["delivery_id"], destination, render_faq())
    return {"shown": True}


def post_reply(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: post a message the web app prepared (help or input errors for mentions and DMs)."""
    runtime = get_runtime()
    destination = Destination.from_dict(request["destination"])
    message = request["message"]
    posted = deliver_once(runtime, request["delivery_id"], destination, Message(message["text"], message["blocks"]))
    return {"posted": posted}


def notify_owner(request: dict[str, Any]) -> dict[str, Any]:
    """RQ job: DM a key's owner that someone is hitting errors with their key, then confirm."""
    runtime = get_runtime()
    presser = request.get("user")
    private = Destination(
        channel=request.get("channel"), user=presser, response_url=request.get("response_url"), ephemeral=True
    )
    request_id, _, key_id = str(request.get("request_id", "")).partition("|")
    stored = runtime.redis.get(key("reports", request_id))
    report = next(
        (KeyReport.from_dict(r) for r in json.loads(stored or "[]") if r.get("key_id") == key_id),
        None,
    )
    if report is None or not report.owner.slack_user_id:
        text = "I cannot notify the owner: that answer is no longer kept, or the key has no owner on Slack."
        deliver_once(runtime, request["delivery_id"], private, Message(text, []))
        return {"notified": False}
    owner = report.owner.slack_user_id
    notice = render_owner_notice(report, asker=presser, channel=request.get("channel"))
    deliver_once(runtime, request["delivery_id"] + "-owner", Destination(channel=owner, ephemeral=False), notice)
    confirmation = f":incoming_envelope: I told <@{owner}> that you are hitting errors with `{key_id}`."
    deliver_once(runtime, request["delivery_id"], private, Message(confirmation, []))
    log.info("owner notified", extra={"key": key_id, "owner": owner, "asked_by": presser})
    return {"notified": True}
