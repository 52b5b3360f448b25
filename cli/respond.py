"""`whose-key deactivate KEY --reason TEXT` and `whose-key reactivate KEY --reason TEXT`: the Slack
flow's change from a terminal, for responders. The shell's own AWS credentials are the authority
here (they must be allowed to assume the hub's roles); everything else is the Slack path's own
code: IAM confirms the key, the responder role changes it, IAM is read back, the owner is told once
and the audit trail records who (the caller's ARN) and why."""

from __future__ import annotations

import sys
import uuid

from redis.exceptions import RedisError

from core.contract import KeyActionRequest
from core.key_actions import DEACTIVATE, clean_reason
from core.keyids import is_access_key_id, is_temporary
from core.settings import Settings, SettingsError


def run_key_action(action: str, key_id: str, reason: str | None) -> int:
    """Exit 0 when IAM now has the key as asked, 1 when nothing was changed, 2 for bad input."""
    from core.logs import configure_logging
    from workers.aws.errors import AwsCallError
    from workers.lookup.finder import build_finder
    from workers.lookup.finding import Verdict
    from workers.respond.act import act
    from workers.runtime import build_runtime

    reason = clean_reason(reason)
    if reason is None:
        return _fail("give the reason with --reason TEXT: the owner and the audit trail read it.", 2)
    key_id = key_id.strip()
    if not is_access_key_id(key_id) or is_temporary(key_id):
        return _fail(f"{key_id!r} is not a long-term access key ID (AKIA…); temporary keys cannot be deactivated.", 2)
    try:
        settings = Settings.from_env(require_signing_secret=False)
    except SettingsError as exc:
        return _fail(str(exc), 2)
    if not settings.responder_enabled:
        return _fail("acting on keys is off: set WHOSE_KEY_RESPONDER_ROLE_NAME (deploy/responder-role.yaml).", 2)
    configure_logging("WARNING")
    runtime = build_runtime(settings)
    try:
        finding = build_finder(runtime.gateway, runtime.cache).find(key_id)
        caller = runtime.gateway.hub_client("sts").get_caller_identity()["Arn"]
    except (AwsCallError, RedisError) as exc:
        return _fail(f"the key could not be looked up: {getattr(exc, 'detail', exc)}", 1)
    if finding.verdict is not Verdict.FOUND or finding.account is None or not finding.user_name:
        return _fail(f"{key_id} is not a key of a user in this organization ({finding.verdict.value}).", 1)
    request = KeyActionRequest(
        delivery_id=f"cli-{uuid.uuid4().hex}",
        action=action,
        key_id=key_id,
        account_id=finding.account.id,
        user_name=finding.user_name,
        actor=f"cli:{caller}",
        reason=reason,
    )
    outcome = act(runtime, request, terminal=True)
    where = f"{finding.user_name} in {finding.account.label}"
    if outcome.get("changed"):
        verb = "deactivated" if action == DEACTIVATE else "reactivated"
        print(f"{key_id} of {where} {verb}: IAM now says {outcome['iam_status']}. Its owner was told.")
        return 0
    status = f" (IAM says {outcome['iam_status']})" if outcome.get("iam_status") else ""
    return _fail(f"nothing was changed for {key_id} of {where}: {outcome.get('outcome')}{status}.", 1)


def _fail(message: str, code: int) -> int:
    print(f"whose-key: {message}", file=sys.stderr)
    return code
