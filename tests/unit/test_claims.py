"""A claim is confirmed before a name or a text from it is used: which deletions are believed,
whose name a notice carries, how the event's own words are labelled, and that every notice block
is valid Block Kit sent verbatim."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import pytest
from redis import Redis
from slack_sdk.models.blocks import Block

from core.key_events import KeyEvent
from core.redis_keys import KEY_STATE, SNAPSHOT, redis_key
from workers.aws.cloudtrail import TrailAnswer, TrailEvent, TrailOutcome
from workers.lookup.key_index import INDEX
from workers.notices.confirm import UNCONFIRMED, ConfirmationUnavailable, confirm_deletion
from workers.render.notice import NoticeFacts, quote, render_notice
from workers.runtime import Runtime

ACCOUNT = "111111111111"
OTHER = "222222222222"
KEY = "AKIAIOSFODNN7EXAMPLE"
TRAIL_RECORD = TrailEvent(
    event_name="DeleteAccessKey",
    event_time="2026-11-26T10:00:00Z",
    actor="arn:aws:iam::111111111111:user/admin",
    source_ip="198.51.100.9",
    user_name="alice",
    access_key_id=KEY,
)


@dataclass
class TrailAnswers:
    """CloudTrail's answer to "who deleted this key", fixed per test; counts the questions."""

    answer: TrailAnswer
    asked: list[str] = field(default_factory=list)

    def who_deleted_key(self, account_id: str, key_id: str) -> TrailAnswer:
        self.asked.append(f"{account_id}/{key_id}")
        return self.answer


def forged_deletion() -> KeyEvent:
    # The event names another user, with its own actor and address: all of it only a claim.
    return KeyEvent(
        kind="deleted",
        account_id=ACCOUNT,
        event_id="e-1",
        key_id=KEY,
        user_name="mallory",
        actor="arn:aws:iam::111111111111:user/mallory",
        source_ip="203.0.113.66",
    )


def runtime_with(redis: Redis, answer: TrailAnswer) -> tuple[Runtime, TrailAnswers]:
    trail = TrailAnswers(answer)
    return cast(Runtime, SimpleNamespace(redis=redis, trail=trail)), trail


def remember(redis: Redis, how: str) -> None:
    if how == "index":
        redis.hset(INDEX, KEY, json.dumps({"user": "alice", "account_id": ACCOUNT}))
    elif how == "index-by-label":
        redis.hset(INDEX, KEY, json.dumps({"user": "alice", "account": f"acme-prod ({ACCOUNT})"}))
    elif how == "index-other-account":
        redis.hset(INDEX, KEY, json.dumps({"user": "alice", "account_id": OTHER}))
    elif how == "snapshot":
        redis.hset(redis_key(SNAPSHOT, ACCOUNT), KEY, json.dumps({"user": "alice", "status": "Active"}))
    elif how == "key-state":
        redis.set(redis_key(KEY_STATE, KEY), "Active|sweep-1")


FOUND = TrailAnswer(TrailOutcome.FOUND, TRAIL_RECORD)
NONE = TrailAnswer(TrailOutcome.NONE_FOUND)


@pytest.mark.parametrize(
    ("memory", "answer", "user", "asks_trail"),
    [
        # A lookup indexed the key in this account: its user is named, CloudTrail is not asked.
        ("index", NONE, "alice", False),
        # The sweep's index entries carry the account's label only.
        ("index-by-label", NONE, "alice", False),
        # The last sweep's snapshot of the account held the key.
        ("snapshot", NONE, "alice", False),
        # Only the key's state is remembered: believed, but no user is named rather than the event's.
        ("key-state", NONE, None, True),
        # Never seen, but CloudTrail in the account records the deletion: its user is named.
        ("nothing", FOUND, "alice", True),
        # Seen in another account only, and CloudTrail here records it: CloudTrail decides.
        ("index-other-account", FOUND, "alice", True),
    ],
)
def test_a_deletion_is_believed_of_a_key_seen_there_or_recorded_by_cloudtrail(
    redis: Redis, memory: str, answer: TrailAnswer, user: str | None, asks_trail: bool
) -> None:
    """A deletion is confirmed by the index, the snapshot, the key state or CloudTrail, and names
    the user whose-key saw, never the event's `userName`."""
    remember(redis, memory)
    runtime, trail = runtime_with(redis, answer)
    verdict = confirm_deletion(runtime, forged_deletion())
    assert verdict.confirmed
    assert verdict.event.user_name == user
    assert bool(trail.asked) is asks_trail


