"""The README's first command: the offline demo runs the bot's main job on embedded defaults."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.cli import run_cli

# The heading the demo prints over its responder section, and the separator between sections.
KEY_ACTION_HEADING = "A responder (@U0RESPND1"
SEPARATOR = "=" * 100


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    """One run of `whose-key demo` for the module: it starts the whole bot, so it runs once."""
    return run_cli("demo", timeout=300)


def section(out: str, heading: str) -> str:
    """The demo's section that starts with heading, up to the next separator."""
    assert heading in out, out[-3000:]
    return out.split(heading, 1)[1].split(SEPARATOR, 1)[0]


def between(text: str, start: str, end: str) -> str:
    assert start in text and end in text.split(start, 1)[1], text
    return text.split(start, 1)[1].split(end, 1)[0]


def test_demo_answers_every_request_and_tells_the_owner(demo: subprocess.CompletedProcess[str]) -> None:
    """`whose-key demo` answers its slash commands, the mention and the deactivation notice, and exits 0."""
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    out = demo.stdout
    assert "belongs to IAM user deploy-bot in acme-prod" in out
    assert "[answer in the thread" in out
    assert "[DM to the owner, @U0PLATFRM]" in out and "was deactivated" in out
    assert "no answer arrived" not in out and "no notice arrived" not in out
    assert out.rstrip().endswith("Everything ran locally; nothing left the machine.")


def test_demo_shows_a_responder_deactivating_a_key_from_its_answer(demo: subprocess.CompletedProcess[str]) -> None:
    """The responder's answer offers Deactivate; the modal names the key, user and account; IAM,
    read back from moto, says Inactive; the responder gets the outcome with its undo; the owner
    exactly one DM, even after CloudTrail's record of the change comes back through EventBridge."""
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    part = section(demo.stdout, KEY_ACTION_HEADING)
    asked = re.search(r"/whose-key (AKIA[A-Z2-7]{16})\n", part)
    assert asked is not None, part
    key_id = asked.group(1)
    answer = between(part, "[answer at the response_url", "presses")
    assert "[Deactivate key]" in answer and "IAM user etl in acme-data" in answer
    modal = between(part, "views.open shows them modal", "[they type")
    assert "| Deactivate key |" in modal
    assert f"Key: {key_id}" in modal and "IAM user: etl" in modal and "Account: acme-data (" in modal
    assert "[Cancel] [Deactivate]" in modal
    outcome = between(part, "[DM to the responder, @U0RESPND1", "[DM to the owner")
    assert f"{key_id} of etl" in outcome and "IAM now says Inactive" in outcome
    assert "[Reactivate (undo)]" in outcome
    told = between(part, "[DM to the owner, @U0DATAENG]", "[EventBridge forwards")
    assert f"The AWS access key {key_id} was deactivated." in told
    assert "By: @U0RESPND1" in told and "found in a public gist" in told
    assert '"reason": "no change"' in part  # the change coming back from CloudTrail is not news
    assert f"{key_id} of IAM user etl: Inactive" in part
    assert f"DMs to the owner @U0DATAENG about {key_id}: 1" in part
    assert part.count("[DM to the owner") == 1


def test_demo_shows_the_agent_dm_and_the_workflow_step(demo: subprocess.CompletedProcess[str]) -> None:
    """The DM: prompts on opening it, a status while the lookup runs, a title, the answer in the
    thread and the status cleared; the Workflow Builder step: completed with the key's owner."""
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    dm = section(demo.stdout, "The DM in Slack's agent view")
    assert "• Look up a key" in dm and "• Why do I get InvalidAccessKeyId?" in dm
    key_id = re.search(r"who owns (AKIA[A-Z0-9]{16})\?", dm)
    assert key_id is not None, dm
    assert f"whose-key is looking up {key_id.group(1)}" in dm
    assert f"[thread title] Whose key is {key_id.group(1)}?" in dm
    assert f"{key_id.group(1)} belongs to IAM user bob" in dm
    assert "[status now] cleared by the answer" in dm
    step = section(demo.stdout, "A Workflow Builder step")
    assert "[functions.completeSuccess after" in step
    assert re.search(r"iam_user\s+deploy-bot", step) and re.search(r"owner_user_id\s+U0PLATFRM", step), step
