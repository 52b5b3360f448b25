"""The sweep spread over RQ workers, end to end: lookups are answered during a sweep with the
Procfile's one worker process, one sweep at a time however short the interval, a worker killed
mid-sweep costs nothing but a retry, and an unreadable account is still reported.

AWS is made slow where the sweep reads (ListUserTags) so that a sweep lasts seconds; where a test
needs a sweep still running at some point, those reads are held until it has seen what it waits
for (the AWS proxy's hold), so no test depends on how long anything takes."""

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
from core.redis_keys import SWEEP_LAST, SWEEP_STATE, redis_key
from standins.moto_org import AccountSpec, UserSpec
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV, iam_in
from tests.support.cli import run_cli
from tests.support.waiting import wait_until
from workers.sweep.state import SweepProgress, SweepSummary

TEAMS = [f"team-{i:02d}" for i in range(10)]
ORGANIZATION = (
    AccountSpec("management", (UserSpec("admin", {"slack-user-id": "U0ADMIN01"}),)),
    *(
        AccountSpec(team, tuple(UserSpec(f"dev-{j}", {"slack-user-id": f"U0T{i:02d}U{j}"}) for j in range(3)))
        for i, team in enumerate(TEAMS)
    ),
)
UNREADABLE = "team-09"
# Each ListUserTags waits this long: a sweep of the organization then lasts several seconds.
SLOW_TAGS = 0.5


def slow_sweep_reads(stack: Stack) -> None:
    stack.aws.slow("ListUserTags", None, delay=SLOW_TAGS)


def deny_role_in(stack: Stack, account_name: str) -> None:
    """whose-key's role cannot be assumed in the account (set before any sweep assumed it)."""
    assert stack.org is not None
    account = stack.org.accounts[account_name]
    stack.aws.fail(
        "AssumeRole", lambda p: f"::{account}:role/WhoseKey" in p.get("RoleArn", ""), 403, "AccessDenied", "no"
    )


@pytest.fixture(scope="module")
def scale() -> Iterator[Stack]:
    """The Procfile as shipped: one `worker` process (its pool: one lookup worker, one background)."""
    with Stack(accounts=ORGANIZATION, extra_env=dict(TEST_ENV)) as running:
        deny_role_in(running, UNREADABLE)
        slow_sweep_reads(running)
        yield running


def redis_of(stack: Stack) -> Redis:
    return Redis.from_url(stack.redis.url)


def start_sweep(stack: Stack) -> str:
    return JobQueue(redis_of(stack)).enqueue(SweepRequest(requested_by="test"))


def wait_for_sweep(stack: Stack, sweep_id: str, *, finished: bool, timeout: float = 120) -> SweepSummary:
    """The sweep's report once it has begun (at least one account done) or, with finished, once it ended."""
    progress = SweepProgress(redis_of(stack))

    def reached() -> SweepSummary | None:
        report = progress.summary(sweep_id)
        return report if report is not None and (report.finished if finished else report.done >= 1) else None

    return wait_until(
        reached,
        what=lambda: f"sweep {sweep_id} {'finished' if finished else 'begun'}: {progress.summary(sweep_id)}",
        timeout=timeout,
    )


def answered(stack: Stack, key_id: str) -> None:
    """Ask for key_id with the slash command and wait for its answer at the response_url."""
    reply, url = stack.slash_command(key_id)
    assert reply.status == 200
    answer = stack.slack.wait_for_hook(url, timeout=30)[0]
    assert key_id in json.dumps(answer.body)


def chunk_jobs_running(stack: Stack, sweep_id: str) -> tuple[Worker, str] | None:
    """A worker running one of the sweep's chunk jobs (a few accounts side by side), and its ID."""
    for worker in Worker.all(connection=redis_of(stack)):
        job_id = worker.get_current_job_id()
        if job_id and job_id.startswith(f"{sweep_id}-chunk-"):
            return worker, job_id
    return None


def notices_about(stack: Stack, key_id: str) -> list[dict]:
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if key_id in json.dumps(c.body)
        and "deactivated" in json.dumps(c.body)
        and c.body.get("channel") != AUDIT_CHANNEL
    ]


def test_lookups_are_answered_during_a_sweep(scale: Stack) -> None:
    """With one worker process, a lookup made while a sweep runs is answered while the sweep still
    runs: it does not wait behind the sweep's jobs. (How long it takes against an idle lookup is
    bench/sweep_fanout.py's to measure.)"""
    assert scale.org is not None
    key_id = scale.org.key("team-03", "dev-1")
    # The sweep's reads of every other user's tags are held until the lookup is answered, so the
    # sweep cannot finish first, however loaded the machine; the lookup reads only dev-1's.
    held = scale.aws.hold("ListUserTags", lambda params: params.get("UserName") != "dev-1")
    try:
        sweep_id = start_sweep(scale)
        wait_until(lambda: held.hits, what="the sweep to read its accounts")
        answered(scale, key_id)
        still_running = SweepProgress(redis_of(scale)).summary(sweep_id)
        assert still_running is not None and not still_running.finished, "the lookup was answered during the sweep"
    finally:
        scale.aws.remove(held)
    report = wait_for_sweep(scale, sweep_id, finished=True)
    assert report.done == report.accounts == len(ORGANIZATION)


