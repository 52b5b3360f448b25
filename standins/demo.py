"""`whose-key demo`: the real web and worker processes, offline, on embedded defaults.

Starts a Redis server, a moto server seeded with a small organization, and a loopback Slack,
then sends signed `/whose-key` commands through the web app and prints what Slack would show.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bot.key_action_views import REASON_BLOCK, REASON_INPUT
from core.blockkit import DEACTIVATE_ACTION
from core.jobs import spec_for
from core.key_events import parse_event_body
from standins.aws_proxy.role_policies import RESPONDER_ROLE_NAME
from standins.demo_surfaces import show_agent_dm, show_workflow_step
from standins.keys import synthesize_key_id
from standins.moto_org import SeededKey, iam_in_account
from standins.show import message_to_text, modal_to_text
from standins.slack_double import RecordedCall
from standins.stack import HttpResult, Stack, http_post
from workers.constants import ROLE_SESSION_NAME


def _say(text: str) -> None:
    print(text, flush=True)


def demo_requests(stack: Stack) -> list[tuple[str, str]]:
    """(what it shows, command text) pairs covering the main answers."""
    org = stack.org
    assert org is not None
    return [
        ("A key in a member account", org.key("acme-prod", "deploy-bot")),
        ("A key of the management account itself", org.key("acme-management", "break-glass")),
        ("A deactivated key, owner found by email", org.key("acme-prod", "alice", "Inactive")),
        ("A deleted key: its account is ours, the key is gone", org.key("acme-staging", "bob", "Deleted")),
        ("A key from an account outside the organization", synthesize_key_id("999988887777")),
        ("A typo: a look-alike digit instead of a letter", with_typo(org.key("acme-dev", "ci-runner"))),
        ("An IAM user ID pasted instead of a key", "AIDAJQABLZS4A3QDU576Q"),
        ("Help", "help"),
    ]


def with_typo(key_id: str) -> str:
    """The key as someone might mistype it: a digit for the letter it resembles, or lower case."""
    for letter, digit in (("O", "0"), ("I", "1"), ("B", "8")):
        position = key_id.find(letter, 4)
        if position != -1:
            return key_id[:position] + digit + key_id[position + 1 :]
    return key_id.lower()


DEMO_EVENTS_TOKEN = "demo-events-token"  # noqa: S105 - offline only
# How often the demo looks whether a worker's job has finished.
JOB_POLL_INTERVAL = 0.02
DEMO_RESPONDERS = "S0RESPOND"  # the Slack user group whose members may act on keys
DEMO_RESPONDER = "U0RESPND1"  # its one member, who deactivates a key in the demo
DEMO_ENV = {
    "WHOSE_KEY_EVENTS_TOKEN": DEMO_EVENTS_TOKEN,
    "WHOSE_KEY_SWEEP_INTERVAL": "0",
    # The opt-in responder role (deploy/responder-role.yaml). moto lets the worker assume it in every
    # account; the AWS stand-in holds its sessions to that template's grants.
    "WHOSE_KEY_RESPONDER_ROLE_NAME": RESPONDER_ROLE_NAME,
    "WHOSE_KEY_RESPONDER_USERGROUPS": DEMO_RESPONDERS,
}


def show_mention(stack: Stack) -> bool:
    """A mention in a thread, answered in the thread."""
    assert stack.org is not None
    key_id = stack.org.key("acme-data", "etl")
    text = f"<@UWHOSEKEY> deploys fail with InvalidAccessKeyId, who owns {key_id}?"
    _say("=" * 100)
    _say(f"A mention in a thread of #incident\n@whose-key {text.split('> ', 1)[1]}")
    event = {"type": "app_mention", "user": "U0ASKER01", "text": text, "ts": "1700000001.000200",
             "thread_ts": "1700000000.000100", "channel": "C0INCIDENT", "event_ts": "1700000001.000200"}  # fmt: skip
    stack.event(event)
    try:
        calls = stack.slack.wait_for(
            lambda cs: any(c.name == "chat.postMessage" and c.body.get("channel") == "C0INCIDENT" for c in cs), 30
        )
    except TimeoutError:
        _say("  no answer arrived within 30 s")
        return False
    post = next(c for c in calls if c.name == "chat.postMessage" and c.body.get("channel") == "C0INCIDENT")
    _say(f"\n[answer in the thread {post.body.get('thread_ts')}]")
    _say(message_to_text(post.body))
    return True


def update_access_key_event(
    account: str, user_name: str, key_id: str, status: str, event_id: str, session: str = "SecurityAdmin/carol"
) -> dict[str, Any]:
    """The EventBridge event of CloudTrail's record of an UpdateAccessKey, made in a session of a role
    ("role/session name")."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    role = session.split("/", 1)[0]
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": account,
        "time": now,
        "region": "us-east-1",
        "detail": {
            "eventName": "UpdateAccessKey",
            "eventTime": now,
            "sourceIPAddress": "203.0.113.7",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": f"arn:aws:sts::{account}:assumed-role/{session}",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role}},
            },
            "requestParameters": {"userName": user_name, "accessKeyId": key_id, "status": status},
        },
    }


