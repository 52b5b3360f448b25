"""The AWS stand-in holds whose-key's own roles to their deploy/ grants: the responder role may only
deactivate/reactivate keys and attach AWS's quarantine policies, the read-only role may only read,
anything else is AccessDenied in AWS's wire format; and the rules match the templates."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from core.settings import DEFAULT_ROLE_NAME
from standins.aws_proxy import AwsFaultProxy, wire
from standins.aws_proxy.callers import Caller, caller_from_arn, session_caller
from standins.aws_proxy.quarantine import QUARANTINE_ARN_PREFIX
from standins.aws_proxy.role_policies import (
    QUARANTINE_POLICY_SUFFIX,
    READ_ONLY_ACTIONS,
    RESPONDER_ACTIONS,
    RESPONDER_ROLE_NAME,
    RolePolicies,
)
from standins.moto_org import FAKE_CREDENTIALS, MANAGEMENT_ACCOUNT_ID
from tests.unit.test_deploy import actions, identity_statements, load, member_role
from tests.unit.test_deploy_responder import QUARANTINE_CONDITION, responder_role

MEMBER = "111111111111"
RESPONDER = caller_from_arn(f"arn:aws:sts::{MEMBER}:assumed-role/WhoseKeyResponder/whose-key")
READ_ONLY = caller_from_arn(f"arn:aws:sts::{MEMBER}:assumed-role/WhoseKeyReadOnly/whose-key")
ADMIN = caller_from_arn(f"arn:aws:sts::{MEMBER}:assumed-role/Admin/carol")
USER = caller_from_arn(f"arn:aws:iam::{MEMBER}:user/alice")
ROOT = caller_from_arn(f"arn:aws:iam::{MEMBER}:root")
QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
KEY = {"UserName": "bob", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}


@pytest.mark.parametrize(
    ("caller", "permission", "params", "allowed"),
    [
        # The responder's two grants.
        (RESPONDER, "iam:UpdateAccessKey", {**KEY, "Status": "Inactive"}, True),
        (RESPONDER, "iam:UpdateAccessKey", {**KEY, "Status": "Active"}, True),  # the undo
        (RESPONDER, "iam:AttachUserPolicy", {"UserName": "bob", "PolicyArn": QUARANTINE_V3}, True),
        (
            RESPONDER,
            "iam:AttachUserPolicy",
            {"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"},
            True,
        ),  # the first version has no suffix
        # AttachUserPolicy of anything but AWS's quarantine policies: an escalation.
        (
            RESPONDER,
            "iam:AttachUserPolicy",
            {"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            False,
        ),
        (
            RESPONDER,
            "iam:AttachUserPolicy",
            {"UserName": "bob", "PolicyArn": f"arn:aws:iam::{MEMBER}:policy/AWSCompromisedKeyQuarantineV3"},
            False,
        ),  # a customer policy wearing AWS's name
        (
            RESPONDER,
            "iam:AttachUserPolicy",
            {"UserName": "bob", "PolicyArn": "arn:aws:iam::aws:policy/awscompromisedkeyquarantinev3"},
            False,
        ),  # ArnLike is case-sensitive
        (RESPONDER, "iam:AttachUserPolicy", {"UserName": "bob"}, False),  # no policy named
        # Never a delete, a create, a detach, another write, or a read.
        (RESPONDER, "iam:DeleteAccessKey", KEY, False),
        (RESPONDER, "iam:CreateAccessKey", {"UserName": "bob"}, False),
        (RESPONDER, "iam:DeleteUser", {"UserName": "bob"}, False),
        (RESPONDER, "iam:DetachUserPolicy", {"UserName": "bob", "PolicyArn": QUARANTINE_V3}, False),
        (RESPONDER, "iam:PutUserPolicy", {"UserName": "bob"}, False),
        (RESPONDER, "iam:ListAccessKeys", {"UserName": "bob"}, False),
        (RESPONDER, "cloudtrail:LookupEvents", {}, False),
        (RESPONDER, "sts:AssumeRole", {"RoleArn": f"arn:aws:iam::{MEMBER}:role/Admin"}, False),
        (RESPONDER, "sts:GetCallerIdentity", {}, True),  # needs no permission on AWS either
        # The read-only role reads, and never writes.
        (READ_ONLY, "iam:UpdateAccessKey", {**KEY, "Status": "Inactive"}, False),
        (READ_ONLY, "iam:AttachUserPolicy", {"UserName": "bob", "PolicyArn": QUARANTINE_V3}, False),
        (READ_ONLY, "iam:DeleteAccessKey", KEY, False),
        (READ_ONLY, "iam:ListAccessKeys", {"UserName": "bob"}, True),
        (READ_ONLY, "iam:GetAccessKeyLastUsed", {"AccessKeyId": KEY["AccessKeyId"]}, True),
        (READ_ONLY, "cloudtrail:LookupEvents", {}, True),
        (READ_ONLY, "sts:GetCallerIdentity", {}, True),
        # Everyone else is moto's: the tests' administrators seed and change the world.
        (ADMIN, "iam:UpdateAccessKey", KEY, True),
        (ADMIN, "iam:AttachUserPolicy", {"UserName": "bob", "PolicyArn": READ_ONLY_ACCESS}, True),
        (USER, "iam:DeleteAccessKey", KEY, True),
        (ROOT, "iam:CreateAccessKey", {"UserName": "bob"}, True),
    ],
)
def test_role_sessions_may_call_only_what_their_template_grants(
    caller: Caller, permission: str, params: dict[str, str], allowed: bool
) -> None:
    """The stand-in's decision for each role, call and parameters is what IAM decides from deploy/'s policies."""
    service, action = permission.split(":", 1)
    assert RolePolicies().allows(caller, service, action, params) is allowed


def test_the_role_is_known_by_its_name_whatever_its_path_and_partition() -> None:
    """A session of a role with a path is held to the rules by the role's name; in another partition the
    responder may attach only that partition's quarantine policies."""
    with_path = session_caller(f"arn:aws:iam::{MEMBER}:role/security/WhoseKeyResponder", "whose-key", {})
    assert with_path is not None
    assert not RolePolicies().allows(with_path, "iam", "DeleteAccessKey", KEY)
    gov = caller_from_arn(f"arn:aws-us-gov:sts::{MEMBER}:assumed-role/WhoseKeyResponder/whose-key")
    gov_policy = "arn:aws-us-gov:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    assert RolePolicies().allows(gov, "iam", "AttachUserPolicy", {"UserName": "bob", "PolicyArn": gov_policy})
    assert not RolePolicies().allows(gov, "iam", "AttachUserPolicy", {"UserName": "bob", "PolicyArn": QUARANTINE_V3})


