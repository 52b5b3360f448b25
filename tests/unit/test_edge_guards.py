"""The edge's pure checks: Slack fixtures read the way the app reads them (body guard, the
asker's workspace), the body guard's verdicts, transport settings, and timeouts on every
outbound HTTP call in the product."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bot import body_guard
from bot.aws_events.sns import FETCHES_PER_MINUTE, SnsRetryLater, SnsVerificationError, SnsVerifier
from bot.body_guard import MAX_DEPTH, check_aws_body, check_aws_request, check_slack_body, check_slack_request
from bot.members import outside_teams, teams_of_action, teams_of_command, teams_of_event
from cli.doctor.redact import redact_text
from cli.doctor.redact import redact_url as doctor_redact_url
from core.settings import Settings, SettingsError, redact_url
from core.sns_urls import certificate_host_for
from tests.support.sns_signing import CERT_URL, SnsSigner
from tests.support.sns_signing import TOPIC_ARN as SNS_TOPIC

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "slack"
HOME = "T05WHOKEY01"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}


def wire_body(payload: dict) -> tuple[dict[str, str], bytes]:
    """The fixture as Slack puts it on the wire: commands and interactions as forms, events as JSON."""
    if "command" in payload:
        return FORM, urllib.parse.urlencode(payload).encode()
    if payload.get("type") in ("block_actions", "view_submission"):
        return FORM, urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return JSON, json.dumps(payload).encode()


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_every_slack_fixture_passes_the_body_guard_and_names_its_workspace(path: Path) -> None:
    """Each payload Slack sends gets past the guard; only the Slack Connect one is from outside."""
    payload = json.loads(path.read_text())
    headers, body = wire_body(payload)
    assert check_slack_body(headers, body) is None
    if "command" in payload:
        teams = teams_of_command(payload)
    elif "event" in payload:
        teams = teams_of_event(payload, payload["event"])
    elif payload.get("type") in ("block_actions", "view_submission"):
        teams = teams_of_action(payload)
    else:
        teams = ()
    outside = outside_teams(teams, HOME, frozenset())
    assert outside == (["T07PARTNER2"] if "slack-connect" in path.name else [])


@pytest.mark.parametrize("path", sorted((FIXTURES / "socket-mode-envelopes").glob("*.json")), ids=lambda p: p.name)
def test_socket_mode_envelopes_carry_payloads_the_guard_accepts(path: Path) -> None:
    """Socket Mode envelopes hold the same payloads as HTTP: each passes the same checks."""
    envelope = json.loads(path.read_text())
    if "payload" not in envelope:
        assert envelope["type"] in ("hello", "disconnect")
        return
    headers, body = wire_body(envelope["payload"])
    assert check_slack_body(headers, body) is None


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        # deeper than MAX_DEPTH
        (JSON, ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), 400),
        # deep enough to break the JSON parser itself
        (JSON, ("[" * 30_000 + "]" * 30_000).encode(), 400),
        # JSON that is not an object
        (JSON, b"null", 400),
        # a null event
        (JSON, b'{"type": "event_callback", "event": null}', 400),
        # not UTF-8
        (FORM, b"text=\xff", 400),
        # a payload field that is not JSON
        (FORM, b"payload=%7B", 400),
        # a content type Slack never sends
        ({"content-type": "text/xml"}, b"<a/>", 400),
        # over the size limit
        (JSON, b"{" + b" " * (1024 * 1024 + 1) + b"}", 413),
    ],
)
def test_slack_body_guard_refuses_with_a_reason(headers: dict[str, str], body: bytes, status: int) -> None:
    """Malformed, nested, mistyped or huge bodies get 400 or 413 with a reason."""
    problem = check_slack_body(headers, body)
    assert problem is not None and problem[1] == status and problem[0]


def test_aws_guard_refuses_an_sns_header_on_a_non_sns_body() -> None:
    """An SNS message-type header on an EventBridge body is a 400, not a signature failure."""
    problem = check_aws_body({"content-type": "application/json", "x-amz-sns-message-type": "Notification"}, b"{}")
    assert problem is not None and problem[1] == 400 and "not an SNS message" in problem[0]


# -- Verify before you parse ------------------------------------------------------------------

SECRET = "guard-test-secret"
NOW_S = 1_750_000_000.0
TOPIC_S = "arn:aws:sns:us-east-1:123456789012:whose-key-events"


def slack_signed(body: bytes, secret: str = SECRET, timestamp: float = NOW_S) -> dict[str, str]:
    """Headers Slack would send with body: a v0 HMAC-SHA256 over the timestamp and the bytes."""
    ts = str(int(timestamp))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {**JSON, "x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every JSON or form parse the guard makes (the positive signal of 'parsed')."""
    seen: list[str] = []
    real_loads, real_qsl = json.loads, body_guard.parse_qsl

    def loads(text: str, *args: object, **kwargs: object) -> object:
        """Record, then parse as json.loads does."""
        seen.append("json")
        return real_loads(text, *args, **kwargs)  # type: ignore[arg-type]

    def qsl(text: str, *args: object, **kwargs: object) -> list[tuple[str, str]]:
        """Record, then parse as parse_qsl does."""
        seen.append("form")
        return real_qsl(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(body_guard.json, "loads", loads)
    monkeypatch.setattr(body_guard, "parse_qsl", qsl)
    return seen


def slack_verdict(headers: dict[str, str], body: bytes) -> tuple[str, int] | None:
    """What the Slack guard says of a request at NOW_S."""
    return check_slack_request(headers, body, signing_secret=SECRET, now=NOW_S)


@pytest.mark.parametrize(
    "headers",
    [
        JSON,  # no signature at all
        slack_signed(b"{not json", secret="another-secret"),  # signed with the wrong secret
        slack_signed(b"{not json", timestamp=NOW_S - 301),  # a replay from six minutes ago
        slack_signed(b"{not json", timestamp=NOW_S + 301),  # from the future
        {**slack_signed(b"{not json"), "x-slack-request-timestamp": "１７５０"},  # non-ASCII digits
        {**slack_signed(b"{not json"), "x-slack-signature": "v0=" + "0" * 64},  # a made-up digest
    ],
)
def test_unsigned_malformed_slack_body_is_401_and_never_parsed(headers: dict[str, str], parses: list[str]) -> None:
    """A body without a valid signature is 401, not 400, even when it is not JSON: it was never parsed."""
    assert slack_verdict(headers, b"{not json") == ("missing or wrong Slack signature", 401)
    assert parses == []


def test_signed_malformed_slack_body_is_a_friendly_400_after_parsing(parses: list[str]) -> None:
    """The same malformed body, correctly signed, is parsed and answered 400 with the reason."""
    problem = slack_verdict(slack_signed(b"{not json"), b"{not json")
    assert problem is not None and problem[1] == 400 and "not valid JSON" in problem[0]
    assert parses == ["json"]


def test_slacks_unsigned_ssl_check_passes_to_bolt_but_nothing_bigger() -> None:
    """Slack's tiny SSL check form passes unsigned (Bolt answers it 200); a large or JSON one is 401."""
    assert slack_verdict(FORM, b"ssl_check=1&token=x") is None
    assert slack_verdict(FORM, b"ssl_check=1&text=" + b"a" * 600) == ("missing or wrong Slack signature", 401)
    assert slack_verdict(JSON, b'{"ssl_check": "1"}') == ("missing or wrong Slack signature", 401)
    assert slack_verdict(FORM, b"ssl_check=0&token=x") == ("missing or wrong Slack signature", 401)


def test_signed_slack_body_inside_the_window_passes() -> None:
    """A well-formed body signed four minutes ago passes (the window is five minutes either way)."""
    body = b'{"type": "url_verification", "challenge": "x"}'
    assert slack_verdict(slack_signed(body, timestamp=NOW_S - 240), body) is None


@pytest.mark.parametrize("signed", [True, False])
def test_slack_body_over_64_kb_is_413_before_its_signature(signed: bool, parses: list[str]) -> None:
    """A 70 KB body is 413 whether or not it is correctly signed: size comes first."""
    body = b'{"a": "' + b"x" * 70_000 + b'"}'
    assert slack_verdict(slack_signed(body) if signed else JSON, body) == ("body too large", 413)
    assert parses == []


def aws_verdict(headers: dict[str, str], body: bytes) -> tuple[str, int] | None:
    """What the AWS guard says, with a current and a previous token and one SNS topic."""
    return check_aws_request(headers, body, tokens=["current-token", "previous-token"], sns_topics=frozenset({TOPIC_S}))


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (JSON, "missing or wrong bearer token"),
        ({**JSON, "authorization": "Bearer not-the-token"}, "missing or wrong bearer token"),
        ({**JSON, "authorization": "current-token"}, "missing or wrong bearer token"),  # no "Bearer "
        ({**JSON, "x-amz-sns-message-type": "Notification"}, "topic this endpoint does not take"),
        (
            {**JSON, "x-amz-sns-message-type": "Notification", "x-amz-sns-topic-arn": TOPIC_S + "-other"},
            "topic this endpoint does not take",
        ),
    ],
)
def test_unauthenticated_aws_body_is_401_and_never_parsed(
    headers: dict[str, str], reason: str, parses: list[str]
) -> None:
    """No token, a wrong one, or an SNS message for a topic not ours: 401 before any JSON is read."""
    problem = aws_verdict(headers, b"[" * 100_000)
    assert problem is not None and problem[1] == 401 and reason in problem[0]
    assert parses == []


