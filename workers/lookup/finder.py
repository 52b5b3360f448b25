"""Find an access key in the organization and say what is known about it.

Fast path: the key ID names its account (offline decode, or sts:GetAccessKeyInfo for old
keys), so a found key costs GetAccessKeyLastUsed, then ListAccessKeys and GetUser side by side, in
that account: two round trips, one when the key index already names its user (account_look.py),
plus an AssumeRole that is cached for the hour. The full search runs only when the fast path
cannot decide, and costs about two calls per account whatever the number of users.

Neither the decode nor GetAccessKeyInfo proves that a key exists: STS names an account for any
well-formed key ID. Only IAM in that account does. Where IAM refuses GetAccessKeyLastUsed
(AccessDenied, as it may for a key of another account), the account is read user by user before
the answer says "not there".
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Protocol

from redis import Redis
from redis.exceptions import RedisError

from core.keyids import account_from_key_id, is_temporary
from workers.aws.cloudtrail import CloudTrailReader
from workers.aws.errors import AccountOutcome, AwsCallError
from workers.aws.gateway import AwsGateway, get_key_account, start_counting_calls
from workers.aws.organization import Organization
from workers.cache import JsonCache, MemoryCache
from workers.lookup.account_read import AccountLook, AccountReader
from workers.lookup.enrich import Enricher
from workers.lookup.finding import KeyFinding, Unsearched, Verdict
from workers.lookup.full_search import FullSearchRefused
from workers.lookup.key_index import IndexedKey, indexed_key
from workers.model import Account
from workers.runtime import Runtime, build_trail

# Accounts searched at once in a full search: enough to hide latency, few enough to stay
# under IAM's per-account and STS's per-hub request rates.
SEARCH_CONCURRENCY = 16

ProgressCallback = Callable[[int, int], None]
# Whose a key was last seen to be (the key index), or None: a hint that saves a round trip.
KeyHints = Callable[[str], IndexedKey | None]


class SearchGate(Protocol):
    """What a full search passes before it starts (budget, workspace slots); see workers.lookup.full_search."""

    def full_search(self, key_id: str) -> AbstractContextManager[None]: ...


__all__ = ["AccountLook", "Finder", "build_finder", "finder_for"]


class Finder:
    def __init__(
        self, gateway: AwsGateway, org: Organization, enricher: Enricher | None = None, hints: KeyHints | None = None
    ) -> None:
        self.gateway = gateway
        self.org = org
        self.enricher = enricher
        self.hints = hints
        self.reader = AccountReader(gateway, self._management_account_or_none)

    def find(
        self,
        key_id: str,
        *,
        deep: bool = False,
        on_progress: ProgressCallback | None = None,
        gate: SearchGate | None = None,
    ) -> KeyFinding:
        """Everything the organization can tell about key_id. Raises AwsCallError only when the
        organization itself cannot be read (then no per-key answer is possible)."""
        stats = start_counting_calls()
        report = self._find(key_id, deep, on_progress, gate)
        if self.enricher is not None:
            report = self.enricher.enrich(report)
        return replace(report, aws_calls=stats.calls, aws_seconds=round(stats.seconds, 4))

    def _find(
        self, key_id: str, deep: bool, on_progress: ProgressCallback | None, gate: SearchGate | None
    ) -> KeyFinding:
        account_id, hint_note = self._owning_account(key_id)
        accounts = self.org.accounts(must_include=account_id)

        if is_temporary(key_id):
            account = accounts.get(account_id or "") or (Account(account_id) if account_id else None)
            return KeyFinding(
                key_id, Verdict.TEMPORARY, account=account, notes=_notes(hint_note, _outside(account_id, accounts))
            )

        if account_id is not None and account_id not in accounts and not deep:
            return KeyFinding(key_id, Verdict.OUTSIDE_ORG, account=Account(account_id), notes=_notes(hint_note))

        hint = self._hint(key_id)
        first_look: AccountLook | None = None
        if account_id in accounts and not deep:
            first_look = self.look_in(accounts[account_id], key_id, _user_in(hint, account_id))
            if first_look.refused:
                first_look = self.reader.confirm_absent(first_look, key_id)
            if first_look.report is not None:
                return first_look.report
            if not first_look.outcome.searched:
                # Could not read the owning account: say so rather than search elsewhere,
                # because no other account can hold this key.
                return KeyFinding(
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
                looks = self.search(rest, key_id, on_progress, hint)
        except FullSearchRefused as refused:
            # Not searched is not "not there": the answer says the search did not run, and why.
            return KeyFinding(
                key_id,
                Verdict.INCOMPLETE,
                account=accounts.get(account_id or "") or (Account(account_id) if account_id else None),
                accounts_searched=1 if first_look else 0,
                unsearched=tuple(Unsearched(a, AccountOutcome.NOT_STARTED, "full search not started") for a in rest),
                notes=_notes(hint_note, str(refused)),
            )
        found = next((look.report for look in looks if look.report is not None), None)
        if found is None and any(look.refused for look in looks):
            # About to say "not there" where IAM only refused to say: confirm it account by account.
            looks = self.confirm(looks, key_id)
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
        return KeyFinding(
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

    def look_in(self, account: Account, key_id: str, hint_user: str | None = None) -> AccountLook:
        """Look for the key in one account: 1 IAM call when absent, 3 (in 2 round trips) when present."""
        return self.reader.look(account, key_id, hint_user)

    def _hint(self, key_id: str) -> IndexedKey | None:
        if self.hints is None:
            return None
        try:
            return self.hints(key_id)
        except RedisError:
            return None  # only a hint: the lookup goes on without it

    def search(
        self,
        accounts: Iterable[Account],
        key_id: str,
        on_progress: ProgressCallback | None = None,
        hint: IndexedKey | None = None,
    ) -> list[AccountLook]:
        """Look in every account in parallel (bounded), stopping early once the key is found."""
        todo = list(accounts)
        found = threading.Event()
        looks: list[AccountLook] = []

        def look(account: Account) -> AccountLook | None:
            if found.is_set():
                return None  # found elsewhere meanwhile: this account need not be read
            result = self.look_in(account, key_id, _user_in(hint, account.id))
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

    def confirm(self, looks: list[AccountLook], key_id: str) -> list[AccountLook]:
        """Every refused look settled by reading that account's users and keys (in parallel)."""
        refused = [look for look in looks if look.refused]
        with ThreadPoolExecutor(max_workers=SEARCH_CONCURRENCY, thread_name_prefix="confirm") as pool:
            tasks = [pool.submit(contextvars.copy_context().run, self.reader.confirm_absent, look, key_id)
                     for look in refused]  # fmt: skip
            settled = [task.result() for task in tasks]
        return [look for look in looks if not look.refused] + settled

    def _management_account_or_none(self) -> str | None:
        try:
            return self.org.management_account_id()
        except AwsCallError:
            return None


