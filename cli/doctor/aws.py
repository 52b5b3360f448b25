"""The AWS checks: whose identity whose-key runs with, the organization it lists, then the
member role in every account (roles.py). A check that needs an earlier one's result is skipped,
saying so, when that one failed."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from cli.doctor.aws_session import AwsConnection
from cli.doctor.model import Check, Status, not_checked
from cli.doctor.responder import responder_checks
from cli.doctor.roles import role_checks
from core.settings import Settings
from workers.aws.errors import AccountOutcome, AwsCallError, error_code
from workers.aws.gateway import AwsGateway, get_management_account_id, get_organization_accounts
from workers.model import Account

# Codes with which AWS rejects the credentials themselves (wrong, expired, deleted).
_REJECTED_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
}


def aws_checks(connection: AwsConnection, settings: Settings, bad: frozenset[str], concurrency: int) -> list[Check]:
    """Identity, organization and member roles, each skipped when what it needs is missing."""
    identity, gateway, hub_account = identity_check(connection, settings)
    checks = [identity]
    if gateway is None or hub_account is None:
        checks.append(not_checked("aws", "organization", "the AWS identity"))
        checks.append(not_checked("aws", "member role", "the AWS identity"))
        return checks
    organization, accounts, management_id = organization_check(gateway, hub_account)
    checks.append(organization)
    if accounts is None:
        checks.append(not_checked("aws", "member role", "the organization listing"))
    elif "WHOSE_KEY_ROLE_NAME" in bad:
        checks.append(not_checked("aws", "member role", "WHOSE_KEY_ROLE_NAME"))
    else:
        checks += role_checks(gateway, settings, accounts, hub_account, management_id, concurrency)
        checks += responder_checks(connection, settings, accounts, concurrency)
    return checks


def identity_check(connection: AwsConnection, settings: Settings) -> tuple[Check, AwsGateway | None, str | None]:
    """sts:GetCallerIdentity on the connection; the gateway and hub account when it answers."""

    def failed(detail: str, fix: str) -> tuple[Check, None, None]:
        return Check("aws", "identity", Status.FAIL, detail, fix), None, None

    try:
        gateway = connection.gateway(settings)
        arn = str(gateway.hub_client("sts").get_caller_identity()["Arn"])
    except (NoCredentialsError, PartialCredentialsError) as exc:
        return failed(
            "only half an AWS key pair is set"
            if isinstance(exc, PartialCredentialsError)
            else "no AWS credentials found",
            "give whose-key credentials through the standard chain: the compute's role (ECS task role, EC2 "
            "instance profile), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    except ProfileNotFound:
        return failed(
            f"AWS_PROFILE names a profile that does not exist ({connection.profile or ''})",
            "fix AWS_PROFILE or add that profile to ~/.aws/config (AWS_CONFIG_FILE)",
        )
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        endpoint = connection.endpoint_url
        return failed(
            f"could not reach the AWS endpoint ({type(exc).__name__}: {exc})",
            f"AWS_ENDPOINT_URL is set to {endpoint}: make sure it is right, or unset it"
            if endpoint
            else "check outbound HTTPS to AWS (proxy, VPC endpoints, security groups, DNS)",
        )
    except ClientError as exc:
        code = error_code(exc)
        if code in _REJECTED_CREDENTIAL_CODES:
            return failed(
                f"AWS rejected the credentials ({code})",
                "the credentials are wrong or expired: renew the session (aws sso login, a fresh role "
                "session) or fix AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            )
        return failed(f"sts:GetCallerIdentity failed ({code})", "check the AWS credentials whose-key runs with")
    except BotoCoreError as exc:
        return failed(f"AWS could not be called ({type(exc).__name__})", "check the AWS_* settings and credentials")
    account = arn.split(":")[4]
    return Check("aws", "identity", Status.OK, f"{arn} (account {account})"), gateway, account


def organization_check(gateway: AwsGateway, hub_account: str) -> tuple[Check, list[Account] | None, str | None]:
    """The organization's accounts and its management account, as whose-key's identity sees them."""
    organizations = gateway.hub_client("organizations")
    try:
        accounts = list(get_organization_accounts(organizations))
    except AwsCallError as exc:
        return organization_failure(exc, "organizations:ListAccounts", hub_account), None, None
    try:
        management_id: str | None = get_management_account_id(organizations)
    except AwsCallError as exc:
        return organization_failure(exc, "organizations:DescribeOrganization", hub_account), accounts, None

    active = sum(1 for a in accounts if a.status == "ACTIVE")
    where = (
        "whose-key runs in the management account"
        if hub_account == management_id
        else f"whose-key runs in member account {hub_account} (a delegated administrator)"
    )
    detail = f"{len(accounts)} accounts ({active} active); management account {management_id}; {where}"
    return Check("aws", "organization", Status.OK, detail), accounts, management_id


def organization_failure(exc: AwsCallError, action: str, hub_account: str) -> Check:
    code = error_code(exc.__cause__) if exc.__cause__ is not None else ""
    if code == "AWSOrganizationsNotInUseException":
        return Check(
            "aws",
            "organization",
            Status.FAIL,
            f"account {hub_account} is not in an AWS Organization",
            "run whose-key with credentials of the organization's management account or a delegated administrator",
        )
    if exc.outcome is AccountOutcome.ACCESS_DENIED:
        return Check(
            "aws",
            "organization",
            Status.FAIL,
            f"{action} was denied ({code})",
            "run whose-key in the management account or a delegated administrator, with "
            "organizations:ListAccounts and organizations:DescribeOrganization (deploy/hub-role.yaml)",
        )
    return Check(
        "aws",
        "organization",
        Status.FAIL,
        f"{action} failed: {exc.detail}",
        "run whose-key doctor again; if it persists, check AWS Organizations in the AWS Health Dashboard",
    )
