"""Acting on a key from Slack with the opt-in responder role, end to end on the real processes: the
Deactivate button on an answer, the modal (views.open at the Slack double), the submission, the
change at the AWS stand-in (which holds the responder role to its deploy/ grants), IAM read back,
one DM to the owner, one audit record; the owner acting on their own key; forged presses and
submissions refused; the undo; the role missing in an account; and the feature off by default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from core.audit import recent
from core.blockkit import DEACTIVATE_ACTION, QUARANTINE_ACTION, REACTIVATE_ACTION
from core.key_actions import offer_ref
from standins.stack import Stack
from tests.e2e.env import AUDIT_CHANNEL, TEST_ENV
from tests.support.aws_events import FreshKey, fresh_key, health_event, owner_id, post_event
from tests.support.cli import run_cli
from tests.support.waiting import wait_until

RESPONDERS = "S0RESPOND"
RESPONDER = "U0RESPND1"
BYSTANDER = "U0BYSTAND"
REASON = "found in a public gist"


# The responder role on, RESPONDERS its only responder group (the modules of this feature share it).
RESPONDER_ENV = {
    **TEST_ENV,
    "WHOSE_KEY_RESPONDER_ROLE_NAME": "WhoseKeyResponder",
    "WHOSE_KEY_RESPONDER_USERGROUPS": RESPONDERS,
}


def responding_stack() -> Iterator[Stack]:
    """A running bot with the responder role on and RESPONDER in the responder group."""
    with Stack(extra_env=RESPONDER_ENV) as running:
        running.slack.set_usergroup(RESPONDERS, [RESPONDER])
        yield running


@pytest.fixture(scope="module")
def responding() -> Iterator[Stack]:
    yield from responding_stack()


def iam_status(key: FreshKey) -> str:
    keys = key.iam.list_access_keys(UserName=key.user_name)["AccessKeyMetadata"]
    return next(k["Status"] for k in keys if k["AccessKeyId"] == key.key_id)


def answer(stack: Stack, key_id: str, user: str) -> dict[str, Any]:
    """The answer `user` gets for `key_id` (the last post on its response_url, once it names the key's user)."""
    _, url = stack.slash_command(key_id, user_id=user)

    def answered(calls: list[Any]) -> bool:
        return any(c.kind == "hook" and url.endswith(c.name) and "IAM user" in json.dumps(c.body) for c in calls)

    posts = stack.slack.wait_for(answered, timeout=60)
    return [c.body for c in posts if c.kind == "hook" and url.endswith(c.name)][-1]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message["blocks"] if isinstance(message["blocks"], list) else json.loads(message["blocks"])
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def deactivate_button(message: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in buttons(message) if e["action_id"].startswith(DEACTIVATE_ACTION)), None)


def dms(stack: Stack, user: str, *texts: str) -> list[dict[str, Any]]:
    """Posts to `user` (or a channel) carrying every one of `texts`: a test names its own key."""
    return [
        c.body
        for c in stack.slack.api_calls("chat.postMessage")
        if c.body.get("channel") == user and all(text in json.dumps(c.body) for text in texts)
    ]


def wait_for_dm(stack: Stack, user: str, *texts: str) -> dict[str, Any]:
    return wait_until(lambda: dms(stack, user, *texts), what=f"a DM to {user} with {texts!r}", timeout=60)[-1]


def audited(stack: Stack, action: str, **fields: str) -> list[dict[str, str]]:
    def matching() -> list[dict[str, str]]:
        records = recent(Redis.from_url(stack.redis.url), 1000)
        return [r for r in records if r.get("action") == action and fields.items() <= r.items()]

    return wait_until(matching, what=f"an audit record {action} {fields}", timeout=60)


