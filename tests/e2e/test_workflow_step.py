"""The Workflow Builder step find_key_owner, end to end on the real processes: a signed
`function_executed` event posted to the web, the run found by a worker, and the execution completed
at the Slack double (functions.completeSuccess with the outputs, or functions.completeError with a
plain reason). Owned, outside, gone, malformed and incomplete keys; people who may not ask; AWS and
Redis away; exactly one completion per execution, also for a redelivered event and a worker killed
mid-run; and no token in Redis, the queue or the logs."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from rq import Worker

from core.jobs import LOOKUP_QUEUE, QUEUES
from core.redis_keys import CACHE, redis_key
from core.step import CALLBACK_ID, REQUIRED_OUTPUTS
from standins import slack_payloads
from standins.keys import synthesize_key_id
from standins.slack_double import ExecutionState, FunctionExecution, set_member
from standins.stack import Stack
from tests.e2e.env import TEST_ENV
from tests.e2e.test_no_secrets import redis_dump
from tests.support.waiting import (
    jobs_mentioning,
    wait_for_audit,
    wait_for_queues_drained,
    wait_until,
)
from workers.aws.organization import CACHE_NAME, META_NAME

# Only members of this group may ask (WHOSE_KEY_ALLOWED_USERGROUPS), as a team that limits whose-key would.
ASKERS = "S0STEPPERS"
ASKER = "U0STEPPER1"
OUTSIDER = "U0NOTINGRP"  # a full member, but not of the group
GUEST = "U0STEPGST1"
FOREIGN_ACCOUNT = "555566667777"
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def stepping() -> Iterator[Stack]:
    """A bot whose access is limited to one user group, with a guest known to Slack."""
    env = {**TEST_ENV, "WHOSE_KEY_ALLOWED_USERGROUPS": ASKERS}
    with Stack(extra_env=env) as running:
        running.slack.set_usergroup(ASKERS, [ASKER, GUEST])
        set_member(running.slack, GUEST, restricted=True)
        yield running


@pytest.fixture
def redis(stepping: Stack) -> Redis:
    return Redis.from_url(stepping.redis.url)


def run_step(stack: Stack, key_text: Any, *, user: str | None = ASKER, channel: str | None = None) -> str:
    """A workflow runs the step: the Slack double mints the execution, the signed event goes to the web."""
    inputs: dict[str, Any] = {"access_key_id": key_text}
    if channel is not None:
        inputs["channel_id"] = channel
    execution = stack.slack.new_function_execution(
        CALLBACK_ID, {**inputs, **({"user_id": user} if user else {})}, required_outputs=REQUIRED_OUTPUTS
    )
    post_event(stack, execution, inputs, user)
    return execution


def post_event(
    stack: Stack, execution: str, inputs: dict[str, Any], user: str | None, retry: int | None = None
) -> None:
    minted = stack.slack.function_execution(execution)
    event = slack_payloads.function_executed(
        execution,
        callback_id=CALLBACK_ID,
        bot_access_token=minted.bot_access_token,
        inputs=inputs,
        user_id=user,
        workflow_execution_id=minted.workflow_execution_id,
    )
    reply = stack.event(event, event_id=f"Ev{execution}", retry_num=retry)
    assert reply.status == 200, reply.body


def completed(stack: Stack, execution: str) -> FunctionExecution:
    return stack.slack.wait_for_function_completion(execution, timeout=TIMEOUT)


def outputs_of(stack: Stack, execution: str) -> dict[str, Any]:
    done = completed(stack, execution)
    assert done.state is ExecutionState.COMPLETED, done.error
    assert done.outputs is not None
    return done.outputs


def error_of(stack: Stack, execution: str) -> str:
    done = completed(stack, execution)
    assert done.state is ExecutionState.FAILED, done.outputs
    assert done.error is not None
    return done.error


def completions(stack: Stack, execution: str) -> list[str]:
    """The functions.complete* calls made for one execution."""
    return [
        c.name
        for c in stack.slack.calls
        if c.name.startswith("functions.complete") and c.args.get("function_execution_id") == execution
    ]


def account(stack: Stack, name: str) -> str:
    assert stack.org is not None
    return stack.org.accounts[name]


# -- answers ---------------------------------------------------------------------------------------


def test_an_owned_active_key_completes_with_its_owner_and_account(stepping: Stack, redis: Redis) -> None:
    """The owner's Slack ID, the IAM user, the account and status Active go to the workflow; audited."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-prod", "deploy-bot")
    prod = account(stepping, "acme-prod")

    execution = run_step(stepping, f"`{key_id}`", channel="C0INCIDENT")

    outputs = outputs_of(stepping, execution)
    assert outputs == {
        "owner_user_id": "U0PLATFRM",
        "iam_user": "deploy-bot",
        "account_id": prod,
        "account_name": "acme-prod",
        "status": "Active",
        "summary": f"{key_id} belongs to IAM user deploy-bot in acme-prod ({prod}), owner U0PLATFRM. Status: Active.",
    }
    record = wait_for_audit(redis, "step_answered", execution=execution)
    assert record["user"] == ASKER and record["outcome"] == "Active" and record["completed"] == "success"
    assert json.loads(record["keys"]) == [key_id] and record["channel"] == "C0INCIDENT"
    assert wait_for_audit(redis, "step_requested", execution=execution)["surface"] == "workflow"
    assert completions(stepping, execution) == ["functions.completeSuccess"]