@pytest.mark.parametrize("token", ["current-token", "previous-token"])
def test_either_events_token_gets_the_body_parsed(token: str, parses: list[str]) -> None:
    """With the current or the previous token, a malformed body is parsed and answered 400."""
    problem = aws_verdict({**JSON, "authorization": f"Bearer {token}"}, b"not json")
    assert problem is not None and problem[1] == 400 and parses == ["json"]


def test_aws_endpoint_without_a_token_refuses_all_saying_so() -> None:
    """With WHOSE_KEY_EVENTS_TOKEN unset, every EventBridge request is 401 naming the setting."""
    problem = check_aws_request({**JSON, "authorization": "Bearer "}, b"{}", tokens=[], sns_topics=frozenset())
    assert problem is not None and problem[1] == 401 and "WHOSE_KEY_EVENTS_TOKEN" in problem[0]


def test_aws_body_over_300_kb_is_413_before_its_token(parses: list[str]) -> None:
    """An AWS body over 300 KB is 413 even with the right token, and is not parsed."""
    body = b'{"a": "' + b"x" * (300 * 1024) + b'"}'
    assert aws_verdict({**JSON, "authorization": "Bearer current-token"}, body) == ("body too large", 413)
    assert parses == []


def test_sns_header_for_our_topic_on_a_non_sns_body_is_a_400() -> None:
    """An SNS message for our topic whose body is not an SNS message is parsed and answered 400."""
    headers = {**JSON, "x-amz-sns-message-type": "Notification", "x-amz-sns-topic-arn": TOPIC_S}
    problem = aws_verdict(headers, b"{}")
    assert problem is not None and problem[1] == 400 and "not an SNS message" in problem[0]


