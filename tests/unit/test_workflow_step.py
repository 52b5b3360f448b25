"""The Workflow Builder step's decisions, in process: every verdict mapped to its outputs (or to a
completeError reason), the key input judged, refusals made plain, the manifest's definition in
step with the code, and one completion per execution at the loopback Slack."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from redis import Redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.access import Refusal
from bot.listeners.workflow_step import refused_text
from core.keyids import KeyProblem
from core.step import (
    CALLBACK_ID,
    INPUTS,
    OUTPUTS,
    REQUIRED_INPUTS,
    REQUIRED_OUTPUTS,
    StepOutputs,
    StepResult,
    StepStatus,
    complete_once,
    completion_mark,
    invalid_outputs,
    judge_input,
    plain,
)
from standins.slack_double import ExecutionState, SlackDouble
from tests.unit.conftest import SLACK_TOKEN
from workers.aws.errors import AccountOutcome
from workers.lookup.finding import History, KeyFinding, Suggestion, Unsearched, Verdict
from workers.model import Account, Owner
from workers.render.step import step_result

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yml"
KEY = "AKIARZPUZDIKGB2VALC4"  # decodes to account 123456789012
TEMP_KEY = "ASIARZPUZDIKGB2VALC4"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PROD = Account("123456789012", "acme-prod")
DEV = Account("210987654321", "acme-dev")

FOUND = KeyFinding(
    KEY,
    Verdict.FOUND,
    account=PROD,
    user_name="deploy-bot",
    status="Active",
    owner=Owner(slack_user_id="U0OWNER1", source="slack-user-id"),
    accounts_searched=1,
)


def unsearched(account: Account, detail: str = "throttled by AWS (Throttling) after retries") -> Unsearched:
    return Unsearched(account, AccountOutcome.THROTTLED, detail)


# (finding, status, owner_user_id, iam_user, account_id, account_name, words the summary holds)
MAPPING = [
    # An active key with an owner on Slack: the owner is the output a "Send a message" step uses.
    (FOUND, "Active", "U0OWNER1", "deploy-bot", "123456789012", "acme-prod", ["deploy-bot", "U0OWNER1", "Active"]),
    # Deactivated: Inactive, the owner still named.
    (replace(FOUND, status="Inactive"), "Inactive", "U0OWNER1", "deploy-bot", "123456789012", "acme-prod",
     ["Status: Inactive"]),
    # An owner known only by an email Slack does not know: no owner_user_id, the email in the summary.
    (replace(FOUND, owner=Owner(email="ops@example.com", source="email")), "Active", None, "deploy-bot",
     "123456789012", "acme-prod", ["owner ops@example.com"]),
    # No owner tags at all.
    (replace(FOUND, owner=Owner()), "Active", None, "deploy-bot", "123456789012", "acme-prod", ["no owner tag"]),
    # A member ID that is not one (a tag typo) is never output as a user.
    (replace(FOUND, owner=Owner(slack_user_id="not-a-member")), "Active", None, "deploy-bot", "123456789012",
     "acme-prod", ["deploy-bot"]),
    # Gone: the account is ours, the key is not there; no owner, whoever deleted it in the summary's words.
    (KeyFinding(KEY, Verdict.GONE, account=PROD, accounts_searched=7,
                history=(History("deleted", "carol", "2026-11-26T10:00:00Z"),)),
     "gone", None, "", "123456789012", "acme-prod", ["no longer exists", "deleted"]),
    # Not found after a full search, with "did you mean".
    (KeyFinding(KEY, Verdict.NOT_FOUND, account=Account("555566667777"), accounts_searched=7,
                similar=(Suggestion("AKIARZPUZDIKGB2VALC5", "deploy-bot", "acme-prod (123456789012)"),)),
     "not found", None, "", "555566667777", "", ["not found in any of the 7 accounts", "Did you mean",
                                                 "AKIARZPUZDIKGB2VALC5"]),
    # Outside the organization: the foreign account named, no name.
    (KeyFinding(KEY, Verdict.OUTSIDE_ORG, account=Account("555566667777")), "outside", None, "", "555566667777", "",
     ["555566667777", "not one of this organization"]),
    # Temporary credentials: the issuing account, no IAM user.
    (KeyFinding(TEMP_KEY, Verdict.TEMPORARY, account=DEV), "temporary", None, "", "210987654321", "acme-dev",
     ["temporary STS credential"]),
]  # fmt: skip


@pytest.mark.parametrize(("report", "status", "owner", "iam_user", "account_id", "account_name", "words"), MAPPING)
def test_each_verdict_maps_to_its_status_and_outputs(
    report: KeyFinding,
    status: str,
    owner: str | None,
    iam_user: str,
    account_id: str,
    account_name: str,
    words: list[str],
) -> None:
    """Every verdict but incomplete completes successfully with its status, owner, user and account."""
    result = step_result(report)

    assert result.error is None and result.outputs is not None
    payload = result.outputs.payload()
    assert payload["status"] == status and result.outcome == status
    assert payload.get("owner_user_id") == owner
    assert ("owner_user_id" in payload) is (owner is not None), "an unknown owner is left out, never an empty ID"
    assert (payload["iam_user"], payload["account_id"], payload["account_name"]) == (iam_user, account_id, account_name)
    assert "\n" not in payload["summary"] and payload["summary"].startswith(report.key_id)
    for word in words:
        assert word in payload["summary"], (word, payload["summary"])


def test_status_values_are_the_ones_the_manifest_names() -> None:
    """The status output's values are exactly the seven the step documents."""
    assert {s.value for s in StepStatus} == {
        "Active",
        "Inactive",
        "gone",
        "not found",
        "outside",
        "temporary",
        "invalid",
    }


