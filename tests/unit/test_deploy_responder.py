"""Checks on the opt-in responder role in deploy/: it may only deactivate/reactivate a key and attach
AWS's quarantine policies, it is trusted exactly as the read-only role is, its StackSet deploys the
per-account template unchanged, and the hub may assume it only when ResponderRoleName is set."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from tests.unit.test_deploy import (
    DEPLOY,
    TEMPLATES,
    actions,
    as_list,
    identity_statements,
    inline_body,
    load,
    member_role,
    policy_documents,
    resources_of_type,
    statements,
)

RESPONDER_TEMPLATES = ["responder-role.yaml", "responder-role-stackset.yaml"]
RESPONDER_STACKSET = ("responder-role-stackset.yaml", "responder-role.yaml")
RESPONDER_ACTIONS = {"iam:UpdateAccessKey", "iam:AttachUserPolicy"}
USER_ARN = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"}
QUARANTINE_CONDITION = {
    "ArnLike": {"iam:PolicyARN": {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSCompromisedKeyQuarantine*"}}
}
RESPONDER_PATTERN = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${ResponderRoleName}"}
MEMBER_PATTERN = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
IN_THE_ORGANIZATION = {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}


def responder_templates() -> list[tuple[str, dict[str, Any]]]:
    """The responder template, its StackSet, and the body the StackSet inlines."""
    return [
        *((name, load(name)) for name in RESPONDER_TEMPLATES),
        (f"{RESPONDER_STACKSET[0]} (TemplateBody)", inline_body(RESPONDER_STACKSET[0])),
    ]


def responder_role(template: dict[str, Any] | None = None) -> dict[str, Any]:
    (role,) = resources_of_type(template or load("responder-role.yaml"), "AWS::IAM::Role").values()
    return role


def hub_assume_role_grants(template: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """Every sts:AssumeRole statement of the hub template, with the Condition its resource sits behind."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    (hub,) = resources_of_type(template, "AWS::IAM::Role").values()
    out.extend((hub.get("Condition"), s) for s in identity_statements(hub))
    for policy in resources_of_type(template, "AWS::IAM::RolePolicy").values():
        out.extend((policy.get("Condition"), s) for s in statements(policy["Properties"]["PolicyDocument"]))
    return [(condition, s) for condition, s in out if "sts:AssumeRole" in as_list(s["Action"])]


def test_responder_templates_parse_as_cloudformation() -> None:
    """The responder template, its StackSet and the inlined body are CloudFormation documents with resources."""
    for name, template in responder_templates():
        assert template["AWSTemplateFormatVersion"] == "2010-09-09", name
        assert template["Resources"], name


# --- least privilege --------------------------------------------------------------------------


def test_responder_role_grants_exactly_update_access_key_and_attach_user_policy() -> None:
    """The responder's permissions are iam:UpdateAccessKey and iam:AttachUserPolicy, one per statement,
    all Allow, on this account's users only; the template creates the role and nothing else."""
    template = load("responder-role.yaml")
    assert {r["Type"] for r in template["Resources"].values()} == {"AWS::IAM::Role"}
    role = responder_role(template)
    assert "ManagedPolicyArns" not in role["Properties"] and "PermissionsBoundary" not in role["Properties"]
    stmts = identity_statements(role)
    assert actions(stmts) == RESPONDER_ACTIONS
    for stmt in stmts:
        assert stmt["Effect"] == "Allow"
        assert "NotAction" not in stmt and "NotResource" not in stmt
        assert len(as_list(stmt["Action"])) == 1, "one action per statement, so each keeps its own condition"
        assert stmt["Resource"] == USER_ARN


def test_attach_user_policy_is_limited_to_the_quarantine_policies() -> None:
    """AttachUserPolicy carries ArnLike iam:PolicyARN = AWS's AWSCompromisedKeyQuarantine*; UpdateAccessKey
    needs no condition (any key of the account's users)."""
    by_action = {as_list(s["Action"])[0]: s for s in identity_statements(responder_role())}
    assert by_action["iam:AttachUserPolicy"]["Condition"] == QUARANTINE_CONDITION
    assert "Condition" not in by_action["iam:UpdateAccessKey"]