def test_the_workflow_token_never_reaches_redis_the_queue_or_the_logs(stepping: Stack, redis: Redis) -> None:
    """The event's bot_access_token stays in the web's request: the worker completes with the bot token."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-data", "etl")

    execution = run_step(stepping, key_id)

    assert outputs_of(stepping, execution)["owner_user_id"] == "U0DATAENG"
    token = stepping.slack.function_execution(execution).bot_access_token
    wait_for_audit(redis, "step_answered", execution=execution)
    assert f"step-{execution}" in jobs_mentioning(redis, execution), "the run went through the queue"
    assert token not in redis_dump(redis)
    assert token not in stepping.logs()


def test_a_key_of_an_account_outside_the_organization_is_status_outside(stepping: Stack) -> None:
    """A key ID naming a foreign account: status outside, that account, no owner."""
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)

    outputs = outputs_of(stepping, run_step(stepping, key_id))

    assert outputs["status"] == "outside" and outputs["account_id"] == FOREIGN_ACCOUNT
    assert "owner_user_id" not in outputs and outputs["iam_user"] == ""
    assert "not one of this organization's accounts" in outputs["summary"]


def test_a_key_its_own_account_does_not_hold_is_searched_everywhere_then_gone(stepping: Stack, redis: Redis) -> None:
    """No such key in its org account: the run moves to the search lane, reads every account, says gone."""
    dev = account(stepping, "acme-dev")
    key_id = synthesize_key_id(dev)

    execution = run_step(stepping, key_id)

    outputs = outputs_of(stepping, execution)
    assert outputs["status"] == "gone" and outputs["account_id"] == dev and outputs["account_name"] == "acme-dev"
    assert "does not exist there now" in outputs["summary"]
    wait_for_audit(redis, "step_moved_to_search_lane", execution=execution)
    assert json.loads(wait_for_audit(redis, "full_search_started", request_id=f"step-{execution}")["keys"]) == [key_id]


def test_a_malformed_key_is_status_invalid_with_what_is_wrong_and_the_likely_key(stepping: Stack) -> None:
    """A 1 typed for an I: status invalid at once, the position, and "did you mean" with the I."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-prod", "deploy-bot")
    typo = key_id[:5] + "1" + key_id[6:]

    outputs = outputs_of(stepping, run_step(stepping, typo))

    assert outputs["status"] == "invalid" and "owner_user_id" not in outputs and outputs["account_id"] == ""
    summary = outputs["summary"]
    assert summary.startswith(f"Not an access key ID: {typo} has characters that never appear in access key IDs")
    assert "1 at position 6 (probably I)" in summary
    assert summary.endswith(f"Did you mean {key_id[:5]}I{key_id[6:]}?")


def test_an_input_without_a_key_id_fails_the_step_plainly(stepping: Stack) -> None:
    """A variable holding prose (or nothing) fails with a plain reason, not an answer."""
    error = error_of(stepping, run_step(stepping, "please look into this alert"))

    assert error.startswith("The access_key_id input holds no access key ID (AKIA… or ASIA…, 20 characters).")


def test_an_incomplete_search_fails_the_step_naming_the_account(stepping: Stack) -> None:
    """The key's own account keeps throttling: completeError saying which account and why, never a status."""
    dev = account(stepping, "acme-dev")
    key_id = synthesize_key_id(dev)
    throttle = stepping.aws.fail("GetAccessKeyLastUsed", lambda p: p.get("AccessKeyId") == key_id, 400, "Throttling",
                                 "Rate exceeded")  # fmt: skip
    try:
        error = error_of(stepping, run_step(stepping, key_id))
    finally:
        stepping.aws.remove(throttle)

    assert f"acme-dev ({dev}), which could not be read (throttled by AWS (Throttling) after retries)" in error
    assert "cannot say whose it is yet" in error and "run the workflow again later" in error


