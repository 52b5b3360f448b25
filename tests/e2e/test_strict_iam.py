"""Right on real IAM, not only on moto: the AWS stand-in's strict IAM modes, and the finder's
answers in each of them (the shared stack's proxy is switched mode by mode, then restored).

moto answers GetAccessKeyLastUsed for other accounts' keys; real IAM may answer AccessDenied or
NoSuchEntity instead (see standins/aws_proxy/strict_iam.py). The finder must be right either way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from standins.aws_proxy import IAM_MODES, Fault
from standins.keys import synthesize_key_id
from standins.stack import Stack
from tests.e2e.env import iam_in
from tests.e2e.test_outcomes import FOREIGN_ACCOUNT, Answer, account, aws_client, for_key, org_account_count

STRICT_MODES = tuple(mode for mode in IAM_MODES if mode != "moto")
ANSWER_TIMEOUT = 60.0


@pytest.fixture
def iam_mode(stack: Stack) -> Iterator[Callable[[str], None]]:
    """Switch the shared proxy's IAM mode for one test; the mode it had comes back afterwards."""
    before = stack.aws.iam_mode
    try:
        yield lambda mode: setattr(stack.aws, "iam_mode", mode)
    finally:
        stack.aws.iam_mode = before


@pytest.fixture
def scripted(stack: Stack) -> Iterator[list[Fault]]:
    """Faults a test scripts on the proxy; every one is removed afterwards, pass or fail."""
    faults: list[Fault] = []
    try:
        yield faults
    finally:
        for fault in faults:
            stack.aws.remove(fault)


def ask(stack: Stack, text: str) -> Answer:
    """`/whose-key text` from an asker of its own (the per-person rate limit never refuses it)."""
    reply, response_url = stack.slash_command(text, user_id=f"U{uuid.uuid4().hex[:10].upper()}")
    assert reply.status == 200, reply.body
    return Answer(stack.slack.wait_for_hook(response_url, timeout=ANSWER_TIMEOUT)[0].body)


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


# -- the stand-in ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "foreign", "missing"),
    [
        ("strict", "AccessDenied", "AccessDenied"),
        ("strict-mixed", "AccessDenied", "NoSuchEntity"),
        ("strict-nosuchentity", "NoSuchEntity", "NoSuchEntity"),
    ],
)
def test_strict_iam_refuses_keys_that_are_not_in_the_callers_account(
    stack: Stack, iam_mode: Callable[[str], None], mode: str, foreign: str, missing: str
) -> None:
    """Each strict mode answers GetAccessKeyLastUsed for another account's key, and for a missing key, with its code."""
    assert stack.org is not None
    prod_key = stack.org.key("acme-prod", "deploy-bot")
    management_iam = aws_client(stack, "iam")
    prod_iam = iam_in(stack, account(stack, "acme-prod"))
    iam_mode(mode)

    assert error_code(lambda: management_iam.get_access_key_last_used(AccessKeyId=prod_key)) == foreign
    made_up = synthesize_key_id(stack.org.management_account_id)
    assert error_code(lambda: management_iam.get_access_key_last_used(AccessKeyId=made_up)) == missing
    # The key's own account still answers, as IAM does.
    assert prod_iam.get_access_key_last_used(AccessKeyId=prod_key)["UserName"] == "deploy-bot"


def test_moto_mode_answers_for_another_accounts_key(stack: Stack, iam_mode: Callable[[str], None]) -> None:
    """In moto mode the management account is told the user behind a key of another account (moto's leniency)."""
    assert stack.org is not None
    iam_mode("moto")
    prod_key = stack.org.key("acme-prod", "deploy-bot")

    answered = aws_client(stack, "iam").get_access_key_last_used(AccessKeyId=prod_key)

    assert answered["UserName"] == "deploy-bot"


