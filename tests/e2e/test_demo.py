"""The README's first command: the offline demo runs the bot's main job on embedded defaults."""

from __future__ import annotations

import subprocess
import sys

from standins.stack import PROJECT_ROOT


def test_demo_answers_every_request_and_tells_the_owner() -> None:
    """`whose-key demo` answers its slash commands, the mention and the deactivation notice, and exits 0."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main(['demo']))"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "belongs to IAM user deploy-bot in acme-prod" in out
    assert "[answer in the thread" in out
    assert "[DM to the owner, @U0PLATFRM]" in out and "was deactivated" in out
    assert "no answer arrived" not in out and "no notice arrived" not in out
    assert out.rstrip().endswith("Everything ran locally; nothing left the machine.")
