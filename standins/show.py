"""Print Slack messages readably in a terminal (for the demo and for debugging tests)."""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

_MENTION = re.compile(r"<@([A-Z0-9]+)>")
# :emoji: names, but not the colons inside ARNs (arn:aws:iam::…).
_EMOJI = re.compile(r"(?<![\w:]):[a-z][a-z0-9_+-]*:(?![\w:]) ?")


def _plain(text: str) -> str:
    text = _MENTION.sub(r"@\1", text)
    text = _EMOJI.sub("", text)
    return text.replace("*", "").replace("`", "")


def message_to_text(message: dict[str, Any] | str, width: int = 100) -> str:
    """Blocks (or the fallback text) of a Slack message as indented plain text."""
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except ValueError:
            return str(message)
    if not isinstance(message, dict):
        return str(message)
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return _plain(str(message.get("text", "")))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            if "text" in block:
                for line in _plain(block["text"]["text"]).splitlines():
                    lines.extend(textwrap.wrap(line, width, subsequent_indent="   ") or [""])
            for item in block.get("fields", []):
                label, _, value = _plain(item["text"]).partition("\n")
                lines.append(f"  {label + ':':<19}{value}")
        elif kind == "context":
            lines.extend("  " + _plain(e.get("text", "")) for e in block.get("elements", []))
        elif kind == "divider":
            lines.append("  " + "-" * 40)
        elif kind == "actions":
            labels = [e.get("text", {}).get("text", "") for e in block.get("elements", [])]
            lines.append("  [" + "] [".join(labels) + "]")
        elif kind == "input":
            lines.append(f"  {_plain(block.get('label', {}).get('text', ''))}")
            lines.append("  [" + " " * 40 + "]")
    return "\n".join(lines)


def modal_to_text(view: dict[str, Any], width: int = 100) -> str:
    """A modal view as plain text: its title, its blocks, then its Close and Submit buttons."""
    buttons = [view[name]["text"] for name in ("close", "submit") if name in view]
    body = message_to_text({"blocks": view.get("blocks") or []}, width)
    return "\n".join([f"| {view.get('title', {}).get('text', '')} |", body, "  [" + "] [".join(buttons) + "]"])
