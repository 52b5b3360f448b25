"""Key state transitions (workers/notices/transitions.py) on a real Redis: one atomic compare-and-set per
report, so exactly one notice per change of state whoever sees it first."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis

from core.redis_keys import KEY_STATE, NOTICE_SENT, redis_key
from workers.notices.transitions import Change, KeyStates

KEY = "AKIARZPUZDIKGB2VALC4"
OTHER_KEY = "AKIARZPUZDIKGB2VALC5"


@pytest.fixture
def states(redis: Redis) -> KeyStates:
    return KeyStates(redis)


def test_first_report_of_a_key_is_first_seen(states: KeyStates) -> None:
    """The first state recorded for a key is FIRST_SEEN, and reads back as that state."""
    assert states.get(KEY) is None
    assert states.record(KEY, "Active", "sweep-1") is Change.FIRST_SEEN
    assert states.get(KEY) == "Active"


def test_a_new_state_is_a_change(states: KeyStates) -> None:
    """Moving to another state is CHANGED: news to notify."""
    states.record(KEY, "Active", "sweep-1")
    change = states.record(KEY, "Inactive", "event-a")
    assert change is Change.CHANGED and change.is_news
    assert states.get(KEY) == "Inactive"


def test_the_same_state_from_someone_else_is_unchanged(states: KeyStates) -> None:
    """When the sweep reports a deactivation the event already recorded, it is UNCHANGED: no second notice."""
    states.record(KEY, "Active", "sweep-1")
    states.record(KEY, "Inactive", "event-a")
    change = states.record(KEY, "Inactive", "sweep-2")
    assert change is Change.UNCHANGED and not change.is_news


def test_a_retry_with_the_same_cause_finishes_what_it_started(states: KeyStates) -> None:
    """A retried job reporting the change it recorded gets SAME_CAUSE (news), every time it retries."""
    states.record(KEY, "Active", "sweep-1")
    assert states.record(KEY, "Inactive", "event-a") is Change.CHANGED
    for _ in range(3):
        change = states.record(KEY, "Inactive", "event-a")
        assert change is Change.SAME_CAUSE and change.is_news
    assert states.record(KEY, "Inactive", "event-b") is Change.UNCHANGED


def test_reactivation_then_deactivation_is_news_again(states: KeyStates) -> None:
    """Inactive, then Active again, then Inactive: each step is a change, so the second deactivation notifies."""
    states.record(KEY, "Active", "sweep-1")
    steps = [("Inactive", "event-a"), ("Active", "event-b"), ("Inactive", "event-c")]
    assert [states.record(KEY, state, cause) for state, cause in steps] == [Change.CHANGED] * 3
    # The first deactivation's cause, retried now, is no longer the one on record.
    assert states.record(KEY, "Inactive", "event-a") is Change.UNCHANGED


def assert_lives(redis: Redis, name: str, seconds: int, since: float) -> None:
    """name was given `seconds` to live after `since` (a time.monotonic()): its TTL has run down by
    no more than the time gone by since then (and Redis's rounding to the second), however long."""
    ttl = redis.ttl(name)
    gone_by = time.monotonic() - since
    assert seconds - gone_by - 1 <= ttl <= seconds, (ttl, seconds, gone_by)


def test_keys_do_not_share_state(states: KeyStates) -> None:
    """Each key has its own record."""
    states.record(KEY, "Inactive", "event-a")
    assert states.record(OTHER_KEY, "Inactive", "event-a") is Change.FIRST_SEEN


def test_state_record_expires_after_its_fixed_lifetime(states: KeyStates, redis: Redis) -> None:
    """The record lives KEY_STATE's TTL, renewed on each change, and holds "STATE|CAUSE"."""
    since = time.monotonic()
    states.record(KEY, "Inactive", "event-a")
    name = redis_key(KEY_STATE, KEY)
    assert redis.get(name) == b"Inactive|event-a"
    assert_lives(redis, name, KEY_STATE.seconds, since)


def test_racing_reporters_yield_exactly_one_change(states: KeyStates) -> None:
    """Many workers reporting the same deactivation at once: exactly one of them gets the change."""
    states.record(KEY, "Active", "sweep-1")
    start = threading.Barrier(8)
    results: list[Change] = []

    def report(cause: str) -> None:
        start.wait()
        results.append(states.record(KEY, "Inactive", cause))

    threads = [threading.Thread(target=report, args=(f"event-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [Change.UNCHANGED] * 7 + [Change.CHANGED]


def test_claim_once_is_true_only_the_first_time(states: KeyStates, redis: Redis) -> None:
    """A one-off notice (an exposure) is claimed by the first caller only, for NOTICE_SENT's lifetime."""
    since = time.monotonic()
    assert states.claim_once("exposed:111111111111:KEY:event-a") is True
    assert states.claim_once("exposed:111111111111:KEY:event-a") is False
    assert states.claim_once("exposed:111111111111:KEY:event-b") is True
    assert_lives(redis, redis_key(NOTICE_SENT, "exposed:111111111111:KEY:event-a"), NOTICE_SENT.seconds, since)


@pytest.mark.parametrize(
    ("change", "news"),
    [
        (Change.UNCHANGED, False),  # someone else already reported it
        (Change.CHANGED, True),  # a real transition
        (Change.FIRST_SEEN, False),  # no earlier state: the caller decides (events notify, sweeps do not)
        (Change.SAME_CAUSE, True),  # a retry of the reporter that recorded the change
    ],
)
def test_which_changes_are_news(change: Change, news: bool) -> None:
    """is_news holds exactly for a change and for a retry of the one that made it."""
    assert change.is_news is news