def test_an_incomplete_search_fails_the_step_naming_the_accounts_and_why() -> None:
    """Some accounts could not be searched: completeError, never "not found", with which and why."""
    report = KeyFinding(KEY, Verdict.INCOMPLETE, accounts_searched=5, unsearched=(unsearched(DEV),))

    result = step_result(report)

    assert result.outputs is None and result.outcome == "incomplete"
    assert result.error is not None
    assert "1 account could not be searched" in result.error
    assert "acme-dev (210987654321): throttled by AWS (Throttling) after retries" in result.error
    assert "not found" not in result.error.replace("was not found in the 5 accounts", "")
    assert "run the workflow again later" in result.error


def test_an_owning_account_that_could_not_be_read_is_said_once() -> None:
    """The key's own account unreadable: the one sentence says which and why, without a repeat."""
    report = KeyFinding(KEY, Verdict.INCOMPLETE, account=DEV, unsearched=(unsearched(DEV),))

    error = step_result(report).error

    assert error is not None and error.count("acme-dev (210987654321)") == 1
    assert "cannot say whose it is yet" in error


def test_many_unsearched_accounts_are_counted_not_listed() -> None:
    """A search that could not read hundreds of accounts names three and counts the rest, in one line."""
    accounts = tuple(unsearched(Account(f"{n:012d}", f"team-{n}")) for n in range(1, 301))
    report = KeyFinding(KEY, Verdict.INCOMPLETE, accounts_searched=10, unsearched=accounts)

    error = step_result(report).error

    assert error is not None and "; and 297 more." in error and len(error) <= 1000
    assert "team-1 " in error and "team-4 " not in error


def test_a_full_search_that_did_not_start_says_why_in_plain_words() -> None:
    """The person's full-search budget used up: the reason carries the refusal, without Slack markup."""
    rest = tuple(Unsearched(a, AccountOutcome.NOT_STARTED, "full search not started") for a in (DEV,))
    note = ":hourglass: You have started 10 full searches this minute; please try again in 12 seconds."
    report = KeyFinding(KEY, Verdict.INCOMPLETE, accounts_searched=1, unsearched=rest, notes=(note,))

    error = step_result(report).error

    assert error is not None and "You have started 10 full searches" in error and ":hourglass:" not in error


def test_values_from_outside_are_escaped_in_every_output() -> None:
    """An account named `<!channel>` cannot ping anyone from a later step's message."""
    hostile = replace(FOUND, account=Account("123456789012", "<!channel> & co"), user_name="a<b>")

    payload = step_result(hostile).outputs.payload()  # type: ignore[union-attr]

    assert payload["account_name"] == "&lt;!channel&gt; &amp; co"
    assert payload["iam_user"] == "a&lt;b&gt;"
    assert "<!channel>" not in json.dumps(payload)


