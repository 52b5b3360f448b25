"""`whose-key` as an operator runs it: the console script's entry point, in a child process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from standins.stack import PROJECT_ROOT

# What the `whose-key` console script runs (pyproject.toml's [project.scripts]); the arguments
# are the child's own (sys.argv[1:]).
ENTRY_POINT = "import sys; from cli.main import main; sys.exit(main())"
# The same, for a product installed in a folder given as the first argument, which it takes off.
INSTALLED_ENTRY_POINT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from cli.main import main; sys.exit(main())"
# How long one command may take before the test fails (a sweep of a small organization, a lookup).
DEFAULT_TIMEOUT = 120.0


def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    installed: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`whose-key ARGS` run to the end, output captured, whatever its exit code.

    From the checkout, with env (this process's environment when None); or, with `installed`,
    from the product installed in that folder alone: isolated mode (-I) and run from there, so
    neither the checkout nor the environment's PYTHON* settings are on its path.
    """
    if installed is None:
        argv, cwd = [sys.executable, "-c", ENTRY_POINT, *args], PROJECT_ROOT
    else:
        argv, cwd = [sys.executable, "-I", "-c", INSTALLED_ENTRY_POINT, str(installed), *args], installed
    return subprocess.run(
        argv,
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
