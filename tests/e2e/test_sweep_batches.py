"""A very large account swept in batches of users, end to end on real workers: every key found
and each change told once, a worker SIGKILLed in the middle of a batch costs only a retry, and
a batch that cannot be read makes the account unreadable without losing its snapshot.

WHOSE_KEY_SWEEP_BATCH_USERS=2 makes an account of 7 users "very large" (4 batches)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from core.contract import SweepRequest
from core.queue import JobQueue
from core.redis_keys import SNAPSHOT, SWEEP_BATCH_KEYS, redis_key
from standins.moto_org import AccountSpec, UserSpec
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV, iam_in
from tests.support.waiting import wait_until
from workers.sweep.lock import SweepLock
from workers.sweep.state import SweepProgress, SweepSummary

BIG = "big-account"
BIG_USERS = [f"big-{i}" for i in range(7)]
BATCHES = 4  # 7 users in batches of 2
ORGANIZATION = (
    AccountSpec("management", (UserSpec("admin", {"slack-user-id": "U0ADMIN01"}),)),
    AccountSpec(BIG, tuple(UserSpec(name, {"slack-user-id": f"U0BIG{i:04d}"}) for i, name in enumerate(BIG_USERS))),
    AccountSpec("small", (UserSpec("dev-0", {"slack-user-id": "U0SMALL01"}),)),
)


@pytest.fixture(scope="module")
def batches() -> Iterator[Stack]:
    env = {**TEST_ENV, "WHOSE_KEY_SWEEP_BATCH_USERS": "2", "WHOSE_KEY_WORKERS": "2"}
    with Stack(accounts=ORGANIZATION, extra_env=env) as running:
        yield running


def redis_of(stack: Stack) -> Redis:
    return Redis.from_url(stack.redis.url)


def sweep(stack: Stack, timeout: float = 120) -> tuple[str, SweepSummary]:
    sweep_id = JobQueue(redis_of(stack)).enqueue(SweepRequest(requested_by="test"))
    return sweep_id, wait_finished(stack, sweep_id, timeout)


def wait_finished(stack: Stack, sweep_id: str, timeout: float) -> SweepSummary:
    """The sweep's report once it has finished (a positive signal, polled)."""
    progress = SweepProgress(redis_of(stack))

    def finished() -> SweepSummary | None:
        report = progress.summary(sweep_id)
        return report if report is not None and report.finished else None

    def how_it_stands() -> str:
        # On a timeout: whether the sweep started at all, who holds the sweep lock, what the workers said.
        holder = SweepLock(redis_of(stack)).holder()
        said = [line for line in stack.logs().splitlines() if "sweep" in line][-40:]
        return "\n".join([f"sweep {sweep_id} finished: {progress.summary(sweep_id)}; lock held by {holder}", *said])

    return wait_until(finished, what=how_it_stands, timeout=timeout)


def snapshot_users(stack: Stack, account_name: str) -> dict[str, str]:
    """key ID -> user, as the account's snapshot holds them."""
    assert stack.org is not None
    raw = redis_of(stack).hgetall(redis_key(SNAPSHOT, stack.org.accounts[account_name]))
    return {k.decode(): json.loads(v)["user"] for k, v in raw.items()}


def batch_jobs(stack: Stack, sweep_id: str) -> list[Job]:
    assert stack.org is not None
    account = stack.org.accounts[BIG]
    ids = [f"{sweep_id}-{account}-users-{b}" for b in range(BATCHES)]
    return [Job.fetch(i, connection=redis_of(stack), serializer=JSONSerializer) for i in ids]


def owner_messages(stack: Stack, key_id: str, word: str) -> list[dict]:
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if key_id in json.dumps(c.body) and word in json.dumps(c.body) and c.body.get("channel") != AUDIT_CHANNEL
    ]


