"""`whose-key doctor`: check every setting, Slack, Redis, AWS and the member role in every
account, and say what is wrong with a fix for each.

Each check stands on its own: one failing does not stop the others, except where a later check
needs an earlier result (no organization listing without an AWS identity, no role check without
the listing). Nothing secret is ever shown: not tokens, not the signing secret, not credentials.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO
from urllib.parse import urlparse

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
from redis.exceptions import RedisError, ResponseError
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.scopes import BOT_SCOPES
from core.redis_keys import DOCTOR_PROBE, connect, redis_key
from core.settings import Settings, SettingsError
from core.slack_client import make_web_client
from workers.aws import (
    AwsCallError,
    AwsGateway,
    classify,
    error_code,
    get_management_account_id,
    get_organization_accounts,
)
from workers.report import Account, AccountOutcome

# AWS's documented example key: well formed, owned by nobody, so IAM answers NoSuchEntity when
# the role may read keys and AccessDenied when it may not.
PROBE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
# A user name no one has, for the same allowed-or-denied probe of ListAccessKeys and GetUser.
PROBE_USER_NAME = "whose-key-doctor-probe"
# How long the Redis probe key may outlive a doctor that dies between write and delete.
REDIS_PROBE_TTL = 60
# Accounts named one by one in a "How to fix" entry before the rest are only counted.
FIX_NAMES_SHOWN = 5

_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]+")
_SLACK_AUTH_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
_REJECTED_CREDENTIAL_CODES = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
}
# boto3 reads its whole chain (credentials, profile, region, endpoint) from os.environ.
_AWS_ENV_LOCK = threading.Lock()


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report; `fix` says what to do when it is not OK."""

    area: str
    name: str
    status: Status
    detail: str
    fix: str = ""


