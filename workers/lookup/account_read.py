"""Look for one key in one account: IAM's reads, run side by side wherever they can be.

A found key costs two round trips: GetAccessKeyLastUsed names the user, then ListAccessKeys,
GetUser and ListAttachedUserPolicies (has AWS quarantined the user?) run at once. When the key
index already names the user, all of them run at once: one round trip; an index entry that names
another user costs the second round trip, never a wrong answer.

IAM may refuse GetAccessKeyLastUsed with AccessDenied for a key that is not in the caller's
account (undocumented, and moto never does). Such a look is `refused`: the finder takes it for
"not here" only once `confirm_absent` has read the account's users and keys and not met the key.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from workers.aws.errors import AccountOutcome, AwsCallError
from workers.aws.gateway import AwsGateway
from workers.aws.iam_keys import AccessKeyMetadata, KeyLastUsed, get_key_last_used, get_user_access_keys
from workers.aws.iam_users import (
    UserDetails,
    get_attached_user_policy_arns,
    get_user,
    list_user_names,
    quarantine_policy,
)
from workers.lookup.finding import KeyFinding, Unsearched, Verdict
from workers.model import Account
from workers.slack.owners import owner_from_tags

T = TypeVar("T")

# Per-user reads (ListAccessKeys, GetUser) in flight at once per worker, over every lookup: as many
# as the AWS clients' connection pools hold, so a read never waits for a connection.
READS_CONCURRENCY = 32
# Why an account was read user by user, in the answer's words.
_REFUSED = "IAM refused GetAccessKeyLastUsed, as it may for keys of other accounts"


@dataclass(frozen=True)
class AccountLook:
    """The result of looking for the key in one account."""

    account: Account
    outcome: AccountOutcome
    report: KeyFinding | None = None
    detail: str = ""
    # IAM answered GetAccessKeyLastUsed with AccessDenied: probably "not in this account", to be
    # confirmed with confirm_absent before anyone is told so.
    refused: bool = False

    def unsearched(self) -> Unsearched:
        return Unsearched(self.account, self.outcome, self.detail)


class AccountReader:
    """Reads one account's IAM for one key; shares one pool of reader threads across lookups."""

    def __init__(self, gateway: AwsGateway, management_account: Callable[[], str | None]) -> None:
        self.gateway = gateway
        self._management_account = management_account
        self._pool = ThreadPoolExecutor(max_workers=READS_CONCURRENCY, thread_name_prefix="iam-read")

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        # In a copy of the caller's context, so the call counts towards the caller's lookup.
        return self._pool.submit(contextvars.copy_context().run, fn, *args)

    def look(self, account: Account, key_id: str, hint_user: str | None = None) -> AccountLook:
        """Look for key_id in account; hint_user (from the key index) lets every read start at once."""
        if account.status != "ACTIVE":
            return AccountLook(account, AccountOutcome.SUSPENDED, detail=f"the account is {account.status.lower()}")
        try:
            iam = self.gateway.client(account.id, "iam")
        except AwsCallError as exc:
            return self._failed(account, exc)
        prefetched = self._user_reads(iam, hint_user) if hint_user else None
        try:
            last_used = get_key_last_used(iam, key_id)
        except AwsCallError as exc:
            if exc.outcome is AccountOutcome.ACCESS_DENIED:
                return AccountLook(account, exc.outcome, detail=exc.detail, refused=True)
            return self._failed(account, exc)
        if last_used is None:
            return AccountLook(account, AccountOutcome.NOT_FOUND)
        if prefetched is not None and hint_user == last_used.user_name:
            keys, user, policies = prefetched
        else:  # no hint, or a stale one: the second round trip, for the user IAM named
            keys, user, policies = self._user_reads(iam, last_used.user_name)
        try:
            look = self._found(account, key_id, last_used, keys.result(), user.result())
        except AwsCallError as exc:
            return self._failed(account, exc)
        if look.report is not None:
            note = quarantine_note(last_used.user_name, policies)
            if note:
                look = replace(look, report=replace(look.report, notes=(*look.report.notes, note)))
        return look

    def _user_reads(
        self, iam: Any, user_name: str
    ) -> tuple[Future[list[AccessKeyMetadata]], Future[UserDetails | None], Future[list[str]]]:
        """ListAccessKeys, GetUser and ListAttachedUserPolicies for one user, started together."""
        return (
            self._submit(get_user_access_keys, iam, user_name),
            self._submit(get_user, iam, user_name),
            self._submit(get_attached_user_policy_arns, iam, user_name),
        )

    def _found(
        self,
        account: Account,
        key_id: str,
        last_used: KeyLastUsed,
        listed: list[AccessKeyMetadata],
        user: UserDetails | None,
    ) -> AccountLook:
        # Confirm in the user's own key list: some IAM endpoints (moto's among them) answer
        # GetAccessKeyLastUsed for keys of other accounts.
        metadata = next((k for k in listed if k.key_id == key_id), None)
        if metadata is None:
            return AccountLook(account, AccountOutcome.NOT_FOUND)
        report = self._report(account, key_id, last_used.user_name, metadata, user, last_used)
        return AccountLook(account, AccountOutcome.FOUND, report=report)

    def _report(
        self,
        account: Account,
        key_id: str,
        user_name: str,
        metadata: AccessKeyMetadata,
        user: UserDetails | None,
        last_used: KeyLastUsed | None,
        notes: tuple[str, ...] = (),
    ) -> KeyFinding:
        return KeyFinding(
            key_id=key_id,
            verdict=Verdict.FOUND,
            account=account,
            user_name=user_name,
            user_arn=user.arn if user else None,
            status=metadata.status,
            created=metadata.created,
            last_used=last_used.last_used if last_used else None,
            owner=owner_from_tags(user.tags if user else {}),
            accounts_searched=1,
            management_account=account.id == self._management_account(),
            notes=notes,
        )

    def confirm_absent(self, look: AccountLook, key_id: str) -> AccountLook:
        """Settle a refused look by reading every user's keys: not here, found after all, or the
        role cannot read the account (then it stays unsearched, with why)."""
        account = look.account
        try:
            iam = self.gateway.client(account.id, "iam")
            names = list(list_user_names(iam))
            listings = [self._submit(get_user_access_keys, iam, name) for name in names]
            keys_by_user = [(name, future.result()) for name, future in zip(names, listings, strict=True)]
        except AwsCallError as exc:
            if exc.outcome is AccountOutcome.ACCESS_DENIED:
                self.gateway.forget_session(account.id)
                detail = f"{exc.detail} to GetAccessKeyLastUsed and ListUsers: the role cannot read its IAM users"
                return AccountLook(account, exc.outcome, detail=detail)
            detail = f"{exc.detail} while listing its users, after {_REFUSED} ({look.detail})"
            return AccountLook(account, exc.outcome, detail=detail)
        for name, keys in keys_by_user:
            metadata = next((k for k in keys if k.key_id == key_id), None)
            if metadata is None:
                continue
            try:
                user = get_user(iam, name)
            except AwsCallError:
                user = None  # the key and its user are known; the tags are a nicety
            note = (
                f"IAM refused GetAccessKeyLastUsed for this key ({look.detail}), so when it was last used is unknown."
            )
            report = self._report(account, key_id, name, metadata, user, None, notes=(note,))
            return AccountLook(account, AccountOutcome.FOUND, report=report)
        return AccountLook(account, AccountOutcome.NOT_FOUND, detail=f"not among its {len(names)} users' keys")

    def _failed(self, account: Account, exc: AwsCallError) -> AccountLook:
        if exc.outcome in (AccountOutcome.ASSUME_ROLE_FAILED, AccountOutcome.ACCESS_DENIED):
            # A session denied now may stay denied for the rest of its hour although the role
            # is fine again (sessions revoked, role re-created): assume it afresh next time.
            self.gateway.forget_session(account.id)
        return AccountLook(account, exc.outcome, detail=exc.detail)


def quarantine_note(user_name: str, policies: Future[list[str]]) -> str | None:
    """What the answer says when AWS quarantined the key's user (it does when it finds a key
    exposed), or that this could not be checked; None when the user is not quarantined."""
    try:
        policy = quarantine_policy(policies.result())
    except AwsCallError as exc:
        return f"Whether AWS quarantined the user could not be checked ({exc.detail})."
    if policy is None:
        return None
    return (
        f"AWS quarantined the IAM user {user_name} because its key was exposed: the {policy} policy is "
        "attached and denies high-risk actions, so some calls fail with AccessDenied. Rotate the key, review "
        "CloudTrail, then detach the policy."
    )
