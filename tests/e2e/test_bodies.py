"""Bodies that cannot crash the web: every endpoint answers 400 or 413 with a reason (401 when
a signature or token is missing), never a 500 or a traceback, for deeply nested or huge JSON,
malformed forms, wrong content types and SNS headers on non-SNS bodies. Fuzzed with hypothesis
against the running web process. And verify before parse: size first (64 KB for Slack, 300 KB
for AWS), then the signature or token on the raw bytes, and only then the JSON."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from standins.stack import HttpResult, Stack, http_post, sign
from tests.e2e.env import EVENTS_TOKEN

SEEN: Counter[str] = Counter()
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-www-form-urlencoded", "text/plain", "text/plain; charset=UTF-8",
     "multipart/form-data; boundary=x", "application/xml", "", "application/json; charset=latin-1"]
)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def post(stack: Stack, path: str, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> HttpResult:
    headers = {"Content-Type": content_type, **(extra or {})} if content_type else dict(extra or {})
    result = http_post(stack.web_url + path, body, headers)
    SEEN[f"{path} {result.status}"] += 1
    return result


def assert_handled(result: HttpResult, allowed: set[int]) -> None:
    assert result.status in allowed, f"{result.status}: {result.body[:300]}"
    assert "Traceback" not in result.body and "<html" not in result.body.lower()
    if result.status in (400, 413):
        assert json.loads(result.body)["error"], "a 400 or 413 says why"


@FUZZ
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES, signed=st.booleans())
def test_random_bytes_to_slack_events(stack: Stack, body: bytes, content_type: str, signed: bool) -> None:
    """Any bytes with any content type, signed or not: 200, 400, 401 or 413, never a 500."""
    result = post(stack, "/slack/events", body, content_type, sign(body) if signed else None)
    assert_handled(result, {200, 400, 401, 404, 413})


@FUZZ
@given(value=JSONISH, as_form=st.booleans())
def test_signed_json_of_any_shape_to_slack_events(stack: Stack, value: object, as_form: bool) -> None:
    """Signed, well-formed JSON of any shape (or a form whose payload is that JSON) never crashes Bolt."""
    text = json.dumps(value)
    if as_form:
        body = urllib.parse.urlencode({"payload": text}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body, content_type = text.encode(), "application/json"
    assert_handled(post(stack, "/slack/events", body, content_type, sign(body)), {200, 400, 404})


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"
SLACK_PAYLOADS = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]


def mutate(payload: dict, path: list[str], value: object) -> dict:
    """payload with the field at path (as deep as it goes) replaced by value."""
    copy = json.loads(json.dumps(payload))
    target = copy
    for name in path[:-1]:
        if not isinstance(target.get(name), dict):
            break
        target = target[name]
    target[path[-1] if path else "type"] = value
    return copy


@FUZZ
@given(
    payload=st.sampled_from(SLACK_PAYLOADS),
    path=st.lists(st.sampled_from(["event", "type", "user", "text", "channel", "actions", "team", "command",
                                   "event_id", "authorizations", "response_url", "view", "container"]),
                  min_size=1, max_size=3),
    value=JSONISH,
)  # fmt: skip
def test_signed_slack_payloads_with_fields_of_the_wrong_shape(stack: Stack, payload: dict, path: list[str],
                                                             value: object) -> None:  # fmt: skip
    """Real Slack payloads with a field swapped for any JSON value are answered, never with a 500."""
    bad = mutate(payload, path, value)
    if bad.get("type") in ("block_actions", "view_submission") or "actions" in bad:
        body = urllib.parse.urlencode({"payload": json.dumps(bad)}).encode()
        content_type = "application/x-www-form-urlencoded"
    elif "command" in bad:
        body = urllib.parse.urlencode({k: str(v) for k, v in bad.items()}).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps(bad).encode(), "application/json"
    assert_handled(post(stack, "/slack/events", body, content_type, sign(body)), {200, 400, 404})


@FUZZ
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES, sns=st.booleans(), token=st.booleans())
def test_random_bytes_to_aws_events(stack: Stack, body: bytes, content_type: str, sns: bool, token: bool) -> None:
    """Any bytes to /aws/events, with or without the SNS header or the bearer token: never a 500."""
    headers = {}
    if sns:
        headers["x-amz-sns-message-type"] = "Notification"
    if token:
        headers["Authorization"] = f"Bearer {EVENTS_TOKEN}"
    assert_handled(post(stack, "/aws/events", body, content_type, headers), {200, 202, 400, 401, 413})


@pytest.mark.parametrize("depth", [100, 1_000, 100_000, 400_000])
@pytest.mark.parametrize("where", ["slack-json", "slack-payload", "aws"])
def test_deeply_nested_json_is_a_400(stack: Stack, depth: int, where: str) -> None:
    """JSON nested deeper than the guard allows is refused with a reason wherever it is sent."""
    text = nested(depth)
    if where == "slack-json":
        body, path, content_type = text.encode(), "/slack/events", "application/json"
    elif where == "slack-payload":
        body, path = urllib.parse.urlencode({"payload": text}).encode(), "/slack/events"
        content_type = "application/x-www-form-urlencoded"
    else:
        body, path, content_type = text.encode(), "/aws/events", "application/json"
    auth = sign(body) if path == "/slack/events" else {"Authorization": f"Bearer {EVENTS_TOKEN}"}
    result = post(stack, path, body, content_type, auth)
    assert result.status in (400, 413)
    assert "nested" in result.json()["error"] or "too large" in result.json()["error"]


@pytest.mark.parametrize("path", ["/slack/events", "/aws/events"])
def test_huge_body_is_a_413(stack: Stack, path: str) -> None:
    """Two megabytes of JSON are refused as too large, with a reason, not read."""
    body = json.dumps({"blob": "x" * 2_000_000}).encode()
    result = post(stack, path, body, "application/json", sign(body))
    assert result.status == 413 and result.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"payload=%7B", b"payload=%FF%FE", b"a=1&&&=", b"payload=" + urllib.parse.quote("[1,2]").encode(), b"\xff\xfe"],
)
def test_malformed_form_bodies_are_a_400(stack: Stack, body: bytes) -> None:
    """Form bodies that do not decode, or whose payload is not a JSON object, get a 400 with the reason."""
    result = post(stack, "/slack/events", body, "application/x-www-form-urlencoded", sign(body))
    assert result.status == 400 and result.json()["error"]


def test_wrong_content_type_is_a_400(stack: Stack) -> None:
    """XML (or anything Slack does not send) to /slack/events is a 400 naming the content type."""
    result = post(stack, "/slack/events", b"<a/>", "application/xml", sign(b"<a/>"))
    assert result.status == 400 and "content type" in result.json()["error"]


def test_sns_header_for_a_topic_not_taken_is_a_401(stack: Stack) -> None:
    """An SNS message-type header on a web with no SNS topic configured is 401, whatever the body.
    (For a topic it takes, a non-SNS body is a 400: see test_aws_events.py.)"""
    body = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {}}).encode()
    result = post(stack, "/aws/events", body, "application/json", {"x-amz-sns-message-type": "Notification"})
    assert result.status == 401 and "topic" in result.json()["error"]


# -- Verify before you parse ------------------------------------------------------------------


def slack_json(size: int) -> bytes:
    """A well-formed JSON object of `size` bytes."""
    head, tail = b'{"type": "event_callback", "blob": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_correctly_signed_slack_body_over_64_kb_is_a_413(stack: Stack) -> None:
    """A 70 KB body with a valid Slack signature is refused as too large: size comes before the signature."""
    body = slack_json(70 * 1024)
    result = post(stack, "/slack/events", body, "application/json", sign(body))
    assert result.status == 413 and result.json()["error"] == "body too large"


@pytest.mark.parametrize(("path", "size"), [("/slack/events", 2_000_000), ("/aws/events", 2_000_000),
                                            ("/aws/events", 1024 * 1024)])  # fmt: skip
def test_large_unsigned_body_is_a_413(stack: Stack, path: str, size: int) -> None:
    """A large body with no signature or token is a 413 with the reason, answered without reading it."""
    result = post(stack, path, slack_json(size), "application/json")
    assert result.status == 413 and result.json()["error"] == "body too large"


@pytest.mark.parametrize("path", ["/slack/events", "/aws/events"])
def test_chunked_body_without_a_length_stops_at_the_limit(stack: Stack, path: str) -> None:
    """A body sent chunked (no Content-Length) is read only up to the path's limit, then 413."""
    host, port = stack.web_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b"[" * 16 * 1024 for _ in range(40))  # 640 KB in all, more than either limit
    connection.request("POST", path, body=chunks, headers={"Content-Type": "application/json"}, encode_chunked=True)
    response = connection.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"]
    connection.close()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_unsigned_malformed_slack_body_is_a_401_not_a_400(stack: Stack, content_type: str) -> None:
    """60 KB of broken JSON (or a broken form), unsigned, is 401 and logged as refused for its
    signature: it was never parsed, or it would be a 400. Signed, the same body is the 400."""
    body = (b"payload=%7B" if "form" in content_type else b"") + b"[" * 60_000
    unsigned = post(stack, "/slack/events", body, content_type)
    assert unsigned.status == 401 and "signature" in unsigned.json()["error"]
    signed = post(stack, "/slack/events", body, content_type, sign(body))
    assert signed.status == 400
    refusals = [line for line in stack.logs().splitlines() if "body refused" in line]
    assert any("missing or wrong Slack signature" in line for line in refusals), refusals[-5:]