def test_the_organization_unreadable_fails_the_step_with_what_aws_said(stepping: Stack, redis: Redis) -> None:
    """Organizations refusing the hub: completeError naming AWS's error; the next run is answered again."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-prod", "deploy-bot")
    faults = [
        stepping.aws.fail(action, None, 400, "AccessDeniedException", "not authorized")
        for action in ("DescribeOrganization", "ListAccounts")
    ]
    try:
        # The organization's account list is shared in Redis: without it, the worker must ask AWS.
        redis.delete(redis_key(CACHE, META_NAME), redis_key(CACHE, CACHE_NAME))
        error = error_of(stepping, run_step(stepping, key_id))
    finally:
        for fault in faults:
            stepping.aws.remove(fault)

    assert error.startswith("whose-key could not read the AWS Organization (") and "AccessDenied" in error
    assert outputs_of(stepping, run_step(stepping, key_id))["status"] == "Active"


# -- who may ask -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "reason", "words"),
    [
        (OUTSIDER, "usergroup", "whose-key is limited to members of user group S0STEPPERS."),
        (GUEST, "guest", "whose-key is for full members of this workspace, not guests"),
    ],
)
def test_a_person_who_may_not_ask_gets_a_plain_refusal_and_an_audit_record(
    stepping: Stack, redis: Redis, user: str, reason: str, words: str
) -> None:
    """The workflow's user is checked like anyone asking: refused at the web, audited, nothing looked up."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-prod", "deploy-bot")

    execution = run_step(stepping, key_id, user=user)

    error = error_of(stepping, execution)
    assert words in error and ":lock:" not in error and "<" not in error
    refused = wait_for_audit(redis, "refused", user=user, surface="workflow", reason=reason)
    assert json.loads(refused["keys"]) == [key_id]
    answered = wait_for_audit(redis, "step_answered", execution=execution)
    assert answered["outcome"] == "refused" and answered["completed"] == "error"
    assert not jobs_mentioning(redis, execution)


def test_a_step_without_its_user_input_is_refused(stepping: Stack, redis: Redis) -> None:
    """No "Person who used this workflow" bound: nobody to check, so no lookup; the reason says how to fix it."""
    assert stepping.org is not None

    execution = run_step(stepping, stepping.org.key("acme-prod", "deploy-bot"), user=None)

    assert "Person who used this workflow" in error_of(stepping, execution)
    wait_for_audit(redis, "refused", execution=execution, reason="no_user")


# -- once ----------------------------------------------------------------------------------------


def test_a_redelivered_event_is_completed_once(stepping: Stack, redis: Redis) -> None:
    """Slack retrying the event after the run completed adds no job and no second completion."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-data", "etl")
    inputs = {"access_key_id": key_id}
    execution = run_step(stepping, key_id)
    assert outputs_of(stepping, execution)["iam_user"] == "etl"

    post_event(stepping, execution, inputs, ASKER, retry=1)

    wait_for_audit(redis, "step_duplicate", execution=execution)
    wait_for_queues_drained(redis, QUEUES, timeout=TIMEOUT)
    assert completions(stepping, execution) == ["functions.completeSuccess"]


def test_a_worker_killed_mid_run_is_retried_and_completes_once(stepping: Stack, redis: Redis) -> None:
    """SIGKILL while the run waits on IAM: RQ retries it on another process; one completion."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-staging", "bob")
    held = stepping.aws.hold("GetAccessKeyLastUsed", lambda p: p.get("AccessKeyId") == key_id, times=1)
    try:
        execution = run_step(stepping, key_id)
        wait_until(lambda: held.hits, what="the run to ask IAM about the key")
        job_id = f"step-{execution}"
        busy = wait_until(
            lambda: next((w for w in Worker.all(connection=redis) if w.get_current_job_id() == job_id), None),
            what=f"the worker running {job_id}",
        )
        stepping.kill_worker(busy.pid, signal.SIGKILL)
    finally:
        stepping.aws.remove(held)

    outputs = outputs_of(stepping, execution)  # the retry's answer
    assert outputs["iam_user"] == "bob" and outputs["status"] == "Active"
    wait_for_queues_drained(redis, [LOOKUP_QUEUE], timeout=120)
    assert completions(stepping, execution) == ["functions.completeSuccess"]


def test_redis_away_fails_the_step_from_the_web(stepping: Stack) -> None:
    """With Redis stopped nothing can be queued: the web completes the execution itself, saying so."""
    assert stepping.org is not None
    key_id = stepping.org.key("acme-prod", "deploy-bot")
    stepping.redis.stop()
    try:
        execution = run_step(stepping, key_id)
        error = error_of(stepping, execution)
    finally:
        stepping.redis.start()

    assert error.startswith("whose-key cannot take requests right now")
    assert completions(stepping, execution) == ["functions.completeError"]