def test_a_secret_pasted_with_the_key_is_noted_and_never_echoed() -> None:
    """The key is answered, and the summary says the secret must be treated as exposed."""
    judged = judge_input(f"{KEY} {SECRET}")
    assert judged.key_id == KEY and judged.secret_pasted

    summary = step_result(FOUND, secret_pasted=True).outputs.payload()["summary"]  # type: ignore[union-attr]

    assert "treat it as exposed" in summary and SECRET not in summary


# (what the workflow handed over, key looked up, completion outcome when none, words of it)
INPUTS_JUDGED = [
    (KEY, KEY, None, None),  # a key ID as is
    (f"  `{KEY}`\n", KEY, None, None),  # quoted, padded, as pasted from an alert
    (f"aws_access_key_id={KEY}", KEY, None, None),  # a config line
    (f"<mailto:x|{KEY}>", KEY, None, None),  # Slack link markup around it
    (KEY.lower(), None, "invalid", "upper case"),  # lower case: what is wrong, and the likely key
    ("AKIARZPUZDIKGB2VALC", None, "invalid", "19 characters long"),  # one character short
    ("AKIARZPUZD1KGB2VALC4", None, "invalid", "Did you mean AKIARZPUZDIKGB2VALC4?"),  # 1 for I
    ("AIDARZPUZDIKGB2VALC4", None, "invalid", "an IAM user ID"),  # another kind of IAM ID
    (f"{KEY} AKIARZPUZDIKGB2VALC5", None, "several_keys", "holds 2 access key IDs"),  # one key per run
    (SECRET, None, "secret_pasted", "treat that key as exposed"),  # a secret and no key ID
    ("", None, "no_key", "holds no access key ID"),  # an empty variable
    ("help", None, "no_key", "holds no access key ID"),  # words, no key
    (None, None, "no_key", "holds no access key ID"),  # the input missing
    (12345, None, "no_key", "holds no access key ID"),  # not text at all
]


@pytest.mark.parametrize(("given", "key", "outcome", "words"), INPUTS_JUDGED)
def test_the_key_input_is_judged_like_the_slash_command(given: Any, key: str | None, outcome: str | None,
                                                        words: str | None) -> None:  # fmt: skip
    """One well-formed key is looked up; a malformed one is status invalid with why; anything else fails plainly."""
    judged = judge_input(given)

    assert judged.key_id == key
    if key is not None:
        assert judged.result is None
        return
    assert judged.result is not None and judged.result.outcome == outcome
    said = judged.result.error or judged.result.outputs.payload()["summary"]  # type: ignore[union-attr]
    assert words is not None and words in said, said
    assert "`" not in said and SECRET not in said


def test_an_invalid_key_completes_successfully_with_status_invalid_and_no_owner() -> None:
    """A malformed key is an answer a workflow can branch on: status invalid, empty owner, the reason."""
    outputs = invalid_outputs(KeyProblem("AKIA0", "`AKIA0` is 5 characters long; access key IDs are exactly 20."))

    payload = outputs.payload()

    assert payload["status"] == "invalid" and "owner_user_id" not in payload
    assert payload["summary"] == "Not an access key ID: AKIA0 is 5 characters long; access key IDs are exactly 20."


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (":lock: whose-key answers only in <#C0ALLOWED>. Please ask there.", "whose-key answers only in #C0ALLOWED."),
        (":lock: whose-key is limited to members of <!subteam^S0SEC>.", "limited to members of user group S0SEC."),
        (":wave: whose-key is for full members of this workspace, not guests.", "whose-key is for full members"),
        ("The `WHOSE_KEY_ADMIN_USERGROUPS` setting", "The WHOSE_KEY_ADMIN_USERGROUPS setting"),
        ("at 12:07:33 UTC", "at 12:07:33 UTC"),
    ],
)
def test_refusals_read_as_plain_text(message: str, expected: str) -> None:
    """Slack shows a step's error as text: emoji codes, links and marks become plain words."""
    said = refused_text(Refusal("channel", message))

    assert expected in said
    assert said == plain(message)
    assert not said.startswith(":") and "<" not in said and "*" not in said


# -- the manifest ----------------------------------------------------------------------------------


def manifest_function() -> dict[str, Any]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    function: dict[str, Any] = manifest["functions"][CALLBACK_ID]
    return function


