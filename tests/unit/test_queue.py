"""Enqueueing through the one job table: every job is declared once and takes the type it is
declared with; a job with an ID is enqueued once, atomically, even when several web processes race
with the same request; a very large account's batch jobs go ahead of accounts not yet started."""

from __future__ import annotations

import inspect
import typing

import pytest
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

from core.contract import Destination, Reply, SweepAccount, SweepRequest, SweepUserBatch
from core.jobs import JOBS, LOOKUP_QUEUE, JobSpec, spec_for
from core.queue import JobQueue
from standins.redis_server import RedisServer
from tests.support.racing import race
from workers.runtime import Runtime


def reply(delivery_id: str) -> Reply:
    return Reply(delivery_id, Destination(channel="C0TEST", user="U0TEST"), text="hello", blocks=())


@pytest.mark.parametrize("spec", JOBS, ids=lambda s: s.func)
def test_every_job_takes_the_runtime_and_the_type_it_is_declared_with(spec: JobSpec) -> None:
    """The dotted path resolves to a function `job(runtime, args: <declared type>)`."""
    func = import_attribute(spec.func)
    hints = typing.get_type_hints(func)
    first, second = list(inspect.signature(func).parameters)

    assert hints[first] is Runtime
    assert hints[second] is spec.args


@pytest.mark.parametrize("spec", [s for s in JOBS if s.on_failure], ids=lambda s: s.func)
def test_every_failure_callback_resolves(spec: JobSpec) -> None:
    """A failure callback takes what RQ hands it: the job, the connection and the exception."""
    assert spec.on_failure is not None
    callback = import_attribute(spec.on_failure)

    assert list(inspect.signature(callback).parameters)[:2] == ["job", "connection"]


def test_each_argument_type_has_one_job() -> None:
    """One row per type: the table is the only place a job is declared."""
    assert len({spec.args for spec in JOBS}) == len(JOBS)
    with pytest.raises(TypeError):
        spec_for(object())


def test_a_redelivered_reply_is_queued_once(redis: Redis) -> None:
    """The same delivery enqueued twice puts one job ID in the queue, not two."""
    jobs = JobQueue(redis)
    first = jobs.enqueue(reply("Ev0RETRY1"))
    second = jobs.enqueue(reply("Ev0RETRY1"))

    assert first == second == "reply-Ev0RETRY1"
    assert jobs.queues[LOOKUP_QUEUE].job_ids == [first]


def test_web_processes_racing_with_one_request_enqueue_it_once(redis: Redis, redis_server: RedisServer) -> None:
    """Eight threads, each with its own connection (as eight web processes would), enqueue the same
    sweep at the same moment: one job, queued once; the others are told it is there."""
    request = SweepRequest(requested_by="test", sweep_id="sweep-race")

    results = race(8, lambda: JobQueue(Redis.from_url(redis_server.url)).enqueue(request))

    assert results == ["sweep-race"] * 8
    assert JobQueue(redis).queues["whose-key-background"].job_ids == ["sweep-race"]


def test_a_fan_out_enqueued_twice_adds_each_account_once(redis: Redis) -> None:
    """A retried coordinator enqueueing its accounts again adds none of them a second time."""
    jobs = JobQueue(redis)
    accounts = [SweepAccount("sweep-f", "111111111111"), SweepAccount("sweep-f", "222222222222")]

    assert jobs.enqueue_all(accounts) == 2
    assert jobs.enqueue_all(accounts) == 0
    assert jobs.queues["whose-key-background"].job_ids == ["sweep-f-111111111111", "sweep-f-222222222222"]


def test_a_batch_goes_ahead_of_waiting_accounts_and_is_queued_once_per_sweep(redis: Redis) -> None:
    """A retried account or batch job asking for the same batch again starts no second chain, even
    after the first run of that batch finished."""
    jobs = JobQueue(redis)
    background = jobs.queues["whose-key-background"]
    jobs.enqueue_all([SweepAccount("sweep-q", "111111111111"), SweepAccount("sweep-q", "222222222222")])
    batch = SweepUserBatch("sweep-q", "333333333333", 0)
    jobs.enqueue(batch)
    jobs.enqueue(batch)
    assert background.job_ids == ["sweep-q-333333333333-users-0", "sweep-q-111111111111", "sweep-q-222222222222"]
    job = Job.fetch("sweep-q-333333333333-users-0", connection=redis, serializer=JSONSerializer)
    background.remove(job.id)
    job.set_status("finished")

    jobs.enqueue(batch)

    assert "sweep-q-333333333333-users-0" not in background.job_ids
