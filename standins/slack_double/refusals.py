"""Slack's `ok: false` answers as raised inside method handlers, and the argument checks that raise them."""

from __future__ import annotations

import json
from typing import Any


class _SlackError(Exception):
    """A Slack `ok: false` answer raised from inside a method handler; messages go in response_metadata, and
    detail (which the assistant.threads.* methods add, e.g. "Thread not found") beside the error."""

    def __init__(self, error: str, messages: list[str] | None = None, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.detail = detail


def _require(args: dict[str, Any], name: str, error: str) -> Any:
    """An argument's value, or the Slack error a missing one earns."""
    value = args.get(name)
    if value in (None, "", [], {}):
        raise _SlackError(error)
    return value


def _required_strings(args: dict[str, Any], *names: str) -> list[str]:
    """The named arguments as strings, else invalid_arguments naming every one missing, as Slack's newer methods
    answer (the assistant.threads.* and functions.* references list invalid_arguments, no per-field errors)."""
    missing = [name for name in names if args.get(name) in (None, "")]
    if missing:
        raise _SlackError("invalid_arguments", [f"[ERROR] missing required field: {name}" for name in missing])
    return [str(args[name]) for name in names]


def _json_value(raw: Any, name: str) -> Any:
    """An argument sent as JSON text (form or query string) or as JSON itself (a JSON body)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _SlackError("invalid_arguments", [f"[ERROR] not valid JSON [json-pointer:/{name}]"]) from None
