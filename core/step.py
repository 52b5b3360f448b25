"""The Workflow Builder step "Find the owner of an AWS access key" (a custom step: Slack sends
`function_executed` for callback `find_key_owner`), as the web and the workers share it: its input
and output names (deploy/slack-manifest.yml declares the same, a test checks), the outputs as
plain data, judging the input, and completing an execution exactly once.

An execution is completed with `functions.completeSuccess` (outputs) or `functions.completeError`
(a plain reason). Slack takes one completion per execution and refuses any later one with
`execution_not_in_running_state`; the `answered` mark in Redis (the same one answers use) is set
after Slack took it, so a retried job finds it and completes nothing twice, and a worker that died
between Slack's answer and the mark is told so by Slack's refusal.

No token is ever held here: the caller hands in the client to complete with (the worker's has the
app's bot token; the web's, while it handles the event, the execution's own `bot_access_token`,
in memory only).
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis
from redis.exceptions import RedisError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.keyids import KeyProblem
from core.parse import Action, parse_command
from core.redis_keys import DELIVERED, redis_key
from core.slack_text import escape, is_member_id

log = logging.getLogger(__name__)

CALLBACK_ID = "find_key_owner"

# Input parameters (deploy/slack-manifest.yml `functions.find_key_owner.input_parameters`).
KEY_INPUT = "access_key_id"  # text; required
USER_INPUT = "user_id"  # slack#/types/user_id, bound to "Person who used this workflow"; required
CHANNEL_INPUT = "channel_id"  # slack#/types/channel_id, "Channel where the workflow was used"; optional
INPUTS = (KEY_INPUT, USER_INPUT, CHANNEL_INPUT)
REQUIRED_INPUTS = (KEY_INPUT, USER_INPUT)

# Output parameters, in the order the manifest lists them. owner_user_id is left out when the key
# has no owner on Slack: an empty string is no member ID, and Slack would refuse it as one.
OUTPUTS = ("owner_user_id", "iam_user", "account_id", "account_name", "status", "summary")
REQUIRED_OUTPUTS = ("status", "summary")

# Slack shows an error text to the person whose workflow failed; longer ones say no more.
MAX_ERROR = 1000
MAX_SUMMARY = 1000

# Where the completion mark lives: `whose-key:answered:step-<function_execution_id>`.
_MARK = "step-"

# Slack's refusal of a second completion of one execution (functions.completeSuccess reference).
ALREADY_COMPLETED = "execution_not_in_running_state"


class StepStatus(StrEnum):
    """The step's `status` output: what the key is, in one word a workflow can branch on."""

    ACTIVE = "Active"  # found, and it works
    INACTIVE = "Inactive"  # found, deactivated
    GONE = "gone"  # its account is ours, but the key (or its user) is not there now
    NOT_FOUND = "not found"  # a complete search found it nowhere
    OUTSIDE = "outside"  # its account is not one of the organization's
    TEMPORARY = "temporary"  # ASIA credentials from STS: no IAM user owns them
    INVALID = "invalid"  # the input is not a well-formed access key ID (the summary says why)


@dataclass(frozen=True)
class StepOutputs:
    """What completeSuccess hands to the workflow's later steps; every text is plain and escaped."""

    status: StepStatus
    summary: str
    owner_user_id: str | None = None
    iam_user: str = ""
    account_id: str = ""
    account_name: str = ""

    def payload(self) -> dict[str, str]:
        """The `outputs` object; the owner only when it is a Slack member ID."""
        outputs = {
            "iam_user": self.iam_user,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "status": self.status.value,
            "summary": one_line(self.summary, MAX_SUMMARY),
        }
        if self.owner_user_id and is_member_id(self.owner_user_id):
            outputs["owner_user_id"] = self.owner_user_id
        return outputs


@dataclass(frozen=True)
class StepResult:
    """How one execution is completed: with outputs, or with an error (a plain reason)."""

    outputs: StepOutputs | None = None
    error: str | None = None
    # For the audit trail: the status, or why it failed (refused, incomplete, aws_error, ...).
    outcome: str = ""

    @classmethod
    def answered(cls, outputs: StepOutputs) -> StepResult:
        return cls(outputs=outputs, outcome=outputs.status.value)

    @classmethod
    def failed(cls, reason: str, outcome: str) -> StepResult:
        return cls(error=one_line(reason, MAX_ERROR), outcome=outcome)


@dataclass(frozen=True)
class StepInput:
    """The access_key_id input, judged: the one key to look up, or the result to complete with now."""

    key_id: str | None = None
    secret_pasted: bool = False
    result: StepResult | None = None  # set when there is nothing to look up