def run_doctor(environ: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run every check and print the report; 0 when nothing FAILs, 1 otherwise."""
    checks = run_checks(environ)
    out.write(render_checks(checks))
    out.flush()
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def run_checks(environ: Mapping[str, str] | None = None, *, role_check_concurrency: int = 16) -> list[Check]:
    """Every check, in order: settings, Slack, Redis, AWS identity, organization, member roles."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    checks, settings, bad = _settings_checks(env)
    checks += _slack_checks(settings, bad)
    checks += _redis_checks(settings, bad)
    with _aws_environment(env):
        checks += _aws_checks(settings, bad, role_check_concurrency)
    return checks


# -- settings ------------------------------------------------------------------------------------


def _settings_checks(env: Mapping[str, str]) -> tuple[list[Check], Settings, set[str]]:
    """Report every bad setting (not only the first), and the settings to check the rest with."""
    checks: list[Check] = []
    bad: set[str] = set()
    remaining = dict(env)
    require_slack = True
    while True:
        try:
            settings = Settings.from_env(remaining, require_slack=require_slack)
            break
        except SettingsError as exc:
            variable = _variable_in(exc)
            bad.add(variable)
            checks.append(Check("settings", variable or "environment", Status.FAIL, str(exc), _setting_fix(variable)))
            if remaining.get(variable, "").strip():
                del remaining[variable]  # malformed: check the others with its default
            elif require_slack:
                require_slack = False  # a Slack setting is missing: check the others without it
            else:  # cannot happen with today's settings, but never loop forever
                settings = Settings(slack_bot_token="", slack_signing_secret=None)
                break

    if not bad:
        mode = "Socket Mode" if settings.slack_app_token else "HTTP mode"
        external_id = "with an ExternalId" if settings.external_id else "no ExternalId"
        checks.append(
            Check(
                "settings",
                "environment",
                Status.OK,
                f"{mode}; Slack API {settings.slack_api_url}; Redis {_redact_url(settings.redis_url)}; "
                f"role {settings.role_name} ({external_id}); sweep every {settings.sweep_interval}s"
                + ("" if settings.sweep_interval else " (off)"),
            )
        )
    if not settings.events_token:
        checks.append(
            Check(
                "settings",
                "events token",
                Status.WARN,
                "WHOSE_KEY_EVENTS_TOKEN is unset: /aws/events refuses all events, so key deactivations "
                "reach Slack only through the periodic sweep",
                "set WHOSE_KEY_EVENTS_TOKEN to a long random value (openssl rand -hex 32) and give the same "
                "value as EventsToken to deploy/events-stackset.yaml and events-member.yaml",
            )
        )
    if not settings.audit_channel:
        checks.append(
            Check(
                "settings",
                "audit channel",
                Status.WARN,
                "WHOSE_KEY_AUDIT_CHANNEL is unset: key-deactivation notices and the audit trail are not posted",
                "set WHOSE_KEY_AUDIT_CHANNEL to a channel ID (C…) and invite the bot to that channel",
            )
        )
    return checks, settings, bad


def _variable_in(exc: SettingsError) -> str:
    match = _VARIABLE.match(str(exc))
    return match.group(0) if match else ""


def _setting_fix(variable: str) -> str:
    fixes = {
        "SLACK_BOT_TOKEN": "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-…, from OAuth & Permissions)",
        "SLACK_SIGNING_SECRET": "set SLACK_SIGNING_SECRET from the app's Basic Information page, or set "
        "SLACK_APP_TOKEN (xapp-…) to run in Socket Mode",
        "SLACK_APP_TOKEN": "set SLACK_APP_TOKEN to an app-level token (xapp-…, Basic Information → App-Level "
        "Tokens, scope connections:write), or unset it for HTTP mode",
    }
    return fixes.get(variable, f"fix {variable or 'the setting'} (see Configuration in README.md)")


# -- Slack ---------------------------------------------------------------------------------------


def _slack_checks(settings: Settings, bad: set[str]) -> list[Check]:
    blocked = sorted(bad & {"SLACK_BOT_TOKEN", "SLACK_API_URL"})
    if blocked or not settings.slack_bot_token:
        return [_not_checked("slack", "auth.test", " and ".join(blocked) or "SLACK_BOT_TOKEN")]
    client = make_web_client(settings)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in _SLACK_AUTH_ERRORS:
            fix = (
                "SLACK_BOT_TOKEN is not accepted: copy the Bot User OAuth Token (xoxb-…) from the app's "
                "OAuth & Permissions page (reinstall the app if the token was revoked)"
            )
        else:
            fix = f"see https://api.slack.com/methods/auth.test for '{error}'; check SLACK_API_URL"
        return [Check("slack", "auth.test", Status.FAIL, f"Slack refused the bot token ({error})", fix)]
    except (SlackClientError, OSError) as exc:
        return [
            Check(
                "slack",
                "auth.test",
                Status.FAIL,
                f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})",
                "check SLACK_API_URL (or unset it for https://slack.com/api/) and outbound HTTPS to Slack",
            )
        ]

    bot = f"{response.get('user')} ({response.get('user_id')})"
    who = f"bot {bot} in {response.get('team')} ({response.get('team_id')})"
    if response.get("bot_id"):
        checks = [Check("slack", "auth.test", Status.OK, f"{who} via {settings.slack_api_url}")]
    else:
        checks = [
            Check(
                "slack",
                "auth.test",
                Status.WARN,
                f"{who}: the token is not a bot token",
                "use the Bot User OAuth Token (xoxb-…), not a user token",
            )
        ]
    checks.append(_scope_check(response.headers))
    return checks


def _scope_check(headers: Mapping[str, Any]) -> Check:
    by_name = {name.lower(): value for name, value in headers.items()}
    raw = by_name.get("x-oauth-scopes")
    if raw is None:
        return Check(
            "slack",
            "scopes",
            Status.WARN,
            "Slack did not say which scopes the token has (no X-OAuth-Scopes header)",
            "check the app's OAuth & Permissions page has every scope in deploy/slack-manifest.yml",
        )
    text = ",".join(raw) if isinstance(raw, list) else str(raw)
    granted = {scope.strip() for scope in text.split(",") if scope.strip()}
    missing = [scope for scope in BOT_SCOPES if scope not in granted]
    if missing:
        return Check(
            "slack",
            "scopes",
            Status.FAIL,
            f"missing bot scopes: {', '.join(missing)}",
            f"add {', '.join(missing)} in the app's OAuth & Permissions page (or deploy/slack-manifest.yml) "
            "and reinstall the app",
        )
    return Check("slack", "scopes", Status.OK, f"all {len(BOT_SCOPES)} bot scopes granted")


