"""What a body must look like before any endpoint reads it, so that no body can crash the web.

Checked before signatures and before Bolt or the AWS receiver parse anything: the content type,
UTF-8, JSON that parses and is not nested deeper than MAX_DEPTH, form bodies that decode, and an
SNS header only on what is shaped like an SNS message. A body that fails is answered 400 (or 413
when too large) with the reason, never a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

# Slack's and AWS's payloads nest a dozen levels at most; anything far deeper is an attack.
MAX_DEPTH = 64
# The largest body any endpoint takes (Slack's payloads are far smaller; AWS's are capped lower).
MAX_BODY = 1024 * 1024

SLACK_TYPES = frozenset({"application/x-www-form-urlencoded", "application/json"})
# EventBridge API destinations send JSON; SNS sends its JSON as text/plain.
AWS_TYPES = frozenset({"application/json", "text/plain", ""})
SNS_FIELDS = ("Type", "MessageId", "TopicArn", "Timestamp", "Signature")

Problem = tuple[str, int]


def check_slack_body(headers: Mapping[str, str], body: bytes) -> Problem | None:
    """None when /slack/events may read this body; else (reason, status)."""
    mime = _mime(headers)
    if mime not in SLACK_TYPES:
        return f"unsupported content type {mime or '(none)'!r}: Slack sends form or JSON bodies", 400
    text, problem = _text(body)
    if problem:
        return problem
    if mime == "application/json":
        parsed, problem = _json_problem(text, "the JSON body")
        if problem is None and not isinstance(parsed, dict):
            return "the JSON body must be an object", 400
        return problem or _shape_problem(parsed)
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        return "malformed form body", 400
    for name, value in fields:
        if name == "payload":  # interactivity: JSON inside the form
            parsed, problem = _json_problem(value, "the payload field")
            if problem:
                return problem
            if not isinstance(parsed, dict):
                return "the payload field must be a JSON object", 400
            shape = _shape_problem(parsed)
            if shape:
                return shape
    return None


# Fields Bolt reads from every payload, and the JSON type each must have when present.
_OBJECT_FIELDS = ("event", "team", "user", "channel", "enterprise", "container", "view", "message", "state")
_TEXT_FIELDS = ("type", "team_id", "api_app_id", "event_id", "enterprise_id", "user_id", "channel_id",
                "response_url", "trigger_id", "callback_id")  # fmt: skip
_LIST_FIELDS = ("authorizations", "actions")


def _shape_problem(payload: dict[str, Any]) -> Problem | None:
    """A field Bolt reads holding the wrong JSON type (null where Slack sends an object, say)."""
    for name in _OBJECT_FIELDS:
        if name in payload and not isinstance(payload[name], dict) and not (name != "event" and payload[name] is None):
            return f"field {name!r} must be an object", 400
    for name in _TEXT_FIELDS:
        if payload.get(name) is not None and not isinstance(payload[name], str):
            return f"field {name!r} must be a string", 400
    for name in _LIST_FIELDS:
        value = payload.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            return f"field {name!r} must be a list of objects", 400
    event = payload.get("event")
    if isinstance(event, dict):
        for name in ("type", "user", "channel", "text", "ts", "thread_ts", "subtype", "channel_type"):
            if event.get(name) is not None and not isinstance(event[name], str):
                return f"field 'event.{name}' must be a string", 400
    return None


def check_aws_body(headers: Mapping[str, str], body: bytes) -> Problem | None:
    """None when /aws/events may read this body; else (reason, status)."""
    mime = _mime(headers)
    if mime not in AWS_TYPES:
        return f"unsupported content type {mime!r}: send JSON", 400
    text, problem = _text(body)
    if problem:
        return problem
    parsed, problem = _json_problem(text, "the body")
    if problem:
        return problem
    if not isinstance(parsed, dict):
        return "the body must be a JSON object", 400
    if headers.get("x-amz-sns-message-type"):
        missing = [f for f in SNS_FIELDS if not isinstance(parsed.get(f), str)]
        if missing:
            return f"an SNS message type header on a body that is not an SNS message (no {', '.join(missing)})", 400
    return None


def _mime(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _text(body: bytes) -> tuple[str, Problem | None]:
    if len(body) > MAX_BODY:
        return "", ("body too large", 413)
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return "", ("the body is not UTF-8", 400)


def _json_problem(text: str, what: str) -> tuple[Any, Problem | None]:
    try:
        parsed = json.loads(text)
    except RecursionError:
        return None, (f"{what} is nested too deeply", 400)
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        return None, (f"{what} is not valid JSON ({type(exc).__name__})", 400)
    if not _shallow(parsed):
        return None, (f"{what} is nested deeper than {MAX_DEPTH} levels", 400)
    return parsed, None


def _shallow(value: Any) -> bool:
    """True when no container in value is nested deeper than MAX_DEPTH (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True
