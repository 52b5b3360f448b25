"""Find an access key in the organization and say what is known about it.

Fast path: the key ID names its account (offline decode, or sts:GetAccessKeyInfo for old
keys), so a found key costs GetAccessKeyLastUsed + ListAccessKeys + GetUser in that account,
plus an AssumeRole that is cached for the hour. The full search runs only when the fast path
cannot decide, and costs about two calls per account whatever the number of users.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Protocol

from core.keyids import account_from_key_id, is_temporary
from workers.aws import (
    AwsCallError,
    AwsGateway,
    get_key_account,
    get_key_last_used,
    get_user,
    get_user_access_keys,
    start_counting_calls,
)
from workers.cache import JsonCache
from workers.cloudtrail import CloudTrailReader
from workers.enrich import Enricher
from workers.full_search import FullSearchRefused
from workers.org import Organization
from workers.owners import owner_from_tags
from workers.report import (
    Account,
    AccountOutcome,
    KeyReport,
    Unsearched,
    Verdict,
)

# Accounts searched at once in a full search: enough to hide latency, few enough to stay
# under IAM's per-account and STS's per-hub request rates.
SEARCH_CONCURRENCY = 16

ProgressCallback = Callable[[int, int], None]


class SearchGate(Protocol):
    """What a full search passes before it starts (budget, workspace slots); see workers.full_search."""

    def full_search(self, key_id: str) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class AccountLook:
    """The result of looking for the key in one account."""

    account: Account
    outcome: AccountOutcome
    report: KeyReport | None = None
    detail: str = ""

    def unsearched(self) -> Unsearched:
        return Unsearched(self.account, self.outcome, self.detail)


class Finder:
    def __init__(self, gateway: AwsGateway, org: Organization, enricher: Enricher | None = None) -> None:
        self.gateway = gateway
        self.org = org
        self.enricher = enricher

    def find(
        self,
        key_id: str,
        *,
        deep: bool = False,
        on_progress: ProgressCallback | None = None,
        gate: SearchGate | None = None,
    ) -> KeyReport:
        """Everything the organization can tell about key_id. Raises AwsCallError only when the
        organization itself cannot be read (then no per-key answer is possible)."""
        stats = start_counting_calls()
        report = self._find(key_id, deep, on_progress, gate)
        if self.enricher is not None:
            report = self.enricher.enrich(report)
        return replace(report, aws_calls=stats.calls, aws_seconds=round(stats.seconds, 4))

    def _find(
        self, key_id: str, deep: bool, on_progress: ProgressCallback | None, gate: SearchGate | None
    ) -> KeyReport:
        account_id, hint_note = self._owning_account(key_id)
        accounts = self.org.accounts(must_include=account_id)

        if is_temporary(key_id):
            account = accounts.get(account_id or "") or (Account(account_id) if account_id else None)
            return KeyReport(
                key_id, Verdict.TEMPORARY, account=account, notes=_notes(hint_note, _outside(account_id, accounts))
            )

        if account_id is not None and account_id not in accounts and not deep:
            return KeyReport(key_id, Verdict.OUTSIDE_ORG, account=Account(account_id), notes=_notes(hint_note))

        first_look: AccountLook | None = None
        if account_id in accounts and not deep:
            first_look = self.look_in(accounts[account_id], key_id)
            if first_look.report is not None:
                return first_look.report
            if not first_look.outcome.searched:
                # Could not read the owning account: say so rather than search elsewhere,
                # because no other account can hold this key.
                return KeyReport(
                    key_id,
                    Verdict.INCOMPLETE,
                    account=accounts[account_id],
                    accounts_searched=0,
                    unsearched=(first_look.unsearched(),),
                    notes=_notes(hint_note),
                )

        # The fast path could not decide: search every account (but the one already read).
        skip = {first_look.account.id} if first_look else set()
        rest = [a for a in accounts.values() if a.id not in skip]
        try:
            with gate.full_search(key_id) if gate is not None else contextlib.nullcontext():
                looks = self.search(rest, key_id, on_progress)
        except FullSearchRefused as refused:
            # Not searched is not "not there": the answer says the search did not run, and why.
            return KeyReport(
                key_id,
                Verdict.INCOMPLETE,
                account=accounts.get(account_id or "") or (Account(account_id) if account_id else None),
                accounts_searched=1 if first_look else 0,
                unsearched=tuple(Unsearched(a, AccountOutcome.NOT_STARTED, "full search not started") for a in rest),
                notes=_notes(hint_note, str(refused)),
            )
        found = next((look.report for look in looks if look.report is not None), None)
        if found is not None:
            return found
        unsearched = tuple(look.unsearched() for look in looks if not look.outcome.searched)
        searched = sum(1 for look in looks if look.outcome.searched) + (1 if first_look else 0)
        home = accounts.get(account_id or "")
        if unsearched:
            verdict = Verdict.INCOMPLETE
        elif home is not None:
            verdict = Verdict.GONE  # its account is ours, yet the key is nowhere now
        else:
            verdict = Verdict.NOT_FOUND
        # A deep search for a key whose ID names a foreign account: say so (not only when
        # incomplete), or the answer's "Account" would read as one of ours.
        hint_note = hint_note or _outside(account_id, accounts)
        return KeyReport(
            key_id,
            verdict,
            account=home or (Account(account_id) if account_id else None),
            accounts_searched=searched,
            unsearched=unsearched,
            notes=_notes(hint_note),
        )

    def _owning_account(self, key_id: str) -> tuple[str | None, str | None]:
        """The account the key belongs to, and a note when it could not be established."""
        decoded = account_from_key_id(key_id)
        if decoded is not None:
            return decoded, None
        try:
            return get_key_account(self.gateway.hub_client("sts"), key_id), None
        except AwsCallError as exc:
            return (
                None,
                f"sts:GetAccessKeyInfo could not name the key's account ({exc.detail}), so every account was searched.",
            )

    def look_in(self, account: Account, key_id: str) -> AccountLook:
        """Look for the key in one account: ~2 IAM calls when absent, 3 when present."""
        if account.status != "ACTIVE":
            return AccountLook(account, AccountOutcome.SUSPENDED, detail=f"the account is {account.status.lower()}")
        try:
            iam = self.gateway.client(account.id, "iam")
            last_used = get_key_last_used(iam, key_id)
            if last_used is None:
                return AccountLook(account, AccountOutcome.NOT_FOUND)
            # Confirm in the user's own key list: some IAM endpoints (moto's among them) answer
            # GetAccessKeyLastUsed for keys of other accounts.
            metadata = next((k for k in get_user_access_keys(iam, last_used.user_name) if k.key_id == key_id), None)
            if metadata is None:
                return AccountLook(account, AccountOutcome.NOT_FOUND)
            user = get_user(iam, last_used.user_name)
        except AwsCallError as exc:
            if exc.outcome in (AccountOutcome.ASSUME_ROLE_FAILED, AccountOutcome.ACCESS_DENIED):
                # A session denied now may stay denied for the rest of its hour although the role
                # is fine again (sessions revoked, role re-created): assume it afresh next time.
                self.gateway.forget_session(account.id)
            return AccountLook(account, exc.outcome, detail=exc.detail)
        report = KeyReport(
            key_id=key_id,
            verdict=Verdict.FOUND,
            account=account,
            user_name=last_used.user_name,
            user_arn=user.arn if user else None,
            status=metadata.status,
            created=metadata.created,
            last_used=last_used.last_used,
            owner=owner_from_tags(user.tags if user else {}),
            accounts_searched=1,
            management_account=account.id == self._management_account_or_none(),
        )
        return AccountLook(account, AccountOutcome.FOUND, report=report)

    def search(
        self, accounts: Iterable[Account], key_id: str, on_progress: ProgressCallback | None = None
    ) -> list[AccountLook]:
        """Look in every account in parallel (bounded), stopping early once the key is found."""
        todo = list(accounts)
        found = threading.Event()
        looks: list[AccountLook] = []

        def look(account: Account) -> AccountLook | None:
            if found.is_set():
                return None  # found elsewhere meanwhile: this account need not be read
            result = self.look_in(account, key_id)
            if result.report is not None:
                found.set()
            return result

        with ThreadPoolExecutor(max_workers=SEARCH_CONCURRENCY, thread_name_prefix="search") as pool:
            # Each task runs in a copy of this context so its AWS calls count towards this lookup.
            futures = [pool.submit(contextvars.copy_context().run, look, a) for a in todo]
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                if result is not None:
                    looks.append(result)
                if on_progress is not None:
                    on_progress(done, len(todo))
        return looks

    def _management_account_or_none(self) -> str | None:
        try:
            return self.org.management_account_id()
        except AwsCallError:
            return None


def build_trail(gateway: AwsGateway) -> CloudTrailReader:
    """One CloudTrail reader per process, so its per-account rate limit covers every caller."""
    return CloudTrailReader(lambda account: gateway.client(account, "cloudtrail", "us-east-1"))


def build_finder(gateway: AwsGateway, cache: JsonCache, trail: CloudTrailReader | None = None) -> Finder:
    """The finder with the organization's shared account list and CloudTrail enrichment."""
    trail = trail or build_trail(gateway)
    return Finder(gateway, Organization(gateway, cache), Enricher(gateway, trail))


def _outside(account_id: str | None, accounts: dict[str, Account]) -> str | None:
    if account_id and account_id not in accounts:
        return f"Account {account_id} is not part of this AWS Organization."
    return None


def _notes(*notes: str | None) -> tuple[str, ...]:
    return tuple(n for n in notes if n)