def build_finder(gateway: AwsGateway, cache: JsonCache, trail: CloudTrailReader | None = None) -> Finder:
    """The finder with the organization's shared account list, the key index (when there is a
    Redis) and CloudTrail enrichment."""
    redis = None if isinstance(cache, MemoryCache) else cache.redis
    return Finder(gateway, Organization(gateway, cache), Enricher(gateway, trail or build_trail(gateway, redis)),
                  index_hints(redis))  # fmt: skip


def finder_for(runtime: Runtime) -> Finder:
    """A worker's finder, on the runtime's shared organization, CloudTrail reader and key index."""
    return Finder(runtime.gateway, runtime.org, Enricher(runtime.gateway, runtime.trail), index_hints(runtime.redis))


def index_hints(redis: Redis | None) -> KeyHints | None:
    """A lookup's first guess from the key index, when there is a Redis."""
    if redis is None:
        return None
    shared = redis

    def hints_from_index(key_id: str) -> IndexedKey | None:
        return indexed_key(shared, key_id)

    return hints_from_index


def _user_in(hint: IndexedKey | None, account_id: str | None) -> str | None:
    """The user the index names for the key, when it places the key in this account."""
    return hint.user_name if hint is not None and hint.account_id == account_id else None


def _outside(account_id: str | None, accounts: dict[str, Account]) -> str | None:
    if account_id and account_id not in accounts:
        return f"Account {account_id} is not part of this AWS Organization."
    return None


def _notes(*notes: str | None) -> tuple[str, ...]:
    return tuple(n for n in notes if n)
