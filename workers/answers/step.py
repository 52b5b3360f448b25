"""A run of the Workflow Builder step, answered: find the key as a lookup does, then complete the
function execution once, with its outputs or a plain reason (core/step.py).

Lanes as for lookups (workers/answers/search_lane.py): the lookup lane never runs a full search; a
key its own account does not hold moves the run to the search lane, where it takes a turn (a
workspace slot and the person's one search at a time) or comes back 2 seconds later, up to 2
minutes, then fails with why. The run completes with the app's bot token (the runtime's Slack
client): the event's short-lived workflow token never reaches the queue or Redis.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from core import logs
from core.audit import audit
from core.blockkit import Message, context
from core.contract import Destination, LookupRequest, StepRun
from core.jobs import SEARCH_LANE
from core.queue import JobQueue
from core.slack_text import channel_link, escape, mention
from core.step import StepResult, already_completed, complete_once
from workers.answers.search_lane import SearchTurn, too_busy_text
from workers.aws.errors import AwsCallError
from workers.lookup.finder import finder_for
from workers.lookup.finding import KeyFinding, Verdict
from workers.lookup.full_search import MAX_WAIT, RETRY_EVERY, FullSearchGate, HandOff
from workers.lookup.key_index import remember, similar_keys
from workers.render.step import step_result
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.slack.poster import DeliveryError

log = logging.getLogger(__name__)


def answer_step(runtime: Runtime, run: StepRun) -> dict[str, Any]:
    """Answer one step run. Safe to run again: a completed execution is not completed twice."""
    logs.request_id.set(run.function_execution_id)
    if already_completed(runtime.redis, run.function_execution_id):
        log.info("step run already completed", extra={"function_execution_id": run.function_execution_id})
        return {"function_execution_id": run.function_execution_id, "skipped": "already completed"}
    if run.lane == SEARCH_LANE:
        return _on_search_lane(runtime, run)
    try:
        return answer_with(runtime, run, _gate(runtime, run, hand_off=True))
    except HandOff:
        JobQueue(runtime.redis).enqueue(replace(run, lane=SEARCH_LANE))
        audit(runtime.redis, "step_moved_to_search_lane", execution=run.function_execution_id, user=run.user)
        return {"function_execution_id": run.function_execution_id, "moved": SEARCH_LANE}


def _on_search_lane(runtime: Runtime, run: StepRun) -> dict[str, Any]:
    """Search once the run has its turn; until then, come back later (nobody to tell meanwhile)."""
    turn = SearchTurn(runtime, _as_lookup(run))
    busy = turn.take()
    if busy is None:
        try:
            return answer_with(runtime, run, _gate(runtime, run))
        finally:
            turn.release()
    now = time.time()
    since = run.waiting_since or now
    if now - since < MAX_WAIT:
        JobQueue(runtime.redis).enqueue_in(RETRY_EVERY, replace(run, attempt=run.attempt + 1, waiting_since=since))
        return {"function_execution_id": run.function_execution_id, "waiting": busy.reason, "attempt": run.attempt}
    audit(runtime.redis, "refused", user=run.user, reason="full_search_busy", execution=run.function_execution_id)
    return answer_with(runtime, run, _gate(runtime, run, refusal=too_busy_text(now - since)))


def _as_lookup(run: StepRun) -> LookupRequest:
    """The run as the search lane's turn names its holder: the person, and the execution for the request."""
    return LookupRequest(
        request_id=f"step-{run.function_execution_id}",
        keys=(run.key_id,),
        destination=Destination(),
        asked_by=run.user,
        surface="workflow",
        lane=SEARCH_LANE,
    )


def _gate(runtime: Runtime, run: StepRun, **mode: Any) -> FullSearchGate:
    # The web charged the run one request; a full search is charged here, when it starts.
    return FullSearchGate(
        runtime.redis,
        runtime.settings,
        user=run.user,
        request_id=f"step-{run.function_execution_id}",
        charged_at_edge=False,
        **mode,
    )


def answer_with(runtime: Runtime, run: StepRun, gate: FullSearchGate) -> dict[str, Any]:
    """Find the key (full search as `gate` allows), complete the execution once, audit it."""
    started = time.perf_counter()
    report: KeyFinding | None = None
    try:
        report = find(runtime, run, gate)
        result = step_result(report, secret_pasted=run.secret_pasted)
    except AwsCallError as exc:
        reason = (
            f"whose-key could not read the AWS Organization ({escape(exc.detail)}), so {run.key_id} was not "
            "looked up. Run the workflow again in a few minutes."
        )
        result = StepResult.failed(reason, "aws_error")
    completed = complete_once(runtime.redis, runtime.slack, run.function_execution_id, result)
    audit(
        runtime.redis,
        "step_answered",
        execution=run.function_execution_id,
        workflow_execution=run.workflow_execution_id,
        user=run.user,
        channel=run.channel,
        keys=[run.key_id],
        outcome=result.outcome,
        completed="success" if result.outputs is not None else "error",
        duplicate=None if completed else True,
    )
    if completed:
        post_audit_record(runtime, run, result)
    return {
        "function_execution_id": run.function_execution_id,
        "outcome": result.outcome,
        "aws_calls": report.aws_calls if report else 0,
        "aws_seconds": report.aws_seconds if report else 0.0,
        "seconds": round(time.perf_counter() - started, 4),
    }


def find(runtime: Runtime, run: StepRun, gate: FullSearchGate) -> KeyFinding:
    """The key's finding, as a lookup's: remembered when found, the owner resolved on Slack, and
    "did you mean" for a key not there as typed."""
    report = finder_for(runtime).find(run.key_id, gate=gate)
    if report.verdict is Verdict.FOUND:
        remember(runtime.redis, report)
        return replace(report, owner=runtime.directory.resolve(report.owner))
    if report.verdict is not Verdict.TEMPORARY:
        return replace(report, similar=tuple(similar_keys(runtime.redis, run.key_id)))
    return report


def post_audit_record(runtime: Runtime, run: StepRun, result: StepResult) -> None:
    """One compact line per step run in the audit channel, when there is one."""
    channel = runtime.settings.audit_channel
    if not channel:
        return
    where = f" in {channel_link(run.channel)}" if run.channel and run.channel[0] in "CG" else ""
    outcome = result.outcome if result.outputs is not None else f"failed ({result.outcome})"
    text = f":memo: {mention(run.user)} ran the workflow step for `{run.key_id}`: {escape(outcome)}{where}"
    try:
        deliver_once(
            runtime.poster,
            f"audit-step-{run.function_execution_id}",
            Destination(channel=channel, ephemeral=False),
            Message(text, [context(text)]),
        )
    except DeliveryError:
        log.warning("step audit record not posted", extra={"function_execution_id": run.function_execution_id})


def tell_failure(runtime: Runtime, run: StepRun) -> None:
    """The run failed for good (no retry left): fail the execution instead of leaving it running."""
    logs.request_id.set(run.function_execution_id)
    reason = (
        f"whose-key failed on its side after several tries while looking up {run.key_id} "
        f"(reference {run.function_execution_id}). Run the workflow again in a minute."
    )
    result = StepResult.failed(reason, "failed")
    try:
        completed = complete_once(runtime.redis, runtime.slack, run.function_execution_id, result)
    except (SlackApiError, OSError) as exc:
        log.error("could not fail the function execution", extra={"error": type(exc).__name__})
        return
    if completed:
        audit(runtime.redis, "step_answered", execution=run.function_execution_id, user=run.user,
              keys=[run.key_id], outcome="failed", completed="error")  # fmt: skip