def test_the_role_names_are_configurable() -> None:
    """With another responder name, that role is held to the responder's rules and the default name is not."""
    roles = RolePolicies(responder_role="Incident")
    incident = caller_from_arn(f"arn:aws:sts::{MEMBER}:assumed-role/Incident/whose-key")
    assert not roles.allows(incident, "iam", "DeleteAccessKey", KEY)
    assert roles.allows(incident, "iam", "UpdateAccessKey", KEY)
    assert roles.allows(RESPONDER, "iam", "DeleteAccessKey", KEY)


@pytest.mark.parametrize(
    ("protocol", "service", "code"),
    [
        ("query", "iam", "AccessDenied"),  # IAM and STS speak the query protocol
        ("json", "cloudtrail", "AccessDeniedException"),  # JSON services name it with "Exception"
    ],
)
def test_a_refusal_is_aws_access_denied_in_the_requests_protocol(protocol: str, service: str, code: str) -> None:
    """A denied call gets 403 and AWS's error code for its protocol, naming the caller, the action and the user."""
    action = "DeleteAccessKey" if service == "iam" else "LookupEvents"
    call = wire.Request(service, action, dict(KEY), protocol, "ASIAEXAMPLE", "us-east-1")
    refusal = RolePolicies().refusal(call, RESPONDER)
    assert refusal is not None
    status, _headers, payload = wire.error(protocol, service, refusal.status, refusal.code, refusal.message)
    assert (status, wire.error_code(payload)) == (403, code)
    assert f"User: {RESPONDER.arn} is not authorized to perform: {service}:{action}" in refusal.message
    if service == "iam":
        assert f"on resource: arn:aws:iam::{MEMBER}:user/bob" in refusal.message
    allowed = wire.Request("iam", "UpdateAccessKey", dict(KEY), "query", "ASIAEXAMPLE", "us-east-1")
    assert RolePolicies().refusal(allowed, RESPONDER) is None


