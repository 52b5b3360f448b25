"""The two-person rule (WHOSE_KEY_RESPONDER_APPROVALS=2), end to end on the real processes: a
responder's request waits in the audit channel with an Approve button; only another responder can
approve it (the requester and bystanders are refused, audited); the approved change is made and
read back from IAM, and the audit channel's request says who approved it and what IAM says; a
request nobody approves within 30 minutes expires; a key's owner deactivates their own key with
no second person; without an audit channel to collect approvals in, nothing is offered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from redis import Redis
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from core.blockkit import APPROVE_ACTION, DEACTIVATE_ACTION
from core.contract import ApprovalExpiry
from core.jobs import spec_for
from core.key_actions import APPROVAL_WINDOW, KeyOffer, PendingApproval, offer_ref, remember_offer
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL
from tests.e2e.test_respond import (
    BYSTANDER,
    RESPONDER,
    RESPONDER_ENV,
    RESPONDERS,
    answer,
    audited,
    buttons,
    deactivate_button,
    dms,
    iam_status,
    press_and_submit,
    wait_for_dm,
)
from tests.support.aws_events import FreshKey, fresh_key, owner_id
from tests.support.waiting import wait_until

APPROVER = "U0RESPND2"
TWO_PERSON_ENV = {**RESPONDER_ENV, "WHOSE_KEY_RESPONDER_APPROVALS": "2"}


@pytest.fixture(scope="module")
def two_person() -> Iterator[Stack]:
    with Stack(extra_env=TWO_PERSON_ENV) as running:
        running.slack.set_usergroup(RESPONDERS, [RESPONDER, APPROVER])
        yield running


def request_for_approval(stack: Stack, key: FreshKey) -> dict[str, Any]:
    """Ask for the key's deactivation as RESPONDER; the audit channel's request with its Approve button."""
    button = deactivate_button(answer(stack, key.key_id, RESPONDER))
    assert button is not None
    press_and_submit(stack, button["action_id"], button["value"], RESPONDER)
    waiting = wait_for_dm(stack, RESPONDER, "waiting for a second responder", key.key_id)
    assert AUDIT_CHANNEL in json.dumps(waiting)
    return wait_for_dm(stack, AUDIT_CHANNEL, "Approval needed", key.key_id)


def approve_button(message: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in buttons(message) if e["action_id"] == APPROVE_ACTION)


def press(stack: Stack, button: dict[str, Any], user: str) -> str:
    """Press it in the audit channel as `user`; the press's response_url."""
    reply, url = stack.block_action(button["action_id"], button["value"], user_id=user, channel_id=AUDIT_CHANNEL)
    assert reply.status == 200, reply.body
    return url


def updates_of_audit_channel(stack: Stack, *texts: str) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        return [
            c.body
            for c in stack.slack.api_calls("chat.update")
            if c.body.get("channel") == AUDIT_CHANNEL and all(t in json.dumps(c.body) for t in texts)
        ]

    return wait_until(found, what=f"the audit channel's request updated with {texts!r}", timeout=60)


def test_a_second_responder_approves_and_only_then_the_key_is_deactivated(two_person: Stack) -> None:
    owner = owner_id()
    key = fresh_key(two_person, "acme-data", {"slack-user-id": owner})
    request = request_for_approval(two_person, key)
    text = json.dumps(request)
    assert f"<@{RESPONDER}>" in text and "found in a public gist" in text and key.user_name in text
    # The worker has decided (the requester was told it waits): nothing changed in IAM.
    assert iam_status(key) == "Active"
    approve = approve_button(request)
    # The requester cannot approve their own request, nor can someone outside the responder groups.
    told = two_person.slack.wait_for_hook(press(two_person, approve, RESPONDER), timeout=60)[0].body
    assert "another responder" in json.dumps(told)
    audited(two_person, "refused", user=RESPONDER, reason="own_request")
    press(two_person, approve, BYSTANDER)
    audited(two_person, "refused", user=BYSTANDER, reason="not_a_responder")
    assert iam_status(key) == "Active"
    # Another responder approves: the change is made, the requester hears what IAM says.
    press(two_person, approve, APPROVER)
    done = wait_for_dm(two_person, RESPONDER, "IAM now says", key.key_id)
    assert "Inactive" in json.dumps(done)
    assert iam_status(key) == "Inactive"
    audited(two_person, "key_action_approved", user=APPROVER, key=key.key_id, requested_by=RESPONDER)
    records = audited(two_person, "key_deactivate", key=key.key_id, actor=RESPONDER, approved_by=APPROVER)
    assert len(records) == 1
    updates_of_audit_channel(two_person, f"Approved by <@{APPROVER}>", "Inactive", key.key_id)
    wait_for_dm(two_person, owner, "deactivated", key.key_id)
    # A late second approval changes nothing more, and says so.
    late = two_person.slack.wait_for_hook(press(two_person, approve, APPROVER), timeout=60)[0].body
    assert "approved this request already" in json.dumps(late)
    assert len(audited(two_person, "key_deactivate", key=key.key_id)) == 1
    assert len(dms(two_person, owner, key.key_id)) == 1