def press_and_submit(stack: Stack, action_id: str, value: str, user: str, reason: str = REASON) -> str:
    """Press the button as `user`, wait for the modal it opens, submit it with `reason`; the view's ID."""
    before = {m.view_id for m in stack.slack.modals(user)}
    reply, _ = stack.block_action(action_id, value, user_id=user)
    assert reply.status == 200, reply.body
    modal = stack.slack.wait_for_modal(lambda m: m.user_id == user and m.view_id not in before, timeout=60)
    text = json.dumps(modal.view)
    assert "Why?" in text
    submitted = stack.view_submission(modal.view_id, {"reason": {"reason_input": reason}}, user_id=user)
    assert submitted.status == 200, submitted.body
    assert "On its way" in submitted.body, submitted.body
    return modal.view_id


def test_a_responder_deactivates_a_key_in_two_clicks(responding: Stack) -> None:
    """IAM says Inactive; the owner gets one DM (also after the sweep sees the change); one audit record."""
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    button = deactivate_button(answer(responding, key.key_id, RESPONDER))
    assert button is not None and button.get("style") == "danger"
    view_id = press_and_submit(responding, button["action_id"], button["value"], RESPONDER)
    modal_text = json.dumps(responding.slack.modal(view_id).view)
    assert key.key_id in modal_text and key.user_name in modal_text and "stop working" in modal_text
    outcome = wait_for_dm(responding, RESPONDER, "IAM now says", key.key_id)
    assert "Inactive" in json.dumps(outcome)
    assert iam_status(key) == "Inactive"
    owner_dm = wait_for_dm(responding, owner, key.key_id)
    text = json.dumps(owner_dm)
    assert "deactivated" in text and REASON in text and f"<@{RESPONDER}>" in text
    assert "create-access-key" in text
    records = audited(responding, "key_deactivate", key=key.key_id, actor=RESPONDER)
    assert len(records) == 1 and records[0]["iam_status"] == "Inactive" and records[0]["reason"] == REASON
    # The audit channel has its one-line record of the notice.
    wait_for_dm(responding, AUDIT_CHANNEL, key.key_id)
    # The deactivation watch sees the same change come back (a sweep reads IAM): nothing new to tell.
    result = run_cli("sweep", env=responding.env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(dms(responding, owner, key.key_id)) == 1


def test_an_owner_deactivates_their_own_key(responding: Stack) -> None:
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    button = deactivate_button(answer(responding, key.key_id, owner))
    assert button is not None
    press_and_submit(responding, button["action_id"], button["value"], owner, reason="rotating it")
    outcome = wait_for_dm(responding, owner, "IAM now says", key.key_id)
    assert iam_status(key) == "Inactive"
    audited(responding, "key_deactivate", key=key.key_id, actor=owner)
    # Their one DM is the answer itself, with the steps: the notice (which the audit channel
    # still records) is not sent to them a second time.
    assert "create-access-key" in json.dumps(outcome)
    audited(responding, "notice_sent", key=key.key_id, to="actor")
    wait_for_dm(responding, AUDIT_CHANNEL, key.key_id)
    assert len(dms(responding, owner, key.key_id)) == 1


def test_anyone_else_sees_no_button_and_forged_presses_and_submissions_are_refused(responding: Stack) -> None:
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    assert deactivate_button(answer(responding, key.key_id, BYSTANDER)) is None
    # The responder's answer holds a real offer; the bystander replays its button by hand.
    offered = deactivate_button(answer(responding, key.key_id, RESPONDER))
    assert offered is not None
    reply, url = responding.block_action(offered["action_id"], offered["value"], user_id=BYSTANDER)
    assert reply.status == 200
    audited(responding, "refused", user=BYSTANDER, reason="not_a_responder")
    refusal = responding.slack.wait_for_hook(url, timeout=60)[0].body
    assert "Nothing was changed" in json.dumps(refusal)
    assert not responding.slack.modals(BYSTANDER)
    # A submission made by hand: the modal the responder's press opened, sent as the bystander.
    before = {m.view_id for m in responding.slack.modals(RESPONDER)}
    responding.block_action(offered["action_id"], offered["value"], user_id=RESPONDER)
    modal = responding.slack.wait_for_modal(lambda m: m.user_id == RESPONDER and m.view_id not in before, timeout=60)
    submitted = responding.view_submission(modal.view_id, {"reason": {"reason_input": "mine now"}}, user_id=BYSTANDER)
    assert submitted.status == 200 and "Not done" in submitted.body, submitted.body
    assert len(audited(responding, "refused", user=BYSTANDER, reason="not_a_responder")) == 2
    assert iam_status(key) == "Active"


def test_undo_reactivates_for_the_person_who_deactivated(responding: Stack) -> None:
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    button = deactivate_button(answer(responding, key.key_id, RESPONDER))
    assert button is not None
    press_and_submit(responding, button["action_id"], button["value"], RESPONDER)
    outcome = wait_for_dm(responding, RESPONDER, "IAM now says", key.key_id)
    undo = next(e for e in buttons(outcome) if e["action_id"] == REACTIVATE_ACTION)
    # Someone else may not undo it.
    responding.block_action(undo["action_id"], undo["value"], user_id=BYSTANDER)
    audited(responding, "refused", user=BYSTANDER, reason="not_a_responder", change="reactivate")
    press_and_submit(responding, undo["action_id"], undo["value"], RESPONDER, reason="false alarm")
    done = wait_for_dm(responding, RESPONDER, "is *reactivated*", key.key_id)
    assert "IAM now says *Active*" in json.dumps(done)
    assert iam_status(key) == "Active"
    told = wait_for_dm(responding, owner, "reactivated", key.key_id)
    assert "false alarm" in json.dumps(told)
    audited(responding, "key_reactivate", key=key.key_id, actor=RESPONDER)


def test_the_responder_role_missing_in_the_account_is_told_plainly(responding: Stack) -> None:
    # An account no other test here acts in: the worker keeps its responder session per account.
    key = fresh_key(responding, "acme-dev", {"slack-user-id": owner_id()})
    button = deactivate_button(answer(responding, key.key_id, RESPONDER))
    assert button is not None
    role_arn = f"arn:aws:iam::{key.account_id}:role/WhoseKeyResponder"
    fault = responding.aws.fail(
        "AssumeRole", lambda params: params.get("RoleArn") == role_arn, 403, "AccessDenied", "not authorized to assume"
    )
    try:
        press_and_submit(responding, button["action_id"], button["value"], RESPONDER)
        told = wait_for_dm(responding, RESPONDER, "Nothing was changed", key.key_id)
    finally:
        responding.aws.remove(fault)
    assert "responder role could not be assumed" in json.dumps(told)
    assert iam_status(key) == "Active"
    audited(responding, "key_action_not_done", key=key.key_id, outcome="role_missing")


def test_the_feature_is_off_unless_the_role_is_set(stack: Stack) -> None:
    """The default bot shows no Deactivate button, and a hand-made press is refused, audited."""
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner_id()})
    assert deactivate_button(answer(stack, key.key_id, RESPONDER)) is None
    reply, url = stack.block_action(DEACTIVATE_ACTION, offer_ref("made-up", key.key_id), user_id=RESPONDER)
    assert reply.status == 200
    audited(stack, "refused", user=RESPONDER, reason="unknown_key_offer")
    assert iam_status(key) == "Active"