def test_unreadable_account_is_reported_through_the_workers(scale: Stack) -> None:
    """`whose-key sweep` through the workers reports an account whose role cannot be assumed, exits 1,
    tells the audit channel once and stores the summary for the hygiene report."""
    assert scale.org is not None
    result = run_cli("sweep", env=scale.env(), timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    account = scale.org.accounts[UNREADABLE]
    assert f"swept {len(ORGANIZATION)} accounts" in result.stdout
    assert f"not read: {UNREADABLE} ({account}): could not assume the role" in result.stdout
    summary = json.loads(redis_of(scale).get(redis_key(SWEEP_LAST)) or "{}")
    assert [u["account"] for u in summary["unreadable"]] == [account]
    assert summary["accounts"] == len(ORGANIZATION) and summary["keys"] == 1 + 3 * (len(TEAMS) - 1)
    warnings = [
        c
        for c in scale.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == AUDIT_CHANNEL and "could not read 1 of" in json.dumps(c.body)
    ]
    finished = [f for _, f in redis_of(scale).xrange("whose-key:audit") if f[b"action"] == b"sweep_finished"]
    assert len(warnings) == len(finished)  # one warning per sweep, however many account jobs ran


def test_worker_killed_mid_sweep_is_retried_and_each_notice_goes_out_once(scale: Stack) -> None:
    """A worker SIGKILLed while it holds a chunk of accounts: the chunk is retried, every account
    is finished, and every deactivated key's owner is told exactly once."""
    assert scale.org is not None
    wait_for_sweep(scale, start_sweep(scale), finished=True)  # a baseline: every key seen
    readable = [t for t in TEAMS if t != UNREADABLE]
    keys = {team: scale.org.key(team, "dev-0") for team in readable}
    for team, key_id in keys.items():
        iam_in(scale, scale.org.accounts[team]).update_access_key(
            UserName="dev-0", AccessKeyId=key_id, Status="Inactive"
        )
    # Each deactivated key's user has its tags read again, held until a worker running the chunk is
    # killed: it dies in the middle of that job, however loaded the machine.
    held = scale.aws.hold("ListUserTags")
    try:
        sweep_id = start_sweep(scale)
        victim, job_id = wait_until(
            lambda: held.hits and chunk_jobs_running(scale, sweep_id), what="a worker to be held in a chunk of accounts"
        )
        scale.kill_worker(victim.pid)
    finally:
        scale.aws.remove(held)
    redis = redis_of(scale)
    report = wait_for_sweep(scale, sweep_id, finished=True, timeout=180)
    assert report.done == report.accounts
    assert report.deactivated == len(readable), report
    for key_id in keys.values():
        assert len(notices_about(scale, key_id)) == 1, key_id
    retried = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    assert retried.get_status() == "finished" and retried.retries_left is not None and retried.retries_left < 3


def test_sweep_interval_shorter_than_a_sweep_gives_one_sweep_at_a_time() -> None:
    """With two background workers and an interval shorter than a sweep, sweeps never overlap and
    the interval that finds one running is skipped (and audited)."""
    env = {**TEST_ENV, "WHOSE_KEY_SWEEP_INTERVAL": "2", "WHOSE_KEY_WORKERS": "2"}
    with Stack(accounts=ORGANIZATION, extra_env=env) as stack:
        slow_sweep_reads(stack)
        redis = redis_of(stack)

        def audited(action: str) -> list[dict[str, bytes]]:
            return [fields for _, fields in redis.xrange("whose-key:audit") if fields[b"action"] == action.encode()]

        # A sweep is held at its reads until an interval has found it running and skipped, so one
        # sweep outlasts an interval however loaded the machine; then the sweeps run on their own.
        held = stack.aws.hold("ListUserTags")
        try:
            wait_until(lambda: audited("sweep_skipped"), what="an interval to find a sweep running", timeout=120)
        finally:
            stack.aws.remove(held)
        wait_until(lambda: len(audited("sweep_finished")) >= 3, what="three sweeps to finish", timeout=120)
        spans = []
        for record in audited("sweep_finished"):
            state = redis.hgetall(redis_key(SWEEP_STATE, record[b"sweep_id"].decode()))
            spans.append((float(state[b"started"]), float(state[b"finished"])))
        spans.sort()
        for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
            assert later_start >= earlier_end, spans
