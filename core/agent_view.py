"""What Slack's agent view shows of whose-key, in words: the suggested prompts at the top of the DM,
the status line while a lookup runs, and the title of each thread. Pure: the web and the worker
both use it (bot/listeners/agent_dm.py, workers/slack/agent_thread.py), and it decides nothing.

Every prompt's message is something whose-key answers when it is sent (core/parse.py reads it like
anything typed in the DM); tests/unit/test_agent_view.py checks each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The key a prompt shows as a sample: AWS's own documentation example, never anyone's real key.
SAMPLE_KEY = "AKIAIOSFODNN7EXAMPLE"
# Over the prompts; Slack shows it above them.
PROMPTS_TITLE = "Ask whose-key"
# Keys a thread title names one by one; the rest are counted.
TITLE_KEYS = 2


@dataclass(frozen=True)
class Prompt:
    """One suggested prompt: what the button says, and the message it sends as the person."""

    title: str
    message: str

    def as_slack(self) -> dict[str, str]:
        return {"title": self.title, "message": self.message}


LOOK_UP = Prompt("Look up a key", f"Whose key is {SAMPLE_KEY}?")
MY_KEYS = Prompt("My keys", "Show my keys")
WHY_INVALID = Prompt("Why do I get InvalidAccessKeyId?", "Why do I get InvalidAccessKeyId?")
# The organization-wide report: only for WHOSE_KEY_ADMIN_USERGROUPS (the report refuses others too).
KEY_HYGIENE = Prompt("Key hygiene", "Key hygiene report")


def prompts_for(*, admin: bool) -> tuple[Prompt, ...]:
    """The prompts a member sees on opening the DM: the key-hygiene one for admins only (four at
    most, Slack's limit)."""
    common = (LOOK_UP, MY_KEYS, WHY_INVALID)
    return (*common, KEY_HYGIENE) if admin else common


def thread_title(keys: Sequence[str]) -> str:
    """The title of a thread that asks about `keys` (key IDs, never anything else typed)."""
    if len(keys) == 1:
        return f"Whose key is {keys[0]}?"
    named = ", ".join(keys[:TITLE_KEYS])
    more = len(keys) - TITLE_KEYS
    return f"Whose keys: {named}" + (f" and {more} more" if more > 0 else "")


def looking_up_status(keys: Sequence[str]) -> str:
    """The status as soon as a lookup starts (Slack shows it after the app's name)."""
    return f"is looking up {keys[0]}…" if len(keys) == 1 else f"is looking up {len(keys)} keys…"


def searching_status(done: int | None = None, total: int | None = None) -> str:
    """The status while every account is searched; with counts once the search reports them."""
    if done is None or not total:
        return "is searching every account…"
    return f"is searching every account: {min(done, total)} of {total} done…"


WAITING_STATUS = "is waiting for a free full-search slot…"
