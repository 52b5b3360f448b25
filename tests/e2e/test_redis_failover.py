"""A managed Redis failover under traffic, end to end: the bot reaches Redis through a loopback
endpoint (a TCP forwarder standing in for the primary's DNS name) in front of two real
redis-servers, a primary and its replica. While lookups and a key event are in flight the replica
is promoted, the old primary made its replica and the endpoint moved, as ElastiCache does:
connections already open stay with the old primary, which now refuses writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from redis import Redis
from rq import Worker

from core.contract import NoticeRetry
from core.jobs import QUEUES
from core.queue import JobQueue
from core.redis_keys import connect
from standins.redis_replicas import fail_over, replicate
from standins.redis_server import RedisServer
from standins.stack import HttpResult, Stack, http_get
from standins.tcp_forwarder import TcpForwarder
from tests.e2e.env import TEST_ENV
from tests.support.aws_events import cloudtrail_event, dms_about, fresh_key, owner_id, post_event, wait_for_dm
from tests.support.waiting import wait_for_jobs_finished, wait_for_queues_drained, wait_until

# Answers may take a while on a loaded machine right after the failover: generous, never timed.
ANSWER_TIMEOUT = 90.0


@dataclass
class Failover:
    stack: Stack
    endpoint: TcpForwarder
    replica: RedisServer

    def servers(self) -> tuple[RedisServer, RedisServer]:
        """The primary now (where the endpoint points) and its replica."""
        if self.endpoint.target == self.replica.port:
            return self.replica, self.stack.redis
        return self.stack.redis, self.replica

    @property
    def primary(self) -> Redis:
        return Redis.from_url(self.servers()[0].url)


@pytest.fixture(scope="module")
def failover() -> Iterator[Failover]:
    """A bot of its own whose REDIS_URL is the endpoint, in front of a primary and its replica."""
    endpoint = TcpForwarder().start()
    replica = RedisServer()
    # No per-person limit: the stream of lookups below is one asker's.
    stack = Stack(extra_env={**TEST_ENV, "REDIS_URL": endpoint.redis_url, "WHOSE_KEY_RATE_LIMIT": "0"})
    endpoint.point_at(stack.redis.port)
    try:
        replica.start()
        with stack:
            replicate(replica, stack.redis)
            yield Failover(stack, endpoint, replica)
    finally:
        endpoint.stop()
        replica.close()


@dataclass
class Lookups:
    """Lookups asked one after another from a thread until stopped: (reply, response_url) each."""

    stack: Stack
    key_id: str
    asked: list[tuple[HttpResult, str]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._ask, name="lookups", daemon=True)

    def _ask(self) -> None:
        while not self.stopping.is_set():
            self.asked.append(self.stack.slash_command(self.key_id))
            self.stopping.wait(0.1)

    def count(self) -> int:
        return len(self.asked)


def workers_of(redis: Redis) -> set[tuple[str, int]]:
    return {(w.name, w.pid) for w in Worker.all(connection=redis)}


def test_failover_under_traffic_loses_nothing_doubles_nothing_and_needs_no_restart(failover: Failover) -> None:
    """Lookups and a deactivation notice in flight across a failover whose old primary keeps its
    connections (refusing writes): every lookup is taken and answered exactly once, the notice sent
    once, /healthz is 200 again, and the same workers (no restart) and their scheduler serve on."""
    across_failover(failover, drop=False)


def test_failover_that_resets_connections_loses_nothing_and_needs_no_restart(failover: Failover) -> None:
    """The same across a failover (back) whose old node resets every connection open to it."""
    across_failover(failover, drop=True)


def test_failover_whose_name_is_slow_to_move_refuses_clearly_and_needs_no_restart(failover: Failover) -> None:
    """While the name still points at the old primary, lookups get the clear "cannot take requests"
    answer (and no answer later); the jobs in flight wait for the move and are answered once."""
    across_failover(failover, drop=False, slow=True)


def across_failover(failover: Failover, *, drop: bool, slow: bool = False) -> None:
    stack = failover.stack
    assert stack.org is not None
    lookup_key = stack.org.key("acme-prod", "deploy-bot")
    before = workers_of(failover.primary)
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    key.deactivate()
    # The notice job is held at its IAM check, and one lookup at its first IAM call, across the
    # failover; the lookups asked meanwhile wait in their queue.
    held_event = stack.aws.hold("GetAccessKeyLastUsed", lambda p: p.get("AccessKeyId") == key.key_id, times=1)
    held = stack.aws.hold("GetAccessKeyLastUsed", lambda p: p.get("AccessKeyId") == lookup_key, times=1)
    lookups = Lookups(stack, lookup_key)
    try:
        event = cloudtrail_event(
            key.account_id, "UpdateAccessKey",
            {"userName": key.user_name, "accessKeyId": key.key_id, "status": "Inactive"},
        )  # fmt: skip
        assert post_event(stack, event).status == 202
        wait_until(lambda: held_event.hits, what="the notice job to be mid-job")
        lookups.thread.start()
        wait_until(lambda: held.hits, what="a lookup to be mid-job")
        asked_before = lookups.count()
        old, new = failover.servers()
        fail_over(old, new, failover.endpoint, drop=drop, move=not slow)
        if slow:  # the web's retry (about 2 s) runs out before the name moves; the workers' does not
            reply, url = stack.slash_command(lookup_key)
            assert "cannot take requests right now" in reply.body, reply.body
            failover.endpoint.point_at(new.port)
    finally:
        stack.aws.remove(held)
        stack.aws.remove(held_event)
    try:
        # Lookups go on being asked through the failover and after it.
        wait_until(lambda: lookups.count() >= asked_before + 5, what="lookups asked after the failover")
    finally:
        lookups.stopping.set()
        lookups.thread.join(30)
    wait_until(lambda: http_get(stack.web_url + "/healthz").status == 200, what="/healthz 200", timeout=60)

    taken = [url for reply, url in lookups.asked if "Looking up" in reply.body]
    refused = [url for reply, url in lookups.asked if "Looking up" not in reply.body]
    assert all("cannot take requests right now" in r.body for r, u in lookups.asked if u in refused)
    assert slow or not refused, f"lookups not taken: {len(refused)}"
    for url in taken:
        assert "deploy-bot" in json.dumps(stack.slack.wait_for_hook(url, timeout=ANSWER_TIMEOUT)[0].body)
    text = json.dumps(wait_for_dm(stack, owner, key.key_id, timeout=ANSWER_TIMEOUT).body)
    assert "deactivated" in text

    # The RQ scheduler (a process of each worker) still moves jobs due later onto their queue.
    redis = failover.primary
    wait_for_jobs_finished(redis, [JobQueue(redis).enqueue_in(1, NoticeRetry(requested_by="cli"))], timeout=60)
    # A later lookup, asked once everything settled, is answered by the same workers.
    reply, url = stack.slash_command(lookup_key)
    assert "Looking up" in reply.body
    stack.slack.wait_for_hook(url, timeout=ANSWER_TIMEOUT)
    wait_for_queues_drained(redis, QUEUES, timeout=ANSWER_TIMEOUT)
    assert workers_of(redis) == before, "workers were restarted"
    doubled = {url: n for url in taken if (n := len(stack.slack.hook_posts(url))) != 1}
    assert not doubled, f"lookups answered more than once: {doubled}"
    assert not [url for url in refused if stack.slack.hook_posts(url)], "a refused lookup answered later"
    assert len(dms_about(stack, owner, key.key_id)) == 1
    how = "resetting connections" if drop else "keeping connections"
    print(f"\nredis failover ({how}{', name slow to move' if slow else ''}): {len(taken)} lookups taken across it,"
          f" each answered once, {len(refused)} refused clearly; notice sent once")  # fmt: skip


def test_connections_made_before_a_refusal_are_made_again_before_their_next_use() -> None:
    """After one connection is refused by the old primary, the pool's other connections, still open
    to it, are made again when next used: none goes on reading from the old primary."""
    with TcpForwarder() as endpoint, RedisServer() as first, RedisServer() as second:
        replicate(second, first)
        endpoint.point_at(first.port)
        client = connect(endpoint.redis_url)
        pool = client.connection_pool
        writer, reader = pool.get_connection(), pool.get_connection()
        pool.release(reader)
        pool.release(writer)  # taken first next time
        assert client.info("server")["run_id"] == Redis.from_url(first.url).info("server")["run_id"]
        fail_over(first, second, endpoint)
        assert client.set("after", "1")  # refused on the old primary, then made again: the new one
        held = pool.get_connection()  # the writer again, so the next command takes the reader
        try:
            assert client.info("server")["run_id"] == Redis.from_url(second.url).info("server")["run_id"]
        finally:
            pool.release(held)