def test_the_terminal_deactivates_and_reactivates_audited_like_slack(responding: Stack) -> None:
    """`whose-key deactivate KEY --reason` with the shell's credentials: IAM, one owner DM, the audit."""
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    result = run_cli("deactivate", key.key_id, "--reason", "leaked in CI logs", env=responding.env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "IAM now says Inactive" in result.stdout
    assert iam_status(key) == "Inactive"
    told = wait_for_dm(responding, owner, key.key_id, "deactivated")
    assert "leaked in CI logs" in json.dumps(told)
    record = audited(responding, "key_deactivate", key=key.key_id)[0]
    assert record["actor"].startswith("cli:arn:aws:")
    again = run_cli("deactivate", key.key_id, "--reason", "twice", env=responding.env(), timeout=120)
    assert again.returncode == 1 and "already" in again.stderr
    back = run_cli("reactivate", key.key_id, "--reason", "false alarm", env=responding.env(), timeout=120)
    assert back.returncode == 0, back.stderr
    assert iam_status(key) == "Active"


def test_the_terminal_refuses_without_a_reason_or_with_the_feature_off(stack: Stack) -> None:
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner_id()})
    no_reason = run_cli("deactivate", key.key_id, "--reason", "  ", env=stack.env(), timeout=120)
    assert no_reason.returncode == 2 and "reason" in no_reason.stderr
    off = run_cli("deactivate", key.key_id, "--reason", "leak", env=stack.env(), timeout=120)
    assert off.returncode == 2 and "WHOSE_KEY_RESPONDER_ROLE_NAME" in off.stderr
    assert iam_status(key) == "Active"


