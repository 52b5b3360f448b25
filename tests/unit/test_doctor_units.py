"""The doctor's pure parts: the AWS connection read from a given environment (never from or into
os.environ), the settings checks, the meaning of AWS failures, the scope check and the report."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import PartialCredentialsError, ProfileNotFound

from bot.scopes import BOT_SCOPES
from cli.doctor import Check, Status, render_checks
from cli.doctor.aws import identity_check
from cli.doctor.aws_session import AwsConnection
from cli.doctor.report import exit_code
from cli.doctor.responder import _two_person_rule
from cli.doctor.roles import role_failure
from cli.doctor.settings import settings_checks
from cli.doctor.slack import scope_check
from core.settings import Settings
from workers.aws.errors import AccountOutcome, AwsCallError
from workers.model import Account

SECRET = "secret-access-key-never-shown"
SETTINGS = Settings(slack_bot_token="xoxb-test", slack_signing_secret="signing")
SLACK_ENV = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "signing"}


@pytest.fixture
def aws_config(tmp_path: Path) -> Path:
    """A shared config file with one profile, named only through the mapping handed to the doctor."""
    path = tmp_path / "config"
    path.write_text("[profile ops]\nregion = eu-west-1\n")
    return path


@pytest.fixture
def no_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own AWS_* variables removed for one test.

    What a connection leaves unset falls to boto3's chain, which reads the process environment: a
    profile or region set on the machine running the tests would otherwise change the outcome.
    """
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)


# -- the AWS connection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        # Nothing set: every part falls to boto3's own chain.
        ({}, AwsConnection()),
        # Blank values count as unset, as they do for the bot's own settings.
        ({"AWS_PROFILE": " ", "AWS_ENDPOINT_URL": ""}, AwsConnection()),
        # The plain names an operator sets.
        (
            {"AWS_PROFILE": "ops", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"},
            AwsConnection(profile="ops", region="eu-west-1", endpoint_url="http://127.0.0.1:5000"),
        ),
        # botocore's own precedence: the DEFAULT_ names first.
        (
            {
                "AWS_PROFILE": "b",
                "AWS_DEFAULT_PROFILE": "a",
                "AWS_REGION": "eu-west-1",
                "AWS_DEFAULT_REGION": "us-east-2",
            },
            AwsConnection(profile="a", region="us-east-2"),
        ),
        # A key pair with its session token, and the files that hold profiles.
        (
            {
                "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_SESSION_TOKEN": "token",
                "AWS_CONFIG_FILE": "/etc/aws/config",
                "AWS_SHARED_CREDENTIALS_FILE": "/etc/aws/credentials",
            },
            AwsConnection(
                access_key_id="AKIAEXAMPLE",
                secret_access_key=SECRET,
                session_token="token",
                config_file="/etc/aws/config",
                credentials_file="/etc/aws/credentials",
            ),
        ),
    ],
)
def test_connection_reads_the_standard_variables_from_the_given_mapping(
    env: dict[str, str], expected: AwsConnection
) -> None:
    """AwsConnection.from_env takes each AWS_* value from the mapping, with botocore's precedence."""
    assert AwsConnection.from_env(env) == expected


@pytest.mark.usefixtures("no_process_aws")
def test_session_uses_the_mapping_and_leaves_os_environ_alone(aws_config: Path) -> None:
    """The session takes profile, config file and credentials from the connection; os.environ is unchanged."""
    before = dict(os.environ)
    connection = AwsConnection.from_env(
        {
            "AWS_PROFILE": "ops",
            "AWS_CONFIG_FILE": str(aws_config),
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": SECRET,
        }
    )
    session = connection.session()

    assert session.profile_name == "ops"
    assert session.region_name == "eu-west-1", "the region comes from the profile in the given config file"
    credentials = session.get_credentials()
    assert credentials is not None and credentials.access_key == "AKIAEXAMPLE"
    assert dict(os.environ) == before


@pytest.mark.usefixtures("no_process_aws")
def test_gateway_clients_call_the_given_endpoint() -> None:
    """The gateway built from a connection points its clients at the connection's endpoint URL."""
    connection = AwsConnection(endpoint_url="http://127.0.0.1:9", access_key_id="AKIAEXAMPLE", secret_access_key=SECRET)
    gateway = connection.gateway(SETTINGS)

    assert gateway.hub_client("sts").meta.endpoint_url == "http://127.0.0.1:9"
    assert gateway.role_name == SETTINGS.role_name


def test_half_a_key_pair_is_refused_before_any_call() -> None:
    """An access key ID without its secret raises PartialCredentialsError naming the missing variable."""
    with pytest.raises(PartialCredentialsError, match="AWS_SECRET_ACCESS_KEY"):
        AwsConnection(access_key_id="AKIAEXAMPLE").session()


