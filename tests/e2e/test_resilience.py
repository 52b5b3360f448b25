"""Failures of the parts around the bot, end to end on a bot of its own: Redis going away and
coming back, a worker killed mid-lookup, Slack failing. Every request still gets one answer."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Worker

from core.jobs import LOOKUP_QUEUE
from standins.slack_double import RecordedCall, Reply
from standins.stack import Stack, http_get
from tests.e2e.env import TEST_ENV
from tests.support.signals import needs_tgkill, other_threads, signal_one_thread
from tests.support.waiting import jobs_mentioning, wait_for_jobs_finished, wait_for_queues_drained, wait_until


@pytest.fixture(scope="module")
def fragile() -> Iterator[Stack]:
    """Two workers, so one can die while the other carries on. No audit channel: its posts would
    take the scripted Slack failures meant for the answers."""
    env = {k: v for k, v in TEST_ENV.items() if k != "WHOSE_KEY_AUDIT_CHANNEL"}
    with Stack(workers=2, extra_env=env) as running:
        yield running


def key_of(stack: Stack, account: str = "acme-prod", user: str = "deploy-bot") -> str:
    assert stack.org is not None
    return stack.org.key(account, user)


def test_redis_down_gets_a_clear_answer_and_recovers_without_restart(fragile: Stack) -> None:
    """With Redis stopped the command is still answered (200, "cannot take requests"), /healthz is
    503; once Redis is back, lookups work again without restarting anything."""
    fragile.redis.stop()
    try:
        reply, url = fragile.slash_command(key_of(fragile))
        assert reply.status == 200
        assert "cannot take requests right now" in reply.json()["text"]
        assert http_get(fragile.web_url + "/healthz").status == 503
    finally:
        fragile.redis.start()
    assert http_get(fragile.web_url + "/healthz").status == 200
    replies: list[str] = []

    def taken() -> str | None:
        """Ask once; the response_url when the lookup was taken."""
        reply, url = fragile.slash_command(key_of(fragile))
        assert reply.status == 200
        replies.append(reply.body)
        return url if "Looking up" in reply.body else None

    # The workers reconnect on their own: ask until one answers, pacing the asks a second apart
    # to give the web and the workers a moment to reconnect.
    url = wait_until(taken, what=lambda: f"a lookup taken (last reply: {replies[-1]})", timeout=60, interval=1)
    assert "deploy-bot" in json.dumps(fragile.slack.wait_for_hook(url, timeout=90)[0].body)


def test_worker_killed_mid_lookup_is_retried_and_answered_once(fragile: Stack) -> None:
    """A worker SIGKILLed during a lookup: another worker retries the job and the user gets one answer."""
    key_id = key_of(fragile, "acme-data", "etl")
    # The lookup's first IAM call is held until its worker is killed: mid-lookup, however loaded the
    # machine (the retry's call is not held).
    held = fragile.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == key_id, times=1)
    try:
        reply, url = fragile.slash_command(key_id)
        assert "Looking up" in reply.body
        redis = Redis.from_url(fragile.redis.url)
        wait_until(lambda: held.hits, what="the lookup to ask IAM about the key")
        [job_id] = jobs_mentioning(redis, url)
        busy = wait_until(
            lambda: next((w for w in Worker.all(connection=redis) if w.get_current_job_id() == job_id), None),
            what=f"the worker running {job_id}",
        )
        fragile.kill_worker(busy.pid, signal.SIGKILL)
    finally:
        fragile.aws.remove(held)
    posts = fragile.slack.wait_for_hook(url, timeout=120)
    assert "etl" in json.dumps(posts[0].body)
    # Nothing queued, running or scheduled any more, the abandoned run included: no second answer can come.
    wait_for_queues_drained(redis, [LOOKUP_QUEUE], timeout=60)
    assert len(fragile.slack.hook_posts(url)) == 1


def test_response_url_failing_falls_back_to_the_web_api(fragile: Stack) -> None:
    """When the response_url keeps failing (5xx after retries), the answer arrives by chat.postEphemeral."""
    url = fragile.slack.new_response_url()
    fragile.slack.script(url, *[Reply(500, "internal_error")] * 3)
    reply, _ = fragile.slash_command(key_of(fragile), channel_id="C0FALLBACK", response_url=url)
    assert reply.status == 200
    fragile.slack.wait_for(
        lambda calls: any(c.name == "chat.postEphemeral" and c.body.get("channel") == "C0FALLBACK" for c in calls),
        timeout=60,
    )
    assert [p.status for p in fragile.slack.hook_posts(url)] == [500, 500, 500]
    ephemeral = [c for c in fragile.slack.api_calls("chat.postEphemeral") if c.body.get("channel") == "C0FALLBACK"]
    assert len(ephemeral) == 1 and "deploy-bot" in json.dumps(ephemeral[0].body)


def test_slack_failing_repeatedly_does_not_lose_the_answer(fragile: Stack) -> None:
    """chat.postMessage failing more often than the client retries: the job is retried and the
    answer is delivered exactly once."""
    fragile.slack.script("chat.postMessage", *[Reply(503, {"ok": False, "error": "service_unavailable"})] * 4)
    event = {"type": "app_mention", "user": "U0ASKER01", "text": f"<@UWHOSEKEY> {key_of(fragile)}",
             "ts": "1700002000.000100", "channel": "C0FLAKY", "event_ts": "1700002000.000100"}  # fmt: skip
    fragile.event(event, event_id="Ev0FLAKY0001")

    def delivered() -> list[RecordedCall]:
        return [c for c in fragile.slack.api_calls("chat.postMessage") if c.body.get("channel") == "C0FLAKY" and c.ok]

    fragile.slack.wait_for(lambda _: bool(delivered()), timeout=90)
    # The lookup (its request ID is the event ID) finished, and no retry of it is left anywhere.
    redis = Redis.from_url(fragile.redis.url)
    wait_for_jobs_finished(redis, ["lookup-Ev0FLAKY0001"], timeout=60)
    wait_for_queues_drained(redis, [LOOKUP_QUEUE], timeout=60)
    assert len(delivered()) == 1
    failed = [c for c in fragile.slack.api_calls("chat.postMessage") if c.body.get("channel") == "C0FLAKY" and not c.ok]
    assert len(failed) == 4, "three tries in the first run of the job, the fourth in its retry"


@needs_tgkill
def test_a_sigterm_taken_by_another_thread_still_stops_a_busy_worker_warmly(fragile: Stack) -> None:
    """The kernel may hand a worker's SIGTERM to any of its threads, while the main thread, which
    alone runs Python's handlers, waits on IAM inside a job. The warm shutdown still starts at
    once: the worker records it while the call is held, finishes the job (one answer), and exits;
    its supervisor starts a fresh one."""
    key_id = key_of(fragile, "acme-data", "etl")
    held = fragile.aws.hold("GetAccessKeyLastUsed", lambda params: params.get("AccessKeyId") == key_id, times=1)
    redis = Redis.from_url(fragile.redis.url)
    try:
        _, url = fragile.slash_command(key_id)
        wait_until(lambda: held.hits, what="the lookup to ask IAM about the key")
        [job_id] = jobs_mentioning(redis, url)
        busy = wait_until(
            lambda: next((w for w in Worker.all(connection=redis) if w.get_current_job_id() == job_id), None),
            what=f"the worker running {job_id}",
        )
        signal_one_thread(busy.pid, other_threads(busy.pid)[-1], signal.SIGTERM)

        def shutdown_recorded() -> bool:
            worker = Worker.find_by_key(busy.key, connection=redis)
            return worker is not None and worker.shutdown_requested_date is not None

        wait_until(shutdown_recorded, what="the busy worker to record its warm shutdown", timeout=20)
    finally:
        fragile.aws.remove(held)
    assert "etl" in json.dumps(fragile.slack.wait_for_hook(url, timeout=60)[0].body)
    wait_until(lambda: not any(w.name == busy.name for w in Worker.all(connection=redis)),
               what="the worker to leave after its job", timeout=60)  # fmt: skip
    fragile.wait_for_workers(fragile.workers * fragile.pool_size)
    wait_for_queues_drained(redis, [LOOKUP_QUEUE], timeout=60)
    assert len(fragile.slack.hook_posts(url)) == 1
