"""Rotation nudges end to end on the real processes: a sweep finds a key past WHOSE_KEY_ROTATION_DAYS
(the AWS proxy makes IAM say it was created long ago: moto cannot set a creation date) and its
owner gets one DM; a second sweep sends nothing; twice the age brings one final reminder; several
keys make one DM; Snooze holds the next reminder (the later sweep's audit record says so) and
only the owner may press it; "I rotated it" on a key IAM still has active gets the owner told at
the next sweep, once, and on a key deactivated meanwhile gets only a record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from core.nudges import ROTATED_ACTION, SNOOZE_ACTION, nudge_ref
from core.redis_keys import SWEEP_LAST, redis_key
from standins.slack_double import RecordedCall
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.support.aws_events import FreshKey, fresh_key, owner_id
from tests.support.cli import run_cli
from tests.support.waiting import wait_for_audit, wait_until

ROTATION_DAYS = 90


@pytest.fixture(scope="module")
def nudging() -> Iterator[Stack]:
    """A bot of its own, with the default rotation age (90 days) set explicitly."""
    with Stack(extra_env={**TEST_ENV, "WHOSE_KEY_ROTATION_DAYS": str(ROTATION_DAYS)}) as running:
        yield running


def old_key(stack: Stack, days: int, account: str = "acme-data", owner: str | None = None) -> tuple[str, FreshKey]:
    """A fresh owner (or `owner`) and a new IAM user tagged with them whose key IAM says is `days` old."""
    owner = owner or owner_id()
    key = fresh_key(stack, account, {"slack-user-id": owner})
    stack.aws.backdate_key(key.key_id, days)
    return owner, key


def sweep(stack: Stack) -> dict[str, Any]:
    """One sweep, then what its after-sweep job planned (the job's result: it has finished)."""
    result = run_cli("sweep", env=stack.env(), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    redis = Redis.from_url(stack.redis.url)
    sweep_id = json.loads(redis.get(redis_key(SWEEP_LAST)))["sweep_id"]

    def finished() -> Job | None:
        job = Job.fetch(f"after-sweep-{sweep_id}", connection=redis, serializer=JSONSerializer)
        assert not job.is_failed, job.latest_result().exc_string
        return job if job.is_finished else None

    job = wait_until(finished, what=lambda: f"after-sweep-{sweep_id} finished\n{stack.logs()[-3000:]}", timeout=90)
    value = job.return_value()
    return {"sweep_id": sweep_id, **value["nudges"]}


def dms(stack: Stack, owner: str) -> list[RecordedCall]:
    """The rotation nudges DMed to `owner` (the messages with a nudge's buttons; a deactivation
    notice the sweep sends about the same key is not one)."""
    return [
        c
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == owner and SNOOZE_ACTION in json.dumps(c.body.get("blocks"))
    ]


def wait_for_dms(stack: Stack, owner: str, count: int) -> list[dict[str, Any]]:
    """The owner's first `count` DMs, once there are that many."""
    stack.slack.wait_for(lambda _: len(dms(stack, owner)) >= count, timeout=60)
    return [c.body for c in dms(stack, owner)]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The message's buttons by action ID."""
    return {e["action_id"]: e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]}


def press(stack: Stack, action: str, key: FreshKey, user: str) -> str:
    """Press one of a nudge's buttons for `key` as `user`, in their DM; the reply's text."""
    reply, url = stack.block_action(
        f"{action}-0", nudge_ref(key.account_id, key.key_id), user_id=user, channel_id="D0NUDGE"
    )
    assert reply.status == 200
    return stack.slack.wait_for_hook(url, timeout=30)[0].body["text"]


def test_an_old_key_is_nudged_once_per_threshold(nudging: Stack) -> None:
    """A key past the rotation age gets its owner one DM with the buttons and the steps; the next
    sweep sends nothing (its audit record counts 0 nudges); at twice the age one final reminder
    comes, and nothing after it."""
    owner, key = old_key(nudging, 100)
    first = sweep(nudging)
    assert first["warn"] >= 1 and first["owners"] >= 1
    (dm,) = wait_for_dms(nudging, owner, 1)
    assert key.key_id in dm["text"] and "100 days old" in dm["text"]
    assert set(buttons(dm)) == {f"{SNOOZE_ACTION}-0", f"{ROTATED_ACTION}-0"}
    assert all(b["value"] == nudge_ref(key.account_id, key.key_id) for b in buttons(dm).values())
    assert "aws iam create-access-key" in json.dumps(dm["blocks"])
    redis = Redis.from_url(nudging.redis.url)
    wait_for_audit(redis, "rotation_nudge", owner=owner)

    second = sweep(nudging)
    assert second["keys"] == 0 and second["owners"] == 0
    record = wait_for_audit(redis, "rotation_nudges", sweep_id=second["sweep_id"])
    assert record["keys"] == "0"
    assert len(dms(nudging, owner)) == 1

    nudging.aws.backdate_key(key.key_id, 2 * ROTATION_DAYS + 5)
    third = sweep(nudging)
    assert third["final"] >= 1
    final = wait_for_dms(nudging, owner, 2)[1]
    assert "Last reminder" in final["text"] or "Last reminder" in json.dumps(final["blocks"])
    assert sweep(nudging)["keys"] == 0
    assert len(dms(nudging, owner)) == 2


def test_one_dm_per_owner_with_several_keys(nudging: Stack) -> None:
    """An owner with old keys in two accounts gets one DM naming both."""
    owner, first = old_key(nudging, 120, "acme-data")
    _, second = old_key(nudging, 130, "acme-prod", owner=owner)
    planned = sweep(nudging)
    assert planned["warn"] >= 2
    (dm,) = wait_for_dms(nudging, owner, 1)
    assert first.key_id in dm["text"] and second.key_id in dm["text"]
    assert "2 of your AWS access keys" in json.dumps(dm["blocks"])
    redis = Redis.from_url(nudging.redis.url)
    wait_for_audit(redis, "rotation_nudges_done", sweep_id=planned["sweep_id"])
    assert len(dms(nudging, owner)) == 1


def test_snooze_holds_the_next_reminder_and_only_the_owner_may_press_it(nudging: Stack) -> None:
    """Someone else's Snooze is refused and audited, and so is one for a key never offered; the
    owner's is taken; at twice the age the next sweep skips the key for the snooze (its audit record
    names it) and sends no final reminder."""
    owner, key = old_key(nudging, 100)
    sweep(nudging)
    wait_for_dms(nudging, owner, 1)
    redis = Redis.from_url(nudging.redis.url)

    stranger = owner_id()
    assert "Only the key's owner" in press(nudging, SNOOZE_ACTION, key, stranger)
    wait_for_audit(redis, "refused", user=stranger, reason="not_key_owner")
    # A key never offered (a hand-made press) is no offer, whoever presses.
    never = FreshKey(key.account_id, key.user_name, "AKIA" + "Z" * 16, key.iam)
    assert "no record of that reminder" in press(nudging, SNOOZE_ACTION, never, owner)
    wait_for_audit(redis, "refused", user=owner, reason="unknown_nudge_offer")
    assert "Snoozed" in press(nudging, SNOOZE_ACTION, key, owner)
    wait_for_audit(redis, "nudge_snoozed", user=owner, key=key.key_id)

    nudging.aws.backdate_key(key.key_id, 2 * ROTATION_DAYS + 1)
    later = sweep(nudging)
    assert later["snoozed"] >= 1
    record = wait_for_audit(redis, "rotation_nudges", sweep_id=later["sweep_id"])
    assert key.key_id in json.loads(record["snoozed_keys"])
    assert len(dms(nudging, owner)) == 1


def test_i_rotated_it_is_checked_against_iam_at_the_next_sweep(nudging: Stack) -> None:
    """ "I rotated it" on a key IAM still has active: the next sweep tells the owner, once. On a key
    deactivated meanwhile: the sweep records it as confirmed and says nothing more."""
    owner, kept = old_key(nudging, 100)
    honest, rotated = old_key(nudging, 100)
    sweep(nudging)
    wait_for_dms(nudging, owner, 1)
    wait_for_dms(nudging, honest, 1)
    redis = Redis.from_url(nudging.redis.url)
    for who, key in ((owner, kept), (honest, rotated)):
        assert "Thanks" in press(nudging, ROTATED_ACTION, key, who)
        wait_for_audit(redis, "rotation_claimed", user=who, key=key.key_id)
    rotated.iam.update_access_key(UserName=rotated.user_name, AccessKeyId=rotated.key_id, Status="Inactive")

    checked = sweep(nudging)
    assert checked["still_active"] >= 1 and checked["confirmed"] >= 1
    told = wait_for_dms(nudging, owner, 2)[1]
    assert kept.key_id in told["text"] and "still active" in told["text"]
    wait_for_audit(redis, "rotation_confirmed", key=rotated.key_id, owner=honest, status="Inactive")
    wait_for_audit(redis, "rotation_nudges_done", sweep_id=checked["sweep_id"])
    assert len(dms(nudging, honest)) == 1

    again = sweep(nudging)
    assert again["still_active"] == 0 and again["owners"] == 0
    assert len(dms(nudging, owner)) == 2