# -- SNS certificates: whose host, and how often fetched --------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        """The current test time."""
        return self.now


@dataclass
class CountingSource:
    """Serves the signer's certificate at any URL (or fails every fetch), counting fetches."""

    signer: SnsSigner
    fail: bool = False
    fetched: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        """Count the fetch, then fail or serve the PEM."""
        self.fetched.append(url)
        if self.fail:
            raise OSError("connection refused")
        return self.signer.certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    """Signs SNS messages with a test key and a self-signed sns.amazonaws.com certificate."""
    return SnsSigner()


def sns_refusal(verifier: SnsVerifier, message: dict[str, str]) -> SnsVerificationError:
    """The error verify() raises for the message (fails the test if it is accepted)."""
    with pytest.raises(SnsVerificationError) as caught:
        verifier.verify(json.dumps(message).encode())
    return caught.value


def test_certificate_from_another_regions_sns_host_is_refused_unfetched(signer: SnsSigner) -> None:
    """A us-east-1 topic's message pointing at sns.eu-west-1.amazonaws.com is refused before any fetch."""
    source = CountingSource(signer)
    verifier = SnsVerifier(frozenset({SNS_TOPIC}), fetch_certificate=source)
    message = signer.notification("{}", cert_url=CERT_URL.replace("us-east-1", "eu-west-1"))
    assert str(sns_refusal(verifier, message)) == "untrusted certificate URL" and source.fetched == []
    verifier.verify(json.dumps(signer.notification("{}")).encode())  # its own region's host is fine
    assert source.fetched == [CERT_URL]


