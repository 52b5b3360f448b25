"""The agent view's DM, end to end: how long after a question the thread's first status appears.

    python3 dev.py bench agent_dm [--runs 50] [--latency 0.075]

Runs the whole bot (web + worker from the Procfile, moto behind the AWS proxy, the loopback Slack,
whose token holds assistant:write, so DMs are agent-view threads). Each run: a new thread in the
asker's DM, a key asked in it (the Events API callback, signed, as Slack posts it). The clock
starts when the callback is posted; "first status" is when the Slack double received the thread's
first assistant.threads.setStatus ("is looking up AKIA…", which the web sets before it queues the
lookup), "ack" when the web answered Slack, and "answer" when the answer reached the thread (Slack
clears the status then). `--latency` is added to every AWS call at the proxy, after seeding, as IAM
from a region would. The Slack double answers on loopback: against Slack, the first status and the
ack each take one more round trip to Slack.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import summary_ms  # noqa: E402
from standins.stack import Stack  # noqa: E402
from tests.e2e.env import TEST_ENV  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

ASKER = "U0BENCHDM"


def first_call_at(stack: Stack, method: str, channel: str, thread_ts: str) -> float | None:
    for call in stack.slack.api_calls(method):
        args = call.args
        if args.get("thread_ts") == thread_ts and channel in (args.get("channel_id"), args.get("channel")):
            return call.at
    return None


def one_run(stack: Stack, key_id: str) -> tuple[float, float, float]:
    """(ack, first status, answer), in seconds after the question was posted to the web."""
    thread = stack.slack.new_assistant_thread(ASKER)
    channel, ts = thread.channel_id, thread.thread_ts
    event = {"type": "message", "channel_type": "im", "user": ASKER, "text": f"whose is {key_id}?", "ts": ts,
             "channel": channel, "event_ts": ts}  # fmt: skip
    sent = time.time()
    reply = stack.event(event)
    assert reply.status == 200, reply.body
    status_at = wait_until(
        lambda: first_call_at(stack, "assistant.threads.setStatus", channel, ts),
        what="the thread's first status",
        timeout=60,
        interval=0.005,
    )
    answer_at = wait_until(
        lambda: first_call_at(stack, "chat.postMessage", channel, ts), what="the answer", timeout=60, interval=0.005
    )
    return reply.elapsed, status_at - sent, answer_at - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.075, help="seconds added to every AWS call")
    args = parser.parse_args()
    # One asker asks every question: no per-person limit in the way.
    with Stack(extra_env={**TEST_ENV, "WHOSE_KEY_RATE_LIMIT": "100000"}) as stack:
        assert stack.org is not None
        key_id = stack.org.key("acme-prod", "deploy-bot")
        one_run(stack, key_id)  # warm: the web's scope check, the worker's role session in the account
        stack.aws.latency = args.latency
        runs = [one_run(stack, key_id) for _ in range(args.runs)]
    print(f"{args.runs} questions in the agent view's DM, {args.latency * 1000:.0f} ms added to every AWS call:")
    print(f"  question -> web's ack:      {summary_ms([r[0] for r in runs])}")
    print(f"  question -> first status:   {summary_ms([r[1] for r in runs])}")
    print(f"  question -> answer posted:  {summary_ms([r[2] for r in runs])}")


if __name__ == "__main__":
    main()
