"""What the double records and holds: calls and scripted replies, uploaded files, published views and modals,
assistant threads and function executions. Plain data; the double hands out copies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from standins.slack_double.constants import PNG_SIGNATURE


@dataclass(frozen=True)
class RecordedCall:
    """One request the double received, and what it answered."""

    kind: str  # "api" for /api/<method>, "hook" for response_url posts
    name: str  # the Web API method (e.g. "chat.postMessage") or the hook path ("/hooks/abc")
    url: str  # full URL path requested, query string included
    headers: dict[str, str]  # lower-cased names; the Authorization value is redacted
    body: dict[str, Any]  # parsed JSON or form body; {} when empty or unparseable
    raw_body: str  # as received, with any token redacted
    status: int  # HTTP status the double answered with
    at: float  # time.time() when received
    query: dict[str, Any] = field(default_factory=dict)  # parsed query string
    response: dict[str, Any] | str | None = None  # the body the double answered with

    @property
    def args(self) -> dict[str, Any]:
        """Query and body arguments together, the body winning, as Slack reads them."""
        return {**self.query, **self.body}

    @property
    def ok(self) -> bool:
        """True when the double answered 2xx and, for the Web API, `ok: true`."""
        if not 200 <= self.status < 300:
            return False
        if self.kind == "api":
            return isinstance(self.response, dict) and self.response.get("ok") is True
        return True


@dataclass
class Reply:
    """A scripted answer: dict bodies go out as JSON, str bodies as text/plain."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class UploadedFile:
    """A file announced with files.getUploadURLExternal, its bytes once uploaded, and where it was shared."""

    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channel: str | None = None
    initial_comment: str | None = None

    @property
    def is_png(self) -> bool:
        return self.data is not None and self.data.startswith(PNG_SIGNATURE)


@dataclass(frozen=True)
class PublishedView:
    """One views.publish call: whose Home tab, and the view."""

    user_id: str
    view: dict[str, Any]


@dataclass
class _Trigger:
    """A trigger_id the double issued: when (on the double's clock), for whom, and whether it was exchanged."""

    issued_at: float
    user_id: str | None
    used: bool = False


@dataclass(frozen=True)
class ModalView:
    """A modal opened with views.open: whose (the trigger's member), the trigger it took, and the view as Slack
    last answered it (views.open, then each views.update)."""

    view_id: str
    user_id: str | None
    trigger_id: str
    view: dict[str, Any]
    updates: int = 0  # views.update calls that replaced it

    @property
    def hash(self) -> str:
        return str(self.view["hash"])

    @property
    def callback_id(self) -> str:
        return str(self.view["callback_id"])

    @property
    def private_metadata(self) -> str:
        return str(self.view["private_metadata"])

    @property
    def external_id(self) -> str:
        return str(self.view["external_id"])


@dataclass(frozen=True)
class AssistantThread:
    """An agent-view thread the double started: whose, in which DM, its root ts, and the channel they were viewing."""

    user_id: str
    channel_id: str
    thread_ts: str
    context_channel_id: str | None = None


@dataclass(frozen=True)
class ThreadStatus:
    """What a thread shows while the app works: the status ("is thinking...") and the loading messages it rotates."""

    status: str
    loading_messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuggestedPrompt:
    """One suggested prompt: the title a person sees and the message it sends."""

    title: str
    message: str


@dataclass(frozen=True)
class SuggestedPrompts:
    """The prompts set for a thread or channel, and the title over them."""

    prompts: tuple[SuggestedPrompt, ...]
    title: str | None = None


class ExecutionState(Enum):
    """Where a function execution stands: running until functions.completeSuccess or functions.completeError."""

    RUNNING = "running"
    COMPLETED = "completed"  # functions.completeSuccess took its outputs
    FAILED = "failed"  # functions.completeError took its error


@dataclass(frozen=True)
class FunctionExecution:
    """A custom step's execution the double minted, and how it was completed."""

    function_execution_id: str
    callback_id: str
    inputs: dict[str, Any]
    workflow_execution_id: str
    bot_access_token: str  # the token Slack hands the app with function_executed, valid while it runs
    issued_at: float  # on the double's clock
    required_outputs: tuple[str, ...] = ()
    state: ExecutionState = ExecutionState.RUNNING
    outputs: dict[str, Any] | None = None
    error: str | None = None
