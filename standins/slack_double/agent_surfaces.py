"""The agent view and custom steps: the assistant.threads.* methods work on threads and channels the double
knows (`new_assistant_thread()`, `add_channel()`, DMs it opened, messages it took), and functions.complete*
on function executions it minted (`new_function_execution()`), once."""

from __future__ import annotations

import copy
import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from standins.slack_double.base import DoubleCore
from standins.slack_double.constants import (
    FUNCTION_TOKEN_LIFETIME_SECONDS,
    MAX_LOADING_MESSAGES,
    MAX_SUGGESTED_PROMPTS,
    STATUS_TIMEOUT_SECONDS,
)
from standins.slack_double.default_methods import _dm_channel
from standins.slack_double.records import (
    AssistantThread,
    ExecutionState,
    FunctionExecution,
    RecordedCall,
    SuggestedPrompt,
    SuggestedPrompts,
    ThreadStatus,
)
from standins.slack_double.refusals import _json_value, _required_strings, _SlackError

_T = TypeVar("_T")


class AgentSurfaces(DoubleCore):
    """Assistant threads (status, prompts, title) and function executions."""

    # -- the agent view (assistant.threads.*) and custom steps (functions.complete*) -------------

    def _init_agent_surfaces(self) -> None:
        """State and methods for assistant threads (status, prompts, title) and function executions."""
        # Channels the assistant methods accept beyond set_conversation's: DMs opened, channels posted to, added.
        self._known_channels: set[str] = set()
        self._threads: set[tuple[str, str]] = set()  # (channel_id, thread_ts) of every thread the double knows
        self._statuses: dict[tuple[str, str], tuple[ThreadStatus, float]] = {}  # status and when it was set
        self._status_history: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._prompts: dict[tuple[str, str | None], SuggestedPrompts] = {}  # thread_ts None: the channel's own
        self._titles: dict[tuple[str, str], str] = {}
        self._execution_numbers = itertools.count(1)
        self._executions: dict[str, FunctionExecution] = {}
        self._methods.update(
            {
                "assistant.threads.setStatus": self._assistant_threads_set_status,
                "assistant.threads.setSuggestedPrompts": self._assistant_threads_set_suggested_prompts,
                "assistant.threads.setTitle": self._assistant_threads_set_title,
                "functions.completeSuccess": self._functions_complete_success,
                "functions.completeError": self._functions_complete_error,
            }
        )

    def add_channel(self, channel_id: str) -> None:
        """Make the assistant methods know a channel (DMs the bot opened and channels it posted to are known)."""
        with self._lock:
            self._known_channels.add(channel_id)

    def add_thread(self, channel_id: str, thread_ts: str) -> None:
        """Make a thread exist (e.g. one a person started with a message), and its channel known."""
        with self._lock:
            self._known_channels.add(channel_id)
            self._threads.add((channel_id, thread_ts))

    def new_assistant_thread(self, user_id: str, context_channel_id: str | None = None) -> AssistantThread:
        """An agent-view thread as Slack starts it when user_id opens the app: in their DM with the app, with a
        fresh root ts; hand its fields to slack_payloads.assistant_thread_started."""
        thread = AssistantThread(user_id, _dm_channel(user_id), self._next_ts(), context_channel_id)
        self.add_thread(thread.channel_id, thread.thread_ts)
        return thread

    def thread_status(self, channel_id: str, thread_ts: str) -> ThreadStatus | None:
        """The status a thread shows now: None when never set, cleared, replied to or two minutes old."""
        with self._lock:
            held = self._statuses.get((channel_id, thread_ts))
            if held is None or self._clock() - held[1] > STATUS_TIMEOUT_SECONDS:
                return None
            return held[0]

    def status_history(self, channel_id: str, thread_ts: str) -> list[str]:
        """Every status a thread was given, oldest first, "" where it was cleared (empty status or a reply)."""
        with self._lock:
            return list(self._status_history.get((channel_id, thread_ts), []))

    def suggested_prompts(self, channel_id: str, thread_ts: str | None = None) -> SuggestedPrompts | None:
        """The prompts last set for a thread, or for the channel itself when thread_ts is None."""
        with self._lock:
            return self._prompts.get((channel_id, thread_ts))

    def thread_title(self, channel_id: str, thread_ts: str) -> str | None:
        """The title last set for a thread, if any."""
        with self._lock:
            return self._titles.get((channel_id, thread_ts))

    def new_function_execution(
        self, callback_id: str, inputs: dict[str, Any] | None = None, *, required_outputs: tuple[str, ...] = ()
    ) -> str:
        """A function_execution_id as a workflow running the app's custom step `callback_id` gets: functions.complete*
        take it once; required_outputs are the output parameters completeSuccess must be given."""
        with self._lock:
            number = next(self._execution_numbers)
            execution_id = f"Fx{number:010d}"
            self._executions[execution_id] = FunctionExecution(
                function_execution_id=execution_id,
                callback_id=callback_id,
                inputs=copy.deepcopy(inputs or {}),
                workflow_execution_id=f"Wx{number:010d}",
                # Slack's workflow tokens start xwfp-; the hex keeps it unguessable, so it is redacted like a secret.
                bot_access_token=f"xwfp-{self.team_id}-{number}-{uuid.uuid4().hex}",
                issued_at=self._clock(),
                required_outputs=tuple(required_outputs),
            )
        return execution_id

    def function_execution(self, function_execution_id: str) -> FunctionExecution:
        """One function execution the double minted, as it stands; KeyError for any other ID."""
        with self._lock:
            return _copy_execution(self._executions[function_execution_id])

    def wait_for_status(
        self,
        channel_id: str,
        thread_ts: str,
        predicate: Callable[[ThreadStatus], bool] | None = None,
        timeout: float = 15.0,
    ) -> ThreadStatus:
        """Block until a thread shows a status satisfying predicate (any status when None) and return it."""
        return self._wait_for_state(lambda: _matching(self.thread_status(channel_id, thread_ts), predicate), timeout)

    def wait_for_status_cleared(self, channel_id: str, thread_ts: str, timeout: float = 15.0) -> list[str]:
        """Block until a status a thread showed has been cleared (empty status or a reply) and return the history."""

        def cleared() -> list[str] | None:
            history = self.status_history(channel_id, thread_ts)
            shown = next((i for i, status in enumerate(history) if status), None)
            return history if shown is not None and "" in history[shown:] else None

        return self._wait_for_state(cleared, timeout)

    def wait_for_suggested_prompts(
        self,
        channel_id: str,
        thread_ts: str | None = None,
        predicate: Callable[[SuggestedPrompts], bool] | None = None,
        timeout: float = 15.0,
    ) -> SuggestedPrompts:
        """Block until a thread's (or the channel's) prompts satisfy predicate (any prompts when None)."""
        return self._wait_for_state(
            lambda: _matching(self.suggested_prompts(channel_id, thread_ts), predicate), timeout
        )

    def wait_for_thread_title(
        self, channel_id: str, thread_ts: str, predicate: Callable[[str], bool] | None = None, timeout: float = 15.0
    ) -> str:
        """Block until a thread's title satisfies predicate (any title when None) and return it."""
        return self._wait_for_state(lambda: _matching(self.thread_title(channel_id, thread_ts), predicate), timeout)

    def wait_for_function_completion(self, function_execution_id: str, timeout: float = 15.0) -> FunctionExecution:
        """Block until a function execution was completed (with outputs or an error) and return it."""

        def completed() -> FunctionExecution | None:
            execution = self.function_execution(function_execution_id)
            return None if execution.state is ExecutionState.RUNNING else execution

        return self._wait_for_state(completed, timeout)

    def _wait_for_state(self, read: Callable[[], _T | None], timeout: float) -> _T:
        """Block until read() gives something and return it: handlers change the state before the call is
        recorded, and recording wakes the waiters; TimeoutError lists the calls otherwise."""
        found: list[_T] = []

        def ready(_calls: list[RecordedCall]) -> bool:
            value = read()
            found[:] = [] if value is None else [value]
            return bool(found)

        self.wait_for(ready, timeout)
        return found[0]

    def _took_message(self, channel: str, ts: str, thread_ts: Any) -> None:
        """A message the double accepted: its channel is known, it roots a thread, and a reply clears the
        thread's status (Slack clears it "when the app sends a reply")."""
        with self._lock:
            self._known_channels.add(channel)
            self._threads.add((channel, ts))
            if not thread_ts:
                return
            key = (channel, str(thread_ts))
            self._threads.add(key)
            if self._statuses.pop(key, None) is not None:
                self._status_history[key].append("")

    def _known_thread(self, channel_id: str, thread_ts: str | None) -> None:
        """Refuse an unknown channel (channel_not_found) or thread (invalid_thread_ts); caller holds the lock."""
        if channel_id not in self._known_channels and channel_id not in self._conversations:
            raise _SlackError("channel_not_found", detail="Invalid channel_id")
        if thread_ts is not None and (channel_id, thread_ts) not in self._threads:
            raise _SlackError("invalid_thread_ts", detail="Thread not found")

    def _assistant_threads_set_status(self, args: dict[str, Any]) -> dict[str, Any]:
        """Show (or, with an empty status, clear) a thread's status, with optional loading_messages."""
        channel_id, thread_ts = _required_strings(args, "channel_id", "thread_ts")
        # status is required, but an empty one is how an app clears the status without replying.
        status = args.get("status")
        if not isinstance(status, str):
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: status"])
        loading_messages = _loading_messages(args.get("loading_messages"))
        key = (channel_id, thread_ts)
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            if status:
                self._statuses[key] = (ThreadStatus(status, loading_messages), self._clock())
            else:
                self._statuses.pop(key, None)
            self._status_history[key].append(status)
        return {}

    def _assistant_threads_set_suggested_prompts(self, args: dict[str, Any]) -> dict[str, Any]:
        """Set up to four prompts for a thread, or for the channel when no thread_ts is given (agent-view apps)."""
        (channel_id,) = _required_strings(args, "channel_id")
        prompts = _suggested_prompts(args.get("prompts"))
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        title = args.get("title")
        if title is not None and not isinstance(title, str):
            raise _SlackError("invalid_arguments", ["[ERROR] must be a string [json-pointer:/title]"])
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            self._prompts[(channel_id, thread_ts)] = SuggestedPrompts(prompts, title or None)
        return {}

    def _assistant_threads_set_title(self, args: dict[str, Any]) -> dict[str, Any]:
        """Set the title a thread shows in the app's history."""
        channel_id, thread_ts, title = _required_strings(args, "channel_id", "thread_ts", "title")
        with self._lock:
            self._known_thread(channel_id, thread_ts)
            self._titles[(channel_id, thread_ts)] = title
        return {}

    def _functions_complete_success(self, args: dict[str, Any]) -> dict[str, Any]:
        """Complete a running function execution with outputs holding every required output parameter."""
        (execution_id,) = _required_strings(args, "function_execution_id")
        if args.get("outputs") is None:
            raise _SlackError("invalid_arguments", ["[ERROR] missing required field: outputs"])
        outputs = _json_value(args["outputs"], "outputs")
        if not isinstance(outputs, dict):
            raise _SlackError("invalid_arguments", ["[ERROR] must be an object [json-pointer:/outputs]"])
        with self._lock:
            execution = self._running_execution(execution_id)
            missing = [name for name in execution.required_outputs if name not in outputs]
            if missing:
                # The error is Slack's; the reference only says "see API response for more details", so these
                # messages take the shape of Slack's other argument errors.
                messages = [f"[ERROR] missing required field: {name} [json-pointer:/outputs]" for name in missing]
                raise _SlackError("parameter_validation_failed", messages)
            self._executions[execution_id] = replace(
                execution, state=ExecutionState.COMPLETED, outputs=copy.deepcopy(outputs)
            )
        return {}

    def _functions_complete_error(self, args: dict[str, Any]) -> dict[str, Any]:
        """Fail a running function execution with the message Slack shows the workflow's user."""
        execution_id, error = _required_strings(args, "function_execution_id", "error")
        with self._lock:
            execution = self._running_execution(execution_id)
            self._executions[execution_id] = replace(execution, state=ExecutionState.FAILED, error=error)
        return {}

    def _running_execution(self, execution_id: str) -> FunctionExecution:
        """A minted execution still to be completed; caller holds the lock."""
        execution = self._executions.get(execution_id)
        if execution is None:
            raise _SlackError("function_execution_not_found")
        if execution.state is not ExecutionState.RUNNING:
            # Slack's reference lists execution_not_in_running_state ("no longer in a state to be completed"),
            # though its example calls a completed execution function_execution_not_found: the double answers
            # the more specific one, so a test can tell a double completion from an ID never issued.
            raise _SlackError("execution_not_in_running_state")
        return execution

    def _function_token_error(self, presented: str) -> str | None:
        """None while presented is a running execution's token; Slack's refusal otherwise (token_revoked and
        token_expired are Slack's names for a dead token; which one Slack gives here is not documented)."""
        with self._lock:
            execution = next((e for e in self._executions.values() if e.bot_access_token == presented), None)
            if execution is None:
                return "invalid_auth"
            if execution.state is not ExecutionState.RUNNING:
                return "token_revoked"
            if self._clock() - execution.issued_at > FUNCTION_TOKEN_LIFETIME_SECONDS:
                return "token_expired"
        return None