@pytest.mark.parametrize("memory", ["nothing", "index-other-account"])
def test_a_deletion_of_a_key_never_seen_there_and_not_in_cloudtrail_is_unconfirmed(redis: Redis, memory: str) -> None:
    """IAM having no such key is not enough: unseen and unrecorded, the deletion is unconfirmed."""
    remember(redis, memory)
    runtime, _ = runtime_with(redis, NONE)
    verdict = confirm_deletion(runtime, forged_deletion())
    assert not verdict.confirmed and verdict.reason == UNCONFIRMED
    assert "never saw it" in verdict.detail


def test_cloudtrail_that_cannot_be_read_decides_nothing(redis: Redis) -> None:
    """An unseen key whose CloudTrail cannot be read is retried, not dropped nor believed."""
    runtime, _ = runtime_with(redis, TrailAnswer(TrailOutcome.UNREACHABLE, detail="throttled"))
    with pytest.raises(ConfirmationUnavailable):
        confirm_deletion(runtime, forged_deletion())


def test_who_when_and_where_come_from_cloudtrails_record(redis: Redis) -> None:
    """Confirmed by CloudTrail, the actor, time and address are CloudTrail's, not the event's."""
    runtime, _ = runtime_with(redis, FOUND)
    event = confirm_deletion(runtime, forged_deletion()).event
    assert (event.actor, event.source_ip, event.when) == (TRAIL_RECORD.actor, "198.51.100.9", TRAIL_RECORD.event_time)
    assert event.from_trail


FACTS = NoticeFacts(account_label=f"acme-prod ({ACCOUNT})", user_name="alice", owner_slack_id="U0ALICE01")


def notice_text(event: KeyEvent) -> str:
    return json.dumps(render_notice(event, FACTS).blocks)


def test_the_events_own_who_and_when_are_labelled_as_its_claim() -> None:
    """Actor and time read only from the event are shown as what the event says."""
    event = KeyEvent(
        kind="deactivated",
        account_id=ACCOUNT,
        event_id="e-2",
        key_id=KEY,
        actor="carol",
        when="2026-11-26T10:00:00Z",
        source="eventbridge",
    )
    text = notice_text(event)
    assert "*By:* _the event says_ carol" in text and "*When:* _the event says_ " in text


def test_who_and_when_read_from_cloudtrail_are_stated_plainly() -> None:
    """Actor and time from CloudTrail's record carry no claim label."""
    event = KeyEvent(kind="deleted", account_id=ACCOUNT, event_id="e-3", key_id=KEY, actor="carol", from_trail=True)
    text = notice_text(event)
    assert "*By:* carol" in text and "the event says" not in text


def test_health_text_is_quoted_escaped_and_clipped() -> None:
    """What AWS Health says is a block quote, line by line, escaped and cut to its limit."""
    said = "Your key leaked. See https://evil.example/x <!channel>\n<https://evil.example|click>" + "x" * 5000
    quoted = quote(said)
    assert all(line.startswith("> ") for line in quoted.splitlines())
    assert "<!channel>" not in quoted and "&lt;!channel&gt;" in quoted and "<https" not in quoted
    assert len(quoted) < 1700


def test_every_notice_block_is_valid_block_kit_sent_verbatim() -> None:
    """Each block of a Health notice passes slack_sdk's Block Kit models, and every mrkdwn text is verbatim."""
    event = KeyEvent(
        kind="exposed",
        account_id=ACCOUNT,
        event_id="e-4",
        key_id=KEY,
        source="health",
        risk_code="AWS_RISK_CREDENTIALS_EXPOSED",
        description="Found at https://evil.example/leak <!channel>",
    )
    blocks = render_notice(event, FACTS).blocks
    texts: list[dict[str, Any]] = []
    for raw in blocks:
        model = Block.parse(raw)
        assert model is not None
        model.validate_json()
        assert model.to_dict() == raw, "slack_sdk keeps every field, verbatim included"
        texts += [raw["text"]] if "text" in raw else []
        texts += raw.get("elements", []) + raw.get("fields", [])
    mrkdwn = [t for t in texts if t.get("type") == "mrkdwn"]
    assert mrkdwn and all(t.get("verbatim") is True for t in mrkdwn)
