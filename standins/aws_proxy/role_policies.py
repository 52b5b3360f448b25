"""What a session of one of whose-key's own roles may call, as the templates in deploy/ grant it.

moto lets any credentials call anything, so a bot that asked its read-only role to deactivate a
key, or its responder role to attach AdministratorAccess, would pass every offline test and fail
(or worse, succeed) on AWS. The proxy asks this module first and answers IAM's AccessDenied for
what the session's role (known by its name) is not granted:

- the read-only role (`deploy/member-role.yaml`): its seven IAM/CloudTrail reads;
- the responder role (`deploy/responder-role.yaml`): `iam:UpdateAccessKey`, and
  `iam:AttachUserPolicy` of an `AWSCompromisedKeyQuarantine*` policy.

Sessions of any other role, IAM users and root are not checked: the tests' administrators seed and
change the world through them, and the hub's own grants are moto's to ignore. sts:GetCallerIdentity
needs no permission, as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from standins.aws_proxy import wire
from standins.aws_proxy.callers import Caller
from standins.aws_proxy.strict_iam import Refusal

# The roles' default names (deploy/ and the bot's settings agree on them).
READ_ONLY_ROLE_NAME = "WhoseKeyReadOnly"
RESPONDER_ROLE_NAME = "WhoseKeyResponder"
# member-role.yaml's Action lists, as "service:Action".
READ_ONLY_ACTIONS = frozenset(
    {
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:GetUser",
        "iam:ListUsers",
        "iam:ListUserTags",
        "iam:ListAttachedUserPolicies",
        "cloudtrail:LookupEvents",
    }
)
# responder-role.yaml's Action lists; AttachUserPolicy only with a quarantine policy (below).
RESPONDER_ACTIONS = frozenset({"iam:UpdateAccessKey", "iam:AttachUserPolicy"})
# What the responder may attach, after `arn:<partition>:` (its template's ArnLike on iam:PolicyARN).
QUARANTINE_POLICY_SUFFIX = "iam::aws:policy/AWSCompromisedKeyQuarantine"
# Allowed to every caller whatever its policies say, as AWS allows it.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})
# The error code AWS answers a denied call with, by protocol (JSON services add "Exception").
_DENIED_CODES = {"query": "AccessDenied", "json": "AccessDeniedException"}


@dataclass(frozen=True)
class RolePolicies:
    """The names the proxy knows whose-key's roles by; sessions of other roles are not checked."""

    read_only_role: str = READ_ONLY_ROLE_NAME
    responder_role: str = RESPONDER_ROLE_NAME

    def allows(self, caller: Caller, service: str, action: str, params: dict[str, str]) -> bool:
        """Whether the caller's role grants service:action with these parameters."""
        permission = f"{service}:{action}"
        role = role_name(caller)
        if role is None or permission in ALWAYS_ALLOWED:
            return True
        if role == self.read_only_role:
            return permission in READ_ONLY_ACTIONS
        if role == self.responder_role:
            if permission == "iam:AttachUserPolicy":
                return is_quarantine_policy(params.get("PolicyArn", ""), partition(caller))
            return permission in RESPONDER_ACTIONS
        return True

    def refusal(self, call: wire.Request, caller: Caller) -> Refusal | None:
        """The AccessDenied AWS answers when the caller's role does not grant this call; None if it does."""
        if self.allows(caller, call.service, call.action, call.params):
            return None
        permission = f"{call.service}:{call.action}"
        resource = _resource(call, caller)
        on_resource = f" on resource: {resource}" if resource else ""
        message = (
            f"User: {caller.arn} is not authorized to perform: {permission}{on_resource} "
            f"because no identity-based policy allows the {permission} action"
        )
        return Refusal(403, _DENIED_CODES.get(call.protocol, "AccessDenied"), message)


def role_name(caller: Caller) -> str | None:
    """The name of the role whose session the caller is (its path dropped); None for anyone else."""
    if caller.kind != "AssumedRole" or not caller.issuer_arn:
        return None
    return caller.issuer_arn.rsplit("/", 1)[-1]


def partition(caller: Caller) -> str:
    parts = caller.arn.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[1] else "aws"


def is_quarantine_policy(policy_arn: str, partition_name: str = "aws") -> bool:
    """Whether policy_arn is one of AWS's AWSCompromisedKeyQuarantine* managed policies (ArnLike's prefix)."""
    return policy_arn.startswith(f"arn:{partition_name}:{QUARANTINE_POLICY_SUFFIX}")


def _resource(call: wire.Request, caller: Caller) -> str | None:
    """The ARN AWS names in the denial: the user an IAM call acts on, or the role asked for."""
    if call.service == "iam" and call.params.get("UserName"):
        return f"arn:{partition(caller)}:iam::{caller.account_id}:user/{call.params['UserName']}"
    if call.service == "sts" and call.params.get("RoleArn"):
        return call.params["RoleArn"]
    return None
