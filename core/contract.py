"""What travels through the queue: one dataclass for the arguments of every job, and the one
place that turns them into JSON and back.

The web (and the scheduler, and the CLI) build these and enqueue them through `core.queue`; the
table in `core.jobs` names the job each type goes to, and the worker hands each job its arguments
decoded with `from_json` of that type. Job arguments are data from
Redis, not trust: `from_json` checks types, and jobs re-check what matters (URLs, key IDs).
Nothing secret is ever put here: the parser drops pasted secrets before a request is built.
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar


class ContractError(ValueError):
    """Job arguments that do not fit their dataclass (a bug, or a job from another version)."""


@dataclass(frozen=True)
class Destination:
    """Where an answer goes: a response_url, a channel or thread, privately or not."""

    channel: str | None = None
    user: str | None = None
    response_url: str | None = None
    thread_ts: str | None = None
    ephemeral: bool = True


@dataclass(frozen=True)
class MessageRef:
    """A Slack message (channel and ts), e.g. the one to mark with a reaction while working."""

    channel: str
    ts: str


@dataclass(frozen=True)
class LookupRequest:
    """Look up keys and answer at `destination` (lookup job)."""

    request_id: str
    keys: tuple[str, ...]
    destination: Destination
    asked_by: str | None = None
    asked_in: str | None = None
    surface: str | None = None  # command | mention | dm
    deep: bool = False
    secret_pasted: bool = False
    problems: tuple[str, ...] = ()  # input problems already explained, repeated with the answer
    working_on: MessageRef | None = None
    # "lookup": the interactive lane, which never runs a full search; "search": the lane of full
    # searches, where a request waits for its turn by being enqueued again (attempt + 1).
    lane: str = "lookup"
    attempt: int = 0
    waiting_since: float | None = None  # when it first found no turn free (epoch seconds)
    # The agent view's thread the question was asked in (a DM, when the app has Slack's agent view):
    # its status line says what the lookup is doing, and its title names the key.
    agent_thread: MessageRef | None = None


@dataclass(frozen=True)
class ButtonPress:
    """A press of one of the answer's buttons (share, FAQ, notify owner)."""

    delivery_id: str  # one per press: a redelivered press is answered once
    request_id: str  # the answer the button belongs to ("<request>|<key>" for notify)
    user: str | None = None
    channel: str | None = None
    response_url: str | None = None


@dataclass(frozen=True)
class SharePress(ButtonPress):
    """Share in channel: post the private answer `request_id` for everyone."""


@dataclass(frozen=True)
class FaqPress(ButtonPress):
    """The FAQ button: the short answers, privately."""


@dataclass(frozen=True)
class NotifyPress(ButtonPress):
    """Notify owner: DM the owner of one key of the answer (`request_id` is "<request>|<key>")."""


# The button kinds the answer carries (its action IDs), each a job of its own.
BUTTON_PRESSES: dict[str, type[ButtonPress]] = {"share": SharePress, "faq": FaqPress, "notify": NotifyPress}


@dataclass(frozen=True)
class Reply:
    """A message the web prepared, posted by a worker (help and errors for mentions and DMs)."""

    delivery_id: str
    destination: Destination
    text: str
    blocks: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class AgentPrompts:
    """Set the suggested prompts of `user`'s DM with the app (Slack's agent view), whom the web let
    ask; `admin` adds the key-hygiene prompt. `thread_ts`: the thread of an app on the older
    assistant view (agent-view prompts belong to the DM itself, and Slack drops them with one)."""

    user: str
    channel: str
    admin: bool = False
    thread_ts: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class KeyActionRequest:
    """Deactivate (or reactivate) one key through the opt-in responder role, for `actor`, who gave
    `reason`. The key, user and account are what the web was shown: the job confirms them with IAM
    and checks the actor again before it changes anything."""

    delivery_id: str  # one per modal submission (or CLI run): the change and its DMs happen once
    action: str  # core.key_actions: deactivate | reactivate
    key_id: str
    account_id: str
    user_name: str
    actor: str  # a Slack user ID, or `cli:<caller ARN>` from the terminal
    reason: str
    reply_to: Destination | None = None  # where the actor reads the outcome (their DM with the app)
    # The two-person rule (WHOSE_KEY_RESPONDER_APPROVALS=2): the second responder who approved it
    # in the audit channel, and the approval's ID (core.key_actions.PendingApproval).
    approved_by: str | None = None
    approval_id: str | None = None


@dataclass(frozen=True)
class ApprovalExpiry:
    """A key action's approval window is over: if nobody approved it, say so and close it."""

    approval_id: str


@dataclass(frozen=True)
class SnsConfirmation:
    """Confirm an SNS subscription whose signed confirmation message the web verified."""

    subscribe_url: str
    topic_arn: str


