"""RQ entry point of the agent view's prompts: the function of workers/answers/agent_dm.py, which
already takes (runtime, decoded arguments)."""

from workers.answers.agent_dm import suggest_prompts

__all__ = ["suggest_prompts"]
