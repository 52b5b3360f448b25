"""Checks on deploy/: CloudFormation templates lint clean and grant least privilege, the StackSets
deploy exactly the per-account templates, and the Slack manifest asks for what the bot uses."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.scopes import BOT_SCOPES

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
TEMPLATES = [
    "hub-role.yaml",
    "member-role.yaml",
    "member-role-stackset.yaml",
    "events-member.yaml",
    "events-stackset.yaml",
]
STACKSETS = {"member-role-stackset.yaml": "member-role.yaml", "events-stackset.yaml": "events-member.yaml"}

MEMBER_READS = {
    "iam:GetAccessKeyLastUsed",
    "iam:ListAccessKeys",
    "iam:GetUser",
    "iam:ListUsers",
    "iam:ListUserTags",
    "cloudtrail:LookupEvents",
}
HUB_ACTIONS = {
    "organizations:ListAccounts",
    "organizations:DescribeOrganization",
    "sts:AssumeRole",
    "sts:GetAccessKeyInfo",
}
WRITE_PREFIXES = (
    "Create",
    "Update",
    "Delete",
    "Put",
    "Attach",
    "Detach",
    "Pass",
    "Tag",
    "Untag",
    "Upload",
    "Add",
    "Remove",
    "Set",
)
SLACK_SCOPES = set(BOT_SCOPES)
SLACK_URL = "https://YOUR-HOST/slack/events"


# --- YAML with CloudFormation short tags ------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": X}, `!GetAtt A.B` into {"Fn::GetAtt": [A, B]}
    and any other `!Name v` into {"Fn::Name": v}."""


def _short_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _short_tag)


def parse(text: str) -> dict[str, Any]:
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


def load(name: str) -> dict[str, Any]:
    return parse((DEPLOY / name).read_text())


