"""Rendering: every verdict as Slack Block Kit within Slack's limits, the verdict first, numbered
fix steps, no secrets and no "None", and a terminal version free of Slack markup."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from core.blockkit import Message
from core.faq import FAQ, render_faq
from core.parse import parse_command
from core.secrets import contains_secret
from workers.aws.errors import AccountOutcome
from workers.lookup.diagnosis import diagnose
from workers.lookup.finding import KeyFinding, Unsearched, Verdict
from workers.model import Account, LastUsed, Owner
from workers.render.answer import LEAK_WARNING, render_answer, render_failure
from workers.render.terminal import render_terminal

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
KEY = "AKIARZPUZDIKGB2VALC4"  # decodes to account 123456789012
TEMP_KEY = "ASIARZPUZDIKGB2VALC4"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = Account("123456789012", "prod")
USER = "deploy-bot"

# Slack's documented limits.
MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_BUTTON_TEXT = 75

FOUND_ACTIVE = KeyFinding(
    KEY,
    Verdict.FOUND,
    account=ACCOUNT,
    user_name=USER,
    user_arn=f"arn:aws:iam::123456789012:user/{USER}",
    status="Active",
    created="2024-01-02T03:04:05+00:00",
    last_used=LastUsed("2024-05-06T07:08:09+00:00", "s3", "eu-west-1"),
    owner=Owner(slack_user_id="U0OWNER", source="slack-user-id"),
    accounts_searched=1,
)
FOUND_INACTIVE = replace(FOUND_ACTIVE, status="Inactive", owner=Owner(email="owner@example.com", source="Email"))
OUTSIDE = KeyFinding(
    KEY,
    Verdict.OUTSIDE_ORG,
    account=Account("999988887777"),
    notes=("Account 999988887777 is not part of this AWS Organization.",),
)
GONE = KeyFinding(
    KEY,
    Verdict.GONE,
    account=ACCOUNT,
    user_name=USER,
    accounts_searched=12,
    notes=(f"IAM user {USER} was deleted on 2024-05-30.",),
)
NOT_FOUND = KeyFinding(KEY, Verdict.NOT_FOUND, accounts_searched=42)
TEMPORARY = KeyFinding(TEMP_KEY, Verdict.TEMPORARY, account=ACCOUNT)
_OUTCOMES = [AccountOutcome.ACCESS_DENIED, AccountOutcome.ASSUME_ROLE_FAILED, AccountOutcome.THROTTLED]
INCOMPLETE = KeyFinding(
    KEY,
    Verdict.INCOMPLETE,
    accounts_searched=60,
    unsearched=tuple(
        Unsearched(
            Account(f"{100000000000 + n}", f"member-account-{n:02d}"),
            _OUTCOMES[n % len(_OUTCOMES)],
            "AccessDenied calling sts:AssumeRole on role/whose-key-reader: the role's trust policy does not "
            "name the hub account",
        )
        for n in range(40)
    ),
)

REPORTS = pytest.mark.parametrize(
    "report",
    [
        pytest.param(FOUND_ACTIVE, id="found-active"),
        pytest.param(FOUND_INACTIVE, id="found-inactive"),
        pytest.param(OUTSIDE, id="outside-org"),
        pytest.param(GONE, id="gone"),
        pytest.param(NOT_FOUND, id="not-found"),
        pytest.param(TEMPORARY, id="temporary"),
        pytest.param(INCOMPLETE, id="incomplete-40-unsearched"),
    ],
)
EXPOSED = pytest.mark.parametrize("exposed", [False, True], ids=["secret-safe", "secret-exposed"])


def key_number(n: int) -> str:
    """The nth of a family of distinct well-formed AKIA keys."""
    return "AKIA" + base64.b32encode(n.to_bytes(10, "big")).decode()


def long_named_report(n: int) -> KeyFinding:
    """A FOUND report with names as long as IAM and Organizations allow."""
    user = f"platform-deployment-pipeline-service-account-{n:02d}-eu-west-1-prod"[:64]
    return KeyFinding(
        key_number(n),
        Verdict.FOUND,
        account=Account(f"{200000000000 + n}", f"acme-payments-production-workload-eu-west-1-{n:02d}"[:50]),
        user_name=user,
        user_arn=f"arn:aws:iam::{200000000000 + n}:user/teams/payments/ci-cd/{user}",
        status="Active" if n % 2 else "Inactive",
        created="2019-01-02T03:04:05+00:00",
        last_used=LastUsed("2024-05-06T07:08:09+00:00", "secretsmanager", "eu-west-1"),
        owner=Owner(email=f"payments-platform-on-call-rotation-{n:02d}@engineering.example.com"),
        accounts_searched=120,
        notes=("CloudTrail in that account has no record of who created it in the last 90 days.",),
    )


TEN_LONG = [long_named_report(n) for n in range(10)]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every dict inside a Block Kit structure, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def block_text(block: dict[str, Any]) -> str:
    """All the text one block shows."""
    return "\n".join(n["text"] for n in walk(block) if n.get("type") in ("mrkdwn", "plain_text"))


def assert_valid_message(message: Message) -> str:
    """Check Slack's limits and our own rules on a message; return it as JSON for further checks."""
    dumped = json.dumps(message.payload(), ensure_ascii=False)  # JSON-serialisable, or this raises
    assert 0 < len(message.blocks) <= MAX_BLOCKS
    for node in walk(message.blocks):
        kind = node.get("type")
        if kind in ("mrkdwn", "plain_text"):
            assert 0 < len(node["text"]) <= MAX_TEXT
        if kind == "section":
            assert "text" in node or "fields" in node
            fields = node.get("fields", [])
            assert len(fields) <= MAX_FIELDS
            assert all(len(f["text"]) <= MAX_FIELD_TEXT for f in fields)
        if kind == "button":
            assert len(node["text"]["text"]) <= MAX_BUTTON_TEXT
    assert message.text.strip(), "the fallback text is what notifications show"
    assert not re.search(r"\bNone\b", dumped), "an unknown value rendered as None"
    assert not contains_secret(dumped), "a secret-shaped string in the message"
    return dumped