def test_connection_repr_hides_the_secrets() -> None:
    """Neither the secret access key nor the session token appears in the connection's repr."""
    text = repr(AwsConnection(access_key_id="AKIAEXAMPLE", secret_access_key=SECRET, session_token="tok-secret"))
    assert "AKIAEXAMPLE" in text
    assert SECRET not in text and "tok-secret" not in text


def test_unknown_profile_fails_identity_naming_it(aws_config: Path) -> None:
    """A profile missing from the config file FAILs the identity check, naming the profile, with no AWS call."""
    connection = AwsConnection(profile="nope", config_file=str(aws_config), credentials_file=str(aws_config))
    with pytest.raises(ProfileNotFound):
        connection.session().client("sts", region_name="us-east-1")

    check, gateway, account = identity_check(connection, SETTINGS)
    assert (check.status, check.detail) == (Status.FAIL, "AWS_PROFILE names a profile that does not exist (nope)")
    assert gateway is None and account is None


def test_half_a_key_pair_fails_identity_with_the_fix() -> None:
    """Half a key pair FAILs the identity check with the credentials fix, and shows no secret."""
    check, _, _ = identity_check(AwsConnection(secret_access_key=SECRET), SETTINGS)
    assert (check.status, check.detail) == (Status.FAIL, "only half an AWS key pair is set")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in check.fix
    assert SECRET not in render_checks([check])


# -- settings --------------------------------------------------------------------------------------


def test_events_token_warning_points_at_the_hub_template_only() -> None:
    """Without a token or SNS topics the doctor warns, and the fix puts EventsToken in events-hub.yaml only."""
    outcome = settings_checks({**SLACK_ENV, "WHOSE_KEY_AUDIT_CHANNEL": "C0AUDIT01"})
    (warning,) = [c for c in outcome.checks if c.status is Status.WARN]

    assert warning.name == "events token"
    assert "as EventsToken to deploy/events-hub.yaml, in the hub account only" in warning.fix
    assert "member accounts hold no token, they only forward key events to the hub (deploy/events-stackset.yaml" in (
        warning.fix
    )
    assert "EventsToken to deploy/events-stackset.yaml" not in warning.fix


@pytest.mark.parametrize(
    "delivery",
    [
        {"WHOSE_KEY_EVENTS_TOKEN": "events-token"},  # EventBridge API destination
        {"WHOSE_KEY_SNS_TOPICS": "arn:aws:sns:us-east-1:222222222222:whose-key-events"},  # Delivery=Sns
    ],
)
def test_either_way_of_delivering_events_is_enough(delivery: dict[str, str]) -> None:
    """A bearer token or an SNS topic allow-list each make a working events setup: no warning."""
    outcome = settings_checks({**SLACK_ENV, "WHOSE_KEY_AUDIT_CHANNEL": "C0AUDIT01", **delivery})
    assert [(c.status, c.name) for c in outcome.checks] == [(Status.OK, "environment")]


def test_every_bad_setting_fails_and_the_rest_are_read() -> None:
    """A missing bot token and a malformed port each FAIL; the other settings are still read."""
    outcome = settings_checks({"PORT": "eighty", "REDIS_URL": "redis://:hunter2@cache:6379/0"})

    fails = {c.name: c for c in outcome.checks if c.status is Status.FAIL}
    assert set(fails) == {"SLACK_BOT_TOKEN", "PORT"}
    assert "Bot User OAuth Token" in fails["SLACK_BOT_TOKEN"].fix
    assert outcome.bad == {"SLACK_BOT_TOKEN", "PORT"}
    assert outcome.settings.redis_url == "redis://:hunter2@cache:6379/0"


# -- what AWS failures mean ------------------------------------------------------------------------

ACCOUNT = Account("111111111111", "acme-dev")
MANAGEMENT = "999999999999"


@pytest.mark.parametrize(
    ("outcome", "stage", "own", "status", "fix"),
    [
        # Throttled after retries: nothing is broken, try later.
        (AccountOutcome.THROTTLED, "assume", False, Status.WARN, "again in a few minutes"),
        # The role is missing or its trust policy refuses whose-key: deploy it to the account's OU.
        (AccountOutcome.ASSUME_ROLE_FAILED, "assume", False, Status.FAIL, "member-role-stackset.yaml to the OU of"),
        # The role was assumed but a read is denied: update the role from the StackSet.
        (AccountOutcome.ACCESS_DENIED, "iam:GetUser", False, Status.FAIL, "update WhoseKeyReadOnly from deploy/"),
        # whose-key's own account is read with its own credentials: the hub role needs the reads.
        (AccountOutcome.ACCESS_DENIED, "iam:GetUser", True, Status.FAIL, "IncludeManagementAccountReads=true"),
        # A suspended account is expected to be unreadable.
        (AccountOutcome.SUSPENDED, "iam:GetUser", False, Status.WARN, "unless the account should be in use"),
        # Anything else: say what failed and suggest a second run.
        (AccountOutcome.ERROR, "iam:ListAccessKeys", False, Status.FAIL, "run whose-key doctor again"),
    ],
)
def test_role_failure_gives_status_and_deploy_fix(
    outcome: AccountOutcome, stage: str, own: bool, status: Status, fix: str
) -> None:
    """Each way the member-role probe can fail maps to a status and the fix that matches it."""
    result = role_failure(ACCOUNT, AwsCallError(outcome, "detail"), SETTINGS, stage=stage, own=own)
    assert result.status is status
    assert fix in result.fix