def test_responder_never_deletes_creates_or_grants_a_wildcard() -> None:
    """No policy in the responder templates grants Delete*, Create*, '*' or any action but the two,
    and every other template in deploy/ still grants no IAM write at all."""
    for name, template in responder_templates():
        for document in policy_documents(template):
            for stmt in statements(document):
                assert "NotAction" not in stmt, name
                for action in as_list(stmt["Action"]):
                    assert "*" not in action, f"{name}: {action}"
                    verb = action.split(":", 1)[1]
                    assert not verb.startswith(("Delete", "Create")), f"{name}: {action}"
                    assert action in RESPONDER_ACTIONS | {"sts:AssumeRole"}, f"{name}: {action}"
                    if action == "sts:AssumeRole":  # only the trust policy names it
                        assert stmt["Principal"] == {"AWS": {"Ref": "HubRoleArn"}}, name


def test_every_template_is_checked_by_the_read_only_or_the_responder_suite() -> None:
    """Each CloudFormation template of deploy/ is in test_deploy.py's TEMPLATES (no IAM write at all) or
    in RESPONDER_TEMPLATES (the two writes above), never both, so none escapes least privilege or lint."""
    on_disk = {p.name for p in DEPLOY.glob("*.yaml")}
    assert not set(TEMPLATES) & set(RESPONDER_TEMPLATES)
    assert on_disk == set(TEMPLATES) | set(RESPONDER_TEMPLATES)


