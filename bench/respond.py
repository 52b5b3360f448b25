"""Deactivate from Slack, end to end: from the modal's submission to IAM saying Inactive, and to
the owner's DM reaching Slack.

    python3 dev.py bench respond [--runs 50] [--latency 0.075]

Runs the whole bot (web + worker from the Procfile, moto behind the AWS proxy, which holds the
responder role to its deploy/ grants, the loopback Slack) with WHOSE_KEY_RESPONDER_ROLE_NAME set.
Each run: a fresh IAM user with an Active key and an owner tag; a responder looks it up, presses
Deactivate, and submits the modal with a reason. The clock starts when the submission is posted;
IAM is polled (an admin's ListAccessKeys, outside the bot) until it says Inactive, and the owner's
DM is the Slack double's record of it. `--latency` is added to every AWS call at the proxy, after
seeding, as IAM from a region would.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import summary_ms  # noqa: E402
from standins.stack import Stack  # noqa: E402
from tests.e2e.env import TEST_ENV  # noqa: E402
from tests.support.aws_events import FreshKey, fresh_key, owner_id  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

RESPONDERS = "S0RESPOND"
RESPONDER = "U0RESPND1"


def deactivate_button(stack: Stack, key_id: str) -> dict:
    _, url = stack.slash_command(key_id, user_id=RESPONDER)

    def answer() -> dict | None:
        posts = [c.body for c in stack.slack.hook_posts(url) if "IAM user" in json.dumps(c.body)]
        return posts[-1] if posts else None

    body = wait_until(answer, what="the answer", timeout=60)
    blocks = body["blocks"] if isinstance(body["blocks"], list) else json.loads(body["blocks"])
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return next(e for e in elements if e["action_id"].startswith("whose_key_deactivate"))


def inactive_in_iam(key: FreshKey) -> bool:
    keys = key.iam.list_access_keys(UserName=key.user_name)["AccessKeyMetadata"]
    return any(k["AccessKeyId"] == key.key_id and k["Status"] == "Inactive" for k in keys)


def owner_dm_at(stack: Stack, owner: str, key_id: str) -> float | None:
    for call in stack.slack.api_calls("chat.postMessage"):
        if call.body.get("channel") == owner and key_id in json.dumps(call.body):
            return call.at
    return None


def one_run(stack: Stack) -> tuple[float, float]:
    owner = owner_id()
    key = fresh_key(stack, "acme-data", {"slack-user-id": owner})
    button = deactivate_button(stack, key.key_id)
    before = {m.view_id for m in stack.slack.modals(RESPONDER)}
    stack.block_action(button["action_id"], button["value"], user_id=RESPONDER)
    modal = stack.slack.wait_for_modal(lambda m: m.user_id == RESPONDER and m.view_id not in before, timeout=60)
    submitted = time.time()
    reply = stack.view_submission(modal.view_id, {"reason": {"reason_input": "bench"}}, user_id=RESPONDER)
    assert "On its way" in reply.body, reply.body
    wait_until(lambda: inactive_in_iam(key), what="IAM to say Inactive", timeout=60, interval=0.02)
    in_iam = time.time() - submitted
    dm_at = wait_until(lambda: owner_dm_at(stack, owner, key.key_id), what="the owner's DM", timeout=60)
    return in_iam, dm_at - submitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.075, help="seconds added to every AWS call")
    args = parser.parse_args()
    env = {
        **TEST_ENV,
        "WHOSE_KEY_RESPONDER_ROLE_NAME": "WhoseKeyResponder",
        "WHOSE_KEY_RESPONDER_USERGROUPS": RESPONDERS,
        # One responder makes every run's lookup and press: no per-person limit in the way.
        "WHOSE_KEY_RATE_LIMIT": "10000",
    }
    with Stack(extra_env=env) as stack:
        stack.slack.set_usergroup(RESPONDERS, [RESPONDER])
        one_run(stack)  # warm: the worker's sessions in the account, the responder group's cache
        stack.aws.latency = args.latency
        runs = [one_run(stack) for _ in range(args.runs)]
    print(f"{args.runs} deactivations from Slack, {args.latency * 1000:.0f} ms added to every AWS call:")
    print(f"  submission -> IAM says Inactive: {summary_ms([r[0] for r in runs])}")
    print(f"  submission -> owner's DM:        {summary_ms([r[1] for r in runs])}")


if __name__ == "__main__":
    main()
