"""Jobs behind the answer's buttons: share it in the channel, show the FAQ."""

from __future__ import annotations

import json
import logging
from typing import Any

from workers.jobs.delivery import deliver_once
from workers.render import Message, render_faq, without_buttons
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
