"""Copy the per-account templates into the StackSet templates that inline them.

member-role-stackset.yaml, responder-role-stackset.yaml and events-stackset.yaml carry
member-role.yaml, responder-role.yaml and events-member.yaml verbatim as their StackSet's
`TemplateBody: |` block, so each StackSet deploys from one file.
Edit the per-account template, then run:

    python deploy/sync_inline.py          # rewrite the inline bodies
    python deploy/sync_inline.py --check  # exit 1 if any inline body is stale (CI, tests)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent

# StackSet template -> the per-account template it deploys.
INLINED = {
    "member-role-stackset.yaml": "member-role.yaml",
    "responder-role-stackset.yaml": "responder-role.yaml",
    "events-stackset.yaml": "events-member.yaml",
}

_BODY_KEY = re.compile(r"^(?P<indent> *)TemplateBody: \|$")


def render(stackset_text: str, body_text: str) -> str:
    """stackset_text with its `TemplateBody: |` block replaced by body_text."""
    lines = stackset_text.splitlines()
    starts = [i for i, line in enumerate(lines) if _BODY_KEY.match(line)]
    if len(starts) != 1:
        raise ValueError(f"expected exactly one 'TemplateBody: |' line, found {len(starts)}")
    start = starts[0]
    indent = " " * (len(_BODY_KEY.match(lines[start]).group("indent")) + 2)
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(indent)):
        end += 1
    body = [indent + line if line.strip() else "" for line in body_text.rstrip("\n").splitlines()]
    tail = lines[end:]
    return "\n".join([*lines[: start + 1], *body, *([""] if tail else []), *tail]) + "\n"


def stale() -> list[str]:
    """Names of StackSet templates whose inline body differs from the per-account template."""
    out = []
    for stackset, body in INLINED.items():
        current = (DEPLOY / stackset).read_text()
        if render(current, (DEPLOY / body).read_text()) != current:
            out.append(stackset)
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        names = stale()
        for name in names:
            print(f"{name} is out of date; run python deploy/sync_inline.py", file=sys.stderr)
        return 1 if names else 0
    for stackset, body in INLINED.items():
        path = DEPLOY / stackset
        path.write_text(render(path.read_text(), (DEPLOY / body).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
