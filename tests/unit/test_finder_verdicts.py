"""The finder's verdict table: every outcome it tells apart, driven through an organization held
in moto (tests/support/moto_world.py) behind the production AWS gateway, with the real
organization cache, CloudTrail reader and enricher on top. The table runs once per way IAM may
answer for a key the calling account does not hold (moto's lenient answers and the strict ones),
and gives the same verdicts in each."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from botocore.exceptions import ReadTimeoutError

from standins.aws_proxy.strict_iam import MODES as IAM_MODES
from standins.keys import synthesize_key_id
from tests.support.moto_world import ADMIN_ACTOR, MotoWorld
from workers.aws.cloudtrail import CloudTrailReader
from workers.aws.errors import AccountOutcome, AwsCallError
from workers.aws.iam_keys import get_key_status
from workers.aws.organization import Organization
from workers.cache import MemoryCache
from workers.lookup.enrich import Enricher
from workers.lookup.finder import Finder
from workers.lookup.finding import KeyFinding, Verdict

# The organization's accounts, by name (moto gives them their IDs).
MANAGEMENT = "management"
PROD = "acme-prod"
DEV = "acme-dev"
SANDBOX = "acme-sandbox"
RETIRED = "acme-retired"  # a suspended account, in the listing but unusable
FOREIGN = "999988887777"  # an account outside the organization, by ID
ORG_SIZE = 4  # management, prod, dev, sandbox

# Old-format key IDs (fifth character I or J) carry no account: only sts:GetAccessKeyInfo can place them.
OLD_FORMAT_KEY = "AKIAIOSFODNN7EXAMPLE"
_rng = random.Random(7)  # noqa: S311 - repeatable key IDs
FOREIGN_KEY = synthesize_key_id(FOREIGN, rng=_rng)
FOREIGN_TEMPORARY_KEY = synthesize_key_id(FOREIGN, "ASIA", rng=_rng)


@contextmanager
def organization() -> Iterator[MotoWorld]:
    """A small organization: management (the hub), prod, dev and sandbox, with tagged users."""
    with MotoWorld() as world:
        for name in (PROD, DEV, SANDBOX):
            world.add_account(name)
        world.add_user(world.ids[PROD], "deploy-bot", {"slack-user-id": "U0PLATFRM"})
        world.add_user(world.ids[PROD], "alice", {"Email": "alice@example.com"})
        world.add_user(world.management_id, "break-glass", {"owner": "secops@example.com"})
        world.add_user(world.ids[DEV], "ci-runner")
        yield world


@pytest.fixture
def aws() -> Iterator[MotoWorld]:
    """The organization, with IAM answering as moto does."""
    with organization() as world:
        yield world


def finder_for(aws: MotoWorld) -> Finder:
    """The production finder, organization cache and enricher, on the world's gateway."""
    gateway = aws.gateway
    # No spacing of CloudTrail calls: the emulated CloudTrail has no rate to respect.
    trail = CloudTrailReader(lambda account: gateway.client(account, "cloudtrail", "us-east-1"), sleep=lambda _: None)
    return Finder(gateway, Organization(gateway, MemoryCache()), Enricher(gateway, trail))


def id_of(aws: MotoWorld, account: str | None) -> str | None:
    """The ID of one of the organization's accounts by name; an ID (FOREIGN) as it is."""
    return aws.ids.get(account, account) if account is not None else None


# -- arranging each situation: each returns the key ID asked about ------------------------------


def active_key(aws: MotoWorld) -> str:
    return aws.add_key(aws.ids[PROD], "deploy-bot")


def inactive_key(aws: MotoWorld) -> str:
    key_id = aws.add_key(aws.ids[PROD], "alice")
    aws.deactivate_key(aws.ids[PROD], key_id)
    return key_id


def management_key(aws: MotoWorld) -> str:
    return aws.add_key(aws.management_id, "break-glass")


def old_format_key_in_dev(aws: MotoWorld) -> str:
    return aws.add_key(aws.ids[DEV], "ci-runner", key_id=OLD_FORMAT_KEY)


