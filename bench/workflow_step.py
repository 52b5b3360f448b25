"""The Workflow Builder step find_key_owner, end to end: from the `function_executed` event posted
to the web to Slack taking `functions.completeSuccess`.

    python3 dev.py bench workflow_step [--runs 50] [--latency 0.075]

Runs the whole bot (web + worker from the Procfile, moto behind the AWS proxy, the loopback Slack).
Each run: the Slack double mints a function execution for a seeded, owned, active key, the signed
event is posted to the web (its reply is the ack), and the clock stops at the double's record of
functions.completeSuccess for that execution. `--latency` is added to every AWS call at the proxy,
after seeding and a warm-up run, as IAM from a region would; runs are one at a time. The keys take
turns between the seeded owners so the key index and the worker's sessions are warm, as for a
workspace's steady traffic; the first run (cold) is left out.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stats import summary_ms  # noqa: E402
from core.step import CALLBACK_ID, REQUIRED_OUTPUTS  # noqa: E402
from standins import slack_payloads  # noqa: E402
from standins.slack_double import ExecutionState  # noqa: E402
from standins.stack import Stack  # noqa: E402
from tests.e2e.env import TEST_ENV  # noqa: E402

ASKER = "U0BENCHWF1"
# Seeded keys with an owner on Slack: (account, IAM user, owner).
OWNED = (("acme-prod", "deploy-bot", "U0PLATFRM"), ("acme-data", "etl", "U0DATAENG"))


def completed_at(stack: Stack, execution: str) -> float | None:
    for call in stack.slack.api_calls("functions.completeSuccess"):
        if call.args.get("function_execution_id") == execution and call.ok:
            return call.at
    return None


def one_run(stack: Stack, key_id: str, owner: str) -> tuple[float, float]:
    """(ack, event -> completeSuccess) in seconds for one execution."""
    execution = stack.slack.new_function_execution(
        CALLBACK_ID, {"access_key_id": key_id, "user_id": ASKER}, required_outputs=REQUIRED_OUTPUTS
    )
    minted = stack.slack.function_execution(execution)
    event = slack_payloads.function_executed(
        execution,
        callback_id=CALLBACK_ID,
        bot_access_token=minted.bot_access_token,
        inputs={"access_key_id": key_id},
        user_id=ASKER,
    )
    started = time.time()
    reply = stack.event(event)
    assert reply.status == 200, reply.body
    done = stack.slack.wait_for_function_completion(execution, timeout=60)
    assert done.state is ExecutionState.COMPLETED and done.outputs is not None, done.error
    assert done.outputs.get("owner_user_id") == owner, done.outputs
    at = completed_at(stack, execution)
    assert at is not None
    return reply.elapsed, at - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.075, help="seconds added to every AWS call")
    args = parser.parse_args()
    # One person runs every workflow: no per-person limit in the way.
    env = {**TEST_ENV, "WHOSE_KEY_RATE_LIMIT": "10000"}
    with Stack(extra_env=env) as stack:
        assert stack.org is not None
        keys = [(stack.org.key(account, user), owner) for account, user, owner in OWNED]
        cold = one_run(stack, *keys[0])
        for key_id, owner in keys[1:]:
            one_run(stack, key_id, owner)  # warm: every account's session, the key index, the owner cache
        stack.aws.latency = args.latency
        runs = [one_run(stack, *keys[index % len(keys)]) for index in range(args.runs)]
    added = f"{args.latency * 1000:.0f} ms added to every AWS call"
    print(f"{args.runs} Workflow Builder step runs (find_key_owner), one at a time, {added}:")
    print(f"  ack of function_executed:            {summary_ms([r[0] for r in runs])}")
    print(f"  function_executed -> completeSuccess: {summary_ms([r[1] for r in runs])}")
    print(f"  (cold first run, no added latency: {cold[1] * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
