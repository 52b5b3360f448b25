"""The job contract (core/contract.py): every job's arguments survive real JSON both ways, a newer
sender's extra fields are ignored, and arguments that do not fit raise ContractError."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from core.contract import (
    BUTTON_PRESSES,
    AfterSweep,
    AgentPrompts,
    ApprovalExpiry,
    ButtonPress,
    ContractError,
    Destination,
    HomeRequest,
    KeyActionRequest,
    LookupRequest,
    MessageRef,
    NoticeRetry,
    NudgeBatch,
    Reply,
    ReportRequest,
    SnsConfirmation,
    StepRun,
    SweepAccount,
    SweepChunk,
    SweepFinish,
    SweepRequest,
    SweepUserBatch,
    from_json,
    to_json,
)
from core.jobs import JOBS
from core.key_events import KeyEvent

# Every type that travels through the queue: the job table's.
JOB_ARGUMENTS = tuple(spec.args for spec in JOBS)

DESTINATION = Destination(
    channel="C0INCIDENT",
    user="U0ASKER01",
    response_url="https://hooks.slack.com/commands/T0/1/abc",
    thread_ts="1700000000.000100",
    ephemeral=False,
)


def press_of(cls: type[ButtonPress]) -> ButtonPress:
    return cls(
        delivery_id=f"press-{cls.__name__}",
        request_id="0f3c|AKIARZPUZDIKGB2VALC4",
        user="U0ASKER01",
        channel="C0INCIDENT",
        response_url="https://hooks.slack.com/actions/T0/2/def",
    )


# One instance of every job argument type, with every field set away from its default.
FULL: dict[type, Any] = {
    LookupRequest: LookupRequest(
        request_id="0f3c",
        keys=("AKIARZPUZDIKGB2VALC4", "ASIARZPUZDIKGB2VALC4"),
        destination=DESTINATION,
        asked_by="U0ASKER01",
        asked_in="C0INCIDENT",
        surface="mention",
        deep=True,
        secret_pasted=True,
        problems=("`AKIA0` is 5 characters long; access key IDs are exactly 20.",),
        working_on=MessageRef("C0INCIDENT", "1700000001.000200"),
        agent_thread=MessageRef("D0ASKER01", "1700000001.000200"),
    ),
    # The three button presses share their fields; each is a job of its own.
    **{cls: press_of(cls) for cls in BUTTON_PRESSES.values()},
    Reply: Reply(
        delivery_id="Ev0123",
        destination=DESTINATION,
        text="I did not find an access key ID",
        blocks=({"type": "section", "text": {"type": "mrkdwn", "text": "*help*"}}, {"type": "divider"}),
    ),
    KeyActionRequest: KeyActionRequest(
        delivery_id="VM0000001",
        action="deactivate",
        key_id="AKIAIOSFODNN7EXAMPLE",
        account_id="123456789012",
        user_name="deploy-bot",
        actor="U0RESPND1",
        reason="found in a public gist",
        reply_to=Destination(channel="U0RESPND1", ephemeral=False),
        approved_by="U0RESPND2",
        approval_id="VM0000001",
    ),
    ApprovalExpiry: ApprovalExpiry(approval_id="VM0000001"),
    KeyEvent: KeyEvent(
        kind="deactivated",
        account_id="123456789012",
        event_id="e-1",
        key_id="AKIARZPUZDIKGB2VALC4",
        user_name="deploy-bot",
        actor="assumed-role/Admin/carol",
        when="2026-11-26T10:00:00Z",
        source_ip="203.0.113.7",
        source="sns",
    ),
    SnsConfirmation: SnsConfirmation(
        subscribe_url="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t",
        topic_arn="arn:aws:sns:us-east-1:123456789012:whose-key",
    ),
    SweepRequest: SweepRequest(requested_by="cli", sweep_id="sweep-20261126T100000-abc123"),
    ReportRequest: ReportRequest(request_id="r-1", requested_by="U0ASKER01", destination=DESTINATION),
    HomeRequest: HomeRequest(user="U0ASKER01", event_id="Ev0HOME"),
    AgentPrompts: AgentPrompts(
        user="U0ASKER01", channel="D0ASKER01", admin=True, thread_ts="1700000001.000200", event_id="Ev0DMOPEN"
    ),
    StepRun: StepRun(
        function_execution_id="Fx0000000001",
        key_id="AKIARZPUZDIKGB2VALC4",
        user="U0ASKER01",
        channel="C0INCIDENT",
        workflow_execution_id="Wx0000000001",
        secret_pasted=True,
        lane="search",
        attempt=2,
        waiting_since=1700000000.5,
    ),
    AfterSweep: AfterSweep(sweep_id="sweep-2026-11-26T10"),
    NudgeBatch: NudgeBatch(sweep_id="sweep-20261126T100000-abc123", start=20, turn=1),
    SweepAccount: SweepAccount(
        sweep_id="sweep-20261126T100000-abc123", account_id="123456789012", account_name="prod", account_status="ACTIVE"
    ),
    SweepChunk: SweepChunk(
        sweep_id="sweep-20261126T100000-abc123",
        accounts=(
            SweepAccount("sweep-20261126T100000-abc123", "123456789012", "prod"),
            SweepAccount("sweep-20261126T100000-abc123", "210987654321", "staging", "SUSPENDED"),
        ),
    ),
    SweepUserBatch: SweepUserBatch(
        sweep_id="sweep-20261126T100000-abc123", account_id="123456789012", batch=3, account_name="prod"
    ),
    NoticeRetry: NoticeRetry(requested_by="sweep"),
    SweepFinish: SweepFinish(sweep_id="sweep-20261126T100000-abc123"),
}


def through_json(cls: type, args: Any) -> Any:
    """What a job reads back: the arguments serialized to a JSON string and parsed again."""
    return from_json(cls, json.loads(json.dumps(to_json(args))))


def required_fields(cls: type) -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def minimal(cls: type) -> Any:
    """The instance with only its required fields, taken from the full example."""
    full = FULL[cls]
    return cls(**{name: getattr(full, name) for name in required_fields(cls)})


REQUIRED = [(cls, name) for cls in JOB_ARGUMENTS for name in required_fields(cls)]


def test_every_job_argument_type_has_an_example() -> None:
    """The examples cover JOB_ARGUMENTS exactly, so a new job type cannot skip these tests."""
    assert set(FULL) == set(JOB_ARGUMENTS)


@pytest.mark.parametrize("cls", JOB_ARGUMENTS, ids=lambda c: c.__name__)
def test_full_arguments_round_trip_through_json(cls: type) -> None:
    """Every field, nested dataclasses and tuples included, comes back equal after real JSON."""
    assert through_json(cls, FULL[cls]) == FULL[cls]


@pytest.mark.parametrize("cls", JOB_ARGUMENTS, ids=lambda c: c.__name__)
def test_defaults_round_trip_through_json(cls: type) -> None:
    """Arguments with only their required fields come back equal, defaults included."""
    args = minimal(cls)
    assert through_json(cls, args) == args


@pytest.mark.parametrize("cls", JOB_ARGUMENTS, ids=lambda c: c.__name__)
def test_to_json_is_plain_json_data(cls: type) -> None:
    """to_json gives only dicts, lists, strings, numbers, booleans and nulls (tuples become lists)."""
    data = to_json(FULL[cls])

    def plain(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    assert plain(data)


@pytest.mark.parametrize("cls", JOB_ARGUMENTS, ids=lambda c: c.__name__)
def test_unknown_fields_are_ignored(cls: type) -> None:
    """A newer sender's extra fields, at the top and nested, do not stop an older worker."""
    data = json.loads(json.dumps(to_json(FULL[cls])))
    data["added_in_a_later_version"] = {"x": 1}
    if isinstance(data.get("destination"), dict):
        data["destination"]["also_new"] = True
    assert from_json(cls, data) == FULL[cls]