def test_responder_trust_pins_hub_role_and_organization_like_the_read_only_role() -> None:
    """The responder trusts only HubRoleArn, only sts:AssumeRole, only from inside OrganizationId (plus the
    optional ExternalId): the same trust policy and parameters as the read-only role."""
    template = load("responder-role.yaml")
    role = responder_role(template)
    trust = role["Properties"]["AssumeRolePolicyDocument"]
    (stmt,) = statements(trust)
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"AWS": {"Ref": "HubRoleArn"}}
    assert stmt["Action"] == "sts:AssumeRole"
    with_external_id, without_external_id = stmt["Condition"]["Fn::If"][1:]
    for branch in (with_external_id, without_external_id):
        assert branch["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
    assert with_external_id["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}
    # Mirrors member-role.yaml exactly: acting is no easier to reach than reading.
    member = load("member-role.yaml")
    assert trust == member_role(member)["Properties"]["AssumeRolePolicyDocument"]
    assert template["Conditions"] == member["Conditions"]
    for name in ("HubRoleArn", "OrganizationId", "ExternalId"):
        assert template["Parameters"][name] == member["Parameters"][name], name
    assert "Default" not in template["Parameters"]["HubRoleArn"]
    assert "Default" not in template["Parameters"]["OrganizationId"]
    assert template["Parameters"]["RoleName"]["Default"] == "WhoseKeyResponder"
    assert role["Properties"]["RoleName"] == {"Ref": "RoleName"}
    assert role["Properties"]["MaxSessionDuration"] == 3600


# --- StackSet ---------------------------------------------------------------------------------


def test_responder_stackset_inlines_the_responder_template_and_sync_keeps_it() -> None:
    """The StackSet's TemplateBody is responder-role.yaml, and sync_inline.py knows the pair and finds it current."""
    stackset, body = RESPONDER_STACKSET
    inline, standalone = inline_body(stackset), load(body)
    for section in ("Description", "Parameters", "Conditions", "Rules", "Resources", "Outputs"):
        assert inline.get(section) == standalone.get(section), section
    spec = importlib.util.spec_from_file_location("sync_inline", DEPLOY / "sync_inline.py")
    assert spec and spec.loader
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert sync.INLINED[stackset] == body
    assert sync.stale() == [], "run: python deploy/sync_inline.py"
    # An edit to the per-account template would be noticed.
    current = (DEPLOY / stackset).read_text()
    assert sync.render(current, (DEPLOY / body).read_text() + "# edited\n") != current


def test_responder_stackset_is_service_managed_org_wide_in_us_east_1() -> None:
    """Service-managed, auto-deploying to TargetOuIds in us-east-1 (IAM is global), passing exactly the
    parameters the body declares, the required ones always and ExternalId only when set."""
    stackset, body = RESPONDER_STACKSET
    template = load(stackset)
    (resource,) = resources_of_type(template, "AWS::CloudFormation::StackSet").values()
    props = resource["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (group,) = props["StackInstancesGroup"]
    assert group["Regions"] == ["us-east-1"]
    assert group["DeploymentTargets"]["OrganizationalUnitIds"] == {"Ref": "TargetOuIds"}
    assert "TemplateURL" not in props
    body_params = load(body)["Parameters"]
    passed = {}
    for entry in props["Parameters"]:
        condition = None
        if "Fn::If" in entry:  # optional parameter: [condition, {...}, AWS::NoValue]
            condition, entry = entry["Fn::If"][0], entry["Fn::If"][1]
        assert entry["ParameterValue"] == {"Ref": entry["ParameterKey"]}
        outer = template["Parameters"][entry["ParameterKey"]]
        assert outer.get("NoEcho", False) == body_params[entry["ParameterKey"]].get("NoEcho", False)
        passed[entry["ParameterKey"]] = condition
    assert passed == {"RoleName": None, "HubRoleArn": None, "OrganizationId": None, "ExternalId": "HasExternalId"}
    assert set(passed) == set(body_params)
    assert template["Parameters"]["RoleName"]["Default"] == body_params["RoleName"]["Default"]


# --- the hub ----------------------------------------------------------------------------------


def test_hub_may_assume_the_responder_role_only_when_responder_role_name_is_set() -> None:
    """The hub's grant on role/<ResponderRoleName> sits in its own policy behind CanAssumeResponderRole
    (ResponderRoleName not empty; empty by default), inside the organization only; every other
    AssumeRole grant is the unconditional one on the member role."""
    template = load("hub-role.yaml")
    parameter = template["Parameters"]["ResponderRoleName"]
    assert parameter["Default"] == ""
    assert template["Conditions"]["CanAssumeResponderRole"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ResponderRoleName"}, ""]}]
    }
    policy = resources_of_type(template, "AWS::IAM::RolePolicy")["HubAssumeResponderRole"]
    assert policy["Properties"]["RoleName"] == {"Ref": "HubRole"}
    assert [(s["Effect"], s["Action"]) for s in statements(policy["Properties"]["PolicyDocument"])] == [
        ("Allow", "sts:AssumeRole")
    ]
    grants = hub_assume_role_grants(template)
    # The hub role's own policy first, then its RolePolicy resources.
    assert [(c, s["Resource"] == RESPONDER_PATTERN) for c, s in grants] == [
        (None, False),
        ("CanAssumeResponderRole", True),
    ]
    for condition, stmt in grants:
        assert as_list(stmt["Action"]) == ["sts:AssumeRole"]
        assert stmt["Resource"] == (RESPONDER_PATTERN if condition else MEMBER_PATTERN)
        assert stmt["Condition"] == IN_THE_ORGANIZATION
    assert template["Outputs"]["ResponderRoleName"]["Condition"] == "CanAssumeResponderRole"


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("", True),  # off: the default
        ("WhoseKeyResponder", True),
        ("whose-key.responder@team", True),  # IAM role names may hold + = , . @ -
        ("*", False),  # would reach every role
        ("WhoseKey*", False),
        ("path/WhoseKeyResponder", False),
        ("x" * 65, False),  # IAM's limit is 64
    ],
)
def test_hub_responder_role_name_is_one_role_name_or_empty(name: str, allowed: bool) -> None:
    """ResponderRoleName's AllowedPattern takes one IAM role name or empty, never a wildcard or a path."""
    parameter = load("hub-role.yaml")["Parameters"]["ResponderRoleName"]
    assert bool(re.fullmatch(parameter["AllowedPattern"], name)) is allowed


def test_readme_describes_the_responder_role_settings_and_trust() -> None:
    """deploy/README.md has the opt-in section with the three settings and the trust limits."""
    readme = (DEPLOY / "README.md").read_text()
    section = readme.split("## Responder role (opt-in)", 1)[1].split("\n## ", 1)[0]
    for needle in (
        "WHOSE_KEY_RESPONDER_ROLE_NAME",
        "WHOSE_KEY_RESPONDER_USERGROUPS",
        "WHOSE_KEY_RESPONDER_APPROVALS",
        "ResponderRoleName",
        "aws:PrincipalOrgID",
        "aws:ResourceOrgID",
        "iam:UpdateAccessKey",
        "iam:AttachUserPolicy",
        "AWSCompromisedKeyQuarantine*",
        "`Delete*`",
        "`Create*`",
    ):
        assert needle in section, needle
