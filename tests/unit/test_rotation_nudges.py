"""Rotation nudges, decided in process: which keys cross which threshold, once per key and threshold
(claims in Redis, across sweeps and racing planners), never during the owner's snooze, one DM per
owner within Slack's block limit, the pace, and what happens to "I rotated it"."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from core.blockkit import MAX_BLOCKS
from core.contract import NudgeBatch
from core.nudges import (
    FINAL,
    ROTATED_ACTION,
    SNOOZE_ACTION,
    STILL_ACTIVE,
    WARN,
    NudgeOffer,
    RotationClaim,
    claim_rotation,
    nudge_offered,
    nudge_ref,
    parse_ref,
    rotation_claims,
    snooze,
)
from core.redis_keys import NUDGE_PLAN, NUDGE_SENT, NUDGE_SNOOZE, SNAPSHOT, SWEEP_STATE, redis_key
from core.settings import Settings
from core.slack_client import make_web_client
from standins.slack_double import SlackDouble
from workers.aws.gateway import AwsGateway
from workers.hygiene.nudge_message import render_nudge
from workers.hygiene.nudge_plan import NudgePlanner
from workers.hygiene.nudge_send import NudgePacer, confirmed_keys, give_back, read_plan, send_batch
from workers.hygiene.records import KeyRecord
from workers.hygiene.rotation import (
    NUDGE_KEYS_SHOWN,
    NudgeKey,
    OwnerNudge,
    by_owner,
    nudge_key,
    plan_entries,
    threshold_of,
)
from workers.runtime import Runtime, assemble_runtime

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OWNER = "U0OWNER01"
OTHER = "U0OTHER01"
ACCOUNT = "111111111111"
DAYS = 90


def key(
    n: int,
    *,
    age: int | None = 100,
    status: str = "Active",
    slack: str | None = OWNER,
    email: str | None = None,
    user: str | None = "app",
) -> KeyRecord:
    return KeyRecord(
        key_id=f"AKIA{n:016d}",
        account_id=ACCOUNT,
        account_name="prod",
        user=user,
        status=status,
        created=None if age is None else NOW - timedelta(days=age),
        last_used=None,
        last_service=None,
        last_region=None,
        owner_slack_id=slack,
        owner_email=email,
    )


@pytest.mark.parametrize(
    ("record", "days", "expected"),
    [
        (key(1, age=89), DAYS, None),  # a day short of the rotation age
        (key(1, age=90), DAYS, WARN),  # exactly the rotation age: due
        (key(1, age=179), DAYS, WARN),  # not yet twice it
        (key(1, age=180), DAYS, FINAL),  # twice the age: the final reminder
        (key(1, age=2000), DAYS, FINAL),  # first seen long past it: told once, at final
        (key(1, age=400, status="Inactive"), DAYS, None),  # an inactive key does no harm
        (key(1, age=400, slack=None), DAYS, None),  # no owner: stays in the digest, nobody to DM
        (key(1, age=400, slack=None, email="a@example.com"), DAYS, FINAL),  # the email tag is an owner
        (key(1, age=None), DAYS, None),  # creation date unknown
        (key(1, age=400), 0, None),  # WHOSE_KEY_ROTATION_DAYS=0 turns nudges off
        (key(1, age=2), 1, FINAL),  # a one-day rotation age
    ],
)
def test_which_threshold_a_key_has_crossed(record: KeyRecord, days: int, expected: str | None) -> None:
    """threshold_of gives the highest threshold an active, owned key has reached, else None."""
    assert threshold_of(record, NOW, days) == expected


def test_one_owner_with_several_keys_gets_one_entry_finals_first() -> None:
    """Keys are gathered per owner: one DM each, the final reminders first, capped at NUDGE_KEYS_SHOWN."""
    pairs = [(OWNER, nudge_key(key(n, age=100), WARN)) for n in range(NUDGE_KEYS_SHOWN + 3)]
    pairs.append((OWNER, nudge_key(key(99, age=300), FINAL)))
    pairs.append((OTHER, nudge_key(key(100, slack=OTHER), WARN)))
    entries = plan_entries(by_owner(pairs), "sweep-1")
    assert [e.owner for e in entries] == [OTHER, OWNER]
    mine = entries[1]
    assert mine.delivery_id == f"nudge-sweep-1-{OWNER}"
    assert mine.keys[0].reason == FINAL and len(mine.keys) == NUDGE_KEYS_SHOWN and mine.more == 4
    assert entries[0].more == 0


def test_the_dm_fits_slacks_block_limit_and_escapes_what_aws_says() -> None:
    """A full DM stays within 50 blocks, carries a Snooze and an I-rotated-it button per key (distinct
    action IDs, the key's ref as value), and shows an IAM user name as text, never as markup."""
    keys = tuple(
        NudgeKey(
            f"AKIA{n:016d}",
            ACCOUNT,
            FINAL if n % 2 else WARN,
            "<!channel>",
            "prod",
            (NOW - timedelta(days=200)).isoformat(),
        )
        for n in range(NUDGE_KEYS_SHOWN)
    )
    message = render_nudge(OwnerNudge(OWNER, "d", keys, more=30), NOW, DAYS)
    assert len(message.blocks) <= MAX_BLOCKS
    elements = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(elements) == 2 * NUDGE_KEYS_SHOWN and len({e["action_id"] for e in elements}) == len(elements)
    assert {e["value"] for e in elements} == {nudge_ref(ACCOUNT, k.key_id) for k in keys}
    assert {e["action_id"].rsplit("-", 1)[0] for e in elements} == {SNOOZE_ACTION, ROTATED_ACTION}
    payload = json.dumps(message.payload())
    assert "<!channel>" not in payload and "&lt;!channel&gt;" in payload
    assert "30 more" in payload and keys[0].key_id in message.text


def test_a_single_key_dm_names_its_age_and_its_own_rotation_commands() -> None:
    """One key: the headline says how old it is, the steps name its user and account."""
    one = (
        NudgeKey("AKIA0000000000000001", ACCOUNT, WARN, "deploy-bot", "prod", (NOW - timedelta(days=123)).isoformat()),
    )
    message = render_nudge(OwnerNudge(OWNER, "d", one), NOW, DAYS)
    text = json.dumps(message.blocks)
    assert "123 days old" in text and "aws iam create-access-key --user-name deploy-bot" in text
    assert "deploy-bot" in message.text and "123 days old" in message.text


# -- claims, snoozes and plans in Redis ------------------------------------------------------------


@pytest.fixture
def runtime(redis: Redis, slack: SlackDouble, slack_settings: Settings) -> Runtime:
    settings = replace(slack_settings, rotation_days=DAYS)
    return assemble_runtime(settings, redis, AwsGateway(settings.role_name), make_web_client(settings))


def plan(
    runtime: Runtime, sweep_id: str, records: list[KeyRecord], departed: frozenset[str] = frozenset()
) -> NudgePlanner:
    """One after-sweep pass over `records` and its plan (owners in `departed` have left Slack)."""
    planner = NudgePlanner(runtime, sweep_id, NOW, lambda r: r.owner in departed)
    assert list(planner.tap(records)) == records  # the tap hands every record on
    planner.plan()
    return planner


def test_each_key_and_threshold_is_told_once_across_sweeps(runtime: Runtime) -> None:
    """A key due at `warn` is planned once; the next sweep plans nothing (the claim is renewed);
    once the key is twice the age, the final reminder is planned, once."""
    records = [key(1), key(2, age=10)]
    first = plan(runtime, "sweep-1", records)
    assert first.counts.warn == 1 and first.counts.owners == 1
    (entry,) = read_plan(runtime.redis, "sweep-1", 0, 10)
    assert [k.key_id for k in entry.keys] == [records[0].key_id] and entry.keys[0].reason == WARN
    again = plan(runtime, "sweep-2", records)
    assert again.counts.to_dict()["keys"] == 0 and again.counts.owners == 0
    assert not runtime.redis.exists(redis_key(NUDGE_PLAN, "sweep-2"))
    older = [key(1, age=200)]
    final = plan(runtime, "sweep-3", older)
    assert final.counts.final == 1
    assert plan(runtime, "sweep-4", older).counts.owners == 0


def test_a_key_first_seen_past_twice_the_age_is_told_once(runtime: Runtime) -> None:
    """Taking `final` takes `warn` too: no warning follows the final reminder."""
    assert plan(runtime, "sweep-1", [key(1, age=500)]).counts.final == 1
    warn = runtime.redis.get(redis_key(NUDGE_SENT, ACCOUNT, key(1).key_id, WARN))
    assert warn is not None and warn.decode() == f"nudge-sweep-1-{OWNER}"
    assert plan(runtime, "sweep-2", [key(1, age=500)]).counts.owners == 0


def test_a_retried_after_sweep_job_plans_its_own_dms_again(runtime: Runtime) -> None:
    """The same sweep planning again (its job died after claiming) finds its own claims and plans the
    DM again; the delivery mark, not the plan, keeps it to one post."""
    plan(runtime, "sweep-1", [key(1)])
    retried = plan(runtime, "sweep-1", [key(1)])
    assert retried.counts.warn == 1
    assert len(read_plan(runtime.redis, "sweep-1", 0, 10)) == 1


def test_two_planners_racing_tell_each_key_once(runtime: Runtime) -> None:
    """Two after-sweep jobs (two sweeps) that both saw the key unclaimed: only one DM plans it."""
    a = NudgePlanner(runtime, "sweep-a", NOW)
    b = NudgePlanner(runtime, "sweep-b", NOW)
    list(a.tap([key(1)]))
    list(b.tap([key(1)]))  # both checked before either claimed
    assert a.plan().warn + b.plan().warn == 1


def test_a_snoozed_key_is_skipped_and_told_after_the_snooze(runtime: Runtime) -> None:
    """During the owner's snooze the key is counted as snoozed and planned for nobody; a snooze by
    someone else (a previous owner) does not hold it; once the snooze is gone, it is told."""
    offer = NudgeOffer(key(1).key_id, ACCOUNT, OWNER, "app", "prod")
    snooze(runtime.redis, offer, OWNER)
    held = plan(runtime, "sweep-1", [key(1), key(2)])
    assert held.counts.snoozed == 1 and held.counts.snoozed_keys == [key(1).key_id] and held.counts.warn == 1
    again = plan(runtime, "sweep-2", [key(1)])
    assert again.counts.snoozed == 1 and again.counts.owners == 0
    runtime.redis.delete(redis_key(NUDGE_SNOOZE, offer.ref))
    assert plan(runtime, "sweep-3", [key(1)]).counts.warn == 1
    snooze(runtime.redis, NudgeOffer(key(3).key_id, ACCOUNT, OTHER), OTHER)
    assert plan(runtime, "sweep-4", [key(3)]).counts.warn == 1


def test_departed_owners_and_owners_not_on_slack_get_nothing(runtime: Runtime, slack: SlackDouble) -> None:
    """An owner who left Slack is skipped (the audit channel hears of the key); an email owner is
    resolved through the directory, and one Slack does not know is counted, not claimed."""
    slack.add_user("alice@example.com", "U0ALICE01")
    records = [
        key(1, slack="U0GONE001"),
        key(2, slack=None, email="Alice@Example.com"),
        key(3, slack=None, email="nobody@example.com"),
    ]
    planner = plan(runtime, "sweep-1", records, departed=frozenset({"U0GONE001"}))
    assert planner.counts.departed == 1 and planner.counts.no_slack_member == 1
    (entry,) = read_plan(runtime.redis, "sweep-1", 0, 10)
    assert entry.owner == "U0ALICE01" and entry.keys[0].key_id == records[1].key_id
    assert not runtime.redis.exists(redis_key(NUDGE_SENT, ACCOUNT, records[2].key_id, WARN))


def test_a_snooze_pressed_after_the_plan_holds_the_dm_back(runtime: Runtime) -> None:
    """The sender checks again: a key snoozed since the plan is dropped from the DM and its claim
    given back; a key whose claim another delivery holds is dropped too."""
    plan(runtime, "sweep-1", [key(1), key(2)])
    (entry,) = read_plan(runtime.redis, "sweep-1", 0, 10)
    snooze(runtime.redis, NudgeOffer(key(1).key_id, ACCOUNT, OWNER), OWNER)
    runtime.redis.set(redis_key(NUDGE_SENT, ACCOUNT, key(2).key_id, WARN), "nudge-other-delivery")
    assert confirmed_keys(runtime.redis, entry) == ()
    assert not runtime.redis.exists(redis_key(NUDGE_SENT, ACCOUNT, key(1).key_id, WARN))


def test_one_dm_per_owner_and_its_offers(runtime: Runtime, slack: SlackDouble) -> None:
    """The sender posts one DM per owner with every key, keeps an offer per key naming the owner,
    and a retried job posts nothing twice."""
    plan(runtime, "sweep-1", [key(1), key(2, age=300), key(3, slack=OTHER)])
    unpaced = NudgePacer(runtime.redis, 0)
    result = send_batch(runtime, NudgeBatch("sweep-1"), unpaced)
    assert result["sent"] == 2
    dms = slack.api_calls("chat.postMessage")
    assert sorted(c.body["channel"] for c in dms) == [OTHER, OWNER]
    mine = next(c.body for c in dms if c.body["channel"] == OWNER)
    assert key(1).key_id in mine["text"] and key(2).key_id in mine["text"]
    offer = nudge_offered(runtime.redis, nudge_ref(ACCOUNT, key(2).key_id))
    assert offer == NudgeOffer(key(2).key_id, ACCOUNT, OWNER, "app", "prod")
    assert send_batch(runtime, NudgeBatch("sweep-1"), unpaced)["sent"] == 0
    assert len(slack.api_calls("chat.postMessage")) == 2


def test_a_job_that_fails_for_good_gives_the_claims_back(runtime: Runtime) -> None:
    """give_back releases the claims of every owner not yet told, so the next sweep plans them again."""
    plan(runtime, "sweep-1", [key(1)])
    assert give_back(runtime.redis, NudgeBatch("sweep-1")) == 1
    assert plan(runtime, "sweep-2", [key(1)]).counts.warn == 1


def test_the_pace_spaces_dms_across_workers_and_hands_far_slots_on(redis: Redis) -> None:
    """Each DM takes a slot a second after the last (the wait is slept); a slot further than the
    longest wait is not taken, and says how long until one would be."""
    slept: list[float] = []
    pacer = NudgePacer(redis, 1.0, max_wait=2.5, sleep=slept.append)
    assert [pacer.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert slept[0] == pytest.approx(1.0, abs=0.2) and slept[1] == pytest.approx(2.0, abs=0.2)
    later = pacer.take()
    assert 0 < later <= 1.0 and len(slept) == 2


def test_i_rotated_it_is_checked_against_the_sweeps_snapshot(runtime: Runtime) -> None:
    """A claim made before the sweep began: still active in the snapshot, the owner is told (once);
    inactive or gone, it is settled quietly; a claim made while the sweep ran waits."""
    redis = runtime.redis
    redis.hset(redis_key(SWEEP_STATE, "sweep-1"), "started", repr(NOW.timestamp()))
    active, inactive, gone = key(1), key(2, status="Inactive"), key(3)
    for record in (active, inactive):
        created = (NOW - timedelta(days=100)).isoformat()
        entry = {"user": "app", "status": record.status, "created": created, "owner_slack_id": OWNER}
        redis.hset(redis_key(SNAPSHOT, ACCOUNT), record.key_id, json.dumps(entry))
    before = NOW.timestamp() - 60
    for record in (active, inactive, gone):
        claim_rotation(redis, RotationClaim(record.key_id, ACCOUNT, OWNER, before, "app", "prod"))
    claim_rotation(redis, RotationClaim(key(4).key_id, ACCOUNT, OWNER, NOW.timestamp() + 5, "app", "prod"))
    planner = plan(runtime, "sweep-1", [])
    assert planner.counts.still_active == 1 and planner.counts.confirmed == 2
    (entry,) = read_plan(redis, "sweep-1", 0, 10)
    assert [(k.key_id, k.reason) for k in entry.keys] == [(active.key_id, STILL_ACTIVE)]
    assert [c.key_id for c in rotation_claims(redis)] == [key(4).key_id]
    assert plan(runtime, "sweep-1b", []).counts.still_active == 0


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        (f"{ACCOUNT}|AKIA0000000000000001", (ACCOUNT, "AKIA0000000000000001")),
        ("11111111111|AKIA0000000000000001", None),  # an account of 11 digits
        (f"{ACCOUNT}|akia0000000000000001", None),  # lower case is no key ID
        (f"{ACCOUNT}|AKIA0000000000000001|x", None),  # something appended
        ("", None),
    ],
)
def test_a_button_value_must_name_an_account_and_a_key(ref: str, parsed: tuple[str, str] | None) -> None:
    """parse_ref accepts only what nudge_ref makes; a hand-made value is no offer."""
    assert parse_ref(ref) == parsed
