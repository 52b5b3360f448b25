"""The member-role checks: in every active account, assume the role and make the reads a lookup
makes, so a missing role, a trust policy that refuses whose-key or a denied read shows up here
rather than in someone's lookup."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from cli.doctor.model import NAMES_SHOWN, Check, Status, severity
from core.settings import Settings
from workers.aws.errors import AccountOutcome, AwsCallError, classify, error_code
from workers.aws.gateway import AwsGateway
from workers.model import Account

# AWS's documented example key: well formed, owned by nobody, so IAM answers NoSuchEntity when
# the role may read keys and AccessDenied when it may not.
PROBE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
# A user name no one has, for the same allowed-or-denied probe of ListAccessKeys and GetUser.
PROBE_USER_NAME = "whose-key-doctor-probe"


@dataclass(frozen=True)
class RoleResult:
    """What the probe of one account found; OK needs no detail or fix."""

    account: Account
    status: Status
    detail: str = ""
    fix: str = ""


def role_checks(
    gateway: AwsGateway,
    settings: Settings,
    accounts: list[Account],
    hub_account: str,
    management_id: str | None,
    concurrency: int,
) -> list[Check]:
    """One summary line, one line per account that is not OK, and one for suspended accounts."""
    active = [a for a in accounts if a.status == "ACTIVE"]
    inactive = [a for a in accounts if a.status != "ACTIVE"]
    checks: list[Check] = []
    if active:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(active))), thread_name_prefix="doctor") as pool:
            results = list(pool.map(lambda a: probe_account(gateway, settings, a, hub_account, management_id), active))
        readable = sum(1 for r in results if r.status is Status.OK)
        summary = f"role assumed in {readable} of {len(active)} accounts"
        hub = next((a for a in active if a.id == hub_account), None)
        if hub is not None:
            summary += f"; whose-key's own account {hub.label} is read with its own credentials"
        worst = max((r.status for r in results), key=severity)
        checks.append(Check("aws", "member role", worst, summary))
        checks += [
            Check("aws", f"role in {r.account.label}", r.status, r.detail, r.fix)
            for r in results
            if r.status is not Status.OK
        ]
    else:
        checks.append(Check("aws", "member role", Status.WARN, "the organization lists no ACTIVE account to check"))
    if inactive:
        names = ", ".join(f"{a.label} {a.status}" for a in inactive[:NAMES_SHOWN])
        more = f" and {len(inactive) - NAMES_SHOWN} more" if len(inactive) > NAMES_SHOWN else ""
        checks.append(
            Check(
                "aws",
                "suspended accounts",
                Status.WARN,
                f"{len(inactive)} account(s) not checked and never searched: {names}{more}",
                "nothing to do unless a key should be found there: reactivate the account, or close it for good",
            )
        )
    return checks


def probe_account(
    gateway: AwsGateway, settings: Settings, account: Account, hub_account: str, management_id: str | None
) -> RoleResult:
    """Assume the member role in one account (cached by the gateway) and make the reads a lookup makes."""
    own = account.id == hub_account
    try:
        iam = gateway.client(account.id, "iam")
    except AwsCallError as exc:
        return role_failure(account, exc, settings, stage="assume", own=own, management_id=management_id)
    reads = (
        ("iam:GetAccessKeyLastUsed", iam.get_access_key_last_used, {"AccessKeyId": PROBE_KEY_ID}),
        ("iam:ListAccessKeys", iam.list_access_keys, {"UserName": PROBE_USER_NAME}),
        ("iam:GetUser", iam.get_user, {"UserName": PROBE_USER_NAME}),
        ("iam:ListUsers", iam.list_users, {"MaxItems": 1}),
    )
    refused: ClientError | None = None
    for action, call, kwargs in reads:
        try:
            call(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                continue  # allowed to look; there is simply nothing there
            if action == "iam:GetAccessKeyLastUsed" and error_code(exc) == "AccessDenied":
                # IAM may answer AccessDenied for a key that is not in this account (the probe key
                # is in none): a denial only if the account's users cannot be listed either.
                refused = exc
                continue
            if refused is not None and action == "iam:ListUsers":
                return role_failure(account, classify(refused), settings, stage="iam:GetAccessKeyLastUsed", own=own)
            return role_failure(account, classify(exc), settings, stage=action, own=own)
        except BotoCoreError as exc:
            return role_failure(account, classify(exc), settings, stage=action, own=own)
    return RoleResult(account, Status.OK)


def role_failure(
    account: Account,
    exc: AwsCallError,
    settings: Settings,
    *,
    stage: str,
    own: bool,
    management_id: str | None = None,
) -> RoleResult:
    """What a failed AssumeRole (stage "assume") or IAM read means, and the deploy step that fixes it."""
    role = settings.role_name
    if exc.outcome is AccountOutcome.THROTTLED:
        return RoleResult(account, Status.WARN, exc.detail, "run whose-key doctor again in a few minutes")
    if exc.outcome is AccountOutcome.TIMED_OUT:
        return RoleResult(
            account, Status.FAIL, exc.detail, "check network access to AWS, then run whose-key doctor again"
        )
    if stage == "assume":
        if exc.outcome is AccountOutcome.ASSUME_ROLE_FAILED:
            if account.id == management_id:
                deploy = f"deploy deploy/member-role.yaml as a plain stack in the management account {account.id}"
            else:
                deploy = (
                    f"deploy deploy/member-role-stackset.yaml to the OU of {account.id} "
                    "(or member-role.yaml in the management account)"
                )
            external = "; and check WHOSE_KEY_EXTERNAL_ID equals the stack's ExternalId" if settings.external_id else ""
            return RoleResult(
                account,
                Status.FAIL,
                f"could not assume {role} (trust policy or role missing)",
                f"{deploy}, with HubRoleArn set to the role whose-key runs as{external}",
            )
        return RoleResult(account, Status.FAIL, exc.detail, "check the hub role's sts:AssumeRole permission")
    if exc.outcome is AccountOutcome.ACCESS_DENIED:
        if own:
            return RoleResult(
                account,
                Status.FAIL,
                f"whose-key's own credentials may not call {stage} in its own account",
                "deploy deploy/hub-role.yaml with IncludeManagementAccountReads=true (or grant the IAM reads of "
                "member-role.yaml to the identity whose-key runs as); check no SCP denies them",
            )
        return RoleResult(
            account,
            Status.FAIL,
            f"{role} was assumed but {stage} is denied",
            f"update {role} from deploy/member-role-stackset.yaml (it needs iam:GetAccessKeyLastUsed, "
            "iam:ListAccessKeys and iam:GetUser); check no SCP denies them",
        )
    if exc.outcome is AccountOutcome.SUSPENDED:
        return RoleResult(account, Status.WARN, exc.detail, "nothing to do unless the account should be in use")
    return RoleResult(account, Status.FAIL, f"{stage} failed: {exc.detail}", "run whose-key doctor again")