def test_signature_version_1_is_refused_unfetched(signer: SnsSigner) -> None:
    """A message correctly signed with SignatureVersion 1 (SHA1) is refused, and nothing is fetched."""
    source = CountingSource(signer)
    verifier = SnsVerifier(frozenset({SNS_TOPIC}), fetch_certificate=source)
    error = sns_refusal(verifier, signer.notification("{}", version="1"))
    assert str(error) == "unsupported signature version" and source.fetched == []


def test_failed_certificate_url_is_not_fetched_again_within_a_minute(signer: SnsSigner) -> None:
    """After a failed fetch, the URL is refused unfetched (retry later) for 60 s, then tried again."""
    clock, source = Clock(), CountingSource(signer, fail=True)
    verifier = SnsVerifier(frozenset({SNS_TOPIC}), fetch_certificate=source, clock=clock)
    assert isinstance(sns_refusal(verifier, signer.notification("{}")), SnsRetryLater)
    for _ in range(5):
        clock.now += 11  # 55 s later in all: still quiet
        error = sns_refusal(verifier, signer.notification("{}"))
        assert isinstance(error, SnsRetryLater) and "a moment ago" in str(error)
    assert source.fetched == [CERT_URL]
    clock.now += 5  # a minute after the failure
    source.fail = False
    verifier.verify(json.dumps(signer.notification("{}")).encode())
    assert source.fetched == [CERT_URL, CERT_URL]


def test_certificate_fetches_are_capped_per_minute(signer: SnsSigner) -> None:
    """Six distinct certificate URLs are fetched in a minute; the seventh is refused (retry later)
    unfetched, and fetched once the minute has passed."""
    clock, source = Clock(), CountingSource(signer)
    verifier = SnsVerifier(frozenset({SNS_TOPIC}), fetch_certificate=source, clock=clock)
    urls = [CERT_URL.replace(".pem", f"-{n}.pem") for n in range(FETCHES_PER_MINUTE + 1)]
    for url in urls[:-1]:
        verifier.verify(json.dumps(signer.notification("{}", cert_url=url)).encode())
    error = sns_refusal(verifier, signer.notification("{}", cert_url=urls[-1]))
    assert isinstance(error, SnsRetryLater) and "too many" in str(error)
    assert source.fetched == urls[:-1]
    verifier.verify(json.dumps(signer.notification("{}", cert_url=urls[0])).encode())  # cached: no fetch needed
    clock.now += 60
    verifier.verify(json.dumps(signer.notification("{}", cert_url=urls[-1])).encode())
    assert source.fetched == urls


@pytest.mark.parametrize(
    ("topic", "host"),
    [
        # Each partition's own domain; the region is the topic's.
        ("arn:aws:sns:eu-west-1:123456789012:t", "sns.eu-west-1.amazonaws.com"),
        ("arn:aws-cn:sns:cn-north-1:123456789012:t", "sns.cn-north-1.amazonaws.com.cn"),
        ("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t.fifo", "sns.us-gov-west-1.amazonaws.com"),
        # A region of another partition, or not an SNS topic ARN at all: no host is trusted.
        ("arn:aws:sns:cn-north-1:123456789012:t", None),
        ("arn:aws-cn:sns:us-east-1:123456789012:t", None),
        ("arn:aws:sqs:us-east-1:123456789012:t", None),
        ("arn:aws:sns:us-east-1:123456789012:t:extra", None),
    ],
)
def test_certificate_host_is_the_topics_own_regional_sns_host(topic: str, host: str | None) -> None:
    """The one trusted certificate host comes from the TopicArn's partition and region."""
    assert certificate_host_for(topic) == host


BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://slack.com/api/", True),
        ("http://127.0.0.1:8080/api/", True),  # a loopback stand-in
        ("http://localhost:8080/api/", True),
        ("http://slack.example.com/api/", False),  # plain http off the machine
        ("http://10.0.0.5/api/", False),
    ],
)
def test_slack_api_url_must_be_https_except_on_loopback(url: str, ok: bool) -> None:
    """SLACK_API_URL over plain http is refused unless it points at loopback."""
    if ok:
        assert Settings.from_env({**BASE, "SLACK_API_URL": url}).slack_api_url == url
    else:
        with pytest.raises(SettingsError, match="SLACK_API_URL must use https"):
            Settings.from_env({**BASE, "SLACK_API_URL": url})


@pytest.mark.parametrize(
    "url",
    ["redis://:hunter2pass@redis.internal:6379/0", "redis://app:hunter2pass@redis.internal/0",
     "rediss://hunter2pass@redis.internal:6380"],
)  # fmt: skip
def test_redis_password_is_never_printed(url: str) -> None:
    """Neither the settings' repr nor redact_url shows the Redis password."""
    settings = Settings.from_env({**BASE, "REDIS_URL": url})
    assert "hunter2pass" not in repr(settings) and "hunter2pass" not in redact_url(url)
    assert "redis.internal" in redact_url(url)


@pytest.mark.parametrize(
    "url",
    ["redis://redis.internal:6379/0?password=hunter2pass", "redis://hunter2pass@redis.internal:6379/0",
     "rediss://app:hunter2pass@redis.internal:6380/0?ssl_cert_reqs=required&token=hunter2pass"],
)  # fmt: skip
def test_every_form_of_redis_secret_is_hidden_in_logs_and_the_doctor(url: str) -> None:
    """A password in the query, a bare token user, or both: neither the settings' repr (the start-up
    log line) nor the doctor's redaction of the URL and of an error naming it shows the secret."""
    settings = Settings.from_env({**BASE, "REDIS_URL": url})
    error = f"Error connecting to {url}: auth failed for hunter2pass"

    assert "hunter2pass" not in repr(settings)
    assert "hunter2pass" not in doctor_redact_url(url) and "redis.internal" in doctor_redact_url(url)
    assert "hunter2pass" not in redact_text(error, url)


def test_new_settings_are_read_and_validated() -> None:
    """Budget, concurrency, teams and guests settings parse, and bad values name the variable."""
    settings = Settings.from_env(
        {**BASE, "WHOSE_KEY_FULL_SEARCH_LIMIT": "3", "WHOSE_KEY_FULL_SEARCH_CONCURRENCY": "2",
         "WHOSE_KEY_ALLOWED_TEAMS": "T0AAA, E0BBB", "WHOSE_KEY_ALLOW_GUESTS": "yes"}
    )  # fmt: skip
    assert (settings.full_search_limit, settings.full_search_concurrency) == (3, 2)
    assert settings.allowed_teams == {"T0AAA", "E0BBB"} and settings.allow_guests
    assert Settings.from_env(BASE).full_search_limit == 10 and not Settings.from_env(BASE).allow_guests
    with pytest.raises(SettingsError, match="WHOSE_KEY_ALLOWED_TEAMS"):
        Settings.from_env({**BASE, "WHOSE_KEY_ALLOWED_TEAMS": "C0NOTATEAM"})
    with pytest.raises(SettingsError, match="WHOSE_KEY_ALLOW_GUESTS"):
        Settings.from_env({**BASE, "WHOSE_KEY_ALLOW_GUESTS": "maybe"})


# Calls that open an outbound HTTP connection, and where their timeout goes.
OUTBOUND = {"WebClient", "WebhookClient", "urlopen", "create_connection", "HTTPSConnection", "HTTPConnection"}


def test_every_outbound_http_call_in_the_product_has_a_timeout() -> None:
    """Every Slack client, webhook and urlopen in core/, bot/, workers/ and cli/ is given a timeout."""
    missing = []
    for package in ("core", "bot", "workers", "cli"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in OUTBOUND and not any(k.arg == "timeout" for k in node.keywords):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert missing == []