@pytest.mark.parametrize(("cls", "name"), REQUIRED, ids=[f"{c.__name__}.{n}" for c, n in REQUIRED])
def test_missing_required_field_raises(cls: type, name: str) -> None:
    """Arguments lacking a required field raise ContractError naming it."""
    data = to_json(FULL[cls])
    del data[name]
    with pytest.raises(ContractError, match=name):
        from_json(cls, data)


WRONG_TYPES = [
    (LookupRequest, "request_id", 42, "request_id"),  # a string field given a number
    (LookupRequest, "keys", "AKIARZPUZDIKGB2VALC4", "keys"),  # a tuple field given a bare string
    (LookupRequest, "keys", ["AKIARZPUZDIKGB2VALC4", 7], "keys"),  # a tuple item of the wrong type
    (LookupRequest, "deep", "yes", "deep"),  # a boolean given a string
    (LookupRequest, "asked_by", 12, "asked_by"),  # an optional string given a number
    # A nested dataclass given something else: the error names the nested type, not the field.
    (LookupRequest, "destination", ["C0INCIDENT"], "Destination"),
    (LookupRequest, "working_on", "C0INCIDENT/1700000001.000200", "MessageRef"),
    (Reply, "blocks", [["not", "a", "block"]], "blocks"),  # blocks must be objects
    (KeyEvent, "account_id", 123456789012, "account_id"),  # an account ID as a number
    (SweepRequest, "sweep_id", 7, "sweep_id"),  # a string given a number
]


@pytest.mark.parametrize(
    ("cls", "name", "value", "named"), WRONG_TYPES, ids=[f"{c.__name__}.{n}={v!r:.20}" for c, n, v, _ in WRONG_TYPES]
)
def test_wrong_type_raises(cls: type, name: str, value: Any, named: str) -> None:
    """A field of the wrong type raises ContractError saying what is wrong, instead of reaching the job."""
    data = to_json(FULL[cls])
    data[name] = value
    with pytest.raises(ContractError, match=named):
        from_json(cls, data)


def test_nested_wrong_type_raises() -> None:
    """A wrong type inside a nested dataclass is caught too."""
    data = to_json(FULL[LookupRequest])
    data["destination"]["ephemeral"] = "false"
    with pytest.raises(ContractError, match="ephemeral"):
        from_json(LookupRequest, data)


@pytest.mark.parametrize("data", [None, [], "text", 3], ids=repr)
def test_arguments_that_are_not_an_object_raise(data: Any) -> None:
    """Arguments that are not a JSON object raise ContractError."""
    with pytest.raises(ContractError):
        from_json(LookupRequest, data)


@pytest.mark.parametrize("value", [{"request_id": "x"}, LookupRequest, "text"], ids=["dict", "class", "str"])
def test_to_json_takes_only_dataclass_instances(value: Any) -> None:
    """to_json refuses anything but a job argument instance, so hand-built dicts cannot slip into the queue."""
    with pytest.raises(ContractError):
        to_json(value)