def numbered_steps(message: Message) -> list[str]:
    """The fix steps of a one-key answer, checked to be numbered 1., 2., ... in order."""
    sections = [block_text(b) for b in message.blocks if block_text(b).startswith("*What to do*")]
    assert len(sections) == 1
    lines = sections[0].split("\n")[1:]
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"{number}. "), line
    return [line.split(". ", 1)[1] for line in lines]


@REPORTS
@EXPOSED
def test_answer_within_slack_limits(report: KeyFinding, exposed: bool) -> None:
    """Every verdict renders within Slack's limits, JSON-safe, with no "None" and a fallback naming the key."""
    message = render_answer([report], NOW, secret_exposed=exposed)
    dumped = assert_valid_message(message)
    assert report.key_id in message.text
    assert report.key_id in dumped


@REPORTS
def test_verdict_comes_first(report: KeyFinding) -> None:
    """The first block is the verdict: it names the key (and, when found, its user, owner and status)."""
    first = block_text(render_answer([report], NOW).blocks[0])
    assert report.key_id in first
    if report.verdict is Verdict.FOUND:
        assert USER in first
        assert ACCOUNT.id in first
        assert report.status is not None and report.status in first
        assert ("<@U0OWNER>" if report.owner.slack_user_id else "owner@example.com") in first


@pytest.mark.parametrize("report", [FOUND_ACTIVE, FOUND_INACTIVE], ids=["active", "inactive"])
def test_found_fallback_names_owner_account_and_status(report: KeyFinding) -> None:
    """For a found key the plain-text fallback alone says whose it is, where, and whether it is on."""
    text = render_answer([report], NOW).text
    assert KEY in text
    assert USER in text
    assert ACCOUNT.id in text
    assert report.status is not None and report.status in text
    assert (report.owner.slack_user_id or report.owner.email or "") in text


@REPORTS
@EXPOSED
def test_fix_steps_numbered_in_order(report: KeyFinding, exposed: bool) -> None:
    """The fix steps are numbered from 1 in the diagnosis's order, all of them for a single key."""
    message = render_answer([report], NOW, secret_exposed=exposed)
    assert numbered_steps(message) == list(diagnose(report, secret_exposed=exposed).steps)


@REPORTS
def test_secret_warning_comes_first(report: KeyFinding) -> None:
    """With a pasted secret the leak warning is the first block, the fallback says so, and rotation comes first."""
    message = render_answer([report], NOW, secret_exposed=True)
    assert block_text(message.blocks[0]) == LEAK_WARNING
    assert "rotate" in message.text.split("\n")[0]
    assert "leaked" in numbered_steps(message)[0]


def test_parsed_secret_never_reaches_the_answer() -> None:
    """Text with a secret, parsed and rendered as the job does, shows the problems but never the secret."""
    parsed = parse_command(f"{KEY} AKIAIOSFODNN7EXAMPL aws_secret_access_key={SECRET}")
    assert parsed.secret_pasted
    message = render_answer(
        [FOUND_ACTIVE], NOW, secret_exposed=parsed.secret_pasted, problems=[p.reason for p in parsed.problems]
    )
    dumped = assert_valid_message(message)
    assert SECRET not in dumped and SECRET not in message.text
    assert "19 characters long" in dumped
    assert block_text(message.blocks[0]) == LEAK_WARNING


