"""Every AWS event fixture parses to what whose-key must act on: the right kind, key, account
(the member account of an org-wide Health notice), ISO times, and one dedupe ID per notice
however often and from wherever it is delivered; anything not from aws.iam or aws.health is
refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.key_events import EventError, Ignored, KeyEvent, health_time, parse_event, parse_event_body

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MEMBER = "444455556666"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


# fixture -> (kind, key, user) the parser must read from it
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    # an admin deactivates ci-deploy's key
    "cloudtrail-update-access-key-inactive.json": ("deactivated", "AKIAWO645SY5CEDEPLOY", "ci-deploy"),
    # and reactivates it
    "cloudtrail-update-access-key-active.json": ("reactivated", "AKIAWO645SY5CEDEPLOY", "ci-deploy"),
    # dana deactivates her own key: no userName in the request, the caller is the user
    "cloudtrail-update-access-key-self.json": ("deactivated", "AKIAWO645SY5EMDANA22", "dana.dev"),
    "cloudtrail-delete-access-key.json": ("deleted", "AKIAWO645SY5I4BACKUP", "legacy-backup"),
    "cloudtrail-delete-user.json": ("user_deleted", None, "legacy-backup"),
    "health-aws-risk-credentials-exposed.json": ("exposed", "AKIAWO645SY5B4LEAKED", None),
    "health-aws-risk-credentials-exposed-backup-region.json": ("exposed", "AKIAWO645SY5B4LEAKED", None),
    "health-aws-risk-credentials-compromised.json": ("exposed", "AKIAWO645SY5DYCMPRMS", None),
    "health-aws-risk-credentials-compromise-suspected.json": ("exposed", "AKIAWO645SY5FUSUSPCT", None),
    "health-aws-risk-credentials-exposure-suspected.json": ("exposed", "AKIAWO645SY5HQMAYBE2", None),
    "health-aws-risk-iam-quarantine.json": ("exposed", "AKIAWO645SY5JMQRNTIN", None),
    # a code AWS may add later, naming the key only in eventMetadata
    "health-aws-risk-future-example.json": ("exposed", "AKIAWO645SY5LIFUTURE", "svc-reporting"),
}
IGNORED = ["cloudtrail-update-access-key-failed.json", "health-non-risk.json"]


def test_every_eventbridge_fixture_is_covered() -> None:
    """No fixture goes unparsed by these tests."""
    names = {p.name for p in (FIXTURES / "eventbridge").glob("*.json")}
    assert names == set(EXPECTED) | set(IGNORED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_eventbridge_fixture_parses_to_its_event(name: str) -> None:
    """Each key event fixture gives its kind, key, user and the member account, with an ISO time."""
    event = parse_event(load(f"eventbridge/{name}"))
    assert isinstance(event, KeyEvent)
    kind, key, user = EXPECTED[name]
    assert (event.kind, event.key_id, event.user_name) == (kind, key, user)
    assert event.account_id == MEMBER  # org-wide Health events: affectedAccount, not the envelope's account
    assert event.when is not None and event.when[:4] == "2025" and "T" in event.when
    assert event.dedupe_id


@pytest.mark.parametrize("name", IGNORED)
def test_failed_calls_and_non_risk_health_events_are_ignored(name: str) -> None:
    """A failed IAM call and a Health event that is not a risk notice need no action."""
    assert isinstance(parse_event(load(f"eventbridge/{name}")), Ignored)


def test_health_notice_and_its_backup_region_copy_share_one_dedupe_id() -> None:
    """The same notice from us-west-2 (new EventBridge id) dedupes with the us-east-1 one."""
    first = parse_event(load("eventbridge/health-aws-risk-credentials-exposed.json"))
    copy = parse_event(load("eventbridge/health-aws-risk-credentials-exposed-backup-region.json"))
    assert isinstance(first, KeyEvent) and isinstance(copy, KeyEvent)
    assert first.event_id != copy.event_id
    assert first.dedupe_id == copy.dedupe_id


def test_distinct_health_notices_have_distinct_dedupe_ids() -> None:
    """Different notices never collapse into one."""
    ids = {
        parse_event(load(f"eventbridge/{n}")).dedupe_id  # type: ignore[union-attr]
        for n in EXPECTED
        if n.startswith("health-") and "backup" not in n
    }
    assert len(ids) == 6


def test_health_event_carries_its_code_and_what_aws_says() -> None:
    """The risk code and AWS's English description travel with the event."""
    event = parse_event(load("eventbridge/health-aws-risk-iam-quarantine.json"))
    assert isinstance(event, KeyEvent)
    assert event.risk_code == "AWS_RISK_IAM_QUARANTINE"
    assert event.description is not None and event.description.startswith("To limit misuse")
    assert event.when == "2025-03-21T02:08:14Z"


def test_sns_notification_fixture_carries_the_eventbridge_event() -> None:
    """The SNS fixture's Message parses to the same event as the EventBridge fixture it wraps."""
    message = load("sns/notification-eventbridge.json")["Message"]
    assert parse_event_body(message) == parse_event(load("eventbridge/cloudtrail-update-access-key-inactive.json"))


@pytest.mark.parametrize(
    ("source", "accepted"),
    [
        ("aws.iam", True),
        ("aws.health", False),  # a CloudTrail body under the Health source is no risk notice
        ("whose-key.fake", None),  # anything else: refused
        (None, None),
    ],
)
def test_only_aws_iam_and_aws_health_sources_are_taken(source: str | None, accepted: bool | None) -> None:
    """Events from any other source are refused with a reason."""
    event = load("eventbridge/cloudtrail-update-access-key-inactive.json")
    event["source"] = source
    if accepted is None:
        with pytest.raises(EventError, match="unsupported source"):
            parse_event(event)
    else:
        assert isinstance(parse_event(event), KeyEvent if accepted else Ignored)


def test_known_risk_code_without_a_key_is_refused() -> None:
    """A known key risk code that names no key is a malformed event."""
    event = load("eventbridge/health-aws-risk-credentials-exposed.json")
    event["detail"]["affectedEntities"] = []
    with pytest.raises(EventError, match="without an access key"):
        parse_event(event)


def test_unknown_risk_code_without_a_key_is_ignored() -> None:
    """A future risk code that names no key is not about keys."""
    event = load("eventbridge/health-aws-risk-future-example.json")
    event["detail"]["eventMetadata"] = {}
    assert isinstance(parse_event(event), Ignored)


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Mon, 17 Mar 2025 03:14:22 GMT", "2025-03-17T03:14:22Z"),  # Health's RFC 1123
        ("2025-03-17T03:14:22Z", "2025-03-17T03:14:22Z"),  # ISO passes through
        ("not a time", None),
        (None, None),
    ],
)
def test_health_times_become_iso(raw: str | None, iso: str | None) -> None:
    """Health's times are read as ISO 8601."""
    assert health_time(raw) == iso


def test_cloudtrail_redelivery_under_a_new_id_keeps_its_dedupe_id() -> None:
    """The dedupe ID of a CloudTrail event is CloudTrail's eventID, not EventBridge's id."""
    event = load("eventbridge/cloudtrail-delete-access-key.json")
    again = {**event, "id": "another-id"}
    assert parse_event(event).dedupe_id == parse_event(again).dedupe_id  # type: ignore[union-attr]
