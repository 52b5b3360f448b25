"""`whose-key doctor`: check every setting, Slack, Redis, AWS and the member role in every
account, and say what is wrong with a fix for each.

Each check stands on its own: one failing does not stop the others, except where a later check
needs an earlier result (no organization listing without an AWS identity, no role check without
the listing). Nothing secret is ever shown: not tokens, not the signing secret, not credentials.

One module per area: settings, slack, redis, aws (identity and organization) with roles (the
member role per account) and aws_session (the boto3 session, from explicit arguments), report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from cli.doctor.aws import aws_checks
from cli.doctor.aws_session import AwsConnection
from cli.doctor.model import Check, Status
from cli.doctor.redis import redis_checks
from cli.doctor.report import exit_code, render_checks
from cli.doctor.settings import settings_checks
from cli.doctor.slack import slack_checks

__all__ = ["Check", "Status", "render_checks", "run_checks", "run_doctor"]


def run_doctor(environ: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run every check and print the report; 0 when nothing FAILs, 1 otherwise."""
    checks = run_checks(environ)
    out.write(render_checks(checks))
    out.flush()
    return exit_code(checks)


def run_checks(environ: Mapping[str, str] | None = None, *, role_check_concurrency: int = 16) -> list[Check]:
    """Every check, in order: settings, Slack, Redis, AWS identity, organization, member roles."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    outcome = settings_checks(env)
    checks = list(outcome.checks)
    checks += slack_checks(outcome.settings, outcome.bad)
    checks += redis_checks(outcome.settings, outcome.bad)
    # Read once here and passed down: boto3 gets explicit arguments, the environment is only read.
    checks += aws_checks(AwsConnection.from_env(env), outcome.settings, outcome.bad, role_check_concurrency)
    return checks
