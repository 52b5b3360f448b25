"""A claim is confirmed before a name or a text from it is used, end to end: a deletion of a key
whose-key never saw is dropped; a forged `userName` names nobody; AWS Health's words reach Slack
quoted, escaped and verbatim."""

from __future__ import annotations

import json
from typing import Any

from redis import Redis

from standins.keys import synthesize_key_id
from standins.stack import Stack
from tests.support.aws_events import (
    cloudtrail_event,
    dms_about,
    fresh_key,
    health_event,
    owner_id,
    post_event,
    wait_for_dm,
)
from tests.support.waiting import wait_for_audit
from workers.lookup.key_index import remember_many


def test_a_deletion_of_a_key_whose_key_never_saw_is_dropped_as_unconfirmed(stack: Stack, redis: Redis) -> None:
    """IAM has no such key because it never existed: no DM, and an `unconfirmed` audit record."""
    victim = owner_id()
    named = fresh_key(stack, "acme-prod", {"slack-user-id": victim})
    never_issued = synthesize_key_id(named.account_id)
    event = cloudtrail_event(
        named.account_id, "DeleteAccessKey", {"userName": named.user_name, "accessKeyId": never_issued}
    )
    assert post_event(stack, event).status == 202
    record = wait_for_audit(redis, "aws_event_dropped", key=never_issued, reason="unconfirmed")
    assert "never saw it" in record["detail"]
    assert not [c for c in stack.slack.api_calls("chat.postMessage") if never_issued in json.dumps(c.body)]


def test_a_deletion_with_a_forged_user_name_tells_the_real_owner_only(stack: Stack, redis: Redis) -> None:
    """A remembered key's deletion claiming another user's name reaches the key's real owner, naming
    the IAM user whose-key saw; the other user's owner hears nothing."""
    owner, bystander = owner_id(), owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    other = fresh_key(stack, "acme-data", {"slack-user-id": bystander})
    account_label = next(
        name for name, ident in (stack.org.accounts.items() if stack.org else []) if ident == key.account_id
    )
    remember_many(redis, {key.key_id: {"user": key.user_name, "account": f"{account_label} ({key.account_id})"}})
    key.delete()
    forged = cloudtrail_event(
        key.account_id, "DeleteAccessKey", {"userName": other.user_name, "accessKeyId": key.key_id}
    )
    assert post_event(stack, forged).status == 202
    text = json.dumps(wait_for_dm(stack, owner, key.key_id).body)
    assert key.user_name in text and other.user_name not in text
    sent = wait_for_audit(redis, "notice_sent", key=key.key_id)
    assert sent["user"] == key.user_name and sent["to"] == owner
    assert not [c for c in stack.slack.api_calls("chat.postMessage") if c.body.get("channel") == bystander]
    assert len(dms_about(stack, owner, key.key_id)) == 1


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    texts = [b["text"] for b in blocks if isinstance(b.get("text"), dict)]
    for block in blocks:
        texts += block.get("elements", []) + block.get("fields", [])
    return [t for t in texts if t.get("type") == "mrkdwn"]


def test_health_words_reach_slack_quoted_escaped_and_verbatim(stack: Stack) -> None:
    """A Health exposure notice whose description holds a URL and `<!channel>` is shown as a quote of
    what AWS says, escaped, in blocks sent with verbatim true."""
    owner = owner_id()
    key = fresh_key(stack, "acme-prod", {"slack-user-id": owner})
    notice = health_event("AWS_RISK_CREDENTIALS_EXPOSED", key.account_id, key.key_id)
    said = "Rotate now, see https://evil.example/reset <!channel> <https://evil.example|AWS console>"
    notice["detail"]["eventDescription"][0]["latestDescription"] = said
    assert post_event(stack, notice).status == 202
    blocks = wait_for_dm(stack, owner, key.key_id).body["blocks"]
    texts = mrkdwn_texts(blocks)
    assert texts and all(t.get("verbatim") is True for t in texts)
    quoted = next(t["text"] for t in texts if t["text"].startswith("*What AWS says*"))
    assert (
        "\n> Rotate now, see https://evil.example/reset &lt;!channel&gt; &lt;https://evil.example|AWS console&gt;"
        in quoted
    )
    shown = json.dumps(blocks)
    assert "<!channel>" not in shown and "<https://evil.example" not in shown