def foreign_key(aws: MotoWorld) -> str:
    return FOREIGN_KEY


def deleted_key(aws: MotoWorld) -> str:
    key_id = aws.add_key(aws.ids[PROD], "deploy-bot")
    aws.delete_key(aws.ids[PROD], key_id)
    return key_id


def key_of_deleted_user(aws: MotoWorld) -> str:
    aws.add_user(aws.ids[PROD], "contractor", {"slack-user-id": "U0CONTRACT"})
    key_id = aws.add_key(aws.ids[PROD], "contractor")
    aws.delete_user(aws.ids[PROD], "contractor")
    return key_id


def key_deleted_long_ago(aws: MotoWorld) -> str:
    key_id = aws.add_key(aws.ids[PROD], "deploy-bot")
    aws.delete_key(aws.ids[PROD], key_id, days_ago=100)  # past CloudTrail's 90 days
    return key_id


def deleted_key_with_cloudtrail_denied(aws: MotoWorld) -> str:
    aws.fail(aws.ids[PROD], "LookupEvents", "AccessDeniedException")
    return deleted_key(aws)


def unplaceable_old_key(aws: MotoWorld) -> str:
    aws.fail(aws.management_id, "GetAccessKeyInfo", "AccessDenied")  # e.g. an SCP denies it to the hub
    return OLD_FORMAT_KEY


def temporary_key(aws: MotoWorld) -> str:
    return aws.key_id_for(aws.ids[PROD], "ASIA")


def foreign_temporary_key(aws: MotoWorld) -> str:
    return FOREIGN_TEMPORARY_KEY


def key_in_dev_whose_role_is_denied(aws: MotoWorld) -> str:
    key_id = aws.add_key(aws.ids[DEV], "ci-runner")
    aws.fail_assume_role(aws.ids[DEV])
    return key_id


def key_in_dev_throttled(aws: MotoWorld) -> str:
    key_id = aws.add_key(aws.ids[DEV], "ci-runner")
    aws.fail(aws.ids[DEV], "GetAccessKeyLastUsed", "Throttling")
    return key_id


def deny_iam(aws: MotoWorld, account: str) -> None:
    """A role that cannot read IAM in the account at all: the key lookup and the user listing denied.
    (AccessDenied on the key lookup alone is how strict IAM answers for a key of another account.)"""
    aws.fail(aws.ids[account], "GetAccessKeyLastUsed", "AccessDenied")
    aws.fail(aws.ids[account], "ListUsers", "AccessDenied")


def search_with_unreadable_accounts(aws: MotoWorld) -> str:
    aws.add_account(RETIRED, status="SUSPENDED")
    deny_iam(aws, DEV)
    aws.fail(aws.ids[SANDBOX], "GetAccessKeyLastUsed", ReadTimeoutError(endpoint_url="https://iam.amazonaws.com/"))
    return unplaceable_old_key(aws)


def deleted_key_with_an_unreadable_account(aws: MotoWorld) -> str:
    deny_iam(aws, SANDBOX)
    return deleted_key(aws)


def foreign_looking_key_kept_in_dev(aws: MotoWorld) -> str:
    return aws.add_key(aws.ids[DEV], "ci-runner", key_id=FOREIGN_KEY)


def key_in_prod_and_a_namesake_in_dev(aws: MotoWorld) -> str:
    aws.add_user(aws.ids[DEV], "deploy-bot")  # same user name, other keys: must not be taken for the owner
    aws.add_key(aws.ids[DEV], "deploy-bot")
    return aws.add_key(aws.ids[PROD], "deploy-bot")


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    arrange: Callable[[MotoWorld], str]
    verdict: Verdict
    account: str | None = None  # the account the answer names
    deep: bool = False
    status: str | None = None
    user: str | None = None
    owner: str | None = None  # Slack member ID, else email
    searched: int | None = None  # accounts_searched
    unsearched: tuple[tuple[str, AccountOutcome, str], ...] = ()  # account, outcome, part of the reason
    note: str | None = None  # part of one of the notes
    history: tuple[str, ...] = ()  # what CloudTrail told, in order
    user_deleted: bool | None = None
    management: bool = False
    iam_read: frozenset[str] | None = None  # the accounts whose IAM was called; None: not checked


