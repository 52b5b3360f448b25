"""`python -m workers`: the worker pool (the Procfile's `worker`); `--serve ROLE` is one of its
processes: `interactive` (lookups and buttons only) or `all` (those first, then background work)."""

from __future__ import annotations

import argparse
import sys

from core.logs import configure_logging
from core.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--serve", choices=("interactive", "all"), help="run one worker process of the pool")
    args = parser.parse_args()
    configure_logging()
    settings = Settings.for_process("worker", require_signing_secret=False)
    # Imported after settings: nothing heavy before they check out.
    if args.serve is None:
        from workers.process.pool import run_pool

        sys.exit(run_pool(settings))
    from core.jobs import INTERACTIVE_QUEUES, QUEUES
    from workers.process.pool import exit_with_parent
    from workers.process.worker import run_worker

    exit_with_parent()
    run_worker(settings, INTERACTIVE_QUEUES if args.serve == "interactive" else QUEUES)


if __name__ == "__main__":
    main()