# -- Redis ---------------------------------------------------------------------------------------


def _redis_checks(settings: Settings, bad: set[str]) -> list[Check]:
    if "REDIS_URL" in bad:
        return [_not_checked("redis", "connection", "REDIS_URL")]
    where = _redact_url(settings.redis_url)
    redis = connect(settings.redis_url)
    try:
        redis.ping()
        probe, marker = redis_key(DOCTOR_PROBE, uuid.uuid4().hex), uuid.uuid4().hex
        redis.set(probe, marker, ex=REDIS_PROBE_TTL)
        read_back = redis.get(probe)
        redis.delete(probe)
        server = redis.info("server")
        policy = str(redis.info("memory").get("maxmemory_policy", "noeviction"))
    except ResponseError as exc:
        readonly = "READONLY" in str(exc)
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"Redis at {where} refused a command ({'read-only replica' if readonly else type(exc).__name__})",
                "point REDIS_URL at the primary, not a replica"
                if readonly
                else "whose-key needs a plain Redis (5 or newer) where it may SET, GET, DEL and INFO",
            )
        ]
    except RedisError as exc:
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"could not use Redis at {where}: {_redact_text(str(exc), settings.redis_url)}",
                "start Redis or point REDIS_URL at one that web and worker can reach "
                "(redis://[:password@]host:6379/0); check the password and any firewall",
            )
        ]
    finally:
        redis.close()
    if read_back != marker.encode():
        return [
            Check(
                "redis",
                "connection",
                Status.FAIL,
                f"Redis at {where} did not give back what was written",
                "use a plain Redis (not a cache that drops writes) for REDIS_URL",
            )
        ]
    checks = [
        Check(
            "redis",
            "connection",
            Status.OK,
            f"Redis {server.get('redis_version', '?')} at {where}: ping, write, read and delete work",
        )
    ]
    if policy != "noeviction":
        checks.append(
            Check(
                "redis",
                "eviction policy",
                Status.WARN,
                f"maxmemory-policy is {policy}: under memory pressure Redis may drop queued lookups",
                "set maxmemory-policy noeviction on this Redis (RQ's queues must not be evicted)",
            )
        )
    return checks


# -- AWS -----------------------------------------------------------------------------------------


@contextmanager
def _aws_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Let boto3 see env's AWS_* variables: its chain reads os.environ and nothing else."""
    if env is os.environ:
        yield
        return
    with _AWS_ENV_LOCK:
        saved = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
        try:
            for name in saved:
                del os.environ[name]
            os.environ.update({name: value for name, value in env.items() if name.startswith("AWS_")})
            yield
        finally:
            for name in [name for name in os.environ if name.startswith("AWS_")]:
                del os.environ[name]
            os.environ.update(saved)


def _aws_checks(settings: Settings, bad: set[str], concurrency: int) -> list[Check]:
    identity, gateway, hub_account = _identity_check(settings)
    checks = [identity]
    if gateway is None or hub_account is None:
        checks.append(_not_checked("aws", "organization", "the AWS identity"))
        checks.append(_not_checked("aws", "member role", "the AWS identity"))
        return checks
    organization, accounts, management_id = _organization_check(gateway, hub_account)
    checks.append(organization)
    if accounts is None:
        checks.append(_not_checked("aws", "member role", "the organization listing"))
    elif "WHOSE_KEY_ROLE_NAME" in bad:
        checks.append(_not_checked("aws", "member role", "WHOSE_KEY_ROLE_NAME"))
    else:
        checks += _role_checks(gateway, settings, accounts, hub_account, management_id, concurrency)
    return checks