def test_a_request_nobody_approves_expires(two_person: Stack) -> None:
    key = fresh_key(two_person, "acme-data", {"slack-user-id": owner_id()})
    approve = approve_button(request_for_approval(two_person, key))
    # Thirty minutes pass (the test's own Redis: the request is stored as asked half an hour ago).
    redis = Redis.from_url(two_person.redis.url)
    pending = PendingApproval.load(redis, approve["value"])
    assert pending is not None
    replace(pending, asked_at=time.time() - APPROVAL_WINDOW - 60).save(redis)
    told = two_person.slack.wait_for_hook(press(two_person, approve, APPROVER), timeout=60)[0].body
    assert "expired" in json.dumps(told)
    audited(two_person, "refused", user=APPROVER, reason="approval_expired")
    # The expiry job the request scheduled, due now: a worker's scheduler runs it, both sides are told.
    expiry = ApprovalExpiry(approve["value"])
    spec = spec_for(expiry)
    job = Job.fetch(str(spec.id_of(expiry)), connection=redis)
    ScheduledJobRegistry(spec.queue_of(expiry), connection=redis).schedule(job, datetime.now(UTC))
    wait_for_dm(two_person, RESPONDER, "expired", key.key_id)
    updates_of_audit_channel(two_person, "Expired", key.key_id)
    audited(two_person, "key_action_expired", key=key.key_id, actor=RESPONDER)
    assert iam_status(key) == "Active"


def test_an_owner_deactivates_their_own_key_without_a_second_person(two_person: Stack) -> None:
    owner = owner_id()
    key = fresh_key(two_person, "acme-data", {"slack-user-id": owner})
    button = deactivate_button(answer(two_person, key.key_id, owner))
    assert button is not None
    press_and_submit(two_person, button["action_id"], button["value"], owner, reason="rotating it")
    wait_for_dm(two_person, owner, "IAM now says", key.key_id)
    assert iam_status(key) == "Inactive"
    assert not dms(two_person, AUDIT_CHANNEL, "Approval needed", key.key_id)


def test_without_an_audit_channel_the_two_person_rule_fails_closed() -> None:
    """No channel to collect approvals in: no button is offered, and a press (of a button kept
    from before the setting changed) is refused, saying why; no modal opens."""
    env = {k: v for k, v in TWO_PERSON_ENV.items() if k != "WHOSE_KEY_AUDIT_CHANNEL"}
    with Stack(extra_env=env) as strict:
        strict.slack.set_usergroup(RESPONDERS, [RESPONDER, APPROVER])
        key = fresh_key(strict, "acme-data", {"slack-user-id": owner_id()})
        assert deactivate_button(answer(strict, key.key_id, RESPONDER)) is None
        ref = offer_ref("before-the-change", key.key_id)
        remember_offer(Redis.from_url(strict.redis.url), ref, KeyOffer(key.key_id, key.account_id, key.user_name))
        _, url = strict.block_action(DEACTIVATE_ACTION, ref, user_id=RESPONDER)
        audited(strict, "refused", user=RESPONDER, reason="approvals_need_channel")
        assert "second responder" in json.dumps(strict.slack.wait_for_hook(url, timeout=60)[0].body)
        assert not strict.slack.modals(RESPONDER)
        assert iam_status(key) == "Active"
