"""Checks on deploy/: CloudFormation templates lint clean and grant least privilege, the StackSets
deploy exactly the per-account templates, key events reach the bot only through the hub (members
hold no secret and can only forward to the hub's bus), and the Slack manifest asks for what the
bot uses."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.scopes import BOT_SCOPES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TEMPLATES = [
    "hub-role.yaml",
    "member-role.yaml",
    "member-role-stackset.yaml",
    "events-hub.yaml",
    "events-member.yaml",
    "events-stackset.yaml",
]
STACKSETS = {"member-role-stackset.yaml": "member-role.yaml", "events-stackset.yaml": "events-member.yaml"}
# IAM is global (one region is enough for a role); key events arrive in us-east-1, and global AWS
# Health events also in us-west-2 (backup).
STACKSET_REGIONS = {"member-role-stackset.yaml": ["us-east-1"], "events-stackset.yaml": ["us-east-1", "us-west-2"]}
EVENT_REGIONS = {"Fn::Contains": [["us-east-1", "us-west-2"], {"Ref": "AWS::Region"}]}
# Templates deployed to (or deploying into) member accounts: never a token, endpoint or secret.
MEMBER_EVENT_TEMPLATES = ["events-member.yaml", "events-stackset.yaml"]

MEMBER_READS = {
    "iam:GetAccessKeyLastUsed",
    "iam:ListAccessKeys",
    "iam:GetUser",
    "iam:ListUsers",
    "iam:ListUserTags",
    "iam:ListAttachedUserPolicies",
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
    """The document's statements; a conditional one (Fn::If) counts with its non-empty branches."""
    out = []
    for stmt in as_list(document["Statement"]):
        if isinstance(stmt, dict) and "Fn::If" in stmt:
            out.extend(s for s in stmt["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
        elif isinstance(stmt, dict) and "Effect" in stmt:
            out.append(stmt)
    return out


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


def test_templates_parse_as_cloudformation() -> None:
    """Every template (and inline body) is a CloudFormation document with resources."""
    for name, template in all_templates():
        assert template["AWSTemplateFormatVersion"] == "2010-09-09", name
        assert template["Resources"], name


# --- least privilege --------------------------------------------------------------------------


def test_member_role_grants_exactly_the_reads_the_bot_makes() -> None:
    """The member role's permissions are exactly the seven IAM/CloudTrail reads, all Allow."""
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
    """The hub may assume only arn:<partition>:iam::*:role/<MemberRoleName>, never '*', and only in
    accounts of OrganizationId (aws:ResourceOrgID)."""
    template = load("hub-role.yaml")
    (hub,) = resources_of_type(template, "AWS::IAM::Role").values()
    assume = [s for s in identity_statements(hub) if "sts:AssumeRole" in as_list(s["Action"])]
    assert assume, "hub cannot assume the member role"
    for stmt in assume:
        assert as_list(stmt["Action"]) == ["sts:AssumeRole"]
        assert stmt["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
        assert stmt["Condition"] == {"StringEquals": {"aws:ResourceOrgID": {"Ref": "OrganizationId"}}}
    organization = template["Parameters"]["OrganizationId"]
    assert "Default" not in organization, "the organization must be given, never guessed"
    assert re.fullmatch(organization["AllowedPattern"], "o-a1b2c3d4e5")
    assert not re.fullmatch(organization["AllowedPattern"], "*")


@pytest.mark.parametrize(
    ("arn", "allowed"),
    [
        ("arn:aws:iam::222222222222:role/whose-key-task", True),
        ("arn:aws:iam::222222222222:role/service-role/whose-key-task", True),  # a role with a path
        ("arn:aws-us-gov:iam::222222222222:user/whose-key", True),
        # A whole account: every principal its IAM allows could assume the hub role.
        ("arn:aws:iam::222222222222:root", False),
        ("arn:aws:iam::222222222222:role/x:root", False),
        ("arn:aws:iam::222222222222:role/", False),
        ("*", False),
        ("arn:aws:iam::*:role/whose-key-task", False),
    ],
)
def test_hub_trusted_principal_is_one_role_or_user_never_a_whole_account(arn: str, allowed: bool) -> None:
    """TrustedPrincipalArn's AllowedPattern takes one role or user ARN and refuses :root and wildcards."""
    parameter = load("hub-role.yaml")["Parameters"]["TrustedPrincipalArn"]
    assert bool(re.fullmatch(parameter["AllowedPattern"], arn)) is allowed
    assert "Default" not in parameter and ":root" in parameter["ConstraintDescription"]


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
    # The opt-in responder grant is the other RolePolicy (tests/unit/test_deploy_responder.py).
    reads = resources_of_type(template, "AWS::IAM::RolePolicy")["HubOwnAccountReads"]
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
def test_stackset_is_service_managed_org_wide_in_its_regions(stackset: str, body: str) -> None:
    """Service-managed, auto-deploying to OUs in its regions, and passing only parameters the body declares."""
    template = load(stackset)
    (resource,) = resources_of_type(template, "AWS::CloudFormation::StackSet").values()
    props = resource["Properties"]
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    (group,) = props["StackInstancesGroup"]
    assert group["Regions"] == STACKSET_REGIONS[stackset]
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


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """A small EventBridge pattern matcher: literal lists, `prefix`, `exists`, nesting and `$or`."""
    for key, want in pattern.items():
        if key == "$or":
            if not any(matches(branch, event) for branch in want):
                return False
        elif isinstance(want, dict):
            if not isinstance(event.get(key), dict) or not matches(want, event[key]):
                return False
        elif not _leaf_matches(want, key in event, event.get(key)):
            return False
    return True


def _leaf_matches(filters: list[Any], present: bool, value: Any) -> bool:
    values = as_list(value)
    for wanted in filters:
        if isinstance(wanted, dict):
            if "exists" in wanted:
                if wanted["exists"] is present:
                    return True
            elif "prefix" in wanted:
                if present and any(isinstance(v, str) and v.startswith(wanted["prefix"]) for v in values):
                    return True
            else:  # pragma: no cover - a filter this helper does not know
                raise AssertionError(f"unsupported filter {wanted}")
        elif present and wanted in values:
            return True
    return False


def cloudtrail_event(name: str, error: str | None = None, **request: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {"eventSource": "iam.amazonaws.com", "eventName": name, "requestParameters": request}
    if error:
        detail["errorCode"] = error
    return {"source": "aws.iam", "detail-type": "AWS API Call via CloudTrail", "detail": detail}


def health_event(code: str, source: str = "aws.health") -> dict[str, Any]:
    return {
        "source": source,
        "detail-type": "AWS Health Event",
        "detail": {"service": "RISK", "eventTypeCategory": "issue", "eventTypeCode": code},
    }


FORWARDED = [
    cloudtrail_event("UpdateAccessKey", accessKeyId="AKIAEXAMPLE", status="Inactive"),
    cloudtrail_event("UpdateAccessKey", accessKeyId="AKIAEXAMPLE", status="Active"),
    cloudtrail_event("DeleteAccessKey", accessKeyId="AKIAEXAMPLE", userName="alice"),
    cloudtrail_event("DeleteUser", userName="alice"),
    health_event("AWS_RISK_CREDENTIALS_EXPOSED"),
    health_event("AWS_RISK_CREDENTIALS_COMPROMISED"),
    health_event("AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED"),
    health_event("AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED"),
    health_event("AWS_RISK_IAM_QUARANTINE"),
    health_event("AWS_RISK_SOMETHING_NEW_NEXT_YEAR"),
]
NOT_FORWARDED = [
    cloudtrail_event("CreateAccessKey", userName="alice"),
    cloudtrail_event("CreateUser", userName="mallory"),
    # A failed call changed nothing, and its parameters may name another account's key.
    cloudtrail_event("UpdateAccessKey", error="NoSuchEntityException", accessKeyId="AKIAOTHER", status="Inactive"),
    cloudtrail_event("DeleteAccessKey", error="AccessDenied", accessKeyId="AKIAOTHER"),
    {**cloudtrail_event("DeleteUser", userName="alice"), "source": "whose-key.fake"},
    health_event("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"),
    health_event("AWS_RISK_CREDENTIALS_EXPOSED", source="custom.health"),
]


def rule(name: str) -> dict[str, Any]:
    (found,) = resources_of_type(load(name), "AWS::Events::Rule").values()
    return found


def rule_targets(found: dict[str, Any]) -> list[dict[str, Any]]:
    """The rule's targets; a conditional one (Fn::If) counts with both branches."""
    out = []
    for target in found["Properties"]["Targets"]:
        out.extend(target["Fn::If"][1:] if "Fn::If" in target else [target])
    return out


HUB_BUS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${HubAccountId}:event-bus/${HubBusName}"}


@pytest.mark.parametrize("name", ["events-member.yaml", "events-hub.yaml"])
def test_rules_forward_key_changes_and_health_risk_notices(name: str) -> None:
    """Member and hub rules match UpdateAccessKey (Inactive and Active), DeleteAccessKey, DeleteUser and
    every AWS_RISK_* Health code, and nothing else: no other call, no failed call, no other source."""
    pattern = rule(name)["Properties"]["EventPattern"]
    for event in FORWARDED:
        assert matches(pattern, event), event
    for event in NOT_FORWARDED:
        assert not matches(pattern, event), event
    iam, health = pattern["$or"]
    assert health["detail"]["eventTypeCode"] == [{"prefix": "AWS_RISK_"}]
    assert iam["detail"]["errorCode"] == [{"exists": False}]


def test_hub_rule_filters_exactly_like_the_member_rule_and_only_aws_sources() -> None:
    """The hub's rule repeats the member pattern, and every branch of it is limited to aws.iam / aws.health
    (sources no PutEvents call can use), so nothing a member account puts on the bus reaches the bot."""
    hub = rule("events-hub.yaml")["Properties"]
    assert hub["EventPattern"] == rule("events-member.yaml")["Properties"]["EventPattern"]
    assert hub["EventBusName"] == {"Ref": "KeyEventsBus"}
    branches = hub["EventPattern"]["$or"]
    assert set(hub["EventPattern"]) == {"$or"}
    assert [b["source"] for b in branches] == [["aws.iam"], ["aws.health"]]


@pytest.mark.parametrize("name", ["events-member.yaml", "events-hub.yaml"])
def test_event_stacks_deploy_only_in_us_east_1_and_us_west_2(name: str) -> None:
    (assertion,) = load(name)["Rules"]["OnlyInTheEventRegions"]["Assertions"]
    assert assertion["Assert"] == EVENT_REGIONS


def test_member_forwarding_role_can_only_put_events_on_the_hub_bus() -> None:
    """The member rule's only target is the hub bus (same region), through a role that EventBridge of this
    account alone can assume and that may only events:PutEvents on that bus."""
    template = load("events-member.yaml")
    found = rule("events-member.yaml")
    assert found["Properties"]["EventBusName"] == "default"
    ((role_id, role),) = resources_of_type(template, "AWS::IAM::Role").items()
    (target,) = rule_targets(found)
    assert target["Arn"] == HUB_BUS_ARN
    assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    (trust,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (put,) = identity_statements(role)
    assert put["Effect"] == "Allow"
    assert put["Action"] == "events:PutEvents"
    assert put["Resource"] == HUB_BUS_ARN
    assert set(template["Resources"]) == {"ForwardToHubRole", "ForwardKeyEventsRule"}


@pytest.mark.parametrize("name", MEMBER_EVENT_TEMPLATES)
def test_member_side_holds_no_secret_and_no_way_to_the_bot(name: str) -> None:
    """No connection, API destination, topic or secret in anything deployed to member accounts, and no
    secret parameter: the token and the bot's address live in the hub account only."""
    bodies = [load(name)]
    if name in STACKSETS:
        bodies.append(inline_body(name))
    for template in bodies:
        types = {r["Type"] for r in template["Resources"].values()}
        assert not types & {
            "AWS::Events::Connection",
            "AWS::Events::ApiDestination",
            "AWS::SNS::Topic",
            "AWS::SecretsManager::Secret",
        }
        for param_name, param in template.get("Parameters", {}).items():
            assert not param.get("NoEcho"), param_name
            lowered = param_name.lower()
            assert not any(word in lowered for word in ("token", "secret", "password", "host")), param_name
        assert "/aws/events" not in yaml.safe_dump(template), name


def test_hub_bus_accepts_put_events_only_from_the_organization() -> None:
    """The organization bus admits events:PutEvents on itself only, only from principals of OrganizationId."""
    template = load("events-hub.yaml")
    (bus,) = resources_of_type(template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == {"Ref": "BusName"}
    (stmt,) = statements(bus["Properties"]["Policy"])
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == "events:PutEvents"
    assert stmt["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${BusName}"
    }
    assert stmt["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert (
        template["Parameters"]["BusName"]["Default"]
        == load("events-member.yaml")["Parameters"]["HubBusName"]["Default"]
    )
    assert not resources_of_type(template, "AWS::Events::EventBusPolicy"), "one bus policy, on the bus"


def test_hub_posts_to_the_bot_with_bearer_token_retries_and_dlq() -> None:
    """The hub's API destination POSTs to /aws/events with the Bearer token; the target has a role,
    retries and a DLQ; the token is a NoEcho parameter required for this delivery."""
    template = load("events-hub.yaml")
    token = template["Parameters"]["EventsToken"]
    assert token["NoEcho"] is True
    assert token["Default"] == ""
    required = template["Rules"]["TokenForApiDestination"]
    assert required["RuleCondition"] == {"Fn::Equals": [{"Ref": "Delivery"}, "ApiDestination"]}
    assert required["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "EventsToken"}, ""]}]}
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
    for resource in (connection, destination):
        assert resource["Condition"] == "UseApiDestination"
    ((queue_id, _queue),) = resources_of_type(template, "AWS::SQS::Queue").items()
    ((role_id, role),) = resources_of_type(template, "AWS::IAM::Role").items()
    api_target, sns_target = rule_targets(rule("events-hub.yaml"))
    assert api_target["Arn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    assert api_target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    for target in (api_target, sns_target):
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    # The invoke role: EventBridge of this account only, and only InvokeApiDestination on this destination.
    (trust,) = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (invoke,) = identity_statements(role)
    assert invoke["Action"] == "events:InvokeApiDestination"
    assert invoke["Resource"] == {"Fn::GetAtt": [destination_id, "Arn"]}


def test_hub_sns_option_publishes_only_from_the_rule_to_a_signed_https_subscription() -> None:
    """Delivery=Sns: the same rule (same source checks) publishes to a topic only it may publish to;
    SNS posts signed envelopes to /aws/events and dead-letters what it cannot deliver."""
    template = load("events-hub.yaml")
    rule_arn = {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
        ":rule/${BusName}/${NamePrefix}-key-events"
    }
    assert rule("events-hub.yaml")["Properties"]["Name"] == {"Fn::Sub": "${NamePrefix}-key-events"}
    ((topic_id, topic),) = resources_of_type(template, "AWS::SNS::Topic").items()
    assert topic["Condition"] == "UseSns"
    (_api_target, sns_target) = rule_targets(rule("events-hub.yaml"))
    assert sns_target["Arn"] == {"Ref": topic_id}
    assert "RoleArn" not in sns_target
    # Signed with SHA256 (SignatureVersion 2): the bot refuses version 1.
    assert topic["Properties"]["SignatureVersion"] == "2"
    (topic_policy,) = resources_of_type(template, "AWS::SNS::TopicPolicy").values()
    publish, deny_publish, deny_subscribe = statements(topic_policy["Properties"]["PolicyDocument"])
    assert publish["Effect"] == "Allow"
    assert publish["Principal"] == {"Service": "events.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    # Everyone else (the hub's own users and roles included) is denied Publish, whatever their
    # identity policies say: a call without aws:SourceArn matches ArnNotEquals.
    assert deny_publish["Effect"] == "Deny" and deny_publish["Principal"] == "*"
    assert deny_publish["Action"] == "sns:Publish" and deny_publish["Resource"] == {"Ref": topic_id}
    assert deny_publish["Condition"] == {"ArnNotEquals": {"aws:SourceArn": rule_arn}}
    # And nobody may subscribe any endpoint but the bot's.
    assert deny_subscribe["Effect"] == "Deny" and deny_subscribe["Principal"] == "*"
    assert deny_subscribe["Action"] == "sns:Subscribe" and deny_subscribe["Resource"] == {"Ref": topic_id}
    assert deny_subscribe["Condition"] == {
        "StringNotEquals": {"sns:Endpoint": {"Fn::Sub": "https://${BotHost}/aws/events"}}
    }
    (subscription,) = resources_of_type(template, "AWS::SNS::Subscription").values()
    props = subscription["Properties"]
    assert props["Protocol"] == "https"
    assert props["Endpoint"] == {"Fn::Sub": "https://${BotHost}/aws/events"}
    assert props["RawMessageDelivery"] is False
    ((queue_id, _queue),) = resources_of_type(template, "AWS::SQS::Queue").items()
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    # The DLQ accepts messages from this rule and (with SNS) this topic only.
    (queue_policy,) = resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    from_rule, from_topic = statements(queue_policy["Properties"]["PolicyDocument"])
    for stmt in (from_rule, from_topic):
        assert stmt["Action"] == "sqs:SendMessage"
    assert from_rule["Principal"] == {"Service": "events.amazonaws.com"}
    assert from_rule["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    assert from_topic["Principal"] == {"Service": "sns.amazonaws.com"}
    assert from_topic["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": topic_id}}}
    assert template["Conditions"]["UseSns"] == {"Fn::Equals": [{"Ref": "Delivery"}, "Sns"]}
    assert set(template["Parameters"]["Delivery"]["AllowedValues"]) == {"ApiDestination", "Sns"}


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
    assert command["usage_hint"] == "AKIA… [more keys] | deep | faq | report | help"
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    # Slack's agent view in the DM; its description is required there, 300 characters at most.
    agent_view = manifest["features"]["agent_view"]
    assert 0 < len(agent_view["agent_description"]) <= 300
    assert "assistant_view" not in manifest["features"]
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"] == SLACK_URL
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "app_home_opened",
        "function_executed",  # the Workflow Builder step (tests/unit/test_workflow_step.py checks its definition)
    }
    assert settings["interactivity"] == {"is_enabled": True, "request_url": SLACK_URL}
    assert settings["socket_mode_enabled"] is False


def test_readme_covers_every_deploy_file() -> None:
    """deploy/README.md names every file in deploy/."""
    readme = (DEPLOY / "README.md").read_text()
    for path in DEPLOY.iterdir():
        if path.is_file() and path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name


def test_readme_explains_the_trust_model_regions_and_token_rotation() -> None:
    """deploy/README.md says who holds the token, why members cannot forge events, where to deploy,
    that duplicates are expected, and how to rotate the token."""
    readme = (DEPLOY / "README.md").read_text()
    for needle in (
        "## Trust model",
        "aws:PrincipalOrgID",
        "`aws.`",
        "us-west-2",
        "`eventArn` +\n`communicationId`",
        "## Rotating the events token",
        "WHOSE_KEY_EVENTS_TOKEN_PREVIOUS",
        "aws cloudformation deploy",
        # The hub role and the SNS topic's own limits.
        "aws:ResourceOrgID",
        ":root",
        "SignatureVersion",
        "sns:Subscribe",
    ):
        assert needle in readme, needle
