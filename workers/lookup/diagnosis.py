"""Why `InvalidAccessKeyId` happened for one key, and the steps that fix it.

Pure functions of a KeyFinding: no I/O, so the worker, the CLI and the tests share one wording.
Every line is short Slack mrkdwn and names the real user, account and key when the report
knows them; unknowns become placeholders such as USER_NAME, never "None".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workers.aws.errors import AccountOutcome
from workers.lookup.causes import Cause, cause_title
from workers.lookup.finding import KeyFinding, Verdict

__all__ = ["Cause", "Diagnosis", "cause_title", "diagnose"]

# How many unreadable accounts to name one by one before summarising the rest.
MAX_UNSEARCHED_LISTED = 5

# Placeholders for values the report does not know; upper case because Slack treats
# angle brackets as link syntax.
USER_PLACEHOLDER = "USER_NAME"
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"
NEW_USER_PLACEHOLDER = "NEW_USER_NAME"

# Notes from the finder (or a snapshot) that say the IAM user itself is gone.
_USER_GONE = re.compile(
    r"\bDeleteUser\b|\buser\b.*\b(deleted|no longer exists|does not exist|removed)\b", re.IGNORECASE
)
# Notes that say only the key was deleted.
_KEY_GONE = re.compile(r"\bDeleteAccessKey\b|\bkey\b.*\b(deleted|removed)\b", re.IGNORECASE)


_OUTCOME_WORDS: dict[AccountOutcome, str] = {
    AccountOutcome.FOUND: "found",
    AccountOutcome.NOT_FOUND: "searched",
    AccountOutcome.ACCESS_DENIED: "access denied",
    AccountOutcome.ASSUME_ROLE_FAILED: "could not assume the role",
    AccountOutcome.THROTTLED: "throttled by AWS",
    AccountOutcome.TIMED_OUT: "timed out",
    AccountOutcome.SUSPENDED: "account suspended",
    AccountOutcome.ERROR: "unexpected error",
    AccountOutcome.NOT_STARTED: "full search not started",
}


@dataclass(frozen=True)
class Diagnosis:
    """The verdict in one line, the likely causes with why each fits, and the fix steps."""

    headline: str
    causes: tuple[Cause, ...]  # most likely first
    explanation: tuple[str, ...]  # one line per cause, same order
    steps: tuple[str, ...]  # without numbers; the renderer numbers them
    key_is_fine: bool


def diagnose(report: KeyFinding, *, secret_exposed: bool = False) -> Diagnosis:
    """Explain why this key gets `InvalidAccessKeyId` and how to fix it."""
    facts = _Facts(report)
    builders = {
        Verdict.FOUND: _found,
        Verdict.GONE: _gone,
        Verdict.NOT_FOUND: _not_found,
        Verdict.OUTSIDE_ORG: _outside_org,
        Verdict.TEMPORARY: _temporary,
        Verdict.INCOMPLETE: _incomplete,
    }
    headline, reasons, steps, fine = builders[report.verdict](facts, secret_exposed)
    if secret_exposed:
        steps = _exposure_steps(facts) + steps
    return Diagnosis(
        headline=headline,
        causes=tuple(cause for cause, _ in reasons),
        explanation=tuple(line for _, line in reasons),
        steps=tuple(steps),
        key_is_fine=fine,
    )


_Reasons = list[tuple[Cause, str]]
_Built = tuple[str, _Reasons, list[str], bool]


class _Facts:
    """The report's values already formatted for text, with placeholders for unknowns."""

    def __init__(self, report: KeyFinding) -> None:
        self.report = report
        self.key = f"`{report.key_id}`"
        self.user_known = bool(report.user_name)
        self.user_arg = report.user_name or USER_PLACEHOLDER
        self.user = f"`{report.user_name}`" if report.user_name else "the key's IAM user"
        self.user_ref = f"user `{report.user_name}`" if report.user_name else "the key's IAM user"
        account = report.account
        self.account_known = account is not None
        self.account_id = account.id if account else ACCOUNT_PLACEHOLDER
        self.account = f"account {account.label}" if account else "the key's account"
        self.creds = f"credentials for account {account.id}" if account else "credentials for its account"
        self.in_account = f" (in account {account.id})" if account else ""
        self.iam_args = f"--user-name {self.user_arg} --access-key-id {report.key_id}"

    @property
    def owner(self) -> str:
        """Who to ask about the key, as a Slack mention or email, else the account's admins."""
        owner = self.report.owner
        if owner.slack_user_id:
            return f"<@{owner.slack_user_id}>"
        if owner.email:
            return owner.email
        return f"the admins of {self.account}"

    @property
    def last_use(self) -> str:
        """When and where the key last worked, as a short clause."""
        used = self.report.last_used
        if used is None or not used.date:
            return "It has never been used, so it may not be set up where you run."
        where = ", ".join(part for part in (used.service, used.region) if part)
        return f"It last worked on {used.date[:10]}" + (f" ({where})." if where else ".")

    def note_says(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.search(note) for note in self.report.notes)


