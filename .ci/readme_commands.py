"""Print the README's opening commands, one a line: the block a newcomer copies first.

CI runs exactly these (the demo, then the tests), so the README cannot promise a command that CI
does not run. Exits non-zero when the README does not open with such a block.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# The first fenced shell block of the README.
FIRST_SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_commands(text: str) -> list[str]:
    """The commands of the README's first shell block, without comments or blank lines."""
    block = FIRST_SHELL_BLOCK.search(text)
    if block is None:
        return []
    commands = (line.split("#", 1)[0].strip() for line in block.group(1).splitlines())
    return [command for command in commands if command]


def main() -> int:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    if len(commands) != 2:
        print(f"{README.name} must open with a shell block of two commands (demo, then tests); found {commands}",
              file=sys.stderr)  # fmt: skip
        return 1
    print("\n".join(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
