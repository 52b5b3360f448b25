"""The responder-role check, when WHOSE_KEY_RESPONDER_ROLE_NAME is set: in every active account,
assume the role and probe iam:UpdateAccessKey on a user that does not exist, so nothing changes:
IAM answers NoSuchEntity when the role may deactivate keys there and AccessDenied when it may not."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from cli.doctor.aws_session import AwsConnection
from cli.doctor.model import NAMES_SHOWN, Check, Status
from cli.doctor.roles import PROBE_KEY_ID, PROBE_USER_NAME
from core.settings import Settings
from workers.aws.errors import AccountOutcome, AwsCallError, error_code
from workers.aws.gateway import AwsGateway
from workers.model import Account


def responder_checks(
    connection: AwsConnection, settings: Settings, accounts: list[Account], concurrency: int
) -> list[Check]:
    role = settings.responder_role_name
    if role is None:
        return [
            Check("aws", "responder role", Status.OK, "off (WHOSE_KEY_RESPONDER_ROLE_NAME unset): whose-key only reads")
        ]
    rule = _two_person_rule(settings)
    gateway = AwsGateway(
        role, settings.external_id, base=connection.session(), endpoint_url=connection.endpoint_url, always_assume=True
    )
    active = [a for a in accounts if a.status == "ACTIVE"]
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(active) or 1)), thread_name_prefix="doctor"
    ) as pool:
        problems = [p for p in pool.map(lambda a: _probe(gateway, a), active) if p is not None]
    if not problems:
        return [
            Check("aws", "responder role", Status.OK, f"{role} may deactivate keys in all {len(active)} accounts"),
            *rule,
        ]
    failed = [account for account, _ in problems]
    names = ", ".join(a.label for a in failed[:NAMES_SHOWN]) + (
        f" and {len(failed) - NAMES_SHOWN} more" if len(failed) > NAMES_SHOWN else ""
    )
    return [
        Check(
            "aws",
            "responder role",
            Status.FAIL,
            f"{role} works in {len(active) - len(failed)} of {len(active)} accounts; not in {names}: "
            + "; ".join(sorted({why for _, why in problems})),
            "deploy deploy/responder-role-stackset.yaml to their OUs (responder-role.yaml as a plain stack in the "
            "management account), and ResponderRoleName on the hub stack; or unset WHOSE_KEY_RESPONDER_ROLE_NAME",
        ),
        *rule,
    ]


def _two_person_rule(settings: Settings) -> list[Check]:
    """WHOSE_KEY_RESPONDER_APPROVALS=2 collects approvals in the audit channel: without one, no key
    action is offered at all (it fails closed), which an operator should hear of here."""
    if settings.responder_approvals < 2:
        return []
    if settings.audit_channel:
        return [
            Check("slack", "two-person rule", Status.OK, "a second responder approves each change in the audit channel")
        ]
    return [
        Check(
            "slack",
            "two-person rule",
            Status.FAIL,
            "WHOSE_KEY_RESPONDER_APPROVALS=2 but WHOSE_KEY_AUDIT_CHANNEL is unset: approvals cannot be collected, "
            "so no key action is offered",
            "set WHOSE_KEY_AUDIT_CHANNEL to the channel where responders approve, or WHOSE_KEY_RESPONDER_APPROVALS=1",
        )
    ]


def _probe(gateway: AwsGateway, account: Account) -> tuple[Account, str] | None:
    try:
        iam = gateway.client(account.id, "iam")
        iam.update_access_key(UserName=PROBE_USER_NAME, AccessKeyId=PROBE_KEY_ID, Status="Inactive")
    except AwsCallError as exc:
        if exc.outcome is AccountOutcome.ASSUME_ROLE_FAILED:
            return account, "the role could not be assumed (missing, or its trust policy refuses whose-key)"
        return account, exc.detail
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None  # allowed: there is simply no such user, and nothing changed
        return account, f"iam:UpdateAccessKey refused ({error_code(exc)})"
    except BotoCoreError as exc:
        return account, f"AWS could not be reached ({type(exc).__name__})"
    return None