def inline_body(stackset_name: str) -> dict[str, Any]:
    """The per-account template a StackSet template carries as its TemplateBody."""
    (resource,) = [r for r in load(stackset_name)["Resources"].values() if r["Type"] == "AWS::CloudFormation::StackSet"]
    return parse(resource["Properties"]["TemplateBody"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM policy document (identity, trust or resource policy) anywhere in a template."""
    if isinstance(node, dict):
        if "Statement" in node and "Version" in node:
            yield node
        for value in node.values():
            yield from policy_documents(value)
    elif isinstance(node, list):
        for value in node:
            yield from policy_documents(value)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in as_list(document["Statement"]) if isinstance(s, dict) and "Effect" in s]


def all_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every template, including the bodies the StackSets inline."""
    for name in TEMPLATES:
        yield name, load(name)
    for name in STACKSETS:
        yield f"{name} (TemplateBody)", inline_body(name)


def resources_of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def identity_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"].get("Policies", []) for s in statements(p["PolicyDocument"])]


def actions(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts for a in as_list(s["Action"])}


def member_role(template: dict[str, Any] | None = None) -> dict[str, Any]:
    (role,) = resources_of_type(template or load("member-role.yaml"), "AWS::IAM::Role").values()
    return role


# --- cfn-lint ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_passes_cfn_lint(name: str) -> None:
    """cfn-lint reports no errors and no warnings for the template (informational allowed)."""
    try:
        from cfnlint.api import lint_file
    except ImportError:  # pragma: no cover - a broken test environment, not a skip
        pytest.fail("cfn-lint is not installed: pip install -e '.[test]'")
    matches = lint_file(DEPLOY / name)
    problems = [m for m in matches if m.rule.id[0] in "EW"]
    assert not problems, "\n".join(str(m) for m in problems)


def test_templates_parse_as_cloudformation() -> None:
    """Every template (and inline body) is a CloudFormation document with resources."""
    for name, template in all_templates():
        assert template["AWSTemplateFormatVersion"] == "2010-09-09", name
        assert template["Resources"], name


# --- least privilege --------------------------------------------------------------------------


def test_member_role_grants_exactly_the_reads_the_bot_makes() -> None:
    """The member role's permissions are exactly the six IAM/CloudTrail reads, all Allow."""
    stmts = identity_statements(member_role())
    assert actions(stmts) == MEMBER_READS
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in stmts)


def test_member_role_user_reads_are_scoped_to_this_accounts_users() -> None:
    """Every IAM read that supports a resource is limited to user/* of the role's own account."""
    user_arn = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"}
    for stmt in identity_statements(member_role()):
        for action in as_list(stmt["Action"]):
            if action in {"iam:ListUsers", "cloudtrail:LookupEvents"}:  # no resource type: "*"
                assert stmt["Resource"] == "*"
                assert as_list(stmt["Action"]) == [action], "keep '*' statements to one action"
            else:
                assert stmt["Resource"] == user_arn, action


def test_no_wildcard_or_write_actions_anywhere() -> None:
    """No policy in any template grants '*', 'service:*', a wildcarded action or an IAM write."""
    for name, template in all_templates():
        for document in policy_documents(template):
            for stmt in statements(document):
                assert "NotAction" not in stmt, name
                for action in as_list(stmt["Action"]):
                    assert "*" not in action, f"{name}: {action}"
                    service, verb = action.split(":", 1)
                    if service == "iam":
                        assert not verb.startswith(WRITE_PREFIXES), f"{name}: {action}"


def test_member_trust_pins_hub_role_and_organization() -> None:
    """The member role trusts only HubRoleArn, only for sts:AssumeRole, only from inside OrganizationId."""
    role = member_role()
    (stmt,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert stmt["Effect"] == "Allow"
    assert stmt["Principal"] == {"AWS": {"Ref": "HubRoleArn"}}
    assert stmt["Action"] == "sts:AssumeRole"
    condition_if = stmt["Condition"]["Fn::If"]
    assert condition_if[0] == "HasExternalId"
    with_external_id, without_external_id = condition_if[1], condition_if[2]
    for branch in (with_external_id, without_external_id):
        assert branch["StringEquals"]["aws:PrincipalOrgID"] == {"Ref": "OrganizationId"}
    assert with_external_id["StringEquals"]["sts:ExternalId"] == {"Ref": "ExternalId"}
    assert "sts:ExternalId" not in without_external_id["StringEquals"]
    assert role["Properties"]["MaxSessionDuration"] == 3600
    assert role["Properties"]["RoleName"] == {"Ref": "RoleName"}
    template = load("member-role.yaml")
    assert template["Parameters"]["RoleName"]["Default"] == "WhoseKeyReadOnly"
    assert template["Parameters"]["ExternalId"] == {
        **template["Parameters"]["ExternalId"],
        "Default": "",
        "NoEcho": True,
    }


def test_hub_assume_role_is_limited_to_the_member_role_pattern() -> None:
    """The hub may assume only arn:<partition>:iam::*:role/<MemberRoleName>, never '*'."""
    (hub,) = resources_of_type(load("hub-role.yaml"), "AWS::IAM::Role").values()
    assume = [s for s in identity_statements(hub) if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume, "hub cannot assume the member role"
    for stmt in assume:
        assert as_list(stmt["Action"]) == ["sts:AssumeRole"]
        assert stmt["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}


def test_hub_role_grants_only_what_the_hub_calls() -> None:
    """The hub's base policy is exactly the org/STS calls; own-account reads sit behind the parameter."""
    template = load("hub-role.yaml")
    (hub,) = resources_of_type(template, "AWS::IAM::Role").values()
    assert actions(identity_statements(hub)) == HUB_ACTIONS
    assert hub["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": {"Ref": "TrustedPrincipalArn"}
    }
    assert set(template["Parameters"]["IncludeManagementAccountReads"]["AllowedValues"]) == {"true", "false"}
    assert template["Conditions"]["IncludeOwnAccountReads"] == {
        "Fn::Equals": [{"Ref": "IncludeManagementAccountReads"}, "true"]
    }
    (reads,) = resources_of_type(template, "AWS::IAM::RolePolicy").values()
    assert reads["Condition"] == "IncludeOwnAccountReads"
    assert reads["Properties"]["RoleName"] == {"Ref": "HubRole"}
    read_stmts = statements(reads["Properties"]["PolicyDocument"])
    assert actions(read_stmts) == MEMBER_READS
    # Same statements as the member role: one definition of "what a lookup reads".
    assert read_stmts == identity_statements(member_role())
    assert "HubRoleArn" in template["Outputs"]


# --- StackSets --------------------------------------------------------------------------------


@pytest.mark.parametrize(("stackset", "body"), STACKSETS.items())
def test_stackset_inlines_the_per_account_template(stackset: str, body: str) -> None:
    """The StackSet's TemplateBody is the per-account template: same parameters, conditions, resources, outputs."""
    inline, standalone = inline_body(stackset), load(body)
    for section in ("Parameters", "Conditions", "Rules", "Resources", "Outputs"):
        assert inline.get(section) == standalone.get(section), section
    spec = importlib.util.spec_from_file_location("sync_inline", DEPLOY / "sync_inline.py")
    assert spec and spec.loader
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert sync.stale() == [], "run: python deploy/sync_inline.py"


@pytest.mark.parametrize(("stackset", "body"), STACKSETS.items())
def test_stackset_is_service_managed_org_wide_in_us_east_1(stackset: str, body: str) -> None:
    """Service-managed, auto-deploying to OUs in us-east-1, and passing only parameters the body declares."""
    template = load(stackset)
    (resource,) = resources_of_type(template, "AWS::CloudFormation::StackSet").values()
    props = resource["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    (group,) = props["StackInstancesGroup"]
    assert group["Regions"] == ["us-east-1"]
    assert group["DeploymentTargets"]["OrganizationalUnitIds"] == {"Ref": "TargetOuIds"}
    assert "TemplateURL" not in props
    body_params = load(body)["Parameters"]
    passed = set()
    for entry in props["Parameters"]:
        if "Fn::If" in entry:  # optional parameter: [condition, {...}, AWS::NoValue]
            entry = entry["Fn::If"][1]
        assert entry["ParameterKey"] in body_params
        assert entry["ParameterValue"] == {"Ref": entry["ParameterKey"]}
        outer = template["Parameters"][entry["ParameterKey"]]
        assert outer.get("NoEcho", False) == body_params[entry["ParameterKey"]].get("NoEcho", False)
        passed.add(entry["ParameterKey"])
    required = {k for k, v in body_params.items() if "Default" not in v}
    assert required <= passed


# --- real-time events -------------------------------------------------------------------------


def test_events_rule_matches_key_deactivation_deletion_and_exposure() -> None:
    """The rule matches UpdateAccessKey (Inactive, and Active to track reactivations), DeleteAccessKey,
    DeleteUser and AWS_RISK_CREDENTIALS_EXPOSED."""
    template = load("events-member.yaml")
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    iam, health = pattern["$or"]
    assert iam["source"] == ["aws.iam"]
    assert iam["detail-type"] == ["AWS API Call via CloudTrail"]
    assert iam["detail"]["eventSource"] == ["iam.amazonaws.com"]
    update, deletes = iam["detail"]["$or"]
    assert update == {"eventName": ["UpdateAccessKey"], "requestParameters": {"status": ["Inactive", "Active"]}}
    assert deletes == {"eventName": ["DeleteAccessKey", "DeleteUser"]}
    assert health["source"] == ["aws.health"]
    assert health["detail"]["eventTypeCode"] == ["AWS_RISK_CREDENTIALS_EXPOSED"]
    assert rule["Properties"].get("EventBusName", "default") == "default"
    assert template["Rules"]["OnlyInUsEast1"]["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }


def test_events_target_posts_to_the_bot_with_bearer_token_retries_and_dlq() -> None:
    """The target is the API destination POSTing to /aws/events with the Bearer token, a role, retries and a DLQ."""
    template = load("events-member.yaml")
    assert template["Parameters"]["EventsToken"]["NoEcho"] is True
    ((connection_id, connection),) = resources_of_type(template, "AWS::Events::Connection").items()
    props = connection["Properties"]
    assert props["AuthorizationType"] == "API_KEY"
    assert props["AuthParameters"]["ApiKeyAuthParameters"] == {
        "ApiKeyName": "Authorization",
        "ApiKeyValue": {"Fn::Sub": "Bearer ${EventsToken}"},
    }
    ((destination_id, destination),) = resources_of_type(template, "AWS::Events::ApiDestination").items()
    assert destination["Properties"]["HttpMethod"] == "POST"
    assert destination["Properties"]["InvocationEndpoint"] == {"Fn::Sub": "https://${BotHost}/aws/events"}
    assert destination["Properties"]["ConnectionArn"] == {"Fn::GetAtt": [connection_id, "Arn"]}
    ((queue_id, _queue),) = resources_of_type(template, "AWS::SQS::Queue").items()
    ((role_id, role),) = resources_of_type(template, "AWS::IAM::Role").items()
    (rule,) = resources_of_type(template, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    # The invoke role: EventBridge only, and only InvokeApiDestination on this destination.
    (trust,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (invoke,) = identity_statements(role)
    assert invoke["Action"] == "events:InvokeApiDestination"
    assert invoke["Resource"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    # The DLQ accepts messages from EventBridge for this rule only.
    (queue_policy,) = resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    (send,) = statements(queue_policy["Properties"]["PolicyDocument"])
    assert send["Action"] == "sqs:SendMessage"
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    assert "aws:SourceArn" in send["Condition"]["ArnEquals"]


# --- Slack ------------------------------------------------------------------------------------


def test_slack_manifest_scopes_commands_and_events() -> None:
    """The manifest asks for exactly the bot scopes used and wires /whose-key, events and interactivity."""
    manifest = yaml.safe_load((DEPLOY / "slack-manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == SLACK_SCOPES
    assert len(manifest["oauth_config"]["scopes"]["bot"]) == len(SLACK_SCOPES)
    assert manifest["display_information"]["name"] == "whose-key"
    assert manifest["features"]["bot_user"]["display_name"] == "whose-key"
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/whose-key"
    assert command["url"] == SLACK_URL
    assert command["usage_hint"] == "AKIA… [more keys] | deep | faq | help"
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == SLACK_URL
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings["interactivity"] == {"is_enabled": True, "request_url": SLACK_URL}
    assert settings["socket_mode_enabled"] is False


def test_readme_covers_every_deploy_file() -> None:
    """deploy/README.md names every file in deploy/."""
    readme = (DEPLOY / "README.md").read_text()
    for path in DEPLOY.iterdir():
        if path.is_file() and path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name
