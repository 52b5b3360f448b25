"""Enqueueing: a delivery that is already waiting or running is not queued a second time, and a
very large account's batch jobs are queued once per sweep, ahead of accounts not yet started."""

from __future__ import annotations

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from core.contract import Destination, Reply, SweepAccount, SweepUserBatch
from core.queue import JobQueue


def reply(delivery_id: str) -> Reply:
    return Reply(delivery_id, Destination(channel="C0TEST", user="U0TEST"), text="hello", blocks=())


def test_a_redelivered_reply_waiting_in_the_queue_is_not_queued_twice(redis: Redis) -> None:
    """The same delivery enqueued twice while the first waits puts one job ID in the queue, not two."""
    jobs = JobQueue(redis)
    first = jobs.enqueue_reply(reply("Ev0RETRY1"))
    second = jobs.enqueue_reply(reply("Ev0RETRY1"))
    assert first == second
    assert jobs.lookups.job_ids == [first]


def test_a_finished_delivery_can_be_queued_again(redis: Redis) -> None:
    """Once its job finished, the same delivery may be queued again (delivery marks stop a second post)."""
    jobs = JobQueue(redis)
    job_id = jobs.enqueue_reply(reply("Ev0RETRY2"))
    job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    jobs.lookups.remove(job_id)
    job.set_status("finished")
    assert not jobs.waiting_or_running(job_id)
    assert jobs.enqueue_reply(reply("Ev0RETRY2")) == job_id
    assert jobs.lookups.job_ids == [job_id]


def test_a_batch_goes_ahead_of_waiting_accounts_and_is_queued_once_per_sweep(redis: Redis) -> None:
    """A retried account or batch job asking for the same batch again starts no second chain, even
    after the first run of that batch finished."""
    jobs = JobQueue(redis)
    jobs.enqueue_sweep_accounts([SweepAccount("sweep-q", "111111111111"), SweepAccount("sweep-q", "222222222222")])
    batch = SweepUserBatch("sweep-q", "333333333333", 0)
    jobs.enqueue_sweep_batch(batch)
    jobs.enqueue_sweep_batch(batch)
    assert jobs.background.job_ids == ["sweep-q-333333333333-users-0", "sweep-q-111111111111", "sweep-q-222222222222"]
    job = Job.fetch("sweep-q-333333333333-users-0", connection=redis, serializer=JSONSerializer)
    jobs.background.remove(job.id)
    job.set_status("finished")
    jobs.enqueue_sweep_batch(batch)
    assert "sweep-q-333333333333-users-0" not in jobs.background.job_ids