def test_management_account_without_role_gets_the_plain_stack_fix() -> None:
    """StackSets skip the management account, so its fix is member-role.yaml as a plain stack."""
    management = Account(MANAGEMENT, "root")
    error = AwsCallError(AccountOutcome.ASSUME_ROLE_FAILED, "could not assume the role")
    result = role_failure(management, error, SETTINGS, stage="assume", own=False, management_id=MANAGEMENT)
    assert result.fix.startswith(
        f"deploy deploy/member-role.yaml as a plain stack in the management account {MANAGEMENT}"
    )


# -- Slack scopes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        # Slack sent no scope header: cannot tell, so warn.
        ({}, Status.WARN, "Slack did not say which scopes the token has (no X-OAuth-Scopes header)"),
        # Every scope granted (header names are case-insensitive).
        ({"X-Oauth-Scopes": ",".join(BOT_SCOPES)}, Status.OK, f"all {len(BOT_SCOPES)} bot scopes granted"),
        # Two scopes missing: both named, in the bot's order.
        (
            {"x-oauth-scopes": [", ".join(s for s in BOT_SCOPES if s not in ("commands", "usergroups:read"))]},
            Status.FAIL,
            "missing bot scopes: commands, usergroups:read",
        ),
    ],
)
def test_scope_check_compares_granted_scopes_with_the_bots(
    headers: dict[str, object], status: Status, detail: str
) -> None:
    """The scope check reads X-OAuth-Scopes and names every bot scope it lacks."""
    check = scope_check(headers)
    assert (check.status, check.detail) == (status, detail)


# -- the report ------------------------------------------------------------------------------------

OK = Check("redis", "connection", Status.OK, "works")
WARN = Check("settings", "audit channel", Status.WARN, "unset", "set it")
FAIL = Check("aws", "identity", Status.FAIL, "no credentials", "give it credentials")


@pytest.mark.parametrize(
    ("checks", "code"),
    [
        ([], 0),  # nothing checked, nothing failed
        ([OK, WARN], 0),  # warnings never fail the doctor
        ([OK, WARN, FAIL], 1),  # one FAIL is enough
    ],
)
def test_exit_code_is_one_only_when_something_fails(checks: list[Check], code: int) -> None:
    """The doctor exits 1 when a check FAILs and 0 otherwise."""
    assert exit_code(checks) == code


def test_report_without_failures_says_ready_and_lists_each_fix() -> None:
    """With only a warning, the report lists its fix and says whose-key is ready."""
    lines = render_checks([OK, WARN]).splitlines()
    assert lines == [
        "STATUS  AREA      CHECK          DETAIL",
        "OK      redis     connection     works",
        "WARN    settings  audit channel  unset",
        "",
        "How to fix:",
        "  1. [WARN] settings audit channel: set it",
        "",
        "1 OK, 1 WARN, 0 FAIL. whose-key is ready.",
    ]


def test_report_of_all_ok_has_no_fix_section() -> None:
    """When every check is OK there is no "How to fix" section."""
    text = render_checks([OK])
    assert "How to fix" not in text
    assert text.endswith("1 OK, 0 WARN, 0 FAIL. whose-key is ready.\n")


@pytest.mark.parametrize(
    ("approvals", "audit_channel", "status"),
    [(1, None, None), (2, "C0AUDIT01", Status.OK), (2, None, Status.FAIL)],
)
def test_the_two_person_rule_needs_an_audit_channel(
    approvals: int, audit_channel: str | None, status: Status | None
) -> None:
    settings = SimpleNamespace(responder_approvals=approvals, audit_channel=audit_channel)
    checks = _two_person_rule(settings)  # type: ignore[arg-type]
    assert [c.status for c in checks] == ([] if status is None else [status])
    if status is Status.FAIL:
        assert "WHOSE_KEY_AUDIT_CHANNEL" in checks[0].detail and checks[0].fix
