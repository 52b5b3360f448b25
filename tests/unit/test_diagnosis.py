"""Diagnosis and FAQ: which causes fit each finder verdict, and how the fix steps read."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from core.faq import FAQ, MAX_ANSWER_CHARS
from workers.aws.errors import AccountOutcome
from workers.lookup.diagnosis import Cause, Diagnosis, cause_title, diagnose
from workers.lookup.finding import History, KeyFinding, Unsearched, Verdict
from workers.model import Account, LastUsed, Owner

KNOWLEDGE = Path("/work/shared/knowledge/invalid-access-key-id.txt")

KEY = "AKIARZPUZDIKGB2VALC4"  # decodes to account 123456789012
TEMP_KEY = "ASIARZPUZDIKGB2VALC4"
ACCOUNT = Account("123456789012", "prod")
USER = "deploy-bot"
# The longest line a Slack reader should have to take in at once.
MAX_LINE_CHARS = 160

FOUND_ACTIVE = KeyFinding(
    KEY,
    Verdict.FOUND,
    account=ACCOUNT,
    user_name=USER,
    user_arn=f"arn:aws:iam::123456789012:user/{USER}",
    status="Active",
    created="2024-01-02T03:04:05+00:00",
    last_used=LastUsed("2024-05-06T07:08:09+00:00", "s3", "eu-west-1"),
    owner=Owner(slack_user_id="U0OWNER"),
    accounts_searched=1,
)
FOUND_INACTIVE = replace(FOUND_ACTIVE, status="Inactive")
GONE_UNKNOWN = KeyFinding(KEY, Verdict.GONE, account=ACCOUNT, accounts_searched=12)
GONE_USER_DELETED = replace(GONE_UNKNOWN, user_name=USER, notes=(f"IAM user {USER} was deleted on 2024-06-01.",))
GONE_KEY_DELETED = replace(GONE_UNKNOWN, user_name=USER, user_arn=f"arn:aws:iam::123456789012:user/{USER}")
GONE_KEY_ON_RECORD = replace(
    GONE_KEY_DELETED, history=(History("deleted", "assumed-role/Admin/carol", "2026-11-20T10:00:00Z"),)
)
NOT_FOUND = KeyFinding(KEY, Verdict.NOT_FOUND, accounts_searched=42)
OUTSIDE = KeyFinding(KEY, Verdict.OUTSIDE_ORG, account=Account("999988887777"))
TEMPORARY = KeyFinding(TEMP_KEY, Verdict.TEMPORARY, account=ACCOUNT)
INCOMPLETE = KeyFinding(
    KEY,
    Verdict.INCOMPLETE,
    accounts_searched=40,
    unsearched=(
        Unsearched(Account("111111111111", "sandbox"), AccountOutcome.ACCESS_DENIED, "no role"),
        Unsearched(Account("222222222222"), AccountOutcome.ASSUME_ROLE_FAILED, ""),
    ),
)

ALL_REPORTS = [
    FOUND_ACTIVE,
    FOUND_INACTIVE,
    GONE_UNKNOWN,
    GONE_USER_DELETED,
    GONE_KEY_DELETED,
    NOT_FOUND,
    OUTSIDE,
    TEMPORARY,
    INCOMPLETE,
    # Bare reports: every optional field unknown.
    *(KeyFinding(KEY, verdict) for verdict in Verdict),
    KeyFinding(KEY, Verdict.FOUND, status="Inactive"),
]
EXPOSED = pytest.mark.parametrize("exposed", [False, True], ids=["secret-safe", "secret-exposed"])


def all_text(d: Diagnosis) -> str:
    return "\n".join((d.headline, *d.explanation, *d.steps))


CAUSE_CASES = [
    # Active key: the key is fine, so look at how and where it is used.
    pytest.param(
        FOUND_ACTIVE,
        (Cause.NOT_CONFIGURED, Cause.WRONG_ACCOUNT, Cause.WRONG_REGION_OR_PARTITION, Cause.TYPO),
        id="found-active",
    ),
    # Unknown status on a found key reads as active: only Inactive is refused by IAM state.
    pytest.param(
        replace(FOUND_ACTIVE, status=None),
        (Cause.NOT_CONFIGURED, Cause.WRONG_ACCOUNT, Cause.WRONG_REGION_OR_PARTITION, Cause.TYPO),
        id="found-status-unknown",
    ),
    # Inactive key: its state alone explains the error.
    pytest.param(FOUND_INACTIVE, (Cause.KEY_INACTIVE,), id="found-inactive"),
    # Gone, nothing says which: the key deletion is likelier than the user's; with no deletion
    # on record, a mistyped ID that still names our account is possible too.
    pytest.param(GONE_UNKNOWN, (Cause.KEY_DELETED, Cause.USER_DELETED, Cause.TYPO), id="gone-unknown"),
    # Gone, and a note says the user was deleted: that comes first.
    pytest.param(GONE_USER_DELETED, (Cause.USER_DELETED, Cause.KEY_DELETED, Cause.TYPO), id="gone-user"),
    # Gone while the user still exists (ARN known): only the key was deleted (or it is mistyped).
    pytest.param(GONE_KEY_DELETED, (Cause.KEY_DELETED, Cause.TYPO), id="gone-key"),
    # Gone, and CloudTrail recorded the deletion: no doubt left, no typo.
    pytest.param(GONE_KEY_ON_RECORD, (Cause.KEY_DELETED,), id="gone-key-on-record"),
    # Nowhere after a full search: a typo is likeliest, then another partition, then old age.
    pytest.param(
        NOT_FOUND,
        (Cause.TYPO, Cause.WRONG_REGION_OR_PARTITION, Cause.KEY_DELETED),
        id="not-found",
    ),
    # Another organization's key.
    pytest.param(OUTSIDE, (Cause.OUTSIDE_ORG, Cause.WRONG_ACCOUNT), id="outside-org"),
    # STS credentials: token, expiry, then configuration.
    pytest.param(
        TEMPORARY,
        (Cause.MISSING_SESSION_TOKEN, Cause.KEY_EXPIRED, Cause.NOT_CONFIGURED),
        id="temporary",
    ),
    # Some accounts unreadable: no conclusion.
    pytest.param(INCOMPLETE, (Cause.UNKNOWN_INCOMPLETE,), id="incomplete"),
]


@EXPOSED
@pytest.mark.parametrize(("report", "causes"), CAUSE_CASES)
def test_causes_in_order(report: KeyFinding, causes: tuple[Cause, ...], exposed: bool) -> None:
    """Each verdict and status gives its causes in order of likelihood, leaked secret or not."""
    d = diagnose(report, secret_exposed=exposed)
    assert d.causes == causes
    assert len(d.explanation) == len(d.causes)
    assert all(line.strip() for line in d.explanation)
    assert d.steps


@EXPOSED
@pytest.mark.parametrize("report", ALL_REPORTS)
def test_key_is_fine_only_when_found_active(report: KeyFinding, exposed: bool) -> None:
    """Only a found key that is not inactive counts as fine."""
    fine = report.verdict is Verdict.FOUND and report.status != "Inactive"
    assert diagnose(report, secret_exposed=exposed).key_is_fine is fine


@EXPOSED
@pytest.mark.parametrize(
    ("report", "must_name"),
    [
        # Active: the steps tell the caller what identity to expect and which key to compare.
        pytest.param(FOUND_ACTIVE, (USER, ACCOUNT.id, KEY), id="found-active"),
        # Inactive: the reactivate/rotate commands target this user, key and account.
        pytest.param(FOUND_INACTIVE, (USER, ACCOUNT.id, KEY), id="found-inactive"),
        # Key deleted: the new key is for the same user in the same account.
        pytest.param(GONE_KEY_DELETED, (USER, ACCOUNT.id, KEY), id="gone-key"),
        # User deleted: the user's name and account are still named.
        pytest.param(GONE_USER_DELETED, (USER, ACCOUNT.id, KEY), id="gone-user"),
        # Outside: the foreign account is named so they know whom to ask.
        pytest.param(OUTSIDE, ("999988887777", KEY), id="outside-org"),
        # Temporary: the key and the issuing account.
        pytest.param(TEMPORARY, (ACCOUNT.id, TEMP_KEY), id="temporary"),
    ],
)
def test_steps_name_user_account_key(report: KeyFinding, must_name: tuple[str, ...], exposed: bool) -> None:
    """Fix steps interpolate the real user name, account ID and key ID when the report has them."""
    steps = "\n".join(diagnose(report, secret_exposed=exposed).steps)
    for value in must_name:
        assert value in steps


@EXPOSED
@pytest.mark.parametrize("report", ALL_REPORTS)
def test_no_none_and_short_lines(report: KeyFinding, exposed: bool) -> None:
    """No text says "None", every line is short, and unknown values become placeholders."""
    d = diagnose(report, secret_exposed=exposed)
    text = all_text(d)
    assert not re.search(r"\bNone\b", text)
    assert "None" not in d.headline
    for line in text.splitlines():
        assert line.strip()
        assert len(line) <= MAX_LINE_CHARS, line


@EXPOSED
def test_found_active_checks_configuration(exposed: bool) -> None:
    """An active key sends the reader to their own setup: get-caller-identity, configure list."""
    d = diagnose(FOUND_ACTIVE, secret_exposed=exposed)
    assert d.headline == "This key is active: the key itself is fine."
    steps = "\n".join(d.steps)
    for needle in ("aws sts get-caller-identity", "aws configure list", "AWS_ACCESS_KEY_ID"):
        assert needle in steps


def test_found_inactive_offers_reactivation_and_rotation() -> None:
    """An inactive key gets the console path, the CLI to reactivate, and the advice to rotate."""
    steps = "\n".join(diagnose(FOUND_INACTIVE).steps)
    assert f"IAM → Users → `{USER}` → Security credentials" in steps
    assert f"aws iam update-access-key --user-name {USER} --access-key-id {KEY} --status Active" in steps
    assert f"account {ACCOUNT.id}" in steps
    assert "why it was deactivated" in steps
    assert f"aws iam create-access-key --user-name {USER}" in steps


def test_leaked_inactive_key_is_never_reactivated() -> None:
    """When the secret leaked, an inactive key is not suggested for reactivation."""
    steps = "\n".join(diagnose(FOUND_INACTIVE, secret_exposed=True).steps)
    assert "--status Active" not in steps
    assert "never reactivate" in steps


@pytest.mark.parametrize(
    ("report", "first_words"),
    [
        # Only a note tells the user is gone: the headline says so.
        pytest.param(GONE_USER_DELETED, "The IAM user behind this key no longer exists", id="user"),
        # The user exists (ARN known): the key was deleted.
        pytest.param(GONE_KEY_DELETED, "This key was deleted from", id="key"),
        # Nothing tells which: both are named.
        pytest.param(GONE_UNKNOWN, "This key no longer exists", id="unknown"),
    ],
)
def test_gone_says_which_and_rotates(report: KeyFinding, first_words: str) -> None:
    """A gone key says whether key or user went, that it cannot come back, and how to rotate."""
    d = diagnose(report)
    assert d.headline.startswith(first_words)
    text = all_text(d)
    assert "cannot be restored" in text
    steps = "\n".join(d.steps)
    for needle in (
        "aws iam create-access-key",
        "shows it only once",
        "aws sts get-caller-identity",
    ):
        assert needle in steps


def test_not_found_mentions_search_and_lookalikes() -> None:
    """A full-search miss says how many accounts were searched and warns of lookalike characters."""
    d = diagnose(NOT_FOUND)
    text = all_text(d)
    assert "42 accounts" in d.headline
    assert "character by character" in text
    assert "`0` means `O`" in text and "`1` means `I`" in text and "`8` means `B`" in text


@EXPOSED
@pytest.mark.parametrize(
    "report",
    [
        # Two accounts could not be read.
        INCOMPLETE,
        # The owning account itself could not be read, nothing else searched.
        KeyFinding(
            KEY,
            Verdict.INCOMPLETE,
            account=ACCOUNT,
            unsearched=(Unsearched(ACCOUNT, AccountOutcome.THROTTLED, "Throttling"),),
        ),
        # Many unreadable accounts: the list is cut and summarised.
        replace(
            INCOMPLETE,
            unsearched=tuple(Unsearched(Account(f"{n:012d}"), AccountOutcome.TIMED_OUT, "") for n in range(9)),
        ),
    ],
)
def test_incomplete_never_claims_not_found(report: KeyFinding, exposed: bool) -> None:
    """An incomplete search names what it could not read and never says the key does not exist."""
    d = diagnose(report, secret_exposed=exposed)
    text = all_text(d).lower()
    for claim in ("not found", "none of", "nowhere", "does not exist", "no longer exists"):
        assert claim not in text
    assert f"{len(report.unsearched)} account" in d.headline
    assert "whose-key doctor" in text
    for item in report.unsearched[:5]:
        assert item.account.id in text
    if len(report.unsearched) > 5:
        assert "and 4 more accounts" in text


@pytest.mark.parametrize("report", ALL_REPORTS)
def test_secret_exposed_adds_rotation_steps(report: KeyFinding) -> None:
    """A pasted secret puts leak-handling steps first, naming the key."""
    safe = diagnose(report)
    leaked = diagnose(report, secret_exposed=True)
    assert len(leaked.steps) > len(safe.steps)
    assert "leaked" in leaked.steps[0] and report.key_id in leaked.steps[0]
    assert leaked.causes == safe.causes and leaked.headline == safe.headline


@pytest.mark.parametrize("report", [FOUND_ACTIVE, FOUND_INACTIVE])
def test_secret_exposed_found_key_full_rotation(report: KeyFinding) -> None:
    """For a found key the leak steps deactivate, replace, delete and audit that exact key."""
    steps = diagnose(report, secret_exposed=True).steps
    text = "\n".join(steps)
    assert f"aws iam create-access-key --user-name {USER}" in text
    assert f"aws iam delete-access-key --user-name {USER} --access-key-id {KEY}" in text
    assert "CloudTrail" in text and ACCOUNT.id in text
    if report.status == "Active":
        assert f"--access-key-id {KEY} --status Inactive" in text
    # The leak steps come before the ordinary fix steps.
    assert steps.index(next(s for s in steps if "CloudTrail" in s)) < len(steps) - 1


def test_cause_titles_are_distinct() -> None:
    """Every cause has its own non-empty title."""
    titles = [cause_title(cause) for cause in Cause]
    assert all(titles) and len(set(titles)) == len(titles)


REQUIRED_FAQ = [
    # What an access key ID is: both prefixes and the secret pairing.
    ("what is an access key id", ("AKIA", "ASIA", "secret")),
    # Why a key ID becomes invalid.
    ("why does an access key id become invalid", ("deleted",)),
    # Deleted keys cannot come back.
    ("can a deleted access key be recovered", ("No", "new key")),
    # The secret question: the ID error is not a signature error.
    ("secret access key wrong", ("SignatureDoesNotMatch",)),
]


@pytest.mark.parametrize(("question", "must_say"), REQUIRED_FAQ)
def test_faq_has_required_questions(question: str, must_say: tuple[str, ...]) -> None:
    """The FAQ answers each required question, with its key facts."""
    entry = next(e for e in FAQ if question in e.question.lower())
    for needle in must_say:
        assert needle in entry.answer


def test_faq_answers_short_and_unique() -> None:
    """Every FAQ answer fits the length limit and every question is asked once."""
    assert len(FAQ) >= 5
    assert len({e.question for e in FAQ}) == len(FAQ)
    for entry in FAQ:
        assert entry.question.endswith("?")
        assert 0 < len(entry.answer) <= MAX_ANSWER_CHARS, entry.question


def test_no_sentence_copied_from_knowledge() -> None:
    """No sentence over 40 characters of the knowledge file appears verbatim in our text."""
    if not KNOWLEDGE.exists():
        pytest.skip("knowledge file not present")
    ours = "\n".join(
        [all_text(diagnose(r, secret_exposed=e)) for r in ALL_REPORTS for e in (False, True)]
        + [f"{e.question}\n{e.answer}" for e in FAQ]
    )
    ours = " ".join(ours.lower().split())
    source = KNOWLEDGE.read_text(encoding="utf-8")
    sentences = [
        " ".join(s.lower().split())
        for line in source.splitlines()
        for s in re.split(r"(?<=[.!?])\s+", line.lstrip("- 0123456789"))
    ]
    copied = [s for s in sentences if len(s) > 40 and s in ours]
    assert not copied
