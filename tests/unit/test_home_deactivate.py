"""The Home tab's Deactivate button (the opt-in responder role): on the viewer's own active keys
only, naming the offer the web checks a press against, and only when the feature is on."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis

from core.blockkit import DEACTIVATE_ACTION
from core.contract import HomeRequest
from core.key_actions import KeyOffer, offered
from core.redis_keys import SNAPSHOT, redis_key
from core.settings import Settings
from core.slack_client import make_web_client
from standins.slack_double import SlackDouble
from workers.aws.gateway import AwsGateway
from workers.hygiene.home import HOME_KEYS_SHOWN, HomeCollector, Viewer, home_offers, home_ref, render_home
from workers.hygiene.publishing import publish_home
from workers.hygiene.records import KeyRecord
from workers.hygiene.summary import summarize
from workers.runtime import assemble_runtime

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OWNER = "U0OWNER01"
ACCOUNT = "111111111111"


def key(
    n: int,
    *,
    status: str = "Active",
    slack: str | None = OWNER,
    email: str | None = None,
    user: str | None = "app",
    age: int = 10,
) -> KeyRecord:
    return KeyRecord(
        key_id=f"AKIA{n:016d}",
        account_id=ACCOUNT,
        account_name="prod",
        user=user,
        status=status,
        created=NOW - timedelta(days=age),
        last_used=NOW - timedelta(days=1),
        last_service="s3",
        last_region="eu-west-1",
        owner_slack_id=slack,
        owner_email=email,
    )


def accessories(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons on the view's key sections, by the key ID the section names."""
    return {
        block["text"]["text"].split("`")[1]: block["accessory"]
        for block in view["blocks"]
        if block["type"] == "section" and "accessory" in block
    }


@pytest.mark.parametrize(
    ("record", "offered_to_owner"),
    [
        (key(1), True),  # their own active key, by member ID
        (key(2, status="Inactive"), False),  # nothing to deactivate
        (key(3, slack=None, email="Me@Example.com"), True),  # their own by the email tag, any case
        (key(4, user=None), False),  # no IAM user name: the worker could not name the key to IAM
        (key(5, slack="U0OTHER01"), False),  # someone else's (never collected; refused here too)
        (key(6, slack=None, email="other@example.com"), False),  # someone else's by email
        (key(7, status="Unknown"), False),  # a snapshot entry without a readable status
    ],
)
def test_only_the_viewers_own_active_keys_are_offered(record: KeyRecord, offered_to_owner: bool) -> None:
    """home_offers picks the active keys the viewer owns, recorded with the viewer as the owner."""
    viewer = Viewer(OWNER, "me@example.com", keys=[record], total=1)
    offers = home_offers(viewer)
    if offered_to_owner:
        assert offers == {record.key_id: KeyOffer(record.key_id, ACCOUNT, "app", "prod", OWNER)}
    else:
        assert offers == {}


def test_the_button_is_on_active_keys_and_names_the_home_offer() -> None:
    """Each active key's section carries a red Deactivate button with its own action ID, whose value
    is `home-<viewer>|<key>`; an inactive key's section has none; no block is added."""
    records = [key(1), key(2, status="Inactive"), key(3, slack=None, email="me@example.com"), key(4, age=200)]
    viewer = Viewer(OWNER, "me@example.com")
    report = summarize(HomeCollector([viewer]).tap(records), NOW)
    without = render_home(viewer, report)
    view = render_home(viewer, report, home_offers(viewer))
    buttons = accessories(view)
    assert set(buttons) == {records[0].key_id, records[2].key_id, records[3].key_id}
    for key_id, button in buttons.items():
        assert button["value"] == home_ref(viewer, key_id) == f"home-{OWNER}|{key_id}"
        assert button["style"] == "danger" and button["action_id"].startswith(f"{DEACTIVATE_ACTION}-")
    assert len({b["action_id"] for b in buttons.values()}) == len(buttons)
    assert len(view["blocks"]) == len(without["blocks"]) and not accessories(without)


def test_a_full_home_tab_stays_within_slacks_100_blocks() -> None:
    """With every shown key flagged and deactivatable (the most blocks), the admin's view fits."""
    records = [key(n, age=400) for n in range(HOME_KEYS_SHOWN + 5)]
    viewer = Viewer(OWNER, admin=True)
    view = render_home(viewer, summarize(HomeCollector([viewer]).tap(records), NOW), home_offers(viewer))
    assert len(view["blocks"]) <= 100
    assert len(accessories(view)) == HOME_KEYS_SHOWN


def snapshot(redis: Redis, *records: KeyRecord) -> None:
    """Seed the sweep's snapshot of ACCOUNT as the sweep writes it."""
    for r in records:
        entry = {
            "account_name": r.account_name,
            "user": r.user,
            "status": r.status,
            "created": r.created.isoformat() if r.created else None,
            "last_used": r.last_used.isoformat() if r.last_used else None,
            "owner_slack_id": r.owner_slack_id,
            "owner_email": r.owner_email,
        }
        redis.hset(redis_key(SNAPSHOT, ACCOUNT), r.key_id, json.dumps(entry))


@pytest.mark.parametrize(
    ("responder", "buttons"),
    [
        ({}, False),  # the default: whose-key only reads
        ({"responder_role_name": "WhoseKeyResponder"}, True),
        # two approvals wanted and no audit channel to collect them in: settings.responder_buttons is off
        ({"responder_role_name": "WhoseKeyResponder", "responder_approvals": 2}, False),
    ],
)
def test_the_published_home_tab_offers_deactivate_only_with_the_responder_role(
    redis: Redis, slack: SlackDouble, slack_settings: Settings, responder: dict[str, Any], buttons: bool
) -> None:
    """publish_home keeps an offer (owner: the viewer) for each button it publishes; with the
    feature off it publishes none and keeps nothing."""
    active, inactive = key(1), key(2, status="Inactive")
    snapshot(redis, active, inactive)
    settings = replace(slack_settings, **responder)
    runtime = assemble_runtime(settings, redis, AwsGateway(settings.role_name), make_web_client(settings))
    publish_home(runtime, HomeRequest(user=OWNER))
    view = slack.views(OWNER)[-1].view
    ref = f"home-{OWNER}|{active.key_id}"
    if buttons:
        assert {k: b["value"] for k, b in accessories(view).items()} == {active.key_id: ref}
        assert offered(redis, ref) == KeyOffer(active.key_id, ACCOUNT, "app", "prod", OWNER)
    else:
        assert not accessories(view) and active.key_id in json.dumps(view)
        assert offered(redis, ref) is None
    assert offered(redis, f"home-{OWNER}|{inactive.key_id}") is None