def _identity_check(settings: Settings) -> tuple[Check, AwsGateway | None, str | None]:
    def failed(detail: str, fix: str) -> tuple[Check, None, None]:
        return Check("aws", "identity", Status.FAIL, detail, fix), None, None

    try:
        gateway = AwsGateway(settings.role_name, settings.external_id)
        arn = str(gateway.hub_client("sts").get_caller_identity()["Arn"])
    except (NoCredentialsError, PartialCredentialsError):
        return failed(
            "no AWS credentials found",
            "give whose-key credentials through the standard chain: the compute's role (ECS task role, EC2 "
            "instance profile), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    except ProfileNotFound:
        return failed(
            f"AWS_PROFILE names a profile that does not exist ({os.environ.get('AWS_PROFILE', '')})",
            "fix AWS_PROFILE or add that profile to ~/.aws/config (AWS_CONFIG_FILE)",
        )
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
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


def _organization_check(gateway: AwsGateway, hub_account: str) -> tuple[Check, list[Account] | None, str | None]:
    organizations = gateway.hub_client("organizations")
    try:
        accounts = list(get_organization_accounts(organizations))
    except AwsCallError as exc:
        return _organization_failure(exc, "organizations:ListAccounts", hub_account), None, None
    try:
        management_id: str | None = get_management_account_id(organizations)
    except AwsCallError as exc:
        return _organization_failure(exc, "organizations:DescribeOrganization", hub_account), accounts, None

    active = sum(1 for a in accounts if a.status == "ACTIVE")
    where = (
        "whose-key runs in the management account"
        if hub_account == management_id
        else f"whose-key runs in member account {hub_account} (a delegated administrator)"
    )
    detail = f"{len(accounts)} accounts ({active} active); management account {management_id}; {where}"
    return Check("aws", "organization", Status.OK, detail), accounts, management_id


def _organization_failure(exc: AwsCallError, action: str, hub_account: str) -> Check:
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


@dataclass(frozen=True)
class _RoleResult:
    account: Account
    status: Status
    detail: str = ""
    fix: str = ""


def _role_checks(
    gateway: AwsGateway,
    settings: Settings,
    accounts: list[Account],
    hub_account: str,
    management_id: str | None,
    concurrency: int,
) -> list[Check]:
    active = [a for a in accounts if a.status == "ACTIVE"]
    inactive = [a for a in accounts if a.status != "ACTIVE"]
    checks: list[Check] = []
    if active:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(active))), thread_name_prefix="doctor") as pool:
            results = list(pool.map(lambda a: _probe_account(gateway, settings, a, hub_account, management_id), active))
        readable = sum(1 for r in results if r.status is Status.OK)
        summary = f"role assumed in {readable} of {len(active)} accounts"
        hub = next((a for a in active if a.id == hub_account), None)
        if hub is not None:
            summary += f"; whose-key's own account {hub.label} is read with its own credentials"
        worst = max((r.status for r in results), key=_severity)
        checks.append(Check("aws", "member role", worst, summary))
        checks += [
            Check("aws", f"role in {r.account.label}", r.status, r.detail, r.fix)
            for r in results
            if r.status is not Status.OK
        ]
    else:
        checks.append(Check("aws", "member role", Status.WARN, "the organization lists no ACTIVE account to check"))
    if inactive:
        names = ", ".join(f"{a.label} {a.status}" for a in inactive[:FIX_NAMES_SHOWN])
        more = f" and {len(inactive) - FIX_NAMES_SHOWN} more" if len(inactive) > FIX_NAMES_SHOWN else ""
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