CASES = {
    # The fast path: the key names its account; three IAM calls there, nowhere else.
    "found-active": Case(active_key, Verdict.FOUND, PROD, status="Active", user="deploy-bot", owner="U0PLATFRM",
                         searched=1, iam_read=frozenset({PROD})),
    # Inactive keys are found too, with who deactivated them from CloudTrail.
    "found-inactive": Case(inactive_key, Verdict.FOUND, PROD, status="Inactive", user="alice",
                           owner="alice@example.com", searched=1, history=("deactivated",),
                           iam_read=frozenset({PROD})),
    # The management account is read with the hub's own credentials, and flagged.
    "found-in-management": Case(management_key, Verdict.FOUND, MANAGEMENT, status="Active", user="break-glass",
                                owner="secops@example.com", searched=1, management=True,
                                iam_read=frozenset({MANAGEMENT})),
    # An old-format key is placed by sts:GetAccessKeyInfo, then read in that account only.
    "found-old-format-via-sts": Case(old_format_key_in_dev, Verdict.FOUND, DEV, status="Active", user="ci-runner",
                                     searched=1, iam_read=frozenset({DEV})),
    # A key of a foreign account is named as such without reading any account.
    "outside-org": Case(foreign_key, Verdict.OUTSIDE_ORG, FOREIGN, iam_read=frozenset()),
    # Its account is ours but the key is nowhere: gone, with who deleted it; the user still exists.
    "gone-key-deleted": Case(deleted_key, Verdict.GONE, PROD, user="deploy-bot", searched=ORG_SIZE,
                             history=("deleted",), user_deleted=False),
    # The key went with its user: both deletions are told.
    "gone-user-deleted": Case(key_of_deleted_user, Verdict.GONE, PROD, user="contractor", searched=ORG_SIZE,
                              history=("deleted", "user_deleted"), user_deleted=True),
    # CloudTrail no longer has the deletion: still gone, saying who did it is unknown.
    "gone-before-cloudtrail-remembers": Case(key_deleted_long_ago, Verdict.GONE, PROD, searched=ORG_SIZE,
                                             note="has no record of who deleted it in the last 90 days"),
    # CloudTrail cannot be read: still gone, with one note saying why the who and when are missing.
    "gone-cloudtrail-denied": Case(deleted_key_with_cloudtrail_denied, Verdict.GONE, PROD, searched=ORG_SIZE,
                                   note="CloudTrail could not be read in account {PROD} (AccessDeniedException)"),
    # Nothing can place the key and no account holds it: not found, after reading every account.
    "not-found-after-full-search": Case(unplaceable_old_key, Verdict.NOT_FOUND, None, searched=ORG_SIZE,
                                        note="sts:GetAccessKeyInfo could not name the key's account",
                                        iam_read=frozenset({MANAGEMENT, PROD, DEV, SANDBOX})),
    # ASIA credentials belong to a session, not a user: no IAM lookup at all.
    "temporary": Case(temporary_key, Verdict.TEMPORARY, PROD, iam_read=frozenset()),
    # A temporary key of a foreign account says so.
    "temporary-outside-org": Case(foreign_temporary_key, Verdict.TEMPORARY, FOREIGN,
                                  note=f"Account {FOREIGN} is not part of this AWS Organization.",
                                  iam_read=frozenset()),
    # The owning account cannot be read: incomplete, naming it and why; no other account can hold it.
    "incomplete-owning-account-role-denied": Case(
        key_in_dev_whose_role_is_denied, Verdict.INCOMPLETE, DEV, searched=0,
        unsearched=((DEV, AccountOutcome.ASSUME_ROLE_FAILED, "could not assume the role"),), iam_read=frozenset()),
    # Throttled past the retries: incomplete, never "not found".
    "incomplete-owning-account-throttled": Case(
        key_in_dev_throttled, Verdict.INCOMPLETE, DEV, searched=0,
        unsearched=((DEV, AccountOutcome.THROTTLED, "Throttling"),)),
    # A full search with unreadable accounts lists each with its reason; the rest were read.
    "incomplete-full-search": Case(
        search_with_unreadable_accounts, Verdict.INCOMPLETE, None, searched=2,
        unsearched=((DEV, AccountOutcome.ACCESS_DENIED, "AccessDenied"),
                    (SANDBOX, AccountOutcome.TIMED_OUT, "did not answer in time"),
                    (RETIRED, AccountOutcome.SUSPENDED, "suspended"))),
    # Missing from its own account but another account was unreadable: incomplete, not gone.
    "incomplete-not-gone": Case(deleted_key_with_an_unreadable_account, Verdict.INCOMPLETE, PROD,
                                searched=ORG_SIZE - 1,
                                unsearched=((SANDBOX, AccountOutcome.ACCESS_DENIED, "AccessDenied"),)),
    # Without deep, a key whose ID names a foreign account is not looked for in ours...
    "foreign-id-without-deep": Case(foreign_looking_key_kept_in_dev, Verdict.OUTSIDE_ORG, FOREIGN,
                                    iam_read=frozenset()),
    # ...with deep, every account is read and the key is found where it really is.
    "deep-finds-it-elsewhere": Case(foreign_looking_key_kept_in_dev, Verdict.FOUND, DEV, deep=True,
                                    status="Active", user="ci-runner"),
    # A deep search for a foreign key reads every account and says the account is not ours.
    "deep-not-found": Case(foreign_key, Verdict.NOT_FOUND, FOREIGN, deep=True, searched=ORG_SIZE,
                           note=f"Account {FOREIGN} is not part of this AWS Organization.",
                           iam_read=frozenset({MANAGEMENT, PROD, DEV, SANDBOX})),
    # Where IAM answers for other accounts' keys (moto does), a namesake user elsewhere is not the
    # owner: only the account whose user lists the key owns it.
    "deep-confirms-in-the-users-key-list": Case(key_in_prod_and_a_namesake_in_dev, Verdict.FOUND, PROD,
                                                deep=True, status="Active", user="deploy-bot", owner="U0PLATFRM"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_verdict(case: Case) -> None:
    """However IAM answers for keys an account does not hold, the finder reaches the case's verdict,
    naming the account, owner, searched and unsearched accounts."""
    assert IAM_MODES[0] == "moto"
    with organization() as aws:
        key_id = case.arrange(aws)
        for iam_mode in IAM_MODES:
            aws.answer_as(iam_mode)
            report = finder_for(aws).find(key_id, deep=case.deep)
            try:
                check_report(aws, case, key_id, report)
            except AssertionError as failed:
                raise AssertionError(f"IAM answering as {iam_mode!r}: {failed}") from failed
            if not aws.mode_sensitive_calls:
                break  # nothing was asked whose answer another mode would change: same calls, same report


def check_report(aws: MotoWorld, case: Case, key_id: str, report: KeyFinding) -> None:
    """The report says what the case expects."""
    names = {account_id: account.name for account_id, account in aws.accounts.items()}
    assert report.key_id == key_id
    assert report.verdict is case.verdict
    assert (report.account.id if report.account else None) == id_of(aws, case.account)
    assert report.status == case.status
    assert report.user_name == case.user
    assert (report.owner.slack_user_id or report.owner.email) == case.owner
    if case.searched is not None:
        assert report.accounts_searched == case.searched
    assert sorted((names[u.account.id], u.outcome) for u in report.unsearched) == sorted(
        (account, outcome) for account, outcome, _ in case.unsearched
    )
    for account, _, reason in case.unsearched:
        detail = next(u.detail for u in report.unsearched if names[u.account.id] == account)
        assert reason in detail
    if case.note is not None:
        note = case.note.format(PROD=aws.ids[PROD])
        assert any(note in told for told in report.notes), report.notes
    assert tuple(h.action for h in report.history) == case.history
    assert all(h.actor == ADMIN_ACTOR for h in report.history)
    assert report.user_deleted is case.user_deleted
    assert report.management_account is case.management
    if case.iam_read is not None:
        assert {a.name for a in aws.accounts.values() if a.calls_to("iam")} == case.iam_read


def test_every_verdict_is_in_the_table() -> None:
    """The table covers every verdict the finder can give."""
    assert {case.verdict for case in CASES.values()} == set(Verdict)


def test_found_key_costs_four_iam_calls_in_its_own_account(aws: MotoWorld) -> None:
    """A found key costs GetAccessKeyLastUsed, then ListAccessKeys, GetUser and ListAttachedUserPolicies (is
    the user quarantined?) in its account, and nothing elsewhere."""
    key_id = active_key(aws)
    finder_for(aws).find(key_id)
    calls = aws.accounts[aws.ids[PROD]].calls
    assert calls[0] == "iam:GetAccessKeyLastUsed"
    assert sorted(calls[1:]) == ["iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies"]
    assert not any(aws.accounts[aws.ids[a]].calls for a in (DEV, SANDBOX))


def test_denied_accounts_get_a_fresh_session_next_time(aws: MotoWorld) -> None:
    """An account whose role or IAM was denied has its cached session forgotten, so the next lookup assumes afresh."""
    finder_for(aws).find(key_in_dev_whose_role_is_denied(aws))
    deny_iam(aws, SANDBOX)
    finder_for(aws).find(OLD_FORMAT_KEY)  # no account holds it: the hub first, then every other account
    assert aws.forgotten.count(aws.ids[DEV]) == 2 and aws.forgotten.count(aws.ids[SANDBOX]) == 1
    assert aws.ids[PROD] not in aws.forgotten


def test_full_search_reports_progress_per_account(aws: MotoWorld) -> None:
    """A full search calls on_progress once per account, counting up to the number of accounts."""
    seen: list[tuple[int, int]] = []
    finder_for(aws).find(FOREIGN_KEY, deep=True, on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(n, ORG_SIZE) for n in range(1, ORG_SIZE + 1)]


def test_unreadable_organization_raises_instead_of_guessing(aws: MotoWorld) -> None:
    """When Organizations cannot be listed, find raises the classified error: no per-key answer is made up."""
    aws.fail(aws.management_id, "ListAccounts", "AccessDeniedException")
    with pytest.raises(AwsCallError) as raised:
        finder_for(aws).find(active_key(aws))
    assert raised.value.outcome is AccountOutcome.ACCESS_DENIED


def test_report_round_trips_through_its_dict(aws: MotoWorld) -> None:
    """A finder's report survives to_dict/from_dict (how it travels through Redis) unchanged."""
    report = finder_for(aws).find(key_of_deleted_user(aws))
    assert KeyFinding.from_dict(report.to_dict()) == report


def test_a_refused_key_lookup_in_a_readable_account_is_confirmed_by_listing(aws: MotoWorld) -> None:
    """AccessDenied on GetAccessKeyLastUsed alone (strict IAM, key of another account) is checked by
    listing that account's users and keys: the key is not there, so the answer is final, not incomplete."""
    aws.fail(aws.ids[SANDBOX], "GetAccessKeyLastUsed", "AccessDenied")
    report = finder_for(aws).find(FOREIGN_KEY, deep=True)
    assert report.verdict is Verdict.NOT_FOUND
    assert report.unsearched == ()
    assert "iam:ListUsers" in aws.accounts[aws.ids[SANDBOX]].calls


def test_key_status_survives_iam_refusing_the_key_lookup(aws: MotoWorld) -> None:
    """When IAM refuses GetAccessKeyLastUsed (strict IAM, a key the account lacks), the users' key lists
    decide: a present key is found with its status, a deleted one reads as absent."""
    key_id = active_key(aws)
    aws.fail(aws.ids[PROD], "GetAccessKeyLastUsed", "AccessDenied")
    iam = aws.gateway.client(aws.ids[PROD], "iam")
    found = get_key_status(iam, key_id, hint_user="someone-else")
    assert found is not None and found.status == "Active"
    assert get_key_status(iam, FOREIGN_KEY) is None
    assert "iam:ListUsers" in aws.accounts[aws.ids[PROD]].calls