@EXPOSED
def test_ten_keys_with_long_names_within_limits(exposed: bool) -> None:
    """Ten keys with maximal names fit Slack's limits and the fallback lists every key."""
    message = render_answer(TEN_LONG, NOW, secret_exposed=exposed)
    assert_valid_message(message)
    for report in TEN_LONG:
        assert report.key_id in message.text


def test_every_verdict_at_once_within_limits() -> None:
    """One answer holding every kind of verdict, INCOMPLETE's 40 accounts included, stays within limits."""
    reports = [FOUND_ACTIVE, FOUND_INACTIVE, OUTSIDE, GONE, NOT_FOUND, TEMPORARY, INCOMPLETE]
    message = render_answer(reports, NOW, secret_exposed=True, problems=["`AKIA123` is 7 characters long."])
    assert_valid_message(message)


def test_ten_keys_every_verdict_shown() -> None:
    """With ten keys every key's verdict still appears in the blocks, not only in the fallback."""
    dumped = json.dumps(render_answer(TEN_LONG, NOW).blocks)
    assert [r.key_id for r in TEN_LONG if r.key_id not in dumped] == []


def test_many_problems_do_not_hide_the_answer() -> None:
    """However many skipped-token problems come along, the key's verdict is still shown."""
    problems = [f"`AKIA{n:04d}` is 8 characters long; access key IDs are exactly 20." for n in range(60)]
    message = render_answer([FOUND_ACTIVE], NOW, problems=problems)
    assert_valid_message(message)
    assert any(USER in block_text(b) and "Active" in block_text(b) for b in message.blocks)


def test_found_with_unknown_fields_never_says_none() -> None:
    """A FOUND report missing its user and status renders without the word None."""
    assert_valid_message(render_answer([KeyFinding(KEY, Verdict.FOUND)], NOW))


def test_faq_within_limits() -> None:
    """The FAQ message fits Slack's limits and carries every question."""
    message = render_faq()
    dumped = assert_valid_message(message)
    for entry in FAQ:
        assert entry.question in dumped
        assert entry.question in message.text


@pytest.mark.parametrize(
    "keys",
    [
        [KEY],  # one key
        [KEY, TEMP_KEY],  # several keys
        [key_number(n) for n in range(10)],  # the most a request holds
    ],
)
def test_failure_names_keys_and_reason(keys: list[str]) -> None:
    """When the lookup cannot run, the message names every key and the reason, in blocks and fallback."""
    reason = "the AWS Organization could not be read: AccessDenied on organizations:ListAccounts."
    message = render_failure(keys, reason)
    dumped = assert_valid_message(message)
    for key in keys:
        assert key in dumped
        assert key in message.text
    assert reason in dumped
    assert reason in message.text


SLACK_MARKUP = ("*", "`", "<@", "<!", "<#")
SLACK_OWNER = Owner(slack_user_id="U0OWNER", email="owner@example.com", source="slack-user-id")


@pytest.mark.parametrize(
    "report",
    [
        pytest.param(FOUND_ACTIVE, id="found-active"),
        pytest.param(FOUND_INACTIVE, id="found-inactive"),
        pytest.param(OUTSIDE, id="outside-org"),
        pytest.param(GONE, id="gone"),
        pytest.param(NOT_FOUND, id="not-found"),
        pytest.param(TEMPORARY, id="temporary"),
        pytest.param(INCOMPLETE, id="incomplete-40-unsearched"),
        pytest.param(
            replace(FOUND_INACTIVE, owner=SLACK_OWNER),
            id="found-inactive-slack-owner",
        ),
        pytest.param(
            replace(GONE, owner=SLACK_OWNER),
            id="gone-user-deleted-slack-owner",
        ),
    ],
)
@EXPOSED
def test_terminal_has_no_slack_markup(report: KeyFinding, exposed: bool) -> None:
    """The terminal answer is plain text: no bold, no code ticks, no Slack mentions or links."""
    out = render_terminal([report], NOW, secret_exposed=exposed)
    assert report.key_id in out
    for markup in SLACK_MARKUP:
        assert markup not in out, f"{markup!r} in terminal output"
    assert not re.search(r"\bNone\b", out)


def test_terminal_numbers_steps_and_names_owner() -> None:
    """The terminal answer names user, account and status and numbers its steps from 1."""
    out = render_terminal([FOUND_ACTIVE], NOW)
    assert USER in out and ACCOUNT.id in out and "Active" in out
    numbered = [line.strip() for line in out.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert [line.split(".", 1)[0] for line in numbered] == [str(n) for n in range(1, len(numbered) + 1)]
    assert len(numbered) == len(diagnose(FOUND_ACTIVE).steps)
