"""Requests and answers on the wire: parsing bodies, encoding replies, finding and redacting the token, and
picking and summarizing recorded calls."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

from standins.slack_double.records import RecordedCall, Reply

# What a recorded token is replaced with, so failure output and logs never carry a secret.
REDACTED = "[REDACTED]"

# How much of each call the TimeoutError summary shows, so a failure stays readable.
SUMMARY_BODY_CHARS = 160


def _api_calls(calls: list[RecordedCall], method: str | None) -> list[RecordedCall]:
    """Web API calls among calls, optionally for one method."""
    return [c for c in calls if c.kind == "api" and (method is None or c.name == method)]


def _hook_posts(calls: list[RecordedCall], path: str) -> list[RecordedCall]:
    """Hook posts among calls to one /hooks/<id> path."""
    return [c for c in calls if c.kind == "hook" and c.name == path]


def _path_of(url_or_path: str) -> str:
    """The path of a full URL, or the input when it already is a path or a name."""
    return urlsplit(url_or_path).path if "://" in url_or_path else url_or_path


def _parse_form(text: str) -> dict[str, Any]:
    """Form fields as str, or list[str] when a field repeats; JSON-looking values stay str."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]
    return out


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    """Text fields of a multipart/form-data body (slack_sdk uses it for data= calls)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out[str(name)] = payload.decode("utf-8", errors="replace")
    return out


def _parse_body(raw: bytes, content_type: str) -> tuple[dict[str, Any], bool]:
    """Parse a JSON, form or multipart body; returns (fields, True when JSON was malformed)."""
    if not raw.strip():
        return {}, False
    mime = content_type.split(";", 1)[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if mime == "multipart/form-data":
        return _parse_multipart(raw, content_type), False
    if mime == "application/json" or (not mime and text.lstrip().startswith("{")):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return {}, True
        return (parsed, False) if isinstance(parsed, dict) else ({}, True)
    return _parse_form(text), False


def _encode(reply: Reply) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and bytes for a Reply."""
    headers = dict(reply.headers)
    if isinstance(reply.body, dict):
        payload = json.dumps(reply.body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    elif isinstance(reply.body, str):
        payload = reply.body.encode("utf-8")
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        payload = b""
    return reply.status, headers, payload


def _presented_token(headers: dict[str, str], args: dict[str, Any]) -> str:
    """The token a request carries: the Bearer header first, then a token field."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[len("bearer ") :].strip()
    token = args.get("token")
    return token if isinstance(token, str) else ""


def _redact(text: str, token: str) -> str:
    """Text with a token (raw or form-encoded) replaced, so it can be shown safely."""
    if not token:
        return text
    return text.replace(token, REDACTED).replace(quote_plus(token), REDACTED)


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with the Authorization value hidden but its scheme kept for assertions."""
    out = dict(headers)
    if "authorization" in out:
        scheme = out["authorization"].split(" ", 1)[0]
        out["authorization"] = f"{scheme} {REDACTED}"
    return out


def _redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with a token field hidden."""
    return {k: (REDACTED if k == "token" else v) for k, v in args.items()}


def _timeout_summary(timeout: float, calls: list[RecordedCall]) -> str:
    """A readable list of what did arrive, for a wait that timed out."""
    lines = [f"SlackDouble: condition not met within {timeout:g}s; {len(calls)} call(s) so far:"]
    for call in calls:
        args = json.dumps(call.args, default=str)
        if len(args) > SUMMARY_BODY_CHARS:
            args = args[: SUMMARY_BODY_CHARS - 3] + "..."
        error = ""
        if isinstance(call.response, dict) and call.response.get("ok") is False:
            error = f" error={call.response.get('error')}"
        elif isinstance(call.response, str) and not 200 <= call.status < 300:
            error = f" error={call.response}"
        lines.append(f"  {call.kind} {call.name} -> {call.status}{error} {args}")
    return "\n".join(lines)
