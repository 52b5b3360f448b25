"""Slack's rules for a modal view, as views.open and views.update check them: every problem found, one message
each in Slack's `[json-pointer:...]` form."""

from __future__ import annotations

import json
from typing import Any

from standins.slack_double.constants import (
    INPUT_LABEL_MAX_CHARS,
    MODAL_BUTTON_TEXT_MAX_CHARS,
    MODAL_MAX_BLOCKS,
    PRIVATE_METADATA_MAX_CHARS,
    VIEW_ID_MAX_CHARS,
    VIEW_MAX_BYTES,
)
from standins.slack_double.refusals import _SlackError


def _modal_from_args(args: dict[str, Any]) -> dict[str, Any]:
    """The `view` argument (JSON text or an object) as a modal Slack would accept, else Slack's refusal."""
    raw = args.get("view")
    if raw in (None, "", {}):
        raise _SlackError("invalid_arguments", ["[ERROR] missing required field: view"])
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if len(text.encode("utf-8")) > VIEW_MAX_BYTES:
        raise _SlackError("view_too_large")
    try:
        view = json.loads(text)
    except json.JSONDecodeError:
        raise _SlackError("invalid_arguments", ["[ERROR] not valid JSON [json-pointer:/view]"]) from None
    if not isinstance(view, dict):
        raise _SlackError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/view]"])
    problems = _modal_problems(view)
    if problems:
        raise _SlackError("invalid_arguments", problems)
    return view


def _modal_problems(view: dict[str, Any]) -> list[str]:
    """Every way a view breaks Slack's modal rules, one message each in Slack's `[json-pointer:...]` form."""
    problems: list[str] = []
    if "type" not in view:
        problems.append("[ERROR] missing required field: type [json-pointer:/view]")
    elif view["type"] != "modal":
        problems.append(f"[ERROR] must be `modal` for this method, not {view['type']!r} [json-pointer:/view/type]")
    problems += _plain_text_problems(view, "title", "/view", MODAL_BUTTON_TEXT_MAX_CHARS, required=True)
    for button in ("submit", "close"):
        problems += _plain_text_problems(view, button, "/view", MODAL_BUTTON_TEXT_MAX_CHARS, required=False)
    blocks = view.get("blocks")
    if blocks is None:
        problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
    elif not isinstance(blocks, list):
        problems.append("[ERROR] must be an array [json-pointer:/view/blocks]")
    else:
        if len(blocks) > MODAL_MAX_BLOCKS:
            problems.append(f"[ERROR] no more than {MODAL_MAX_BLOCKS} items allowed [json-pointer:/view/blocks]")
        problems += _block_problems(blocks, has_submit=bool(view.get("submit")))
    for name, limit in (
        ("private_metadata", PRIVATE_METADATA_MAX_CHARS),
        ("callback_id", VIEW_ID_MAX_CHARS),
        ("external_id", VIEW_ID_MAX_CHARS),
    ):
        value = view.get(name)
        if value is not None and not isinstance(value, str):
            problems.append(f"[ERROR] must be a string [json-pointer:/view/{name}]")
        elif value is not None and len(value) > limit:
            problems.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:/view/{name}]")
    return problems


def _block_problems(blocks: list[Any], *, has_submit: bool) -> list[str]:
    """What Slack refuses in a modal's blocks: untyped blocks, repeated block_ids, incomplete input blocks."""
    problems: list[str] = []
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"/view/blocks/{index}"
        if not isinstance(block, dict) or not block.get("type"):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and block_id in seen:
            problems.append(f"[ERROR] duplicate block_id {block_id!r} [json-pointer:{at}/block_id]")
        elif isinstance(block_id, str):
            seen.add(block_id)
        if block["type"] != "input":
            continue
        if not has_submit:
            problems.append(f"[ERROR] must define `submit` to use an `input` block in modals [json-pointer:{at}/input]")
        problems += _plain_text_problems(block, "label", at, INPUT_LABEL_MAX_CHARS, required=True)
        element = block.get("element")
        if not isinstance(element, dict) or not element.get("type"):
            problems.append(f"[ERROR] missing required field: element [json-pointer:{at}]")
    return problems


def _plain_text_problems(parent: dict[str, Any], name: str, at: str, max_chars: int, *, required: bool) -> list[str]:
    """What is wrong with parent[name] as a plain_text text object of at most max_chars characters."""
    value = parent.get(name)
    if value is None:
        return [f"[ERROR] missing required field: {name} [json-pointer:{at}]"] if required else []
    where = f"{at}/{name}"
    if not isinstance(value, dict):
        return [f"[ERROR] must be a text object [json-pointer:{where}]"]
    problems = []
    if value.get("type") != "plain_text":
        problems.append(f"[ERROR] must be `plain_text` [json-pointer:{where}/type]")
    text = value.get("text")
    if not isinstance(text, str) or not text:
        problems.append(f"[ERROR] must be more than 0 characters [json-pointer:{where}/text]")
    elif len(text) > max_chars:
        problems.append(f"[ERROR] must be less than {max_chars + 1} characters [json-pointer:{where}/text]")
    return problems