def test_aws_body_without_a_token_is_a_401_not_a_400(stack: Stack) -> None:
    """250 KB of broken JSON without the bearer token is 401 (never parsed); with the token, a 400."""
    body = b"{" * (250 * 1024)
    assert post(stack, "/aws/events", body, "application/json").status == 401
    wrong = post(stack, "/aws/events", body, "application/json", {"Authorization": "Bearer nope"})
    assert wrong.status == 401 and "bearer token" in wrong.json()["error"]
    right = post(stack, "/aws/events", body, "application/json", {"Authorization": f"Bearer {EVENTS_TOKEN}"})
    assert right.status == 400 and "JSON" in right.json()["error"]


def test_slacks_ssl_check_is_answered_and_does_nothing_else(stack: Stack) -> None:
    """Slack's small SSL check form is answered 200 as Bolt does, even carrying a command's fields."""
    before = len(stack.slack.api_calls("chat.postMessage"))
    body = urllib.parse.urlencode({"ssl_check": "1", "token": "x", "command": "/whose-key", "text": "help"}).encode()
    result = post(stack, "/slack/events", body, "application/x-www-form-urlencoded")
    assert result.status == 200 and result.body == ""
    assert len(stack.slack.api_calls("chat.postMessage")) == before


def test_signed_slack_request_still_gets_its_answer(stack: Stack) -> None:
    """A correctly signed slash command passes the guard and is acknowledged as before."""
    reply, _url = stack.slash_command("help")
    assert reply.status == 200


def test_zz_fuzz_figures(stack: Stack) -> None:
    """Prints what the fuzzing sent and how the web answered (runs last in this module)."""
    assert SEEN and not any(key.endswith(" 500") for key in SEEN)
    print(
        f"\nbodies fuzzed: {sum(SEEN.values())} requests; answers by endpoint and status: {dict(sorted(SEEN.items()))}"
    )
