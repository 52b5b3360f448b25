"""The agent view's suggested prompts, set when a member opens their DM with whose-key (the web
vetted them and says whether they are an admin)."""

from __future__ import annotations

from typing import Any

from core.agent_view import PROMPTS_TITLE, prompts_for
from core.contract import AgentPrompts
from workers.runtime import Runtime
from workers.slack.agent_thread import suggest_prompts as set_prompts


def suggest_prompts(runtime: Runtime, args: AgentPrompts) -> dict[str, Any]:
    """Set the prompts; a refusal from Slack (no agent view, a DM it does not know) leaves the DM as
    it is, without prompts, and is not retried."""
    prompts = prompts_for(admin=args.admin)
    done = set_prompts(runtime.slack, args.channel, prompts, PROMPTS_TITLE, thread_ts=args.thread_ts)
    return {"user": args.user, "prompts": len(prompts), "set": done}