def test_large_account_is_read_in_batches_and_each_change_told_once(batches: Stack) -> None:
    assert batches.org is not None
    sweep_id, report = sweep(batches)
    assert report.done == report.accounts == len(ORGANIZATION) and not report.unreadable
    assert report.keys == 1 + len(BIG_USERS) + 1
    assert sorted(snapshot_users(batches, BIG).values()) == BIG_USERS  # every batch's keys, in one snapshot
    # Once settled, the batches' copy of the keys is gone (the snapshot has them).
    assert not redis_of(batches).exists(redis_key(SWEEP_BATCH_KEYS, sweep_id, batches.org.accounts[BIG]))
    jobs = batch_jobs(batches, sweep_id)
    assert [job.get_status() for job in jobs] == ["finished"] * BATCHES
    for earlier, later in zip(jobs, jobs[1:], strict=False):  # a chain: each batch is enqueued by the one before
        assert earlier.started_at is not None and later.enqueued_at is not None
        assert later.enqueued_at > earlier.started_at, (earlier.id, later.id)

    account = batches.org.accounts[BIG]
    iam = iam_in(batches, account)
    deactivated = batches.org.key(BIG, "big-6")  # in the last batch
    deleted = batches.org.key(BIG, "big-0")  # in the first
    iam.update_access_key(UserName="big-6", AccessKeyId=deactivated, Status="Inactive")
    iam.delete_access_key(UserName="big-0", AccessKeyId=deleted)
    _, report = sweep(batches)
    assert (report.deactivated, report.deleted) == (1, 1), report
    assert len(owner_messages(batches, deactivated, "deactivated")) == 1
    assert len(owner_messages(batches, deleted, "deleted")) == 1
    assert deleted not in snapshot_users(batches, BIG) and deactivated in snapshot_users(batches, BIG)


def test_worker_killed_during_a_batch_costs_a_retry_and_nothing_else(batches: Stack) -> None:
    assert batches.org is not None
    sweep(batches)  # a baseline: every key seen
    before = snapshot_users(batches, BIG)
    account = batches.org.accounts[BIG]
    deactivated = batches.org.key(BIG, "big-3")
    iam_in(batches, account).update_access_key(UserName="big-3", AccessKeyId=deactivated, Status="Inactive")
    # Every batch lists its users' keys (tags are read only when due, so not in every sweep), and
    # those reads are held until a worker running a batch is killed: it dies in the middle of that
    # batch, however loaded the machine (the account's chunk job only lists the users).
    held = batches.aws.hold("ListAccessKeys", account=account)
    try:
        redis = redis_of(batches)
        sweep_id = JobQueue(redis).enqueue(SweepRequest(requested_by="test"))

        def running_a_batch() -> tuple[Worker, str] | None:
            if not held.hits:  # not yet inside a batch's reads
                return None
            for worker in Worker.all(connection=redis):
                job_id = worker.get_current_job_id() or ""
                if "-users-" in job_id:
                    return worker, job_id
            return None

        victim, killed_job = wait_until(running_a_batch, what="a worker to be held in a batch job", timeout=60)
        batches.kill_worker(victim.pid)
    finally:
        batches.aws.remove(held)
    report = wait_finished(batches, sweep_id, timeout=120)  # within the test's own timeout
    assert report.done == report.accounts and not report.unreadable, report
    assert report.deactivated == 1
    assert len(owner_messages(batches, deactivated, "deactivated")) == 1
    # The retried job may have brought the sweep to its end and still be closing itself (RQ marks
    # it finished after its function returns): wait for that, rather than catch it in between.
    retried = wait_until(
        lambda: (
            (job := Job.fetch(killed_job, connection=redis, serializer=JSONSerializer)).get_status() == "finished"
            and job
        ),
        what="the retried batch job to be marked finished",
        timeout=60,
    )
    assert retried.retries_left is not None and retried.retries_left < 3
    assert snapshot_users(batches, BIG) == before


def test_a_batch_that_cannot_be_read_makes_the_account_unreadable_and_keeps_its_snapshot(batches: Stack) -> None:
    assert batches.org is not None
    sweep(batches)
    before = snapshot_users(batches, BIG)
    account = batches.org.accounts[BIG]
    denied = batches.aws.fail(
        "ListAccessKeys", lambda p: p.get("UserName") == "big-4", 403, "AccessDenied", "no", account=account
    )
    try:
        _, report = sweep(batches)
    finally:
        batches.aws.remove(denied)
    assert [u.account for u in report.unreadable] == [account], report
    assert report.done == report.accounts
    assert report.deleted == 0  # nothing is taken for deleted in an account that could not be read
    assert snapshot_users(batches, BIG) == before
