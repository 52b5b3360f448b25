"""`whose-key doctor` against real parts: the session's Redis, moto organization and Slack double,
with broken setups made by pointing one setting somewhere wrong or by faults at the AWS boundary."""

from __future__ import annotations

import io
import re
import socket
from typing import Any

import pytest
import urllib3.util.connection
from redis import Redis

from cli.doctor import Check, Status, render_checks, run_checks, run_doctor
from standins.aws_proxy import AwsFaultProxy
from standins.loopback import free_port
from standins.moto_org import FAKE_CREDENTIALS
from standins.slack_double import DEFAULT_SCOPES, SlackDouble
from standins.stack import BOT_TOKEN, SIGNING_SECRET, Stack
from workers.constants import AWS_MAX_ATTEMPTS


def doctor(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(env, out=out)
    return code, out.getvalue()


def row(output: str, status: str, area: str, name: str) -> str:
    """The table line for one check with that status; fails the test when there is none."""
    pattern = re.compile(rf"^{status}\s+{re.escape(area)}\s+{re.escape(name)}\s+(.*)$", re.MULTILINE)
    match = pattern.search(output)
    assert match, f"no {status} {area}/{name} line in:\n{output}"
    return match.group(1)


def account_row(output: str, status: str, account_id: str) -> str:
    """The detail of the per-account role line for account_id (whatever the account is named)."""
    pattern = re.compile(rf"^{status}\s+aws\s+role in \S.*? \({account_id}\)\s+(.*)$", re.MULTILINE)
    match = pattern.search(output)
    assert match, f"no {status} line for account {account_id} in:\n{output}"
    return match.group(1)


def fixes(output: str) -> str:
    assert "How to fix:" in output, output
    return output.split("How to fix:", 1)[1]


def assert_no_secrets(output: str, *secrets: str) -> None:
    for secret in (BOT_TOKEN, SIGNING_SECRET, FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], *secrets):
        assert secret not in output, f"a secret ({secret[:4]}…) reached the doctor's output"


def test_healthy_setup_passes_every_check(stack: Stack, redis: Redis) -> None:
    """On the running stack every check is OK (bar the optional settings) and the exit code is 0."""
    assert stack.org is not None
    optional = ("WHOSE_KEY_EVENTS_TOKEN", "WHOSE_KEY_AUDIT_CHANNEL")
    code, output = doctor({k: v for k, v in stack.env().items() if k not in optional})

    assert code == 0, output
    row(output, "OK", "settings", "environment")
    assert "bot whose-key (UWHOSEKEY)" in row(output, "OK", "slack", "auth.test")
    row(output, "OK", "slack", "scopes")
    assert "ping, write, read and delete work" in row(output, "OK", "redis", "connection")
    assert stack.org.management_account_id in row(output, "OK", "aws", "identity")
    assert f"{len(stack.org.accounts)} accounts" in row(output, "OK", "aws", "organization")
    n = len(stack.org.accounts)
    assert f"role assumed in {n} of {n} accounts" in row(output, "OK", "aws", "member role")
    assert not re.search(r"^FAIL", output, re.MULTILINE)
    # Both unset here: they are optional, so they warn with a fix but do not fail.
    assert "/aws/events refuses all events" in row(output, "WARN", "settings", "events token")
    row(output, "WARN", "settings", "audit channel")
    assert "WHOSE_KEY_AUDIT_CHANNEL" in fixes(output)
    assert_no_secrets(output)
    assert not list(redis.scan_iter("whose-key:doctor:*")), "the Redis probe key was left behind"


def test_optional_settings_set_leave_no_warnings(stack: Stack) -> None:
    """With the events token and audit channel set, the settings raise no warning."""
    events_token = "events-token-that-must-stay-secret"
    env = {**stack.env(), "WHOSE_KEY_EVENTS_TOKEN": events_token, "WHOSE_KEY_AUDIT_CHANNEL": "C0AUDIT01"}
    checks = run_checks(env)
    assert [c for c in checks if c.status is not Status.OK] == []
    assert_no_secrets(render_checks(checks), events_token)


def test_missing_bot_token_fails_naming_the_variable(stack: Stack) -> None:
    """Without SLACK_BOT_TOKEN the settings check fails naming it, and Redis and AWS are still checked."""
    env = {k: v for k, v in stack.env().items() if k != "SLACK_BOT_TOKEN"}
    code, output = doctor(env)

    assert code == 1
    assert "SLACK_BOT_TOKEN is required" in row(output, "FAIL", "settings", "SLACK_BOT_TOKEN")
    assert "Bot User OAuth Token" in fixes(output)
    assert "not checked" in row(output, "WARN", "slack", "auth.test")
    row(output, "OK", "redis", "connection")
    row(output, "OK", "aws", "member role")
    assert_no_secrets(output)


