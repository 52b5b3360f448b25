"""Very large accounts read in batches (workers/sweep/batches.py): the plan is stored once, each
batch counts once, the account is complete when every batch is in, a failed batch makes it
unreadable, and the chain of batch jobs reaches every batch exactly once."""

from __future__ import annotations

import pytest
from redis import Redis

from core.contract import SweepUserBatch, from_json, to_json
from core.jobs import spec_for
from core.queue import JobQueue
from core.settings import Settings, SettingsError
from workers.aws.errors import AccountOutcome
from workers.jobs.sweep import user_batch_failed
from workers.sweep.batches import LargeAccount, next_batch, split
from workers.sweep.state import SweepProgress

SWEEP = "sweep-20261202T000000-abc123"
ACCOUNT = "123456789012"


def entry(user: str) -> dict[str, str]:
    return {"user": user, "status": "Active"}


def test_split_keeps_every_name_in_order_in_batches_of_at_most_size() -> None:
    names = [f"user-{i}" for i in range(7)]
    batches = split(names, 3)
    assert batches == [names[0:3], names[3:6], names[6:7]]
    assert split([], 3) == [[]]  # an account with no users is still one (empty) batch


@pytest.mark.parametrize("batches", [1, 2, 7])
def test_the_chain_reaches_every_batch_once(batches: int) -> None:
    """The account job enqueues batch 0; each batch job enqueues the next; the last enqueues none."""
    seen, batch = [], 0
    while batch is not None:
        seen.append(batch)
        batch = next_batch(batch, batches)
    assert seen == list(range(batches))


def test_the_first_plan_stays_for_a_retried_account_job(redis: Redis) -> None:
    """A retried account job may list a user created meanwhile: the batches already enqueued keep theirs."""
    large = LargeAccount(redis, SWEEP, ACCOUNT)
    assert large.plan(["a", "b", "c", "d", "e"], 2, aws_calls=2) == 3
    assert large.plan(["a", "b", "c", "d", "e", "f", "g"], 2, aws_calls=2) == 3
    assert [large.users(b) for b in range(3)] == [["a", "b"], ["c", "d"], ["e"]]
    assert large.aws_calls() == 2  # counted once
    assert large.batches() == 3
    assert LargeAccount(redis, SWEEP, "999999999999").users(0) is None  # no plan: nothing to read


def test_the_account_is_complete_once_every_batch_is_in_and_retries_count_once(redis: Redis) -> None:
    large = LargeAccount(redis, SWEEP, ACCOUNT)
    large.plan(["a", "b", "c"], 1, aws_calls=2)
    assert large.record(0, {"AKIA0000000000000000": entry("a")}, aws_calls=3) is False
    assert large.record(0, {"AKIA0000000000000000": entry("a")}, aws_calls=3) is False  # a retry: once
    assert large.record(2, {"AKIA2222222222222222": entry("c")}, aws_calls=3) is False
    assert large.record(1, {}, aws_calls=1) is True  # the last one in, whatever its number
    assert large.record(1, {}, aws_calls=1) is True  # still complete for a retried last batch
    assert large.keys() == {"AKIA0000000000000000": entry("a"), "AKIA2222222222222222": entry("c")}
    assert large.aws_calls() == 2 + 3 + 3 + 1
    assert large.failure() is None
    assert not large.settled()
    large.mark_settled()
    assert large.settled() and large.keys() == {}  # the copy goes once the snapshot holds the keys


def test_a_failed_batch_makes_the_account_unreadable_with_the_first_reason(redis: Redis) -> None:
    large = LargeAccount(redis, SWEEP, ACCOUNT)
    large.plan(["a", "b", "c"], 1, aws_calls=2)
    large.record(0, {"AKIA0000000000000000": entry("a")}, aws_calls=3)
    large.record(1, {}, aws_calls=1, failure=(AccountOutcome.ACCESS_DENIED, "ListAccessKeys was denied"))
    assert large.record(2, {}, aws_calls=0, failure=(AccountOutcome.ERROR, "its sweep job failed (KeyError)"))
    assert large.failure() == (AccountOutcome.ACCESS_DENIED, "ListAccessKeys was denied")


def test_batch_state_expires_with_the_sweep(redis: Redis) -> None:
    large = LargeAccount(redis, SWEEP, ACCOUNT)
    large.plan(["a", "b"], 1, aws_calls=2)
    large.record(0, {"AKIA0000000000000000": entry("a")}, aws_calls=3)
    for name in redis.scan_iter(f"whose-key:sweep-batch*:{SWEEP}:{ACCOUNT}"):
        assert 0 < redis.ttl(name) <= 2 * 24 * 3600, name


def test_batch_job_arguments_survive_the_queue() -> None:
    args = SweepUserBatch(SWEEP, ACCOUNT, 3, "payments")
    assert from_json(SweepUserBatch, to_json(args)) == args


def test_batch_size_setting_is_checked() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-unit"}
    assert Settings.from_env(env, require_signing_secret=False).sweep_batch_users == 250
    assert (
        Settings.from_env({**env, "WHOSE_KEY_SWEEP_BATCH_USERS": "40"}, require_signing_secret=False).sweep_batch_users
        == 40
    )
    with pytest.raises(SettingsError, match="WHOSE_KEY_SWEEP_BATCH_USERS"):
        Settings.from_env({**env, "WHOSE_KEY_SWEEP_BATCH_USERS": "0"}, require_signing_secret=False)


class DeadBatchJob:
    """What RQ hands the failure callback: the job's arguments and the retries it has left."""

    def __init__(self, batch: SweepUserBatch, retries_left: int = 0) -> None:
        self.args = [to_json(batch)]
        self.func_name = spec_for(batch).func
        self.retries_left = retries_left


def test_a_batch_job_that_failed_for_good_counts_its_account_unreadable_and_the_chain_goes_on(redis: Redis) -> None:
    """RQ's failure callback: the failed batch marks the account unreadable, the next batch is still
    queued, and when the last batch is in the account is counted once, so the sweep can finish."""
    progress = SweepProgress(redis)
    progress.start(SWEEP, accounts=1, requested_by="test")
    large = LargeAccount(redis, SWEEP, ACCOUNT)
    large.plan(["a", "b"], 1, aws_calls=2)
    user_batch_failed(DeadBatchJob(SweepUserBatch(SWEEP, ACCOUNT, 0), retries_left=1), redis, KeyError)
    assert large.failure() is None  # RQ retries it: nothing recorded yet
    user_batch_failed(DeadBatchJob(SweepUserBatch(SWEEP, ACCOUNT, 0)), redis, KeyError)
    assert large.failure() == (AccountOutcome.ERROR, "its sweep job failed (KeyError)")
    assert JobQueue(redis).queues["whose-key-background"].job_ids == [f"{SWEEP}-{ACCOUNT}-users-1"]
    user_batch_failed(DeadBatchJob(SweepUserBatch(SWEEP, ACCOUNT, 1)), redis, KeyError)
    report = progress.summary(SWEEP)
    assert report is not None and report.done == 1
    assert [(u.account, u.outcome) for u in report.unreadable] == [(ACCOUNT, "error")]
