"""`whose-key sweep`: one deactivation sweep now, through the workers (the same fan-out as the
schedule's), with a progress bar in a terminal and a summary at the end; `--local` runs it in this
process for when no worker runs. Exits 1 when an account could not be read."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core.contract import SweepRequest
from core.jobs import BACKGROUND_QUEUE
from core.queue import JobQueue
from core.redis_keys import connect
from core.settings import Settings, SettingsError
from workers.sweep.lock import SweepLock
from workers.sweep.state import SweepProgress, SweepSummary

POLL_EVERY = 0.2
BAR_WIDTH = 30


def run_sweep_command(*, local: bool) -> int:
    try:
        settings = Settings.from_env(require_signing_secret=False)
    except SettingsError as exc:
        print(f"whose-key: {exc}", file=sys.stderr)
        return 2
    try:
        report = _run_local(settings) if local else _run_distributed(settings)
    except RedisError as exc:
        print(f"whose-key: Redis is needed for the sweep and could not be reached ({exc})", file=sys.stderr)
        return 1
    if isinstance(report, int):
        return report
    print_summary(report)
    return 1 if report.unreadable else 0


def _run_local(settings: Settings) -> SweepSummary | int:
    from core.logs import configure_logging
    from workers.aws.errors import AwsCallError
    from workers.notices.notifier import Notifier
    from workers.runtime import build_runtime
    from workers.sweep.local import SweepRunning, run_local

    configure_logging("WARNING")
    runtime = build_runtime(settings)
    bar = ProgressBar(sys.stderr)
    try:
        report = run_local(runtime, Notifier(runtime), requested_by="cli", on_progress=bar.show)
    except SweepRunning as exc:
        print(f"whose-key: sweep {exc.sweep_id} is running already; try again when it is done", file=sys.stderr)
        return 1
    except AwsCallError as exc:
        print(f"whose-key: the AWS Organization could not be read: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    return report


def _run_distributed(settings: Settings) -> SweepSummary | int:
    redis = connect(settings.redis_url)
    if not any(BACKGROUND_QUEUE in w.queue_names() for w in Worker.all(connection=redis)):
        print(
            "whose-key: no worker takes background jobs, so nothing would run the sweep. Start the workers "
            "(python -m workers) or run it in this process: whose-key sweep --local",
            file=sys.stderr,
        )
        return 2
    running = SweepLock(redis).holder()
    if running:
        print(f"A sweep is running already ({running}); following it.", file=sys.stderr)
        sweep_id = running
    else:
        sweep_id = JobQueue(redis).enqueue(SweepRequest(requested_by="cli"))
    return follow(redis, sweep_id)


def follow(redis: Redis, sweep_id: str) -> SweepSummary | int:
    """Wait for the sweep to finish, showing its progress; follow the running one if it was skipped."""
    progress = SweepProgress(redis)
    bar = ProgressBar(sys.stderr)
    try:
        while True:
            report = progress.summary(sweep_id)
            if report is not None:
                bar.show(report.done, report.accounts)
                if report.finished:
                    return report
            else:
                outcome = _coordinator_outcome(redis, sweep_id)
                if isinstance(outcome, str):
                    sweep_id = outcome
                elif outcome is not None:
                    return outcome
            time.sleep(POLL_EVERY)
    finally:
        bar.close()


def _coordinator_outcome(redis: Redis, sweep_id: str) -> str | int | None:
    """Before the sweep has a record: the sweep it was skipped for, 1 if it failed, None to wait."""
    try:
        job = Job.fetch(sweep_id, connection=redis, serializer=JSONSerializer)
    except Exception:  # noqa: BLE001 - not a coordinator's ID (a followed sweep): keep waiting
        return None
    status = job.get_status()
    if status == JobStatus.FAILED:
        print(
            f"whose-key: the sweep could not start: {(job.exc_info or '').strip().splitlines()[-1:]}", file=sys.stderr
        )
        return 1
    result = job.return_value() if status == JobStatus.FINISHED else None
    if isinstance(result, dict) and result.get("skipped"):
        print(f"A sweep is running already ({result.get('running')}); following it.", file=sys.stderr)
        return str(result.get("running") or "") or 1
    return None


def print_summary(report: SweepSummary) -> None:
    print(
        f"swept {report.accounts} accounts, {report.keys} keys in {report.seconds:.1f}s "
        f"({report.aws_calls} AWS calls): {report.deactivated} deactivated, {report.deleted} deleted, "
        f"{report.notified} notified"
    )
    for entry in report.unreadable:
        print(f"  not read: {entry.label}: {entry.detail}")


class ProgressBar:
    """A one-line bar on a terminal; nothing when the output is a file or a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = False

    def show(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = BAR_WIDTH * done // total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        self.stream.write(f"\rsweeping [{bar}] {done}/{total} accounts")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