def test_an_exposure_notice_offers_deactivate_to_its_owner_and_in_the_audit_channel(responding: Stack) -> None:
    """AWS Health says the key is exposed: the owner's DM and the audit channel's record carry
    Deactivate; the owner's press deactivates it; a bystander's press from the channel is refused."""
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    event = health_event("AWS_RISK_CREDENTIALS_EXPOSED", key.account_id, key.key_id)
    assert post_event(responding, event).status == 202
    notice = wait_for_dm(responding, owner, key.key_id, "exposed")
    button = deactivate_button(notice)
    assert button is not None
    record = wait_for_dm(responding, AUDIT_CHANNEL, key.key_id, DEACTIVATE_ACTION)
    in_channel = deactivate_button(record)
    assert in_channel is not None
    responding.block_action(in_channel["action_id"], in_channel["value"], user_id=BYSTANDER)
    audited(responding, "refused", user=BYSTANDER, reason="not_a_responder", ref=in_channel["value"])
    press_and_submit(responding, button["action_id"], button["value"], owner, reason="AWS says it leaked")
    wait_for_dm(responding, owner, "IAM now says", key.key_id)
    assert iam_status(key) == "Inactive"


def test_a_responder_quarantines_the_user_of_an_exposed_key(responding: Stack) -> None:
    """Quarantine user, on the audit channel's record of an exposure: AWS's quarantine policy is
    attached through the responder role (the stand-in allows no other policy), the owner is told;
    the owner's own DM offers no Quarantine, and an owner's hand-made press is refused."""
    owner = owner_id()
    key = fresh_key(responding, "acme-data", {"slack-user-id": owner})
    event = health_event("AWS_RISK_CREDENTIALS_EXPOSED", key.account_id, key.key_id)
    assert post_event(responding, event).status == 202
    notice = wait_for_dm(responding, owner, key.key_id, "exposed")
    assert not [e for e in buttons(notice) if e["action_id"] == QUARANTINE_ACTION]
    record = wait_for_dm(responding, AUDIT_CHANNEL, key.key_id, QUARANTINE_ACTION)
    quarantine = next(e for e in buttons(record) if e["action_id"] == QUARANTINE_ACTION)
    responding.block_action(quarantine["action_id"], quarantine["value"], user_id=owner)
    audited(responding, "refused", user=owner, reason="not_a_responder", change="quarantine")
    press_and_submit(responding, quarantine["action_id"], quarantine["value"], RESPONDER, reason="AWS Health")
    wait_for_dm(responding, RESPONDER, "quarantined", key.key_id)
    attached = key.iam.list_attached_user_policies(UserName=key.user_name)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSCompromisedKeyQuarantineV3"]
    told = wait_for_dm(responding, owner, "quarantined", key.user_name)
    assert "AWS Health" in json.dumps(told)
    audited(responding, "key_quarantine", key=key.key_id, actor=RESPONDER)
    assert iam_status(key) == "Active"  # quarantine leaves the key as it was