def new_sweep_id() -> str:
    """A sweep's ID: when it was asked for, readable, plus a little randomness."""
    return f"sweep-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class SweepRequest:
    """Check every key of every account against the last sweep (sweep job; its job ID is the sweep's)."""

    requested_by: str = "schedule"  # schedule | cli | an operator's name
    sweep_id: str = field(default_factory=new_sweep_id)


@dataclass(frozen=True)
class ReportRequest:
    """The key-hygiene report: to a person (`/whose-key report`) or as the digest to the audit channel."""

    request_id: str
    requested_by: str = "schedule"  # schedule | cli | a Slack member ID
    destination: Destination | None = None  # None: the digest, with its chart, to the audit channel


@dataclass(frozen=True)
class HomeRequest:
    """Publish one member's Home tab (they opened it, or a sweep changed what it shows)."""

    user: str
    event_id: str | None = None
    # Set by the web's access check: the refusal to show instead of any keys, and whether the
    # viewer may see the organization's counts.
    refusal: str | None = None
    admin: bool = False


@dataclass(frozen=True)
class StepRun:
    """One run of the Workflow Builder step find_key_owner (a function execution): find the key and
    complete the execution once (core/step.py). No token: the worker completes with the bot's own."""

    function_execution_id: str
    key_id: str
    user: str  # who used the workflow (the step's user_id input), checked by the web
    channel: str | None = None  # where the workflow was used (the optional channel_id input)
    workflow_execution_id: str | None = None
    secret_pasted: bool = False
    # As for a lookup: "lookup" never runs a full search; on the "search" lane a run waits for its
    # turn by being enqueued again (attempt + 1).
    lane: str = "lookup"
    attempt: int = 0
    waiting_since: float | None = None


@dataclass(frozen=True)
class AfterSweep:
    """Work that reads a finished sweep's snapshots: departed owners, rotation nudges, Home tabs."""

    sweep_id: str


@dataclass(frozen=True)
class NudgeBatch:
    """Send sweep `sweep_id`'s rotation nudges from entry `start` of its plan in Redis (one DM per
    owner), a few at a time, paced; each job enqueues the next, so other work runs in between."""

    sweep_id: str
    start: int = 0
    turn: int = 0  # times this part was handed to a later job for want of a free slot


@dataclass(frozen=True)
class SweepAccount:
    """Sweep one account as part of sweep `sweep_id` (one of the sweep's fan-out jobs)."""

    sweep_id: str
    account_id: str
    account_name: str | None = None
    account_status: str = "ACTIVE"


@dataclass(frozen=True)
class SweepChunk:
    """Sweep a few accounts of sweep `sweep_id` side by side in one job: a background process keeps
    many accounts' AWS calls in flight, and a killed worker costs at most this chunk, retried."""

    sweep_id: str
    accounts: tuple[SweepAccount, ...]


@dataclass(frozen=True)
class SweepUserBatch:
    """Read batch `batch` of a very large account's users (the plan is in Redis) in sweep `sweep_id`."""

    sweep_id: str
    account_id: str
    batch: int
    account_name: str | None = None


@dataclass(frozen=True)
class SweepFinish:
    """Report sweep `sweep_id` once its last account is done (the sweep's finalizer)."""

    sweep_id: str


@dataclass(frozen=True)
class NoticeRetry:
    """Deliver the pending key notices that are due (notice retry job)."""

    requested_by: str = "schedule"  # schedule | sweep | cli


T = TypeVar("T")


def to_json(args: Any) -> dict[str, Any]:
    """A job argument dataclass as JSON-safe data (tuples become lists)."""
    if not dataclasses.is_dataclass(args) or isinstance(args, type):
        raise ContractError(f"not a job argument dataclass: {type(args).__name__}")
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(args)))


def from_json(cls: type[T], data: Any) -> T:
    """The dataclass `cls` from what `to_json` made; unknown fields are ignored (a newer sender)."""
    if not isinstance(data, Mapping):
        raise ContractError(f"{cls.__name__} arguments must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if spec.name in data:
            values[spec.name] = _decode(hints[spec.name], data[spec.name], f"{cls.__name__}.{spec.name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ContractError(f"{cls.__name__} arguments lack {spec.name!r}")
    return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _decode(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _decode(next(o for o in options if o is not type(None)), value, where)
    if dataclasses.is_dataclass(hint):
        return from_json(typing.cast(type, hint), value)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ContractError(f"{where} must be a list")
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, v, where) for v in value)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ContractError(f"{where} must be an object")
        return dict(value)
    if hint in (str, int, bool) and not isinstance(value, hint):
        raise ContractError(f"{where} must be {hint.__name__}, got {type(value).__name__}")
    return value
