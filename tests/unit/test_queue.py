"""Enqueueing: a delivery that is already waiting or running is not queued a second time."""

from __future__ import annotations

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer

from core.contract import Destination, Reply
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