def post_aws_event(stack: Stack, event: dict[str, Any]) -> HttpResult:
    """POST an event to /aws/events as the EventBridge API destination does."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {DEMO_EVENTS_TOKEN}"}
    return http_post(stack.web_url + "/aws/events", json.dumps(event).encode(), headers)


def show_deactivation_notice(stack: Stack) -> bool:
    """A key deactivated in AWS: the EventBridge event arrives and the owner gets a DM."""
    assert stack.org is not None
    key_id = stack.org.key("acme-prod", "deploy-bot")
    account = stack.org.accounts["acme-prod"]
    _say("=" * 100)
    _say(f"An admin deactivates {key_id} in IAM, and EventBridge forwards the CloudTrail event to /aws/events")
    # The bot believes IAM, not the event: the key really is deactivated first.
    iam = iam_in_account(
        stack.moto, account, stack.org.management_account_id, endpoint_url=stack.env()["AWS_ENDPOINT_URL"]
    )
    iam.update_access_key(UserName="deploy-bot", AccessKeyId=key_id, Status="Inactive")
    event = update_access_key_event(account, "deploy-bot", key_id, "Inactive", "demo-deactivation-1")
    reply = post_aws_event(stack, event)
    _say(f"\n[/aws/events answered {reply.status} in {reply.elapsed * 1000:.0f} ms]")
    try:
        calls = stack.slack.wait_for(
            lambda cs: any(c.name == "chat.postMessage" and c.body.get("channel") == "U0PLATFRM" for c in cs), 30
        )
    except TimeoutError:
        _say("  no notice arrived within 30 s")
        return False
    post = next(c for c in calls if c.name == "chat.postMessage" and c.body.get("channel") == "U0PLATFRM")
    _say("\n[DM to the owner, @U0PLATFRM]")
    _say(message_to_text(post.body))
    return True


def posts_to(calls: list[RecordedCall], channel: str, *texts: str) -> list[RecordedCall]:
    """The chat.postMessage calls to a channel (or a member's DM) carrying every one of texts."""
    return [
        c
        for c in calls
        if c.name == "chat.postMessage"
        and c.body.get("channel") == channel
        and all(text in json.dumps(c.body) for text in texts)
    ]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [e for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


def headline_and_buttons(message: dict[str, Any]) -> str:
    """An answer's first sentence and its buttons: the rest is the diagnosis shown above."""
    lines = message_to_text(message).splitlines()
    head = lines[:1] + [line for line in lines[1:3] if line.startswith("   ")]
    return "\n".join(head + ["  …"] + [line for line in lines if line.startswith("  [")])


def show_key_action(stack: Stack) -> bool:
    """A responder deactivates a key from its answer: the modal, the change through the responder
    role, the outcome with its undo, the owner's one DM, and IAM read back."""
    assert stack.org is not None
    key = next(k for k in stack.org.keys if (k.account_name, k.user_name, k.status) == ("acme-data", "etl", "Active"))
    owner = "U0DATAENG"
    reason = "found in a public gist"
    _say("=" * 100)
    _say(f"A responder (@{DEMO_RESPONDER}, in the user group {DEMO_RESPONDERS}) acts on a key\n/whose-key {key.key_id}")
    _, response_url = stack.slash_command(key.key_id, user_id=DEMO_RESPONDER)
    try:
        answer = stack.slack.wait_for_hook(response_url, timeout=30)[0].body
    except TimeoutError:
        _say("  no answer arrived within 30 s")
        return False
    _say("\n[answer at the response_url: a responder sees Deactivate on an active key]")
    _say(headline_and_buttons(answer))
    button = next((b for b in buttons(answer) if b["action_id"].startswith(DEACTIVATE_ACTION)), None)
    if button is None:
        _say("  the answer offered no Deactivate button")
        return False
    stack.block_action(button["action_id"], button["value"], user_id=DEMO_RESPONDER)
    try:
        modal = stack.slack.wait_for_modal(lambda m: m.user_id == DEMO_RESPONDER, timeout=30)
    except TimeoutError:
        _say("  no modal opened within 30 s")
        return False
    _say(f'\n[@{DEMO_RESPONDER} presses "{button["text"]["text"]}": views.open shows them modal {modal.view_id}]')
    _say(modal_to_text(modal.view))
    submitted_at = time.time()
    reply = stack.view_submission(modal.view_id, {REASON_BLOCK: {REASON_INPUT: reason}}, user_id=DEMO_RESPONDER)
    _say(f'\n[they type "{reason}" and submit; the web app answers in {reply.elapsed * 1000:.0f} ms with]')
    view = reply.json().get("view") if reply.status == 200 else None
    _say(modal_to_text(view) if view else f"  HTTP {reply.status}: {reply.body}")

    def both_told(calls: list[RecordedCall]) -> bool:
        outcome = posts_to(calls, DEMO_RESPONDER, key.key_id, "IAM now says")
        return bool(outcome) and bool(posts_to(calls, owner, key.key_id))

    try:
        calls = stack.slack.wait_for(both_told, 30)
    except TimeoutError:
        _say("  the outcome and the owner's DM did not both arrive within 30 s")
        return False
    outcome = posts_to(calls, DEMO_RESPONDER, key.key_id, "IAM now says")[0]
    _say(f"\n[DM to the responder, @{DEMO_RESPONDER}, {outcome.at - submitted_at:.2f} s after the submission]")
    _say(message_to_text(outcome.body))
    _say(f"\n[DM to the owner, @{owner}]")
    _say(message_to_text(posts_to(calls, owner, key.key_id)[0].body))
    return show_change_read_back(stack, key, owner)


def show_change_read_back(stack: Stack, key: SeededKey, owner: str) -> bool:
    """CloudTrail's record of the responder's change comes back through EventBridge, as on AWS: the
    worker finds nothing new to tell. Then IAM, read straight from moto, and the owner's DMs counted."""
    assert stack.org is not None
    account = key.account_id
    session = f"{RESPONDER_ROLE_NAME}/{ROLE_SESSION_NAME}"
    event = update_access_key_event(account, key.user_name, key.key_id, "Inactive", "demo-responder-1", session)
    reply = post_aws_event(stack, event)
    _say(f"\n[EventBridge forwards CloudTrail's record of that change, by assumed-role/{session}: {reply.status}]")
    parsed = parse_event_body(json.dumps(event))
    job_id = spec_for(parsed).id_of(parsed)
    assert job_id is not None
    job = wait_for_job(stack, job_id)
    if job is None:
        _say(f"  job {job_id} did not finish within 30 s")
        return False
    _say(f"  the worker's job {job_id} says: {json.dumps(job.return_value())}")
    # Past the AWS stand-in the bot goes through: what an administrator of the account sees.
    iam = iam_in_account(stack.moto, account, stack.org.management_account_id)
    status = next(
        k["Status"]
        for k in iam.list_access_keys(UserName=key.user_name)["AccessKeyMetadata"]
        if k["AccessKeyId"] == key.key_id
    )
    told = len(posts_to(stack.slack.calls, owner, key.key_id))
    _say(f"\n[IAM in {key.account_name} ({account}), read back from moto]")
    _say(f"  {key.key_id} of IAM user {key.user_name}: {status}")
    _say(f"  DMs to the owner @{owner} about {key.key_id}: {told}")
    if status != "Inactive" or told != 1:
        _say("  expected IAM to say Inactive and exactly one DM to the owner")
        return False
    return True


def wait_for_job(stack: Stack, job_id: str, timeout: float = 30) -> Job | None:
    """The RQ job once it has finished; None if it failed or did not finish within timeout."""
    redis = Redis.from_url(stack.redis.url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(NoSuchJobError):  # not enqueued yet
            job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
            if job.get_status() == JobStatus.FINISHED:
                return job
            if job.get_status() == JobStatus.FAILED:
                return None
        time.sleep(JOB_POLL_INTERVAL)
    return None


def run_demo() -> int:
    _say("whose-key demo: starting Redis, a moto AWS organization, a local Slack, and the web + worker processes…")
    started = time.monotonic()
    with Stack(extra_env=dict(DEMO_ENV)) as stack:
        assert stack.org is not None
        stack.slack.set_usergroup(DEMO_RESPONDERS, [DEMO_RESPONDER])
        _say(
            f"Ready in {time.monotonic() - started:.1f}s: organization of {len(stack.org.accounts)} accounts, "
            f"{len(stack.org.keys)} keys; web on {stack.web_url}\n"
        )
        for title, text in demo_requests(stack):
            _say("=" * 100)
            _say(f"{title}\n/whose-key {text}")
            sent_at = time.time()
            reply, response_url = stack.slash_command(text)
            if reply.status != 200:
                _say(f"  the web app answered HTTP {reply.status}: {reply.body}")
                continue
            _say(f"\n[ack in {reply.elapsed * 1000:.0f} ms]")
            _say(message_to_text(reply.body) if reply.body else "(empty ack)")
            if "Looking up" not in reply.body:
                continue  # answered at once: nothing was enqueued
            try:
                post = stack.slack.wait_for_hook(response_url, timeout=30)[0]
            except TimeoutError:
                _say("  no answer arrived within 30 s; worker log:\n" + stack.logs()[-2000:])
                return 1
            _say(f"\n[answer at the response_url after {post.at - sent_at:.2f} s]")
            _say(message_to_text(post.body))
        shown = (show_mention, show_deactivation_notice, show_key_action, show_agent_dm, show_workflow_step)
        if not all(show(stack) for show in shown):
            return 1
        _say("=" * 100)
        _say("Done. Everything ran locally; nothing left the machine.")
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