def test_every_bad_setting_is_reported_at_once(stack: Stack) -> None:
    """Two malformed settings give two FAILs, and the checks they do not concern still run."""
    env = {**stack.env(), "PORT": "not-a-port", "WHOSE_KEY_ALLOWED_CHANNELS": "general"}
    code, output = doctor(env)

    assert code == 1
    assert "PORT must be a whole number" in row(output, "FAIL", "settings", "PORT")
    row(output, "FAIL", "settings", "WHOSE_KEY_ALLOWED_CHANNELS")
    row(output, "OK", "slack", "auth.test")
    row(output, "OK", "redis", "connection")


def test_wrong_bot_token_fails_auth_test(stack: Stack) -> None:
    """A token Slack does not accept fails auth.test (invalid_auth) with how to get the right one."""
    wrong = "xoxb-not-the-right-token"
    code, output = doctor({**stack.env(), "SLACK_BOT_TOKEN": wrong})

    assert code == 1
    assert "invalid_auth" in row(output, "FAIL", "slack", "auth.test")
    assert "SLACK_BOT_TOKEN is not accepted" in fixes(output)
    assert_no_secrets(output, wrong)


def test_missing_scopes_are_listed_with_the_fix(stack: Stack) -> None:
    """A token without some bot scopes fails the scope check, naming each missing scope."""
    fewer = tuple(s for s in DEFAULT_SCOPES if s not in ("reactions:write", "usergroups:read"))
    with SlackDouble(token=BOT_TOKEN, scopes=fewer) as slack:
        code, output = doctor({**stack.env(), "SLACK_API_URL": slack.base_url})

    assert code == 1
    row(output, "OK", "slack", "auth.test")
    assert row(output, "FAIL", "slack", "scopes") == "missing bot scopes: reactions:write, usergroups:read"
    how = fixes(output)
    assert "OAuth & Permissions page (or deploy/slack-manifest.yml) and reinstall" in how
    assert_no_secrets(output)


