"""A rolling deploy under traffic: answers lost and doubled, and the longest gap in answers.

    python3 dev.py bench rolling_restart [--rounds 1] [--latency 0.0]

Runs the whole bot with two of each process of the Procfile (web, worker, socket) and restarts
each of them in turn with SIGTERM, as a rolling deploy does, while a stream of lookups (a slash
command through a web process and one through a socket connection every 0.1 s) runs; each SIGTERM
finds work in hand (a request, jobs, an envelope), held at a stand-in until the signal is sent
(tests/support/rolling_restart.py). Answers are counted per request at the Slack double: lost and
doubled must both be 0. The gap is the longest stretch with no answer posted while processes
restarted (a worker's restart holds every RQ worker busy on purpose, so it includes that hold).
`--latency` is added to every AWS call at the proxy, as IAM from a region would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from standins.stack import Stack  # noqa: E402
from tests.e2e.env import TEST_ENV  # noqa: E402
from tests.support.rolling_restart import RollingRestart  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="rolling restarts, one after another")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every AWS call")
    args = parser.parse_args()
    with Stack(workers=2, socket=True, extra_env=dict(TEST_ENV)) as stack:
        stack.aws.latency = args.latency
        rolling = RollingRestart(stack)
        rolling.start_second_instances()
        for round_number in range(1, args.rounds + 1):
            figures = rolling.run()
            print(f"round {round_number}: every process of the Procfile restarted, two of each running:")
            print(f"  lookups sent:       {figures.lookups}")
            print(f"  answers lost:       {figures.lost}")
            print(f"  answers doubled:    {figures.doubled}")
            print(f"  longest answer gap: {figures.longest_gap:.2f} s")
            for line in [*figures.restarts, *figures.in_flight]:
                print(f"    {line}")
            if figures.lost or figures.doubled:
                sys.exit(1)


if __name__ == "__main__":
    main()
