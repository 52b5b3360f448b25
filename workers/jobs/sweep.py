"""The sweep as a fan-out on RQ: a coordinator enqueues one job per account, any worker takes
them, progress lives in Redis (workers/sweep_state.py), and the job that finishes the last account
enqueues the finalizer, which reports once.

Jobs: `run_sweep` (the coordinator; its job ID is the sweep's ID), `sweep_account` (one account),
`account_job_failed` (RQ's failure callback: an account whose job failed for good is reported as
unreadable, so the sweep still finishes), `finish_sweep` (the report).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from redis import Redis
from rq import get_current_job
from rq.job import Job

from core.audit import audit
from core.blockkit import Message, section
from core.contract import AfterSweep, Destination, SweepAccount, SweepFinish, SweepRequest, from_json
from core.queue import JobQueue, new_sweep_id
from core.redis_keys import SWEEP_LAST, redis_key
from core.slack_text import escape
from workers.jobs.delivery import deliver_once
from workers.notifier import Notifier
from workers.report import Account, AccountOutcome
from workers.runtime import Runtime
from workers.sweep import AccountResult, SweepStopped
from workers.sweep import sweep_account as sweep_one
from workers.sweep_lock import SweepLock
from workers.sweep_state import SweepProgress, SweepReport

log = logging.getLogger(__name__)


def run_sweep(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: start a sweep of every account, unless one is running (then it is skipped)."""
    request = from_json(SweepRequest, args)
    job = get_current_job()
    sweep_id = job.id if job else new_sweep_id()
    lock = SweepLock(runtime.redis)
    if not lock.acquire(sweep_id):
        running = lock.holder()
        log.warning("sweep skipped: another sweep is running", extra={"sweep": sweep_id, "running": running})
        audit(runtime.redis, "sweep_skipped", sweep=sweep_id, running=running, requested_by=request.requested_by)
        return {"sweep_id": sweep_id, "skipped": True, "running": running}
    # Notices Slack did not take before get another chance first, whatever the sweep finds.
    Notifier(runtime).retry_pending()
    stop = threading.Event()
    with lock.kept(sweep_id, stop):
        # A fresh listing: an account created since the last one must be swept too.
        runtime.finder.org.refresh()
        accounts = list(runtime.finder.org.accounts().values())
        progress = SweepProgress(runtime.redis)
        progress.start(sweep_id, len(accounts), request.requested_by)
        done = progress.done_accounts(sweep_id)  # a retried coordinator skips what is done
        tasks = [SweepAccount(sweep_id, a.id, a.name, a.status) for a in accounts if a.id not in done]
        jobs = JobQueue(runtime.redis)
        jobs.enqueue_sweep_accounts(tasks)
        if not accounts:
            jobs.enqueue_sweep_finish(SweepFinish(sweep_id))
    log.info("sweep started", extra={"sweep": sweep_id, "accounts": len(accounts), "enqueued": len(tasks)})
    audit(runtime.redis, "sweep_started", sweep=sweep_id, accounts=len(accounts), requested_by=request.requested_by)
    return {"sweep_id": sweep_id, "accounts": len(accounts)}


def sweep_account(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: sweep one account; the job that completes the sweep enqueues its report."""
    task = from_json(SweepAccount, args)
    lock = SweepLock(runtime.redis)
    if not lock.acquire(task.sweep_id):  # free again: take it back; held by another sweep: this one is over
        log.warning("account job of a sweep no longer running", extra={"sweep": task.sweep_id})
        return {"account": task.account_id, "skipped": True}
    account = Account(task.account_id, task.account_name, task.account_status)
    stop = threading.Event()
    try:
        with lock.kept(task.sweep_id, stop):
            result = sweep_one(runtime, account, task.sweep_id, stop)
    except SweepStopped:
        return {"account": task.account_id, "stopped": True}
    if SweepProgress(runtime.redis).record(task.sweep_id, result):
        JobQueue(runtime.redis).enqueue_sweep_finish(SweepFinish(task.sweep_id))
    return {"account": task.account_id, "outcome": result.outcome.value, "keys": result.keys}


def account_job_failed(job: Job, connection: Redis, *exc_info: Any) -> None:
    """RQ failure callback: once an account job has no retry left, count its account unreadable."""
    if job.retries_left:
        return  # RQ runs it again
    task = from_json(SweepAccount, job.args[0])
    error = exc_info[0].__name__ if exc_info and exc_info[0] else "unknown"
    detail = f"its sweep job failed ({error})"
    log.error("sweep account job failed for good", extra={"sweep": task.sweep_id, "account": task.account_id})
    result = AccountResult(Account(task.account_id, task.account_name), AccountOutcome.ERROR, detail=detail)
    if SweepProgress(connection).record(task.sweep_id, result):
        JobQueue(connection).enqueue_sweep_finish(SweepFinish(task.sweep_id))


def finish_sweep(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """RQ job: the sweep's report, once."""
    report = finalize(runtime, from_json(SweepFinish, args).sweep_id)
    return report.to_dict() if report else {}


def finalize(runtime: Runtime, sweep_id: str) -> SweepReport | None:
    """Mark the sweep finished, tell the audit channel about unreadable accounts, store the summary,
    start what runs after a sweep and let go of the lock. Safe to run twice: the report goes out once."""
    progress = SweepProgress(runtime.redis)
    first = progress.claim_finish(sweep_id)
    report = progress.report(sweep_id)
    if report is None:
        return None
    report_unreadable(runtime, report)
    if first:
        summary = report.summary()
        runtime.redis.set(redis_key(SWEEP_LAST), json.dumps(summary))
        audit(runtime.redis, "sweep_finished", **{k: v for k, v in report.to_dict().items() if k != "unreadable"},
              unreadable=len(report.unreadable))  # fmt: skip
        log.info("sweep finished", extra=report.to_dict())
        on_sweep_finished(runtime, summary)
    SweepLock(runtime.redis).release(sweep_id)
    return report


def on_sweep_finished(runtime: Runtime, summary: dict[str, Any]) -> None:
    """The one place that starts what runs after each finished sweep (the key-hygiene refresh)."""
    JobQueue(runtime.redis).enqueue_after_sweep(AfterSweep(str(summary["sweep_id"])))


def report_unreadable(runtime: Runtime, report: SweepReport) -> None:
    """Accounts the sweep could not read are a blind spot: say so where operators look."""
    if not report.unreadable or not runtime.settings.audit_channel:
        return
    lines = [f"• {escape(u.label)}: {escape(u.detail)}" for u in report.unreadable[:20]]
    if len(report.unreadable) > 20:
        lines.append(f"• …and {len(report.unreadable) - 20} more")
    text = (
        f":warning: The key sweep could not read {len(report.unreadable)} of {report.accounts} accounts, "
        "so deactivated or deleted keys there go unnoticed until it can:\n" + "\n".join(lines) +
        "\nRun `whose-key doctor` for the fix."
    )  # fmt: skip
    destination = Destination(channel=runtime.settings.audit_channel, ephemeral=False)
    deliver_once(runtime, f"sweep-unreadable-{report.sweep_id}", destination, Message(text[:3000], [section(text)]))