def test_the_stand_in_rules_are_the_templates_grants() -> None:
    """The stand-in's action lists, quarantine prefix and role names are those of member-role.yaml and
    responder-role.yaml (and of the bot's settings), so the fake cannot drift from what is deployed."""
    assert actions(identity_statements(member_role())) == READ_ONLY_ACTIONS
    assert actions(identity_statements(responder_role())) == RESPONDER_ACTIONS
    pattern = QUARANTINE_CONDITION["ArnLike"]["iam:PolicyARN"]["Fn::Sub"]
    assert pattern == f"arn:${{AWS::Partition}}:{QUARANTINE_POLICY_SUFFIX}*"
    assert f"arn:aws:{QUARANTINE_POLICY_SUFFIX}" == QUARANTINE_ARN_PREFIX  # what quarantine.py attaches
    assert RolePolicies().read_only_role == load("member-role.yaml")["Parameters"]["RoleName"]["Default"]
    assert RolePolicies().read_only_role == DEFAULT_ROLE_NAME
    assert load("responder-role.yaml")["Parameters"]["RoleName"]["Default"] == RESPONDER_ROLE_NAME


# --- through the proxy, with real botocore clients and moto ------------------------------------


@pytest.fixture(scope="module")
def proxy() -> Iterator[AwsFaultProxy]:
    """The proxy in front of an in-process moto server (this module's tests use unique user names)."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        with AwsFaultProxy(f"http://{host}:{port}", default_account=MANAGEMENT_ACCOUNT_ID) as running:
            yield running
    finally:
        moto.stop()


def client(proxy: AwsFaultProxy, service: str, credentials: dict[str, str] | None = None) -> Any:
    credentials = credentials or {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client(service, region_name="us-east-1", endpoint_url=proxy.url, **credentials)


def session_of(proxy: AwsFaultProxy, role: str) -> dict[str, str]:
    """Credentials of a session of `role` in the management account, issued through the proxy."""
    creds = client(proxy, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:role/{role}", RoleSessionName="whose-key"
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def denied_code(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_through_the_proxy_the_responder_deactivates_and_quarantines_and_nothing_else(proxy: AwsFaultProxy) -> None:
    """A responder session sets a key Inactive and attaches a quarantine policy; AdministratorAccess, a
    delete, a create and a read are AccessDenied (botocore's Code), and the key and user are untouched."""
    admin = client(proxy, "iam")
    user = f"user-{uuid.uuid4().hex[:8]}"
    admin.create_user(UserName=user)
    key = admin.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    responder = client(proxy, "iam", session_of(proxy, RESPONDER_ROLE_NAME))

    responder.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    responder.attach_user_policy(UserName=user, PolicyArn=QUARANTINE_V3)
    for call, kwargs in (
        (responder.attach_user_policy, {"UserName": user, "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        (responder.delete_access_key, {"UserName": user, "AccessKeyId": key}),
        (responder.create_access_key, {"UserName": user}),
        (responder.delete_user, {"UserName": user}),
        (responder.list_access_keys, {"UserName": user}),
    ):
        assert denied_code(call, **kwargs) == "AccessDenied", call

    (listed,) = admin.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert (listed["AccessKeyId"], listed["Status"]) == (key, "Inactive")
    attached = admin.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [QUARANTINE_V3]


def test_through_the_proxy_the_read_only_role_reads_but_cannot_deactivate_or_quarantine(
    proxy: AwsFaultProxy,
) -> None:
    """A read-only session lists keys, and its UpdateAccessKey and AttachUserPolicy are AccessDenied with the
    key still Active and no policy attached."""
    admin = client(proxy, "iam")
    user = f"user-{uuid.uuid4().hex[:8]}"
    admin.create_user(UserName=user)
    key = admin.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    read_only = client(proxy, "iam", session_of(proxy, DEFAULT_ROLE_NAME))

    assert [k["AccessKeyId"] for k in read_only.list_access_keys(UserName=user)["AccessKeyMetadata"]] == [key]
    update = read_only.update_access_key
    assert denied_code(update, UserName=user, AccessKeyId=key, Status="Inactive") == "AccessDenied"
    assert denied_code(read_only.attach_user_policy, UserName=user, PolicyArn=QUARANTINE_V3) == "AccessDenied"

    (listed,) = admin.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert listed["Status"] == "Active"
    assert admin.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
