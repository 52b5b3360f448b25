"""The Workflow Builder step `find_key_owner` (a custom step: Slack sends `function_executed`).

The web checks who ran the workflow (the step's `user_id` input, bound to "Person who used this
workflow") with the same rules as every surface, judges the key input, and enqueues one job per
execution (a redelivered event adds none); a worker finds the key and completes the execution.
Whatever the web can answer itself it completes at once: a refusal, an input that is not a key
ID, or Redis being away (then nothing could be queued). Bolt acks the event; no token is queued
or stored: the web completes with the client Bolt hands the listener (the execution's own token,
in memory for this request), the worker with the bot token.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access import Refusal
from bot.intake import Asker, charge, vet
from bot.listeners.services import Services
from bot.members import installing_team, teams_of_event
from core import logs
from core.audit import audit
from core.contract import StepRun
from core.slack_text import is_channel_id, is_member_id
from core.step import CALLBACK_ID, CHANNEL_INPUT, KEY_INPUT, USER_INPUT, StepResult, complete_once, judge_input, plain

log = logging.getLogger(__name__)

NO_USER = (
    'This step needs to know who runs the workflow: set its User input to "Person who used this workflow" '
    "(or to a user variable), so whose-key can apply its access rules."
)
UNAVAILABLE = (
    "whose-key cannot take requests right now: its job queue is unreachable, so nothing was looked up. "
    "Run the workflow again in a few minutes; if it persists, tell the team that runs whose-key."
)


def register(app: App, services: Services) -> None:
    @app.function(CALLBACK_ID)
    def on_step(event: dict[str, Any], body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        take_step(services, client, body, event, installing_team(context))


def take_step(
    services: Services, client: WebClient, body: dict[str, Any], event: dict[str, Any], home_team: str | None
) -> None:
    """Check, judge, enqueue; or complete at once. Never raises: Bolt has acked already."""
    execution = _text(event.get("function_execution_id"))
    if execution is None:
        log.error("function_executed without a function_execution_id")
        return
    logs.request_id.set(execution)
    given = event.get("inputs")
    inputs: dict[str, Any] = given if isinstance(given, dict) else {}
    user, channel = _text(inputs.get(USER_INPUT)), _text(inputs.get(CHANNEL_INPUT))
    asker = Asker(
        user,
        channel if channel and is_channel_id(channel) else None,
        _text(body.get("team_id")),
        "workflow",
        teams=teams_of_event(body, event),
        home_team=home_team,
    )
    judged = judge_input(inputs.get(KEY_INPUT))
    keys = [judged.key_id] if judged.key_id else None
    redis = services.jobs.redis
    finish = _Finisher(redis, client, execution, asker, keys)
    if not user or not is_member_id(user):
        audit(redis, "refused", **asker.audited(), reason="no_user", execution=execution)
        finish(StepResult.failed(NO_USER, "refused"))
        return
    try:
        refusal = vet(services.policy, asker, keys)
        if refusal is None and judged.key_id is not None:
            refusal = charge(services.policy, asker, requests=1)
    except RedisError:
        finish(StepResult.failed(UNAVAILABLE, "unavailable"), redis_down=True)
        return
    if refusal is not None:
        finish(StepResult.failed(refused_text(refusal), "refused"))
        return
    if judged.key_id is None:
        finish(judged.result or StepResult.failed("whose-key could not read the input.", "no_key"))
        return
    run = StepRun(
        function_execution_id=execution,
        key_id=judged.key_id,
        user=user,
        channel=asker.channel,
        workflow_execution_id=_text(event.get("workflow_execution_id")),
        secret_pasted=judged.secret_pasted,
    )
    try:
        added = services.jobs.enqueue_all([run])
    except RedisError as exc:
        log.error("could not enqueue a step run", extra={"error": type(exc).__name__})
        finish(StepResult.failed(UNAVAILABLE, "unavailable"), redis_down=True)
        return
    # A redelivery of the event (Slack retries a slow ack) finds its job there: nothing is added.
    audit(redis, "step_requested" if added else "step_duplicate", execution=execution, **asker.audited(), keys=keys)


def refused_text(refusal: Refusal) -> str:
    """A refusal in the plain words Slack shows the workflow's user."""
    return plain(refusal.message)


class _Finisher:
    """Completes the execution from the web, once, and audits it."""

    def __init__(self, redis: Redis, client: WebClient, execution: str, asker: Asker, keys: list[str] | None) -> None:
        self.redis = redis
        self.client = client
        self.execution = execution
        self.asker = asker
        self.keys = keys

    def __call__(self, result: StepResult, *, redis_down: bool = False) -> None:
        try:
            completed = complete_once(None if redis_down else self.redis, self.client, self.execution, result)
        except (SlackApiError, OSError) as exc:
            log.error("could not complete a step run from the web", extra={"error": _slack_error(exc)})
            return
        audit(
            self.redis,
            "step_answered",
            execution=self.execution,
            **self.asker.audited(),
            keys=self.keys,
            outcome=result.outcome,
            completed="success" if result.outputs is not None else "error",
            duplicate=None if completed else True,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
