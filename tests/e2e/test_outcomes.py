"""Every outcome the finder tells apart, end to end: a signed `/whose-key` into the real web
process, the real worker, the moto organization behind the fault-injecting AWS proxy (which also
answers CloudTrail LookupEvents from the calls it forwarded), and the answer at the response_url.

The `stack` is shared with other modules: every test uses its own response_url, creates its own
users and keys when it must change something, and removes the AWS faults it scripts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from redis import Redis

from standins.aws_proxy import Fault
from standins.keys import synthesize_key_id
from standins.moto_org import FAKE_CREDENTIALS
from standins.stack import Stack
from tests.e2e.env import iam_in
from tests.support.waiting import jobs_mentioning, wait_for_jobs_finished
from workers.constants import AWS_MAX_ATTEMPTS, AWS_READ_TIMEOUT

# Accounts that belong to nobody we know: not in the moto organization.
FOREIGN_ACCOUNT = "555566667777"
ANSWER_TIMEOUT = 30.0
# How the offline CloudTrail names the sessions that seeded and that tests/conftest.iam_in uses.
SEED_ACTOR = "assumed-role/OrganizationAccountAccessRole/seed"
ADMIN_ACTOR = "assumed-role/OrganizationAccountAccessRole/test-admin"
# How the answer shows a moment: "2026-11-26 12:07 UTC".
DATE_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


# -- reading answers -------------------------------------------------------------------------


class Answer:
    """One message posted to a response_url, read the way a person would read it."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.text = str(body.get("text", ""))  # the plain fallback
        self.blocks: list[dict[str, Any]] = list(body.get("blocks", []))

    @property
    def lines(self) -> list[str]:
        """Every piece of mrkdwn in the blocks: sections, fields and context elements."""
        out: list[str] = []
        for block in self.blocks:
            if isinstance(block.get("text"), dict):
                out.append(block["text"]["text"])
            out.extend(f["text"] for f in block.get("fields", []))
            out.extend(e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn")
        return out

    @property
    def all_text(self) -> str:
        return "\n".join([self.text, *self.lines])

    def facts(self) -> dict[str, str]:
        """The label/value fields (`*Created*\\n2026-…`) of a one-key answer."""
        found: dict[str, str] = {}
        for block in self.blocks:
            for field in block.get("fields", []):
                match = re.fullmatch(r"\*(.+?)\*\n(.*)", field["text"], re.DOTALL)
                if match:
                    found[match.group(1)] = match.group(2)
        return found

    def per_key(self) -> list[Answer]:
        """The blocks of each key of a several-key answer (keys are separated by dividers)."""
        chunks: list[list[dict[str, Any]]] = [[]]
        for block in self.blocks:
            if block.get("type") == "divider":
                chunks.append([])
            elif block.get("type") != "actions":
                chunks[-1].append(block)
        return [Answer({"text": "", "blocks": chunk}) for chunk in chunks]


def ask(stack: Stack, text: str, *, posts: int = 1, timeout: float = ANSWER_TIMEOUT) -> list[Answer]:
    """Send `/whose-key text` signed, check the ack, and return the first `posts` hook posts."""
    reply, response_url = stack.slash_command(text)
    assert reply.status == 200, reply.body
    assert "Looking up" in reply.body, reply.body
    return [Answer(p.body) for p in stack.slack.wait_for_hook(response_url, count=posts, timeout=timeout)]


def answer_for(stack: Stack, text: str, *, timeout: float = ANSWER_TIMEOUT) -> Answer:
    return ask(stack, text, timeout=timeout)[0]


def day(iso_or_dt: datetime | str) -> str:
    moment = iso_or_dt if isinstance(iso_or_dt, datetime) else datetime.fromisoformat(iso_or_dt)
    return f"{moment:%Y-%m-%d}"


# -- AWS helpers -----------------------------------------------------------------------------


def aws_client(stack: Stack, service: str, credentials: dict[str, str] | None = None) -> Any:
    """A client through the proxy, as the management account (or with the given credentials)."""
    creds = credentials or {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client(service, region_name="us-east-1", endpoint_url=stack.aws.url, **creds)


def org_account_count(stack: Stack) -> int:
    pages = aws_client(stack, "organizations").get_paginator("list_accounts").paginate()
    return sum(len(page["Accounts"]) for page in pages)


def account(stack: Stack, name: str) -> str:
    assert stack.org is not None
    return stack.org.accounts[name]


def for_key(key_id: str) -> Callable[[dict[str, str]], bool]:
    """A fault match for requests about one access key only (other tests' keys pass through)."""
    return lambda params: params.get("AccessKeyId") == key_id


def for_account(account_id: str) -> Callable[[dict[str, str]], bool]:
    """A fault match for AssumeRole into one account."""
    return lambda params: f":{account_id}:" in params.get("RoleArn", "")


@pytest.fixture
def faults(stack: Stack) -> Iterator[list[Fault]]:
    """Faults a test scripts on the AWS proxy; every one is removed afterwards, pass or fail."""
    scripted: list[Fault] = []
    try:
        yield scripted
    finally:
        for fault in scripted:
            stack.aws.remove(fault)


def deny_role(stack: Stack, faults: list[Fault], account_id: str) -> Fault:
    """From now on (until the test ends) AssumeRole into account_id is denied, and no worker holds
    a session there, so the next lookup in that account meets the denial.

    Every worker process keeps each account's session for the hour, so the workers are restarted
    (their supervisor starts fresh ones) once the denial is in place.
    """
    fault = stack.aws.fail("AssumeRole", for_account(account_id), 403, "AccessDenied", "not authorized to assume")
    faults.append(fault)
    stack.restart_workers()
    return fault


# -- found -----------------------------------------------------------------------------------


def test_found_active_key_names_owner_account_created_and_last_used(stack: Stack) -> None:
    """An Active key is answered with its IAM user, owner, account, creation date and last use."""
    assert stack.org is not None
    prod = account(stack, "acme-prod")
    key_id = stack.org.key("acme-prod", "deploy-bot")
    listed = iam_in(stack, prod).list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"]
    created = next(k["CreateDate"] for k in listed if k["AccessKeyId"] == key_id)

    answer = answer_for(stack, key_id)

    facts = answer.facts()
    assert f"`{key_id}` belongs to IAM user *deploy-bot* in acme-prod ({prod})" in answer.lines[0]
    assert facts["Status"] == "Active"
    assert facts["Owner"] == "<@U0PLATFRM>"
    assert facts["Account"] == f"acme-prod ({prod})"
    assert facts["Created"].startswith(day(created))
    assert "Last used" in facts  # moto reports the key as never used; the field is there all the same
    assert f"arn:aws:iam::{prod}:user/deploy-bot" in answer.all_text
    assert f"{key_id}: deploy-bot" in answer.text and "Active" in answer.text


def test_found_inactive_key_says_who_deactivated_it_and_when(stack: Stack) -> None:
    """An Inactive key says so, and CloudTrail's UpdateAccessKey names who deactivated it and when."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "alice", "Inactive")

    answer = answer_for(stack, key_id)

    facts = answer.facts()
    assert facts["Status"] == "Inactive"
    assert facts["IAM user"] == "alice"
    # Seeding deactivated it through the proxy, as the `seed` session of the admin role, today.
    assert re.fullmatch(rf"{DATE_TIME} \(today\) by {SEED_ACTOR} from 127\.0\.0\.1", facts["Deactivated"])
    assert "Inactive" in answer.text


# -- outside the organization, gone, not found ------------------------------------------------


def test_key_of_an_account_outside_the_organization_is_named_not_ours(stack: Stack) -> None:
    """A well-formed key of a foreign account names that account and says it is not one of ours."""
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)

    answer = answer_for(stack, key_id)

    assert (
        f"`{key_id}` belongs to account {FOREIGN_ACCOUNT}, which is not one of this organization's accounts."
        in (answer.lines[0])
    )
    assert FOREIGN_ACCOUNT in answer.text
    assert "not found in any" not in answer.all_text


def test_deleted_key_is_gone_and_cloudtrail_names_who_deleted_it(stack: Stack) -> None:
    """A deleted key of an org account "no longer exists", with who deleted it and when."""
    assert stack.org is not None
    staging = account(stack, "acme-staging")
    key_id = stack.org.key("acme-staging", "bob", "Deleted")

    answer = answer_for(stack, key_id)

    assert "no longer exists" in answer.lines[0]
    assert staging in answer.lines[0]
    facts = answer.facts()
    assert re.fullmatch(rf"{DATE_TIME} \(today\) by {SEED_ACTOR} from 127\.0\.0\.1", facts["Deleted"])
    assert facts["IAM user"] == "bob"  # named by the DeleteAccessKey event
    assert "This key was deleted from" in answer.all_text, "bob himself still exists: only the key went"


def test_key_of_a_deleted_user_says_the_user_was_deleted_and_by_whom(stack: Stack) -> None:
    """When the key's user was deleted too, the answer says so and who deleted the user."""
    dev = account(stack, "acme-dev")
    iam = iam_in(stack, dev)
    user = f"leaver-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key_id = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    iam.delete_user(UserName=user)

    answer = answer_for(stack, key_id)

    assert "no longer exists" in answer.lines[0]
    facts = answer.facts()
    assert facts["IAM user"] == user
    assert facts["Deleted"].endswith(f"by {ADMIN_ACTOR} from 127.0.0.1")
    assert re.fullmatch(rf"{DATE_TIME} \(today\) by {ADMIN_ACTOR} from 127\.0\.0\.1", facts["User deleted"])
    assert f"The IAM user behind this key no longer exists in account acme-dev ({dev})" in answer.all_text


def test_full_search_that_finds_nothing_says_how_many_accounts_were_searched(stack: Stack) -> None:
    """`deep` for a key that exists nowhere searches every org account and says "not found in any of N"."""
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)
    accounts = org_account_count(stack)

    answer = answer_for(stack, f"{key_id} deep")

    assert f"`{key_id}` was not found in any of the {accounts} accounts searched." in answer.lines[0]
    assert answer.facts()["Accounts searched"] == str(accounts)
    assert f"Account {FOREIGN_ACCOUNT} is not part of this AWS Organization." in answer.lines
    assert "could not be searched" not in answer.all_text


# -- temporary credentials --------------------------------------------------------------------


def test_temporary_key_names_its_account_and_the_role_that_issued_it(stack: Stack) -> None:
    """An ASIA key is a temporary STS credential: the answer names its account and issuing role."""
    data = account(stack, "acme-data")
    role_arn = f"arn:aws:iam::{data}:role/outcomes-deployer-{uuid.uuid4().hex[:6]}"
    creds = aws_client(stack, "sts").assume_role(RoleArn=role_arn, RoleSessionName="outcomes-ci")["Credentials"]
    session = {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }
    aws_client(stack, "sts", session).get_caller_identity()  # a call CloudTrail records with the key
    key_id = creds["AccessKeyId"]
    assert key_id.startswith("ASIA")

    answer = answer_for(stack, key_id)

    assert f"`{key_id}` is a temporary STS credential from acme-data ({data}); no IAM user owns it." in answer.lines[0]
    assert answer.facts()["Session of"].startswith(f"{role_arn} (seen ")
    assert creds["SecretAccessKey"] not in json.dumps(answer.body)


# -- accounts that could not be searched ------------------------------------------------------


def test_deep_search_with_a_denied_role_lists_that_account_and_is_not_final(stack: Stack, faults: list[Fault]) -> None:
    """A deep search where one account's role cannot be assumed names it, with why, and never says "not found"."""
    security = account(stack, "acme-security")
    assume = deny_role(stack, faults, security)
    key_id = synthesize_key_id(account(stack, "acme-dev"))
    accounts = org_account_count(stack)

    answer = answer_for(stack, f"{key_id} deep")

    assert (
        f"was not found in the {accounts - 1} accounts searched, but 1 account could not be searched, "
        "so this is not a final answer." in answer.lines[0]
    )
    assert (
        f"• acme-security ({security}): could not assume the role "
        "(missing, or its trust policy does not allow whose-key)" in answer.all_text
    )
    assert "not found in any" not in answer.all_text
    assert "no longer exists" not in answer.all_text
    assert assume.hits >= 1, "the worker did try to assume the role"


def test_owning_account_role_denied_on_the_fast_path_is_incomplete_not_not_found(
    stack: Stack, faults: list[Fault]
) -> None:
    """When the key's own account cannot be read (no deep), the answer names it and is not final."""
    sandbox = account(stack, "acme-sandbox")
    assume = deny_role(stack, faults, sandbox)
    key_id = synthesize_key_id(sandbox)

    answer = answer_for(stack, key_id)

    assert "which could not be read (could not assume the role" in answer.lines[0]
    assert "cannot say whose it is yet" in answer.lines[0]
    assert f"• acme-sandbox ({sandbox}): could not assume the role" in answer.all_text
    assert "not found in any" not in answer.all_text
    assert "no longer exists" not in answer.all_text
    assert assume.hits == 1


def test_access_denied_account_is_listed_and_does_not_stick(stack: Stack, faults: list[Fault]) -> None:
    """IAM denying the role in an account lists it as access denied; the next lookup there is answered."""
    assert stack.org is not None
    data = account(stack, "acme-data")
    etl_key = stack.org.key("acme-data", "etl")
    assert "*etl*" in answer_for(stack, etl_key).lines[0]  # the worker now holds a session in acme-data
    key_id = synthesize_key_id(data)
    faults.append(stack.aws.fail("GetAccessKeyLastUsed", for_key(key_id), 403, "AccessDenied", "not authorized"))
    # The user listing too: only a role that cannot read the account at all is left unsearched.
    faults.append(stack.aws.fail("ListUsers", None, 403, "AccessDenied", "not authorized", account=data))

    denied = answer_for(stack, key_id)

    assert "cannot say whose it is yet" in denied.lines[0]
    assert f"• acme-data ({data}): access denied (AccessDenied)" in denied.all_text
    assert "not found in any" not in denied.all_text
    # The denial does not stick to the account: the next lookup there is answered. (That the denied
    # session itself is dropped rather than kept for the hour is decided per worker process, which
    # the unit layer checks: test_finder_verdicts.py::test_denied_accounts_get_a_fresh_session_next_time; here a
    # pool of workers may serve the next lookup from another process.)
    assert "*etl*" in answer_for(stack, etl_key).lines[0]


def test_throttled_account_is_listed_as_throttled_after_retries(stack: Stack, faults: list[Fault]) -> None:
    """An account that keeps answering Throttling is retried, then listed as throttled (not "not found")."""
    dev = account(stack, "acme-dev")
    key_id = synthesize_key_id(dev)
    throttle = stack.aws.fail("GetAccessKeyLastUsed", for_key(key_id), 400, "Throttling", "Rate exceeded")
    faults.append(throttle)

    answer = answer_for(stack, key_id)

    assert "cannot say whose it is yet" in answer.lines[0]
    assert f"• acme-dev ({dev}): throttled by AWS (Throttling) after retries" in answer.all_text
    assert throttle.hits == AWS_MAX_ATTEMPTS, "botocore retried before giving up"
    assert "not found in any" not in answer.all_text


def test_account_that_does_not_answer_in_time_is_listed_as_timed_out(stack: Stack, faults: list[Fault]) -> None:
    """An account whose IAM never answers within the read timeout is listed as timed out."""
    # IAM is held until the test ends, not slowed for a while: however loaded the machine, no
    # attempt can get an answer, so every one waits out the read timeout (about AWS_MAX_ATTEMPTS x
    # AWS_READ_TIMEOUT plus backoff in all). That the worker gives up at all, rather than waiting,
    # is the answer arriving while IAM still holds every attempt.
    dev = account(stack, "acme-dev")
    key_id = synthesize_key_id(dev)
    stall = stack.aws.hold("GetAccessKeyLastUsed", for_key(key_id))
    faults.append(stall)

    answer = answer_for(stack, key_id, timeout=AWS_MAX_ATTEMPTS * (AWS_READ_TIMEOUT + 4) + 10)

    assert "cannot say whose it is yet" in answer.lines[0]
    assert f"• acme-dev ({dev}): AWS did not answer in time" in answer.all_text
    assert stall.hits == AWS_MAX_ATTEMPTS


# -- several keys, CloudTrail denied, progress ------------------------------------------------


def test_several_keys_get_one_reply_covering_each(stack: Stack, redis: Redis) -> None:
    """`/whose-key K1 K2 K3` with keys of different outcomes gets one reply with each key's answer."""
    assert stack.org is not None
    found = stack.org.key("acme-prod", "deploy-bot")
    outside = synthesize_key_id(FOREIGN_ACCOUNT)
    gone = stack.org.key("acme-staging", "bob", "Deleted")
    reply, response_url = stack.slash_command(f"{found} {outside} {gone}")
    assert reply.status == 200

    posts = stack.slack.wait_for_hook(response_url, timeout=ANSWER_TIMEOUT)
    wait_for_jobs_finished(redis, jobs_mentioning(redis, response_url))  # the lookup has posted all it will
    assert len(stack.slack.hook_posts(response_url)) == 1
    answer = Answer(posts[0].body)

    first, second, third = answer.per_key()
    assert f"`{found}` belongs to IAM user *deploy-bot*" in first.lines[0]
    assert first.facts()["Status"] == "Active"
    assert f"`{outside}` belongs to account {FOREIGN_ACCOUNT}, which is not one of" in second.lines[0]
    assert f"`{gone}` was issued in acme-staging" in third.lines[0] and "no longer exists" in third.lines[0]
    assert third.facts()["Deleted"].endswith(f"by {SEED_ACTOR} from 127.0.0.1")
    fallback = answer.text.splitlines()
    assert len(fallback) == 3
    assert fallback[0].startswith(f"{found}: deploy-bot") and outside in fallback[1] and gone in fallback[2]


def test_deleted_key_answer_degrades_when_cloudtrail_is_not_permitted(stack: Stack, faults: list[Fault]) -> None:
    """With CloudTrail denied, a deleted key is still answered, with one line saying CloudTrail could not be read."""
    assert stack.org is not None
    staging = account(stack, "acme-staging")
    key_id = stack.org.key("acme-staging", "bob", "Deleted")
    denied = stack.aws.fail("LookupEvents", None, 400, "AccessDeniedException", "not authorized to LookupEvents")
    faults.append(denied)

    answer = answer_for(stack, key_id)

    # Without CloudTrail the deletion is not confirmed, so the answer also allows for a typo.
    assert "does not exist there now" in answer.lines[0] and "mistyped" in answer.lines[0]
    cloudtrail_lines = [line for line in answer.lines if "CloudTrail could not be read" in line]
    assert cloudtrail_lines == [
        f"CloudTrail could not be read in account {staging} (AccessDeniedException), "
        "so who deleted it and when is unknown."
    ]
    assert "Deleted" not in answer.facts()
    assert SEED_ACTOR not in answer.all_text
    assert denied.hits >= 1


def test_slow_deep_search_shows_progress_before_the_answer(stack: Stack, redis: Redis, faults: list[Fault]) -> None:
    """A deep search that takes a while posts "Searching every account" first, then the answer, within 5 posts."""
    key_id = synthesize_key_id(FOREIGN_ACCOUNT)
    # Every account answers after 2 s (they are read in parallel), past the 1.5 s before progress shows.
    faults.append(stack.aws.slow("GetAccessKeyLastUsed", for_key(key_id), 2.0))
    accounts = org_account_count(stack)
    reply, response_url = stack.slash_command(f"{key_id} deep")
    assert reply.status == 200

    stack.slack.wait_for(
        lambda calls: any("not found in any" in json.dumps(c.body) for c in calls if response_url.endswith(c.name)),
        timeout=ANSWER_TIMEOUT,
    )
    # Progress updates come from the lookup job itself: once it has finished, nothing else follows.
    wait_for_jobs_finished(redis, jobs_mentioning(redis, response_url))
    posts = [Answer(p.body) for p in stack.slack.hook_posts(response_url)]
    assert 2 <= len(posts) <= 5
    assert posts[0].text.startswith(f":hourglass_flowing_sand: Searching every account for `{key_id}`: ")
    assert re.search(rf"\d of {accounts} done", posts[0].text)
    assert all("Searching every account" in p.text for p in posts[:-1])
    final = posts[-1]
    assert f"not found in any of the {accounts} accounts searched" in final.lines[0]
    assert final.body.get("replace_original") is True, "the answer takes the progress message's place"