def test_the_manifest_declares_the_step_the_code_answers() -> None:
    """deploy/slack-manifest.yml names the same callback, inputs and outputs as core/step.py, with their types."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    function = manifest_function()
    inputs, outputs = function["input_parameters"], function["output_parameters"]

    assert list(inputs) == list(INPUTS) and list(outputs) == list(OUTPUTS)
    assert [name for name, spec in inputs.items() if spec["is_required"]] == list(REQUIRED_INPUTS)
    assert [name for name, spec in outputs.items() if spec["is_required"]] == list(REQUIRED_OUTPUTS)
    assert inputs["access_key_id"]["type"] == "string"
    assert inputs["user_id"]["type"] == "slack#/types/user_id"
    assert inputs["channel_id"]["type"] == "slack#/types/channel_id"
    assert outputs["owner_user_id"]["type"] == "slack#/types/user_id"
    assert all(outputs[name]["type"] == "string" for name in OUTPUTS if name != "owner_user_id")
    assert all(spec.get("title") for spec in [*inputs.values(), *outputs.values()])
    # What Slack requires of an app with custom steps (docs.slack.dev, custom steps for Bolt).
    settings = manifest["settings"]
    assert settings["org_deploy_enabled"] is True
    assert settings["function_runtime"] == "remote"
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]


def test_every_status_value_is_named_in_the_manifest() -> None:
    """The status output's description lists every value a workflow can branch on."""
    description = manifest_function()["output_parameters"]["status"]["description"]

    assert all(status.value in description for status in StepStatus)


# -- completing once, at the loopback Slack ----------------------------------------------------------


@pytest.fixture
def client(slack: SlackDouble) -> WebClient:
    return WebClient(token=SLACK_TOKEN, base_url=slack.base_url)


ANSWER = StepResult.answered(StepOutputs(StepStatus.ACTIVE, "the summary", "U0OWNER1", "deploy-bot", "1", "prod"))


def completions(slack: SlackDouble, execution: str) -> list[str]:
    return [
        c.name
        for c in slack.calls
        if c.name.startswith("functions.complete") and c.args.get("function_execution_id") == execution
    ]


def test_an_execution_is_completed_once_with_the_bot_token(slack: SlackDouble, client: WebClient, redis: Redis) -> None:
    """The bot's own token completes it; the mark in Redis stops a second attempt before it reaches Slack."""
    execution = slack.new_function_execution(CALLBACK_ID, required_outputs=REQUIRED_OUTPUTS)

    assert complete_once(redis, client, execution, ANSWER) is True
    assert complete_once(redis, client, execution, ANSWER) is False

    done = slack.function_execution(execution)
    assert done.state is ExecutionState.COMPLETED and done.outputs == ANSWER.outputs.payload()  # type: ignore[union-attr]
    assert completions(slack, execution) == ["functions.completeSuccess"]
    assert redis.ttl(completion_mark(execution)) > 0


def test_without_the_mark_slacks_refusal_of_a_second_completion_is_taken_as_done(
    slack: SlackDouble, client: WebClient
) -> None:
    """A worker that died after Slack took the completion but before marking it: the retry completes nothing."""
    execution = slack.new_function_execution(CALLBACK_ID)
    assert complete_once(None, client, execution, StepResult.failed("first", "refused")) is True

    assert complete_once(None, client, execution, ANSWER) is False

    done = slack.function_execution(execution)
    assert done.state is ExecutionState.FAILED and done.error == "first"


def test_outputs_slack_refuses_still_complete_the_execution_with_an_error(
    slack: SlackDouble, client: WebClient
) -> None:
    """parameter_validation_failed never leaves an execution running: it fails with a plain reason."""
    execution = slack.new_function_execution(CALLBACK_ID, required_outputs=("not_an_output_we_give",))

    assert complete_once(None, client, execution, ANSWER) is True

    done = slack.function_execution(execution)
    assert done.state is ExecutionState.FAILED and "parameter_validation_failed" in (done.error or "")


def test_slack_refusing_for_another_reason_is_raised_for_the_job_to_retry(client: WebClient) -> None:
    """An execution Slack does not know (or Slack failing) is not taken for completed."""
    with pytest.raises(SlackApiError):
        complete_once(None, client, "Fx0NOTISSUED", ANSWER)