def _probe_account(
    gateway: AwsGateway, settings: Settings, account: Account, hub_account: str, management_id: str | None
) -> _RoleResult:
    """Assume the member role in one account (cached by the gateway) and make the reads a lookup makes."""
    own = account.id == hub_account
    try:
        iam = gateway.client(account.id, "iam")
    except AwsCallError as exc:
        return _role_failure(account, exc, settings, stage="assume", own=own, management_id=management_id)
    reads = (
        ("iam:GetAccessKeyLastUsed", iam.get_access_key_last_used, {"AccessKeyId": PROBE_KEY_ID}),
        ("iam:ListAccessKeys", iam.list_access_keys, {"UserName": PROBE_USER_NAME}),
        ("iam:GetUser", iam.get_user, {"UserName": PROBE_USER_NAME}),
    )
    for action, call, kwargs in reads:
        try:
            call(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                continue  # allowed to look; there is simply nothing there
            return _role_failure(account, classify(exc), settings, stage=action, own=own)
        except BotoCoreError as exc:
            return _role_failure(account, classify(exc), settings, stage=action, own=own)
    return _RoleResult(account, Status.OK)


def _role_failure(
    account: Account,
    exc: AwsCallError,
    settings: Settings,
    *,
    stage: str,
    own: bool,
    management_id: str | None = None,
) -> _RoleResult:
    role = settings.role_name
    if exc.outcome is AccountOutcome.THROTTLED:
        return _RoleResult(account, Status.WARN, f"{exc.detail}", "run whose-key doctor again in a few minutes")
    if exc.outcome is AccountOutcome.TIMED_OUT:
        return _RoleResult(
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
            return _RoleResult(
                account,
                Status.FAIL,
                f"could not assume {role} (trust policy or role missing)",
                f"{deploy}, with HubRoleArn set to the role whose-key runs as{external}",
            )
        return _RoleResult(account, Status.FAIL, exc.detail, "check the hub role's sts:AssumeRole permission")
    if exc.outcome is AccountOutcome.ACCESS_DENIED:
        if own:
            return _RoleResult(
                account,
                Status.FAIL,
                f"whose-key's own credentials may not call {stage} in its own account",
                "deploy deploy/hub-role.yaml with IncludeManagementAccountReads=true (or grant the IAM reads of "
                "member-role.yaml to the identity whose-key runs as); check no SCP denies them",
            )
        return _RoleResult(
            account,
            Status.FAIL,
            f"{role} was assumed but {stage} is denied",
            f"update {role} from deploy/member-role-stackset.yaml (it needs iam:GetAccessKeyLastUsed, "
            "iam:ListAccessKeys and iam:GetUser); check no SCP denies them",
        )
    if exc.outcome is AccountOutcome.SUSPENDED:
        return _RoleResult(account, Status.WARN, exc.detail, "nothing to do unless the account should be in use")
    return _RoleResult(account, Status.FAIL, f"{stage} failed: {exc.detail}", "run whose-key doctor again")


def _severity(status: Status) -> int:
    return {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}[status]


# -- rendering -----------------------------------------------------------------------------------


def render_checks(checks: list[Check]) -> str:
    """An aligned table (status, area, check, detail), then how to fix each WARN and FAIL."""
    header = ("STATUS", "AREA", "CHECK", "DETAIL")
    rows = [(str(c.status), c.area, c.name, c.detail) for c in checks]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]

    lines = [line(header), *(line(row) for row in rows)]

    # Checks that share a fix (say, 40 accounts without the role) get one entry naming them.
    fixes: dict[str, list[Check]] = {}
    for check in checks:
        if check.status is not Status.OK and check.fix:
            fixes.setdefault(check.fix, []).append(check)
    if fixes:
        lines += ["", "How to fix:"]
        for number, (fix, owners) in enumerate(fixes.items(), start=1):
            names = ", ".join(f"{c.area} {c.name}" for c in owners[:FIX_NAMES_SHOWN])
            if len(owners) > FIX_NAMES_SHOWN:
                names += f" and {len(owners) - FIX_NAMES_SHOWN} more"
            status = max((c.status for c in owners), key=_severity)
            lines.append(f"  {number}. [{status}] {names}: {fix}")

    counts = {status: sum(1 for c in checks if c.status is status) for status in Status}
    verdict = "whose-key is ready." if not counts[Status.FAIL] else "whose-key will not work until the FAILs are fixed."
    lines += [
        "",
        f"{counts[Status.OK]} OK, {counts[Status.WARN]} WARN, {counts[Status.FAIL]} FAIL. {verdict}",
    ]
    return "\n".join(lines) + "\n"


# -- helpers -------------------------------------------------------------------------------------


def _not_checked(area: str, name: str, needs: str) -> Check:
    return Check(area, name, Status.WARN, f"not checked: needs {needs} (see above)")


def _redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def _redact_text(text: str, url: str) -> str:
    password = urlparse(url).password
    return text.replace(password, "***") if password else text