def _copy_execution(execution: FunctionExecution) -> FunctionExecution:
    """A copy a test may change without changing what the double holds."""
    return replace(execution, inputs=copy.deepcopy(execution.inputs), outputs=copy.deepcopy(execution.outputs))


def _matching(value: _T | None, predicate: Callable[[_T], bool] | None) -> _T | None:
    """value when there is one and it satisfies predicate (any value when None), else None."""
    return value if value is not None and (predicate is None or predicate(value)) else None


def _loading_messages(raw: Any) -> tuple[str, ...]:
    """setStatus's loading_messages: an array of at most ten strings (the limit is documented, the error is not)."""
    if raw in (None, ""):
        return ()
    value = _json_value(raw, "loading_messages")
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise _SlackError("invalid_arguments", ["[ERROR] must be an array of strings [json-pointer:/loading_messages]"])
    if len(value) > MAX_LOADING_MESSAGES:
        message = f"[ERROR] no more than {MAX_LOADING_MESSAGES} items allowed [json-pointer:/loading_messages]"
        raise _SlackError("invalid_arguments", [message])
    return tuple(value)


def _suggested_prompts(raw: Any) -> tuple[SuggestedPrompt, ...]:
    """setSuggestedPrompts's prompts: one to four objects, each with a title and a message. Slack documents the
    limit of four but not its refusal past it: the double answers invalid_arguments, as for any bad argument."""
    if raw in (None, "", []):
        raise _SlackError("invalid_arguments", ["[ERROR] missing required field: prompts"])
    value = _json_value(raw, "prompts")
    if not isinstance(value, list) or not value:
        raise _SlackError("invalid_arguments", ["[ERROR] must be a non-empty array [json-pointer:/prompts]"])
    if len(value) > MAX_SUGGESTED_PROMPTS:
        message = f"[ERROR] no more than {MAX_SUGGESTED_PROMPTS} items allowed [json-pointer:/prompts]"
        raise _SlackError("invalid_arguments", [message])
    problems = []
    for index, prompt in enumerate(value):
        for name in ("title", "message"):
            text = prompt.get(name) if isinstance(prompt, dict) else None
            if not isinstance(text, str) or not text:
                problems.append(f"[ERROR] missing required field: {name} [json-pointer:/prompts/{index}]")
    if problems:
        raise _SlackError("invalid_arguments", problems)
    return tuple(SuggestedPrompt(p["title"], p["message"]) for p in value)
