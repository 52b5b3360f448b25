"""A key's state change and its pending notice are written in one step, once per change; a
pending notice is rescheduled after a failed delivery and given up after its age; copies of a
one-off notice claim once. On the unit run's throwaway redis-server."""

from __future__ import annotations

import pytest
from redis import Redis

from core.key_events import KeyEvent
from core.redis_keys import PENDING_NOTICE, PENDING_NOTICES, redis_key
from workers.notices.pending import PendingNotices
from workers.notices.transitions import Change, KeyStates

KEY = "AKIAWO645SY5CEDEPLOY"
ACCOUNT = "444455556666"
DAY = 24 * 3600


def event(kind: str = "deactivated", source: str = "eventbridge") -> KeyEvent:
    return KeyEvent(kind, account_id=ACCOUNT, event_id="e-1", key_id=KEY, user_name="ci-deploy", source=source)


def test_state_change_records_its_notice_as_pending_in_the_same_step(redis: Redis) -> None:
    """A new state writes the pending notice; the same state from elsewhere writes nothing more."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    redis.set("whose-key:key-state:" + KEY, "Active|sweep-1")
    draft = pending.draft(event(), "cloudtrail-1", now=100.0)
    assert states.record(KEY, "Inactive", "cloudtrail-1", draft) is Change.CHANGED
    assert pending.due(now=101.0) == [draft.notice_id]
    stored = pending.get(draft.notice_id)
    assert stored is not None and stored.event == event() and stored.first_at == 100.0
    other = pending.draft(event(source="sweep"), "sweep-2", now=200.0)
    assert states.record(KEY, "Inactive", "sweep-2", other) is Change.UNCHANGED
    assert pending.count() == 1


def test_retry_of_the_same_cause_adds_no_second_notice(redis: Redis) -> None:
    """The job that recorded the change, run again, finds its notice, not a new one."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    redis.set("whose-key:key-state:" + KEY, "Active|sweep-1")
    draft = pending.draft(event(), "cloudtrail-1")
    states.record(KEY, "Inactive", "cloudtrail-1", draft)
    pending.done(draft.notice_id)
    assert states.record(KEY, "Inactive", "cloudtrail-1", draft) is Change.SAME_CAUSE
    assert pending.count() == 0


@pytest.mark.parametrize(
    ("from_event", "pending_count"),
    [
        (True, 1),  # an event about a key never seen before is a real change
        (False, 0),  # the sweep's first sighting of a key is only a baseline
    ],
)
def test_first_sighting_is_news_only_from_an_event(redis: Redis, from_event: bool, pending_count: int) -> None:
    """A first sighting records a notice when an event reports it, not when the sweep does."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    draft = pending.draft(event(), "c")
    assert states.record(KEY, "Inactive", "c", draft, first_sighting_is_news=from_event) is Change.FIRST_SEEN
    assert pending.count() == pending_count


def test_one_off_notice_is_claimed_once_with_its_pending_record(redis: Redis) -> None:
    """The first copy of a Health notice claims it and records the notice; a copy records nothing."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    draft = pending.draft(event("exposed", "health"), "health-abc")
    assert states.claim_once("exposed:x:health-abc", draft)
    assert not states.claim_once("exposed:x:health-abc", pending.draft(event("exposed", "health"), "health-abc"))
    assert pending.count() == 1


def test_failed_delivery_is_rescheduled_then_given_up_after_its_age(redis: Redis) -> None:
    """A failure moves the next attempt one retry period on; past the give-up age it is not kept."""
    states, pending = KeyStates(redis), PendingNotices(redis, 3600)
    draft = pending.draft(event(), "c", now=1000.0)
    states.record(KEY, "Inactive", "c", draft, first_sighting_is_news=True)
    notice = pending.get(draft.notice_id)
    assert notice is not None
    assert pending.failed(notice, retry_in=60, now=1010.0)
    assert pending.due(now=1069.0) == [] and pending.due(now=1070.0) == [draft.notice_id]
    again = pending.get(draft.notice_id)
    assert again is not None and again.attempts == 1
    assert not pending.failed(again, retry_in=60, now=1000.0 + 3600)


def test_only_one_process_holds_a_notice_for_delivery(redis: Redis) -> None:
    """The delivery lock is exclusive until released."""
    pending = PendingNotices(redis, DAY)
    assert pending.lock("n-1") and not pending.lock("n-1")
    pending.unlock("n-1")
    assert pending.lock("n-1")


def test_pending_records_live_in_the_declared_names(redis: Redis) -> None:
    """The pending set and records use the names core.redis_keys declares, with a TTL."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    draft = pending.draft(event(), "c")
    states.record(KEY, "Inactive", "c", draft, first_sighting_is_news=True)
    assert redis.zscore(redis_key(PENDING_NOTICES), draft.notice_id) is not None
    assert draft.record_key.startswith(redis_key(PENDING_NOTICE, ""))
    assert 0 < int(redis.ttl(draft.record_key)) <= DAY + 3600


def test_the_pending_set_lives_the_give_up_age_and_an_hour_renewed_by_every_add(redis: Redis) -> None:
    """The pending set expires one hour past the give-up age, counted again from each add or retry."""
    states, pending = KeyStates(redis), PendingNotices(redis, DAY)
    pending_set = redis_key(PENDING_NOTICES)
    redis.set("whose-key:key-state:" + KEY, "Active|sweep-1")
    draft = pending.draft(event(), "cloudtrail-1", now=100.0)
    states.record(KEY, "Inactive", "cloudtrail-1", draft)
    assert DAY + 3600 - 5 <= redis.ttl(pending_set) <= DAY + 3600
    redis.expire(pending_set, 60)
    assert states.claim_once("exposed:one-off", pending.draft(event("exposed"), "health-1"))
    assert redis.ttl(pending_set) > 60, "a new notice renews it"
    redis.expire(pending_set, 60)
    stored = pending.get(draft.notice_id)
    assert stored is not None and pending.failed(stored, retry_in=30, now=stored.first_at + 1)
    assert redis.ttl(pending_set) > 60, "a scheduled retry renews it"