def test_unreachable_redis_fails_with_fix(stack: Stack) -> None:
    """REDIS_URL pointing at a closed port fails the Redis check; Slack and AWS are still checked."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, output = doctor({**stack.env(), "REDIS_URL": url})

    assert code == 1
    assert url in row(output, "FAIL", "redis", "connection")
    assert "point REDIS_URL at one that web and worker can reach" in fixes(output)
    row(output, "OK", "slack", "auth.test")
    row(output, "OK", "aws", "member role")


def test_unreachable_aws_endpoint_fails_fast(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL at a closed port fails the identity check quickly and skips what needs it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # Quickly, counted rather than timed: each connection is refused at once (no timeout waited
    # out), and the doctor tries AWS_MAX_ATTEMPTS of them, then gives up. Its speed is the machine's.
    attempts: list[tuple[str, int]] = []
    connect = urllib3.util.connection.create_connection

    def counting(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[1] == port:
            attempts.append(address)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    code, output = doctor({**stack.env(), "AWS_ENDPOINT_URL": endpoint})

    assert code == 1
    identity = row(output, "FAIL", "aws", "identity")
    assert "could not reach the AWS endpoint (EndpointConnectionError" in identity, "refused, not timed out"
    assert len(attempts) == AWS_MAX_ATTEMPTS, f"{len(attempts)} connections tried"
    assert f"AWS_ENDPOINT_URL is set to {endpoint}" in fixes(output)
    assert "not checked" in row(output, "WARN", "aws", "organization")
    assert "not checked" in row(output, "WARN", "aws", "member role")
    assert_no_secrets(output)


def test_role_that_cannot_be_assumed_fails_that_account_only(stack: Stack) -> None:
    """AssumeRole denied in one account: that account FAILs with the deploy fix, the rest are counted OK."""
    assert stack.org is not None
    broken = stack.org.accounts["acme-dev"]
    n = len(stack.org.accounts)
    with AwsFaultProxy(stack.moto.url) as proxy:
        fault = proxy.fail(
            "AssumeRole",
            lambda params: params.get("RoleArn", "").startswith(f"arn:aws:iam::{broken}:role/"),
            403,
            "AccessDenied",
            "not authorized",
        )
        code, output = doctor({**stack.env(), "AWS_ENDPOINT_URL": proxy.url})

    assert code == 1
    assert fault.hits == 1, "AccessDenied is not retried, and no other account was refused"
    assert f"role assumed in {n - 1} of {n} accounts" in row(output, "FAIL", "aws", "member role")
    detail = row(output, "FAIL", "aws", f"role in acme-dev ({broken})")
    assert detail == "could not assume WhoseKeyReadOnly (trust policy or role missing)"
    assert f"deploy deploy/member-role-stackset.yaml to the OU of {broken}" in fixes(output)
    per_account = re.findall(r"^\w+\s+aws\s+role in ", output, re.MULTILINE)
    assert len(per_account) == 1, "only the failing account is listed on its own"
    assert_no_secrets(output)


def test_denied_iam_read_is_named_with_the_policy_fix(stack: Stack) -> None:
    """IAM denying a read the bot needs FAILs every account, naming the action, with one grouped fix."""
    assert stack.org is not None
    management = stack.org.management_account_id
    member = stack.org.accounts["acme-prod"]
    n = len(stack.org.accounts)
    with AwsFaultProxy(stack.moto.url) as proxy:
        proxy.fail("ListAccessKeys", None, 403, "AccessDenied", "not authorized")
        code, output = doctor({**stack.env(), "AWS_ENDPOINT_URL": proxy.url})

    assert code == 1
    assert f"role assumed in 0 of {n} accounts" in row(output, "FAIL", "aws", "member role")
    assert row(output, "FAIL", "aws", f"role in acme-prod ({member})") == (
        "WhoseKeyReadOnly was assumed but iam:ListAccessKeys is denied"
    )
    # whose-key runs in the management account, which it reads with its own credentials.
    own = account_row(output, "FAIL", management)
    assert own == "whose-key's own credentials may not call iam:ListAccessKeys in its own account"
    how = fixes(output)
    assert how.count("update WhoseKeyReadOnly from deploy/member-role-stackset.yaml") == 1, how
    assert f"and {n - 1 - 5} more: update WhoseKeyReadOnly" in how
    assert "IncludeManagementAccountReads=true" in how


def test_render_groups_shared_fixes_and_aligns_columns() -> None:
    """The table aligns its columns, and checks sharing a fix get one "How to fix" entry."""
    checks = [
        Check("slack", "auth.test", Status.OK, "bot ok"),
        *(Check("aws", f"role in acct-{i}", Status.FAIL, "could not assume", "deploy the role") for i in range(7)),
        Check("settings", "audit channel", Status.WARN, "unset", "set it"),
    ]
    text = render_checks(checks)
    table = text.split("\n\n", 1)[0].splitlines()

    assert table[0].index("DETAIL") == table[1].index("bot ok") == table[2].index("could not assume")
    assert "1. [FAIL] aws role in acct-0, aws role in acct-1" in text
    assert "and 2 more: deploy the role" in text
    assert "2. [WARN] settings audit channel: set it" in text
    assert text.rstrip().endswith("1 OK, 1 WARN, 7 FAIL. whose-key will not work until the FAILs are fixed.")


def test_responder_role_is_off_by_default_and_checked_in_every_account_when_set(stack: Stack) -> None:
    """Unset: one OK line saying whose-key only reads. Set: a harmless UpdateAccessKey probe per
    account (a user that does not exist); the one account where the role cannot be assumed FAILs."""
    assert stack.org is not None
    code, output = doctor(stack.env())
    assert "whose-key only reads" in row(output, "OK", "aws", "responder role")
    broken = stack.org.accounts["acme-dev"]
    n = len(stack.org.accounts)
    env = {**stack.env(), "WHOSE_KEY_RESPONDER_ROLE_NAME": "WhoseKeyResponder"}
    code, output = doctor(env)
    assert f"may deactivate keys in all {n} accounts" in row(output, "OK", "aws", "responder role"), output
    with AwsFaultProxy(stack.moto.url) as proxy:
        proxy.fail(
            "AssumeRole",
            lambda params: params.get("RoleArn", "") == f"arn:aws:iam::{broken}:role/WhoseKeyResponder",
            403,
            "AccessDenied",
            "not authorized",
        )
        code, output = doctor({**env, "AWS_ENDPOINT_URL": proxy.url})
    assert code == 1
    detail = row(output, "FAIL", "aws", "responder role")
    assert f"works in {n - 1} of {n} accounts" in detail and broken in detail
    assert "deploy/responder-role-stackset.yaml" in fixes(output)
    assert_no_secrets(output)
