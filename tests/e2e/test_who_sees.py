"""Who sees what, end to end: the report and the Home tab's counts are for admins, every surface
runs the lookup's checks, answers in conversations shared with other organizations go to the
asker alone, and "Notify owner" DMs an owner about a key once per cooldown, across answers."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from core.audit import recent
from core.blockkit import NOTIFY_ACTION, SHARE_ACTION
from standins import slack_payloads
from standins.slack_double import RecordedCall, set_member
from standins.stack import Stack, http_post, sign
from tests.e2e.env import TEST_ENV
from tests.support.waiting import wait_until

ADMINS = "S0ADMINS1"
ADMIN = "U0ADMIN01"
MEMBER = "U0MEMBER1"
GUEST = "U0GUEST01"
OWNER = "U0PLATFRM"  # deploy-bot's owner tag in the stand-in organization
CONNECT_CHANNEL = "C0CONNECT"  # shared with a partner organization (Slack Connect)
INTERNAL_CHANNEL = "C0INTERNL"


@pytest.fixture(scope="module")
def guarded() -> Iterator[Stack]:
    """A bot with one admin group, a guest, and a channel shared with another organization."""
    with Stack(extra_env={**TEST_ENV, "WHOSE_KEY_ADMIN_USERGROUPS": ADMINS}) as running:
        running.slack.set_usergroup(ADMINS, [ADMIN])
        set_member(running.slack, GUEST, restricted=True)
        running.slack.set_conversation(CONNECT_CHANNEL, ext_shared=True)
        yield running


def key_of(stack: Stack) -> str:
    assert stack.org is not None
    return stack.org.key("acme-prod", "deploy-bot")


def audited(stack: Stack, action: str, **fields: str) -> list[dict[str, str]]:
    """Audit records of `action` whose fields include `fields`, once at least one is there."""

    def matching() -> list[dict[str, str]]:
        records = recent(Redis.from_url(stack.redis.url), 500)
        return [r for r in records if r.get("action") == action and fields.items() <= r.items()]

    return wait_until(matching, what=f"an audit record {action} {fields}", timeout=30)


def home_opened(stack: Stack, user: str, **event: Any) -> dict:
    """Open the Home tab as `user` and return the view whose-key publishes for them."""
    before = len(stack.slack.views(user))
    opened = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home", **event}
    assert stack.event(opened).status == 200
    stack.slack.wait_for(lambda _: len(stack.slack.views(user)) > before, timeout=30)
    return stack.slack.views(user)[-1].view


# -- organization-wide views ----------------------------------------------------------------------


def test_report_without_admin_groups_names_the_setting(stack: Stack) -> None:
    """With no WHOSE_KEY_ADMIN_USERGROUPS (the default), nobody gets the report: one line names the setting."""
    reply, url = stack.slash_command("report")
    text = reply.json()["text"]
    assert "WHOSE_KEY_ADMIN_USERGROUPS" in text and "report together" not in text
    assert "admins_unset" in json.dumps(audited(stack, "refused", reason="admins_unset"))


def test_report_is_for_admins_only(guarded: Stack) -> None:
    """An admin gets the report privately; a member is refused naming the admin group, and audited."""
    refused, _ = guarded.slash_command("report", user_id=MEMBER)
    assert f"<!subteam^{ADMINS}>" in refused.json()["text"] and "report together" not in refused.json()["text"]
    audited(guarded, "refused", user=MEMBER, reason="not_admin")

    reply, url = guarded.slash_command("report", user_id=ADMIN)
    assert "key-hygiene report" in reply.json()["text"]
    report = guarded.slack.wait_for_hook(url, timeout=30)[0].body
    assert report["response_type"] == "ephemeral" and "keys in" in json.dumps(report)


def test_report_from_another_workspace_is_refused_even_for_an_admin_id(guarded: Stack) -> None:
    """A Slack Connect member is refused the report like a lookup, before any admin check."""
    form = slack_payloads.slash_command(
        "report", user_id=ADMIN, channel_id=CONNECT_CHANNEL, response_url=guarded.slack.new_response_url(),
        team_id="T0PARTNER",
    )  # fmt: skip
    body = urllib.parse.urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    reply = http_post(guarded.web_url + "/slack/events", body, headers)
    assert "another" in reply.json()["text"] and "report together" not in reply.json()["text"]
    audited(guarded, "refused", user=ADMIN, reason="other_workspace")


def test_home_tab_counts_are_for_admins_and_refused_people_see_only_why(guarded: Stack) -> None:
    """An admin's Home tab has the organization's counts, a member's has none, a guest's says why and no more."""
    admin_view = json.dumps(home_opened(guarded, ADMIN))
    assert "Across the organization" in admin_view and "access keys in" in admin_view

    member_view = json.dumps(home_opened(guarded, MEMBER))
    assert "Your AWS access keys" in member_view and "Across the organization" not in member_view

    guest_view = home_opened(guarded, GUEST)
    text = json.dumps(guest_view)
    assert "guests" in text and "AKIA" not in text and "access keys in" not in text and "slack-user-id" not in text
    audited(guarded, "refused", user=GUEST, surface="home", reason="guest")


def test_home_tab_of_another_workspaces_member_is_refused(guarded: Stack) -> None:
    """Someone of a partner organization opening the Home tab sees the refusal, not the counts."""
    view = json.dumps(home_opened(guarded, "U0PARTNER", user_team="T0PARTNER"))
    assert "another" in view and "Across the organization" not in view and "Your AWS access keys" not in view


# -- answers in shared conversations ----------------------------------------------------------------


def posts_in(stack: Stack, channel: str, method: str = "chat.postMessage") -> list[RecordedCall]:
    return [c for c in stack.slack.api_calls(method) if c.body.get("channel") == channel]


def test_mention_in_a_shared_channel_is_answered_privately(guarded: Stack) -> None:
    """In a Slack Connect channel the answer goes to the asker alone; the thread only says where it went."""
    key_id = key_of(guarded)
    mention = {"type": "app_mention", "user": MEMBER, "text": f"<@UWHOSEKEY> whose is {key_id}?",
               "ts": "1700009000.000100", "event_ts": "1700009000.000100", "channel": CONNECT_CHANNEL}  # fmt: skip
    assert guarded.event(mention).status == 200
    guarded.slack.wait_for(
        lambda _: (
            any("deploy-bot" in json.dumps(c.body) for c in posts_in(guarded, CONNECT_CHANNEL, "chat.postEphemeral"))
            and bool(posts_in(guarded, CONNECT_CHANNEL))
        ),
        timeout=30,
    )
    private = [
        c for c in posts_in(guarded, CONNECT_CHANNEL, "chat.postEphemeral") if "deploy-bot" in json.dumps(c.body)
    ]
    assert private[0].body["user"] == MEMBER and private[0].body["thread_ts"] == "1700009000.000100"
    public = posts_in(guarded, CONNECT_CHANNEL)
    assert len(public) == 1 and "answered you privately" in public[0].body["text"]
    for call in public:
        assert key_id not in json.dumps(call.body) and "deploy-bot" not in json.dumps(call.body)
    audited(guarded, "answered_privately", user=MEMBER, channel=CONNECT_CHANNEL)


def test_dm_shared_with_another_organization_is_answered_privately(guarded: Stack) -> None:
    """A DM Slack marks as shared with another organization gets the same private answer."""
    guarded.slack.set_conversation("D0EXTDM01", ext_shared=True)
    dm = {"type": "message", "channel_type": "im", "user": MEMBER, "text": key_of(guarded),
          "ts": "1700009200.000100", "event_ts": "1700009200.000100", "channel": "D0EXTDM01"}  # fmt: skip
    guarded.event(dm)
    guarded.slack.wait_for(
        lambda _: any("deploy-bot" in json.dumps(c.body) for c in posts_in(guarded, "D0EXTDM01", "chat.postEphemeral")),
        timeout=30,
    )
    assert not [c for c in posts_in(guarded, "D0EXTDM01") if "deploy-bot" in json.dumps(c.body)]


def test_mention_in_an_internal_channel_is_answered_in_the_thread(guarded: Stack) -> None:
    """The same mention in an internal channel is answered for everyone there, as before."""
    mention = {"type": "app_mention", "user": MEMBER, "text": f"<@UWHOSEKEY> {key_of(guarded)}",
               "ts": "1700009100.000100", "event_ts": "1700009100.000100", "channel": INTERNAL_CHANNEL}  # fmt: skip
    guarded.event(mention)
    guarded.slack.wait_for(
        lambda _: any("deploy-bot" in json.dumps(c.body) for c in posts_in(guarded, INTERNAL_CHANNEL)), timeout=30
    )
    assert not posts_in(guarded, INTERNAL_CHANNEL, "chat.postEphemeral")


def answer_buttons(answer: dict) -> dict[str, str]:
    blocks = answer["blocks"] if isinstance(answer["blocks"], list) else json.loads(answer["blocks"])
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return {e["action_id"].split("-")[0]: e["value"] for e in elements}


def test_share_in_a_shared_channel_is_refused_with_the_reason(guarded: Stack) -> None:
    """Share in channel, pressed in a Slack Connect channel, explains why and posts nothing for everyone."""
    _, url = guarded.slash_command(key_of(guarded), user_id=MEMBER, channel_id=CONNECT_CHANNEL)
    answer = guarded.slack.wait_for_hook(url, timeout=30)[0].body
    assert answer["response_type"] == "ephemeral"
    _, press_url = guarded.block_action(
        SHARE_ACTION, answer_buttons(answer)[SHARE_ACTION], user_id=MEMBER, channel_id=CONNECT_CHANNEL
    )
    reply = guarded.slack.wait_for_hook(press_url, timeout=30)[0].body
    assert "cannot share this answer here" in reply["text"] and reply["response_type"] == "ephemeral"
    audited(guarded, "refused", user=MEMBER, reason="shared_conversation")
    assert not [c for c in guarded.slack.hook_posts(press_url) if c.body.get("response_type") == "in_channel"]


# -- notify owner ---------------------------------------------------------------------------------


def test_notify_owner_is_once_per_owner_and_key_across_answers(guarded: Stack) -> None:
    """Two people, two answers, one key: the owner gets one DM; the second press says who notified, and when."""
    key_id = key_of(guarded)
    values = []
    for asker in ("U0NOTIFYA", "U0NOTIFYB"):
        _, url = guarded.slash_command(key_id, user_id=asker, channel_id=INTERNAL_CHANNEL)
        values.append(answer_buttons(guarded.slack.wait_for_hook(url, timeout=30)[0].body)[NOTIFY_ACTION])
    assert values[0] != values[1], "two answers"
    first = guarded.slack.wait_for_hook(
        guarded.block_action(NOTIFY_ACTION, values[0], user_id="U0NOTIFYA")[1], timeout=30
    )
    second = guarded.slack.wait_for_hook(
        guarded.block_action(NOTIFY_ACTION, values[1], user_id="U0NOTIFYB")[1], timeout=30
    )
    assert "I told <@U0PLATFRM>" in first[0].body["text"]
    later = second[0].body["text"]
    assert (
        "already notified" in later and "by <@U0NOTIFYA>" in later and "<!date^" in later and "once every hour" in later
    )
    dms = [
        c for c in posts_in(guarded, OWNER) if key_id in json.dumps(c.body) and "hitting errors" in json.dumps(c.body)
    ]
    assert len(dms) == 1
