"""RQ entry points of the answer's buttons and of prepared replies (workers/answers/buttons.py
does the work)."""

from __future__ import annotations

from typing import Any

from core.contract import FaqPress, NotifyPress, Reply, SharePress
from workers.answers import buttons
from workers.runtime import Runtime


def share_answer(runtime: Runtime, press: SharePress) -> dict[str, Any]:
    """RQ job: post a stored answer in the channel for everyone, saying who shared it."""
    return buttons.share_answer(runtime, press)


def show_faq(runtime: Runtime, press: FaqPress) -> dict[str, Any]:
    """RQ job: the FAQ, privately, to the person who pressed the button."""
    return buttons.show_faq(runtime, press)


def post_reply(runtime: Runtime, reply: Reply) -> dict[str, Any]:
    """RQ job: post a message the web app prepared (help or input errors for mentions and DMs)."""
    return buttons.post_reply(runtime, reply)


def notify_owner(runtime: Runtime, press: NotifyPress) -> dict[str, Any]:
    """RQ job: DM a key's owner that someone is hitting errors with their key."""
    return buttons.notify_owner(runtime, press)