NO_KEY = (
    "The access_key_id input holds no access key ID (AKIA… or ASIA…, 20 characters). "
    "Check which variable the workflow gives this step."
)
LEAKED_ONLY = (
    "The access_key_id input held a secret access key and no key ID. whose-key ignored it and stored nothing, "
    "but it has passed through Slack: treat that key as exposed (deactivate it, create a new one, update where "
    "it is used, delete the old one). Give this step only the access key ID (AKIA…)."
)
LEAKED_NOTE = " The input also held a secret access key: treat it as exposed and rotate the key."


def judge_input(text: object) -> StepInput:
    """The key to look up in what the workflow handed over, or what to answer at once: parsed like
    `/whose-key` (quotes, markup and pasted secrets dealt with), one key per run."""
    parsed = parse_command(text if isinstance(text, str) else None)
    keys, problems = parsed.keys, parsed.problems
    if len(keys) == 1:
        return StepInput(key_id=keys[0], secret_pasted=parsed.secret_pasted)
    if len(keys) > 1:
        reason = (
            f"The access_key_id input holds {len(keys) + parsed.dropped_for_limit} access key IDs; this step looks "
            "up one. Give it one key ID per run."
        )
        return StepInput(result=StepResult.failed(reason, "several_keys"))
    if parsed.secret_pasted:
        return StepInput(result=StepResult.failed(LEAKED_ONLY, "secret_pasted"))
    if parsed.action is Action.LOOKUP and problems:
        return StepInput(result=StepResult.answered(invalid_outputs(problems[0])))
    return StepInput(result=StepResult.failed(NO_KEY, "no_key"))


def invalid_outputs(problem: KeyProblem) -> StepOutputs:
    """Status `invalid`: what is wrong with the ID, and the likely intended key when there is one."""
    summary = f"Not an access key ID: {plain(problem.reason)}"
    if problem.suggestion:
        summary += f" Did you mean {problem.suggestion}?"
    return StepOutputs(StepStatus.INVALID, escape(summary))


# -- plain text --------------------------------------------------------------------------------

_EMOJI = re.compile(r"(?<![\w:]):[a-z0-9_+-]+:\s*")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)(?:\|[^>]*)?>")
_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_MEMBER = re.compile(r"<@([A-Z0-9]+)>")
_MARKS = re.compile(r"[`*]")


def plain(text: str) -> str:
    """Our own mrkdwn (a refusal, a problem) as plain text: no emoji codes, links as their IDs,
    no marks. Values from outside in it stay as they were escaped."""
    text = _EMOJI.sub("", text)
    text = _CHANNEL.sub(r"#\1", text)
    text = _GROUP.sub(r"user group \1", text)
    text = _MEMBER.sub(r"\1", text)
    return one_line(_MARKS.sub("", text))


def one_line(text: str, limit: int = MAX_SUMMARY) -> str:
    """One line, whitespace collapsed, at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# -- completing an execution once ------------------------------------------------------------------


def completion_mark(execution_id: str) -> str:
    return redis_key(DELIVERED, _MARK + execution_id)


def already_completed(redis: Redis, execution_id: str) -> bool:
    """True when a completion of this execution is on record. Raises RedisError."""
    return bool(redis.exists(completion_mark(execution_id)))


def complete_once(redis: Redis | None, client: WebClient, execution_id: str, result: StepResult) -> bool:
    """Complete the execution unless that already happened; True when this call completed it.

    Outputs Slack refuses (parameter_validation_failed) turn into an error, so the execution never
    stays running. Raises SlackApiError (or OSError) when Slack did not take the completion.
    Without Redis (it went away) Slack's own refusal of a second completion is the guard.
    """
    if redis is not None:
        try:
            if already_completed(redis, execution_id):
                return False
        except RedisError:
            redis = None
    try:
        _complete(client, execution_id, result)
    except SlackApiError as exc:
        if exc.response.get("error") != ALREADY_COMPLETED:
            raise
        log.info("function execution was already completed", extra={"function_execution_id": execution_id})
        _mark(redis, execution_id)
        return False
    _mark(redis, execution_id)
    return True


def _complete(client: WebClient, execution_id: str, result: StepResult) -> None:
    if result.outputs is None:
        client.functions_completeError(function_execution_id=execution_id, error=result.error or "whose-key failed.")
        return
    try:
        client.functions_completeSuccess(function_execution_id=execution_id, outputs=result.outputs.payload())
    except SlackApiError as exc:
        if exc.response.get("error") != "parameter_validation_failed":
            raise
        log.error("Slack refused the step's outputs", extra={"function_execution_id": execution_id})
        reason = (
            "whose-key found an answer, but Slack refused its outputs (parameter_validation_failed): "
            "the app's manifest and the running version disagree. Tell the team that runs whose-key."
        )
        client.functions_completeError(function_execution_id=execution_id, error=reason)


def _mark(redis: Redis | None, execution_id: str) -> None:
    if redis is None:
        return
    with contextlib.suppress(RedisError):
        redis.set(completion_mark(execution_id), "1", ex=DELIVERED.seconds)
