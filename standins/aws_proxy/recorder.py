"""What CloudTrail would record of the calls passing through the proxy.

IAM's key and user writes are recorded as management events of the caller's account, in full
(request parameters, response elements); every call made with a session key the proxy issued is
recorded too, so LookupEvents by AccessKeyId names the session's role. On the way, the answers
teach whose each new key is.
"""

from __future__ import annotations

import threading
from typing import Any

from standins.aws_proxy import wire
from standins.aws_proxy.callers import DEFAULT_USER_NAME, KeyOwners, caller_from_arn, session_caller
from standins.aws_proxy.cloudtrail import Trail

# IAM calls recorded in full (request parameters, response elements), as CloudTrail records them.
RECORDED_IAM_ACTIONS = frozenset({"CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey", "CreateUser", "DeleteUser"})
# Actions read from a call's name when guessing whether a session's call changed anything.
_READ_ONLY_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search")


class Recorder:
    """Watches calls and their answers; learns key owners into `owners`, records events into `trail`."""

    def __init__(self, owners: KeyOwners, trail: Trail) -> None:
        self.owners = owners
        self.trail = trail
        self._lock = threading.Lock()
        # Secrets of the sessions STS issued through the proxy, kept only so leak tests can search
        # everything whose-key wrote for them.
        self._issued_secrets: set[str] = set()

    @property
    def issued_secrets(self) -> set[str]:
        with self._lock:
            return set(self._issued_secrets)

    def observe(
        self,
        call: wire.Request,
        status: int,
        payload: bytes,
        *,
        user_agent: str,
        source_ip: str,
        error_code: str | None,
    ) -> None:
        """Learn whose keys pass by, and record the calls CloudTrail would record."""
        succeeded = 200 <= status < 300
        caller = self.owners.caller(call.key_id)
        if succeeded and call.service == "sts" and call.action == "AssumeRole":
            self._learn_session(call.params, payload)
        if succeeded and call.service == "iam" and call.action in RECORDED_IAM_ACTIONS:
            request_parameters = _request_parameters(call.params)
            response_elements = _response_elements(call.action, payload)
            if call.action == "CreateAccessKey" and response_elements:
                created = response_elements["accessKey"]
                user_arn = f"arn:aws:iam::{caller.account_id}:user/{created.get('userName') or DEFAULT_USER_NAME}"
                self.owners.learn(created["accessKeyId"], caller_from_arn(user_arn))
            self.trail.add(
                caller.account_id,
                call.action,
                caller,
                access_key_id=call.key_id,
                request_parameters=request_parameters,
                response_elements=response_elements,
                region=call.region,
                user_agent=user_agent,
                source_ip=source_ip,
                resources=resources_of(request_parameters),
            )
        elif call.key_id is not None and call.key_id.startswith("ASIA") and self.owners.knows(call.key_id):
            # A session's every call is recorded, so LookupEvents by AccessKeyId names its issuer.
            self.trail.add(
                caller.account_id,
                call.action,
                caller,
                access_key_id=call.key_id,
                request_parameters=None,
                event_source=f"{call.service or 'unknown'}.amazonaws.com",
                region=call.region,
                read_only=call.action.startswith(_READ_ONLY_PREFIXES),
                user_agent=user_agent,
                source_ip=source_ip,
                error_code=None if succeeded else error_code or wire.error_code(payload) or str(status),
            )

    def _learn_session(self, params: dict[str, str], payload: bytes) -> None:
        credentials = wire.xml_fields(payload, "Credentials")
        with self._lock:
            self._issued_secrets.update(
                v for k, v in credentials.items() if k in ("SecretAccessKey", "SessionToken") and v
            )
        key_id = credentials.get("AccessKeyId")
        if not key_id:
            return
        assumed = wire.xml_fields(payload, "AssumedRoleUser")
        caller = session_caller(params.get("RoleArn", ""), params.get("RoleSessionName", "session"), assumed)
        if caller is not None:
            self.owners.learn(key_id, caller)


def _request_parameters(form: dict[str, str]) -> dict[str, Any]:
    """CloudTrail's requestParameters from a query-protocol form: UserName becomes userName, etc.

    Parameters the caller did not send are absent, as in CloudTrail (a user changing their own key
    sends no UserName). Tags are gathered into CloudTrail's list; other nested members are dropped.
    """
    parameters: dict[str, Any] = {}
    tags: dict[str, dict[str, str]] = {}
    for name, value in form.items():
        if name in ("Action", "Version"):
            continue
        parts = name.split(".")
        if len(parts) == 4 and parts[:2] == ["Tags", "member"]:
            tags.setdefault(parts[2], {})[parts[3].lower()] = value
            continue
        if "." not in name:
            parameters[name[:1].lower() + name[1:]] = value
    if tags:
        parameters["tags"] = [tags[index] for index in sorted(tags, key=lambda i: int(i) if i.isdigit() else 0)]
    return parameters


def _response_elements(action: str, payload: bytes) -> dict[str, Any] | None:
    """CloudTrail's responseElements for the IAM calls that return something (never a secret)."""
    if action == "CreateAccessKey":
        key = wire.xml_fields(payload, "AccessKey")
        if not key.get("AccessKeyId"):
            return None
        return {
            "accessKey": {
                "accessKeyId": key["AccessKeyId"],
                "status": key.get("Status", "Active"),
                "userName": key.get("UserName"),
                "createDate": key.get("CreateDate"),
            }
        }
    if action == "CreateUser":
        user = wire.xml_fields(payload, "User")
        if not user.get("UserName"):
            return None
        names = ("Path", "UserName", "UserId", "Arn", "CreateDate")
        return {"user": {name[:1].lower() + name[1:]: user[name] for name in names if name in user}}
    return None


def resources_of(request_parameters: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """The Resources LookupEvents lists for an IAM key or user event."""
    parameters = request_parameters or {}
    kinds = (("AWS::IAM::AccessKey", "accessKeyId"), ("AWS::IAM::User", "userName"))
    return tuple((kind, parameters[name]) for kind, name in kinds if isinstance(parameters.get(name), str))