def test_strict_get_access_key_info_names_the_account_of_a_key_that_never_existed(
    stack: Stack, iam_mode: Callable[[str], None]
) -> None:
    """Strict STS names the encoded account of any well-formed key, so its answer proves nothing about existence."""
    iam_mode("strict")
    made_up = synthesize_key_id(FOREIGN_ACCOUNT)

    assert aws_client(stack, "sts").get_access_key_info(AccessKeyId=made_up)["Account"] == FOREIGN_ACCOUNT


# -- the finder, in every mode ---------------------------------------------------------------


@pytest.mark.parametrize("mode", IAM_MODES)
def test_deep_search_for_a_made_up_key_is_not_found_in_every_mode(
    stack: Stack, iam_mode: Callable[[str], None], mode: str
) -> None:
    """A deep search for a key that exists nowhere says "not found in any of N", never "could not be searched"."""
    iam_mode(mode)
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)
    accounts = org_account_count(stack)

    answer = ask(stack, f"{key_id} deep")

    assert f"`{key_id}` was not found in any of the {accounts} accounts searched." in answer.lines[0]
    assert "could not be searched" not in answer.all_text


@pytest.mark.parametrize("mode", IAM_MODES)
def test_deleted_key_is_gone_in_every_mode(stack: Stack, iam_mode: Callable[[str], None], mode: str) -> None:
    """A deleted key of an org account "no longer exists" in every mode, with every account searched."""
    assert stack.org is not None
    iam_mode(mode)
    key_id = stack.org.key("acme-staging", "bob", "Deleted")

    answer = ask(stack, key_id)

    assert "no longer exists" in answer.lines[0]
    assert "could not be searched" not in answer.all_text


@pytest.mark.parametrize("mode", IAM_MODES)
def test_found_key_is_found_in_every_mode(stack: Stack, iam_mode: Callable[[str], None], mode: str) -> None:
    """An Active key is found, with its user and owner, in every mode."""
    assert stack.org is not None
    iam_mode(mode)
    key_id = stack.org.key("acme-prod", "deploy-bot")

    answer = ask(stack, key_id)

    assert f"`{key_id}` belongs to IAM user *deploy-bot*" in answer.lines[0]
    assert answer.facts()["Owner"] == "<@U0PLATFRM>"


@pytest.mark.parametrize("mode", IAM_MODES)
def test_key_whose_last_use_iam_refuses_is_still_found_by_listing_the_account(
    stack: Stack, iam_mode: Callable[[str], None], scripted: list[Fault], mode: str
) -> None:
    """When IAM refuses GetAccessKeyLastUsed for a key that is there, reading the account finds it; last use unknown."""
    assert stack.org is not None
    iam_mode(mode)
    key_id = stack.org.key("acme-data", "etl")
    scripted.append(stack.aws.fail("GetAccessKeyLastUsed", for_key(key_id), 403, "AccessDenied", "not authorized"))

    answer = ask(stack, key_id)

    assert f"`{key_id}` belongs to IAM user *etl*" in answer.lines[0]
    assert "IAM refused GetAccessKeyLastUsed for this key" in answer.all_text


@pytest.mark.parametrize("mode", STRICT_MODES)
def test_role_that_cannot_read_an_account_leaves_it_unsearched_with_why(
    stack: Stack, iam_mode: Callable[[str], None], scripted: list[Fault], mode: str
) -> None:
    """Refused the key and the user listing, an account stays "could not be searched", with both refusals named."""
    iam_mode(mode)
    security = account(stack, "acme-security")
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)
    scripted.append(stack.aws.fail("GetAccessKeyLastUsed", None, 403, "AccessDenied", "denied", account=security))
    scripted.append(stack.aws.fail("ListUsers", None, 403, "AccessDenied", "not authorized", account=security))
    accounts = org_account_count(stack)

    answer = ask(stack, f"{key_id} deep")

    assert (
        f"was not found in the {accounts - 1} accounts searched, but 1 account could not be searched"
        in (answer.lines[0])
    )
    assert (
        f"• acme-security ({security}): access denied (AccessDenied) to GetAccessKeyLastUsed and ListUsers: "
        "the role cannot read its IAM users" in answer.all_text
    )
