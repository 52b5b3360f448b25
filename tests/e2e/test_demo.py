"""The README's first command: the offline demo runs the bot's main job on embedded defaults."""

from __future__ import annotations

from tests.support.cli import run_cli


def test_demo_answers_every_request_and_tells_the_owner() -> None:
    """`whose-key demo` answers its slash commands, the mention and the deactivation notice, and exits 0."""
    result = run_cli("demo", timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "belongs to IAM user deploy-bot in acme-prod" in out
    assert "[answer in the thread" in out
    assert "[DM to the owner, @U0PLATFRM]" in out and "was deactivated" in out
    assert "no answer arrived" not in out and "no notice arrived" not in out
    assert out.rstrip().endswith("Everything ran locally; nothing left the machine.")
