"""What a request must be before any endpoint reads it: verified before it is parsed, and
well-formed before Bolt or the AWS receiver see it, so that no body can crash the web and no
stranger can make it spend CPU on parsing.

In this order, cheapest first (`check_slack_request`, `check_aws_request`):

1. size: a Slack body over SLACK_MAX_BODY or an AWS one over AWS_MAX_BODY is 413;
2. authenticity, on the raw bytes: the Slack signature (HMAC-SHA256 of the timestamp and body,
   timestamp within SIGNATURE_WINDOW_SECONDS) or the events bearer token (constant time); an SNS
   message must name one of our topics in its `x-amz-sns-topic-arn` header (its signature is
   inside the JSON, so the verifier checks it after parsing, on at most AWS_MAX_BODY bytes);
   anything else is 401, and nothing of the body has been decoded (except Slack's SSL check, a
   form of at most SSL_CHECK_MAX_BODY bytes that Bolt answers with an empty 200);
3. form (`check_slack_body`, `check_aws_body`): the content type, UTF-8, JSON that parses and is
   not nested deeper than MAX_DEPTH, form bodies that decode, and an SNS header only on what is
   shaped like an SNS message; 400 with the reason, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

# Slack's and AWS's payloads nest a dozen levels at most; anything far deeper is an attack.
MAX_DEPTH = 64
# Slack's bodies are a few KB (a modal submission with many blocks stays far under this).
SLACK_MAX_BODY = 64 * 1024
# EventBridge events are at most 256 KB; SNS wraps them in a little more.
AWS_MAX_BODY = 300 * 1024
# How far a Slack request's timestamp may be from our clock, either way: Slack's own replay window.
SIGNATURE_WINDOW_SECONDS = 300
# Slack's SSL check (`ssl_check=1&token=...`) is a few dozen bytes; Bolt answers it with an empty
# 200 before its own signature check, so one that small passes unsigned (and does nothing else).
SSL_CHECK_MAX_BODY = 512

SLACK_TYPES = frozenset({"application/x-www-form-urlencoded", "application/json"})
# EventBridge API destinations send JSON; SNS sends its JSON as text/plain.
AWS_TYPES = frozenset({"application/json", "text/plain", ""})
SNS_FIELDS = ("Type", "MessageId", "TopicArn", "Timestamp", "Signature")

Problem = tuple[str, int]

TOO_LARGE: Problem = ("body too large", 413)


def check_slack_request(headers: Mapping[str, str], body: bytes, *, signing_secret: str, now: float) -> Problem | None:
    """None when /slack/events may hand this request to Bolt; else (reason, status). Size, then
    the signature on the raw bytes, and only then the body's form."""
    if len(body) > SLACK_MAX_BODY:
        return TOO_LARGE
    if not slack_signature_valid(headers, body, signing_secret, now) and not _is_ssl_check(headers, body):
        return "missing or wrong Slack signature", 401
    return check_slack_body(headers, body)


def _is_ssl_check(headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a (tiny) form body is Slack's SSL check, which Bolt answers 200 and acts on no further."""
    if len(body) > SSL_CHECK_MAX_BODY or _mime(headers) != "application/x-www-form-urlencoded":
        return False
    try:
        return ("ssl_check", "1") in parse_qsl(body.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False


def slack_signature_valid(headers: Mapping[str, str], body: bytes, signing_secret: str, now: float) -> bool:
    """Whether X-Slack-Signature is Slack's v0 HMAC of this timestamp and these exact bytes."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    offered = headers.get("x-slack-signature", "")
    if not signing_secret or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        return False
    digest = hmac.new(signing_secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(offered.encode("utf-8", "replace"), b"v0=" + digest.hexdigest().encode())


def check_aws_request(
    headers: Mapping[str, str], body: bytes, *, tokens: Sequence[str], sns_topics: frozenset[str]
) -> Problem | None:
    """None when /aws/events may hand this request to the receiver; else (reason, status). Size,
    then the bearer token (or, for SNS, a topic of ours), and only then the body's form."""
    if len(body) > AWS_MAX_BODY:
        return TOO_LARGE
    if headers.get("x-amz-sns-message-type"):
        # SNS always names the topic in this header; a message for a topic we do not take is
        # refused before its JSON (and the signature inside it) is read.
        if headers.get("x-amz-sns-topic-arn", "") not in sns_topics:
            return "SNS message for a topic this endpoint does not take", 401
    elif not any(tokens):
        return "this endpoint is not configured: WHOSE_KEY_EVENTS_TOKEN is unset", 401
    elif not bearer_token_valid(headers.get("authorization", ""), tokens):
        return "missing or wrong bearer token", 401
    return check_aws_body(headers, body)


def bearer_token_valid(authorization: str, tokens: Sequence[str]) -> bool:
    """Whether an Authorization header is `Bearer <one of tokens>`. Constant time against every
    token, all always compared, so the timing tells neither which one matched nor how much."""
    offered = authorization.encode("utf-8", "replace")
    matches = [hmac.compare_digest(offered, f"Bearer {token}".encode()) for token in tokens if token]
    return any(matches)


def check_slack_body(headers: Mapping[str, str], body: bytes) -> Problem | None:
    """None when /slack/events may read this (already verified) body; else (reason, status)."""
    mime = _mime(headers)
    if mime not in SLACK_TYPES:
        return f"unsupported content type {mime or '(none)'!r}: Slack sends form or JSON bodies", 400
    text, problem = _text(body, SLACK_MAX_BODY)
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
    """None when /aws/events may read this (already authenticated) body; else (reason, status)."""
    mime = _mime(headers)
    if mime not in AWS_TYPES:
        return f"unsupported content type {mime!r}: send JSON", 400
    text, problem = _text(body, AWS_MAX_BODY)
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


def _text(body: bytes, limit: int) -> tuple[str, Problem | None]:
    if len(body) > limit:
        return "", TOO_LARGE
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
