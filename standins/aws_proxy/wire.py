"""AWS's wire format, as botocore speaks it: what a request asks for, and errors answered in kind.

The query protocol (STS, IAM) posts a form with `Action=...`; the JSON protocol (Organizations,
CloudTrail) names the action in `X-Amz-Target` and sends a JSON body, whose top-level values, as
strings, are taken as the parameters. Errors go back in the protocol the request used, so botocore
raises the ClientError with the given `Code`, exactly as it would from AWS.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

# An answer as the proxy sends it: status, headers, body.
Answer = tuple[int, list[tuple[str, str]], bytes]

# Namespaces of the query-protocol services' error documents (botocore ignores them, AWS sends them).
_XML_NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}
# The region assumed for a request that is not signed.
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Request:
    """What a botocore request asks for, and who signed it."""

    service: str  # the SigV4 signing name, e.g. "iam"; "" when unsigned
    action: str
    params: dict[str, str]
    protocol: str  # "query" or "json"
    key_id: str | None  # the access key that signed it
    region: str


def describe(path: str, headers: dict[str, str], body: bytes) -> Request:
    """Read a request; `headers` must have lower-cased names."""
    authorization = headers.get("authorization", "")
    scope = credential_scope(authorization)
    service = scope[3] if scope else ""
    key_id = scope[0] if scope and scope[0] else None
    region = scope[2] if scope else DEFAULT_REGION
    target = headers.get("x-amz-target")
    if target:
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            decoded = {}
        if not isinstance(decoded, dict):
            decoded = {}
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in decoded.items()}
        return Request(service, target.rsplit(".", 1)[-1], params, "json", key_id, region)
    form = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        form.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return Request(service, form.get("Action", ""), form, "query", key_id, region)


def credential_scope(authorization: str) -> list[str]:
    """SigV4's Credential=<key>/<date>/<region>/<service>/aws4_request, split; [] when unsigned."""
    marker = "Credential="
    if marker not in authorization:
        return []
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].strip().split("/")
    return scope if len(scope) >= 5 else []


def error(protocol: str, service: str, status: int, code: str, message: str) -> Answer:
    """An AWS error answer in the request's protocol."""
    if protocol == "json":
        payload = json.dumps({"__type": code, "message": message}).encode()
        return status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)], payload
    namespace = _XML_NAMESPACES.get(service, f"https://{service or 'sts'}.amazonaws.com/doc/")
    kind = "Receiver" if status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>aws-fault-proxy</RequestId></ErrorResponse>"
    )
    return status, [("Content-Type", "text/xml")], xml.encode()


def xml_fields(payload: bytes, parent: str) -> dict[str, str]:
    """The text children of the first <parent> element of a query-protocol answer, by local name."""
    try:
        # The document is moto's answer on the loopback, not untrusted input.
        root = ElementTree.fromstring(payload)  # noqa: S314
    except ElementTree.ParseError:
        return {}
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == parent:
            return {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in element if len(child) == 0}
    return {}


def error_code(payload: bytes) -> str | None:
    """The error code of an AWS error answer in either protocol."""
    code = xml_fields(payload, "Error").get("Code")
    if code:
        return code
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    kind = decoded.get("__type") if isinstance(decoded, dict) else None
    return kind.rsplit("#", 1)[-1] if isinstance(kind, str) and kind else None