def _found(f: _Facts, exposed: bool) -> _Built:
    if (f.report.status or "").lower() == "inactive":
        return _found_inactive(f, exposed)
    reasons: _Reasons = [
        (Cause.NOT_CONFIGURED, f"The failing code likely picks up another key. {f.last_use}"),
        (Cause.WRONG_ACCOUNT, f"The resource may live in an account other than {f.account}."),
        (
            Cause.WRONG_REGION_OR_PARTITION,
            "Commercial keys are unknown to GovCloud and China endpoints, and vice versa.",
        ),
        (Cause.TYPO, f"The copy in use may differ from {f.key} by a character."),
    ]
    steps = [
        "Where it fails, run `aws sts get-caller-identity`: it shows who the caller really is.",
        f"Expect {f.account} and {f.user_ref}; anything else means another key is in use.",
        "Run `aws configure list` to see the key and profile in use and where each comes from.",
        "Check the env vars `AWS_ACCESS_KEY_ID` and `AWS_PROFILE`: they override `~/.aws/credentials` and SDK config.",
        f"Check the bucket or resource you call belongs to {f.account} (or grants it access).",
        "Check region and endpoint: `us-gov-*` and `cn-*` regions need their own keys.",
        f"Compare the key in the config with {f.key} character by character.",
    ]
    return "This key is active: the key itself is fine.", reasons, steps, True


def _found_inactive(f: _Facts, exposed: bool) -> _Built:
    reasons: _Reasons = [
        (Cause.KEY_INACTIVE, f"{f.key} of {f.user_ref} is switched off, so AWS refuses it."),
    ]
    steps = [
        f"Ask {f.owner} why it was deactivated: it may be on purpose, after a rotation or a leak.",
    ]
    if not exposed:
        steps += [
            f"If it should work again, reactivate it in the console: IAM → Users → {f.user} → Security credentials.",
            f"Or, with {f.creds}: `aws iam update-access-key {f.iam_args} --status Active`",
        ]
        # A leak's own steps already rotate the key.
        steps += [
            "Safer than reactivating: rotate. Create a new key with "
            f"`aws iam create-access-key --user-name {f.user_arg}`.",
            f"Switch everything that uses {f.key} to the new key, then delete {f.key}.",
        ]
    headline = f"This key exists in {f.account} but is inactive, so AWS rejects it."
    return headline, reasons, steps, False


