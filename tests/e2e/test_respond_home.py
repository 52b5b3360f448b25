"""Deactivate from the Home tab (the opt-in responder role), end to end on the real processes: after
a sweep, the owner's Home tab carries Deactivate on their active key and none on their inactive
one; the press (from a view: no channel, no response_url) opens the modal, the submission makes
IAM say Inactive and the owner is told; anyone else pressing a copy of that button is refused,
audited, and the key stays Active."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from core.blockkit import DEACTIVATE_ACTION
from core.key_actions import offer_ref
from standins import slack_payloads
from standins.stack import HttpResult, Stack
from tests.e2e.test_respond import BYSTANDER, audited, iam_status, responding_stack, wait_for_dm
from tests.support.aws_events import FreshKey, fresh_key, owner_id
from tests.support.cli import run_cli
from tests.support.waiting import wait_until

HOME_VIEW_ID = "V0HOMETAB"


@pytest.fixture(scope="module")
def responding() -> Iterator[Stack]:
    yield from responding_stack()


def owned_keys(stack: Stack) -> tuple[str, FreshKey, str]:
    """A fresh owner, and their IAM user with one Active key and one Inactive key (its ID), both
    in the last sweep's snapshot."""
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    inactive = key.iam.create_access_key(UserName=key.user_name)["AccessKey"]["AccessKeyId"]
    key.iam.update_access_key(UserName=key.user_name, AccessKeyId=inactive, Status="Inactive")
    swept = run_cli("sweep", env=stack.env(), timeout=120)
    assert swept.returncode == 0, swept.stdout + swept.stderr
    return owner, key, inactive


def home_opened(stack: Stack, user: str) -> dict[str, Any]:
    """Open the Home tab as `user`; the view whose-key publishes for them."""
    before = len(stack.slack.views(user))
    assert stack.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}).status == 200
    stack.slack.wait_for(lambda _: len(stack.slack.views(user)) > before, timeout=60)
    return stack.slack.views(user)[-1].view


def key_section(view: dict[str, Any], key_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b["type"] == "section" and key_id in b["text"]["text"])


def home_press(stack: Stack, action_id: str, value: str, user: str) -> HttpResult:
    """A press on a Home tab button, as Slack sends it: from a view, so with no channel and no
    response_url; with a trigger the Slack double issued, so it can open a modal."""
    payload = slack_payloads.block_action(
        action_id, value, user_id=user, channel_id="", response_url="", trigger_id=stack.slack.new_trigger_id(user)
    )
    del payload["channel"], payload["response_url"]
    payload["container"] = {"type": "view", "view_id": HOME_VIEW_ID}
    payload["view"] = {"id": HOME_VIEW_ID, "type": "home", "team_id": payload["team"]["id"]}
    return stack.interactive(payload)


def test_an_owner_deactivates_their_own_key_from_the_home_tab(responding: Stack) -> None:
    """Deactivate on the owner's active key only, value `home-<owner>|<key>`; press, modal, reason:
    IAM says Inactive, the owner is told what IAM now says, one audit record with the reason."""
    owner, key, inactive = owned_keys(responding)
    view = home_opened(responding, owner)
    button = key_section(view, key.key_id).get("accessory")
    assert button is not None and button["action_id"].startswith(DEACTIVATE_ACTION), view
    assert button["value"] == offer_ref(f"home-{owner}", key.key_id) and button["style"] == "danger"
    assert "accessory" not in key_section(view, inactive)
    reply = home_press(responding, button["action_id"], button["value"], owner)
    assert reply.status == 200, reply.body
    modal = responding.slack.wait_for_modal(lambda m: m.user_id == owner, timeout=60)
    text = json.dumps(modal.view)
    assert key.key_id in text and key.user_name in text and "Why?" in text
    submitted = responding.view_submission(modal.view_id, {"reason": {"reason_input": "rotated it"}}, user_id=owner)
    assert submitted.status == 200 and "On its way" in submitted.body, submitted.body
    outcome = wait_for_dm(responding, owner, "IAM now says", key.key_id)
    assert "Inactive" in json.dumps(outcome)
    assert iam_status(key) == "Inactive"
    records = audited(responding, "key_deactivate", key=key.key_id, actor=owner)
    assert len(records) == 1 and records[0]["iam_status"] == "Inactive" and records[0]["reason"] == "rotated it"


def test_anyone_else_pressing_a_copy_of_the_home_button_is_refused(responding: Stack) -> None:
    """A bystander replays the owner's Home button by hand, and makes up one of their own: both
    refused and audited, no modal opens, and the key stays Active."""
    owner, key, _ = owned_keys(responding)
    button = key_section(home_opened(responding, owner), key.key_id)["accessory"]
    assert home_press(responding, button["action_id"], button["value"], BYSTANDER).status == 200
    audited(responding, "refused", user=BYSTANDER, reason="not_a_responder", ref=button["value"])

    def refusal() -> list[Any]:
        return [
            c
            for c in responding.slack.calls
            if c.body.get("channel") == BYSTANDER and "Nothing was changed" in json.dumps(c.body)
        ]

    wait_until(refusal, what="the refusal told to the bystander", timeout=60)
    made_up = offer_ref(f"home-{BYSTANDER}", key.key_id)  # never offered: the bystander owns no key
    assert home_press(responding, button["action_id"], made_up, BYSTANDER).status == 200
    audited(responding, "refused", user=BYSTANDER, reason="unknown_key_offer", ref=made_up)
    assert not responding.slack.modals(BYSTANDER)
    assert iam_status(key) == "Active"