def _gone(f: _Facts, exposed: bool) -> _Built:
    # CloudTrail (through the finder) may say whether the user went too; else the notes may.
    user_gone = f.report.user_deleted is True or f.note_says(_USER_GONE)
    # The finder sets user_arn only after reading the user, so a known ARN means it exists.
    key_gone = not user_gone and (f.report.user_deleted is False or f.note_says(_KEY_GONE) or bool(f.report.user_arn))
    reasons: _Reasons
    if user_gone:
        reasons = [
            (
                Cause.USER_DELETED,
                f"{_upper_first(f.user_ref)} was deleted, and all its keys with it.",
            ),
            (Cause.KEY_DELETED, f"So {f.key} is gone for good: deleted keys cannot be restored."),
        ]
        headline = f"The IAM user behind this key no longer exists in {f.account}."
    elif key_gone:
        reasons = [
            (
                Cause.KEY_DELETED,
                f"{f.key} was deleted while {f.user_ref} remains; deleted keys cannot be restored.",
            ),
        ]
        headline = f"This key was deleted from {f.account}."
    else:
        reasons = [
            (
                Cause.KEY_DELETED,
                f"{f.key} was deleted from {f.account}; deleted keys cannot be restored.",
            ),
            (Cause.USER_DELETED, "Or its user was deleted, which removes all of that user's keys."),
        ]
        headline = f"This key no longer exists in {f.account}: it or its user was deleted."

    if not any(h.action in ("deleted", "user_deleted") for h in f.report.history):
        # No deletion on record: a mistyped ID that still names our account looks just the same.
        reasons.append((Cause.TYPO, f"No deletion of {f.key} is on record, so it may also be mistyped."))

    steps: list[str] = []
    new_user = f.user_arg
    if user_gone:
        steps.append(f"Agree with {f.owner} which identity replaces {f.user}; a role beats a new long-term key.")
        new_user = NEW_USER_PLACEHOLDER
    elif not f.user_known:
        steps.append(f"Find which user had it: CloudTrail in {f.account} records the `DeleteAccessKey` call.")
    steps += [
        f"Create a new key with {f.creds}: `aws iam create-access-key --user-name {new_user}`",
        "Save the new secret in your secret store right away: AWS shows it only once.",
        f"Put the new key everywhere {f.key} was used: env vars, `~/.aws/credentials`, CI, app config.",
        "Check it works with `aws sts get-caller-identity`.",
        f"Then remove every leftover reference to {f.key}.",
    ]
    return headline, reasons, steps, False


def _not_found(f: _Facts, exposed: bool) -> _Built:
    n = f.report.accounts_searched
    searched = f"none of the {_count(n, 'account')} we searched" if n else "none of our accounts"
    reasons: _Reasons = [
        (Cause.TYPO, f"{f.key} is in {searched}, so a mistyped copy is likeliest."),
        (
            Cause.WRONG_REGION_OR_PARTITION,
            "GovCloud and China keys are unknown to commercial AWS, the only partition we search.",
        ),
        (
            Cause.KEY_DELETED,
            "It may have been deleted long ago, or belonged to an account that left.",
        ),
    ]
    steps = [
        f"Copy the key straight from the failing config; compare it with {f.key} character by character.",
        "After the 4-letter prefix, key IDs use only A-Z and 2-7: a `0` means `O`, a `1` means `I`, an `8` means `B`.",
        "If it is meant for GovCloud (`us-gov-*`) or China (`cn-*`), ask that partition's admins.",
        "If it is just old, ask the owner of the system you call for a new key; retire this one.",
    ]
    if n:
        headline = f"This key is in none of the {_count(n, 'account')} of our organization."
    else:
        headline = "This key is in none of our organization's accounts."
    return headline, reasons, steps, False


def _outside_org(f: _Facts, exposed: bool) -> _Built:
    if f.account_known:
        where = f"account {f.account_id}"
        belongs = f"{f.key} belongs to {where}, which is not one of ours."
        ask = f"Ask the owner of {where} about {f.key}: we cannot look inside it."
        headline = f"This key belongs to {where}, outside our AWS Organization."
    else:
        belongs = f"{f.key} belongs to an account outside our AWS Organization."
        ask = f"Ask whoever gave you {f.key}: its account is not ours, so we cannot look inside."
        headline = "This key belongs to an account outside our AWS Organization."
    reasons: _Reasons = [
        (Cause.OUTSIDE_ORG, belongs),
        (Cause.WRONG_ACCOUNT, "You may be using another company's or a personal key by mistake."),
    ]
    steps = [
        ask,
        "Check which account the resource you call is in; for ours, use a key from that account.",
        "Run `aws configure list` to see where this key comes from; replace it if it is not yours.",
    ]
    return headline, reasons, steps, False


def _temporary(f: _Facts, exposed: bool) -> _Built:
    issued = f" issued in {f.account}" if f.account_known else ""
    reasons: _Reasons = [
        (
            Cause.MISSING_SESSION_TOKEN,
            f"{f.key} is an `ASIA` key: it only works with its session token.",
        ),
        (Cause.KEY_EXPIRED, "STS credentials expire after minutes to hours; old ones are refused."),
        (Cause.NOT_CONFIGURED, "A stale temporary key in the environment may shadow your profile."),
    ]
    steps = [
        "Set `AWS_SESSION_TOKEN` (or `aws_session_token`) next to the key ID and secret: "
        "all three come from one STS call.",
        "If they are old, get new ones: `aws sso login --profile PROFILE`, or re-assume the role.",
        "Run `aws configure list`; unset stale `AWS_ACCESS_KEY_ID` / `AWS_SESSION_TOKEN` values.",
        "Confirm with `aws sts get-caller-identity`.",
    ]
    if not exposed:  # the leak steps already search CloudTrail
        steps.append(f"To see which role session got {f.key}, search CloudTrail in {f.account}.")
    headline = f"This is a temporary STS key{issued}: no IAM user owns it."
    return headline, reasons, steps, False


def _incomplete(f: _Facts, exposed: bool) -> _Built:
    unsearched = f.report.unsearched
    missing = _count(len(unsearched), "account")
    searched = _count(f.report.accounts_searched, "account")
    home_unread = f.account_known and any(u.account.id == f.account_id for u in unsearched)
    if home_unread:
        why = f"Its ID points to {f.account}, which we could not read."
    elif unsearched:
        why = f"We searched {searched} but could not read {missing}; the key may be there."
    else:
        why = "The search stopped before every account was read."
    reasons: _Reasons = [(Cause.UNKNOWN_INCOMPLETE, why)]
    target = "that account" if len(unsearched) == 1 else f"these {missing}"
    steps = [
        f"Ask an operator to run `whose-key doctor` and fix the whose-key role in {target}:"
        if unsearched
        else "Ask an operator to run `whose-key doctor` to see what stopped the search.",
    ]
    for item in unsearched[:MAX_UNSEARCHED_LISTED]:
        detail = f": {item.detail}" if item.detail else ""
        steps.append(f"{item.account.label}: {_OUTCOME_WORDS[item.outcome]}{detail}")
    if len(unsearched) > MAX_UNSEARCHED_LISTED:
        steps.append(f"…and {_count(len(unsearched) - MAX_UNSEARCHED_LISTED, 'more account')}.")
    steps.append("Ask again once that is fixed to get a full answer.")
    if unsearched:
        headline = f"Can't tell yet: {missing} could not be searched."
    else:
        headline = "Can't tell yet: the search did not finish."
    return headline, reasons, steps, False


def _exposure_steps(f: _Facts) -> list[str]:
    """Steps first taken when someone pasted the secret in Slack: it is now leaked."""
    steps = [f"The secret of {f.key} was posted in Slack: treat it as leaked; delete that message."]
    verdict = f.report.verdict
    if verdict is Verdict.FOUND:
        if (f.report.status or "").lower() == "inactive":
            steps.append(f"Keep {f.key} inactive: never reactivate a leaked key.")
        else:
            steps.append(f"Deactivate it now{f.in_account}: `aws iam update-access-key {f.iam_args} --status Inactive`")
        steps += [
            f"Create a replacement: `aws iam create-access-key --user-name {f.user_arg}`",
            f"Move everyone and everything using {f.key} to the new key.",
            f"Delete the old key: `aws iam delete-access-key {f.iam_args}`",
            f"Search CloudTrail in {f.account} for calls made with {f.key} since the leak.",
        ]
    elif verdict is Verdict.TEMPORARY:
        steps += [
            "Revoke the role's sessions: IAM → Roles → the role → Revoke active sessions.",
            f"Search CloudTrail in {f.account} for calls made with {f.key}.",
        ]
    elif verdict is Verdict.OUTSIDE_ORG:
        owner = f"account {f.account_id}" if f.account_known else "the key's account"
        steps.append(f"Tell the owner of {owner}, so they deactivate and replace {f.key}.")
    elif verdict is Verdict.GONE:
        steps.append(f"A deleted key no longer works; still, check CloudTrail in {f.account} for past use.")
    else:
        steps += [
            f"Whoever owns {f.key} must deactivate it, create a new key, switch users over and delete it.",
            f"Then search CloudTrail for calls made with {f.key}.",
        ]
    return steps


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
