"""The sweep as a fan-out on RQ: the coordinator lists the accounts and enqueues one job per
account, any worker takes them, progress lives in Redis (workers/sweep/state.py), and the job that
finishes the last account enqueues the finalizer, which reports once. A very large account is read
in batches of users, one job each (workers/sweep/batches.py), settled once by its last batch.

The RQ entry points are in workers/jobs/sweep.py; they hand in the notices (the notifier), so the
sweep reads and compares and the notifier tells.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis import Redis

from core.audit import audit
from core.blockkit import Message, section
from core.contract import (
    AfterSweep,
    Destination,
    SweepAccount,
    SweepChunk,
    SweepFinish,
    SweepRequest,
    SweepUserBatch,
)
from core.data_loss import take_baseline_after_loss
from core.queue import JobQueue
from core.redis_keys import SWEEP_LAST, redis_key
from core.slack_text import escape
from workers.aws.errors import AccountOutcome, AwsCallError
from workers.aws.gateway import start_counting_calls
from workers.constants import ACCOUNTS_IN_FLIGHT, SWEEP_CHUNK_ACCOUNTS
from workers.model import Account
from workers.runtime import Runtime
from workers.slack.delivery import deliver_once
from workers.sweep.account import (
    ChangeNotices,
    Split,
    SweepStopped,
    iam_client,
    load_snapshot,
    read_users,
    settle_account,
    sweep_or_split,
)
from workers.sweep.batches import LargeAccount, next_batch
from workers.sweep.lock import SweepLock, join_running_sweep
from workers.sweep.state import AccountResult, SweepProgress, SweepSummary

log = logging.getLogger(__name__)


def start_sweep(runtime: Runtime, request: SweepRequest, notices: ChangeNotices) -> dict[str, Any]:
    """Start a sweep of every account, unless one is running (then it is skipped)."""
    sweep_id = request.sweep_id
    lock = join_running_sweep(runtime.redis, sweep_id)  # None too for a late copy of a finished sweep's job
    if lock is None:
        running = SweepLock(runtime.redis).holder()
        details = {"sweep": sweep_id, "running": running}
        log.warning("sweep skipped: another sweep is running, or this one has finished", extra=details)
        audit(runtime.redis, "sweep_skipped", sweep=sweep_id, running=running, requested_by=request.requested_by)
        return {"sweep_id": sweep_id, "skipped": True, "running": running}
    # Notices Slack did not take before get another chance first, whatever the sweep finds.
    notices.retry_pending()
    stop = threading.Event()
    with lock.kept(sweep_id, stop):
        # A fresh listing: an account created since the last one must be swept too.
        runtime.org.refresh()
        accounts = list(runtime.org.accounts().values())
        progress = SweepProgress(runtime.redis)
        progress.start(sweep_id, len(accounts), request.requested_by)
        done = progress.done_accounts(sweep_id)  # a retried coordinator skips what is done
        todo = [SweepAccount(sweep_id, a.id, a.name, a.status) for a in accounts if a.id not in done]
        tasks = [
            SweepChunk(sweep_id, tuple(todo[i : i + SWEEP_CHUNK_ACCOUNTS]))
            for i in range(0, len(todo), SWEEP_CHUNK_ACCOUNTS)
        ]
        jobs = JobQueue(runtime.redis)
        jobs.enqueue_all(tasks)
        if not accounts:
            jobs.enqueue(SweepFinish(sweep_id))
    log.info("sweep started", extra={"sweep": sweep_id, "accounts": len(accounts), "chunks": len(tasks)})
    audit(runtime.redis, "sweep_started", sweep=sweep_id, accounts=len(accounts), requested_by=request.requested_by)
    return {"sweep_id": sweep_id, "accounts": len(accounts)}


def sweep_chunk_task(runtime: Runtime, chunk: SweepChunk, notices: ChangeNotices) -> dict[str, Any]:
    """Sweep a chunk of accounts, ACCOUNTS_IN_FLIGHT side by side. An account is counted as soon
    as it is done, so a retry of the chunk (its worker died) reads only the accounts not done."""
    lock = join_running_sweep(runtime.redis, chunk.sweep_id)
    if lock is None:
        log.warning("chunk job of a sweep no longer running", extra={"sweep": chunk.sweep_id})
        return {"accounts": len(chunk.accounts), "skipped": True}
    done = SweepProgress(runtime.redis).done_accounts(chunk.sweep_id)
    todo = [task for task in chunk.accounts if task.account_id not in done]
    stop = threading.Event()
    outcomes: list[dict[str, Any]] = []
    with (
        lock.kept(chunk.sweep_id, stop),
        ThreadPoolExecutor(
            max_workers=max(1, min(ACCOUNTS_IN_FLIGHT, len(todo))), thread_name_prefix="sweep-chunk"
        ) as pool,
    ):
        # Each account runs in a copy of this thread's context, so its AWS calls count for it alone.
        futures = [pool.submit(contextvars.copy_context().run, sweep_one, runtime, t, notices, stop) for t in todo]
        failures = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except Exception as exc:  # noqa: BLE001 - the others still finish; the chunk is retried
                failures.append(exc)
    if failures:
        raise failures[0]  # RQ retries the chunk: what is done is not read again
    return {"accounts": len(chunk.accounts), "skipped_done": len(chunk.accounts) - len(todo), "results": outcomes}


def sweep_account_task(runtime: Runtime, task: SweepAccount, notices: ChangeNotices) -> dict[str, Any]:
    """Sweep one account on its own (jobs enqueued before chunks existed)."""
    return sweep_chunk_task(runtime, SweepChunk(task.sweep_id, (task,)), notices)


def sweep_one(runtime: Runtime, task: SweepAccount, notices: ChangeNotices, stop: threading.Event) -> dict[str, Any]:
    """Sweep one account of a chunk (a very large one is split into batch jobs) and count it; the
    account that completes the sweep enqueues its report."""
    account = Account(task.account_id, task.account_name, task.account_status)
    split_above = runtime.settings.sweep_batch_users
    try:
        outcome = sweep_or_split(runtime, account, task.sweep_id, notices, stop, split_above=split_above)
    except SweepStopped:
        return {"account": task.account_id, "stopped": True}
    if isinstance(outcome, Split):
        return start_batches(runtime, task, outcome)
    account_done(runtime.redis, task.sweep_id, outcome)
    return {"account": task.account_id, "outcome": outcome.outcome.value, "keys": outcome.keys}


def start_batches(runtime: Runtime, task: SweepAccount, split: Split) -> dict[str, Any]:
    """Store the account's batches (once) and enqueue the first."""
    large = LargeAccount(runtime.redis, task.sweep_id, task.account_id)
    batches = large.plan(split.user_names, runtime.settings.sweep_batch_users, split.aws_calls)
    JobQueue(runtime.redis).enqueue(SweepUserBatch(task.sweep_id, task.account_id, 0, task.account_name))
    details = {"sweep": task.sweep_id, "account": task.account_id, "users": len(split.user_names), "batches": batches}
    log.info("large account split into batches", extra=details)
    return {"account": task.account_id, "users": len(split.user_names), "batches": batches}


def sweep_batch_task(runtime: Runtime, task: SweepUserBatch, notices: ChangeNotices) -> dict[str, Any]:
    """Read one batch of a large account's users, enqueue the next batch, and settle the account
    when every batch is in."""
    lock = join_running_sweep(runtime.redis, task.sweep_id)
    if lock is None:
        log.warning("batch job of a sweep no longer running", extra={"sweep": task.sweep_id})
        return {"account": task.account_id, "batch": task.batch, "skipped": True}
    large = LargeAccount(runtime.redis, task.sweep_id, task.account_id)
    names = large.users(task.batch)
    if names is None:  # the plan expired: the sweep is long over
        return {"account": task.account_id, "batch": task.batch, "skipped": True}
    account = Account(task.account_id, task.account_name)
    stop = threading.Event()
    stats = start_counting_calls()
    keys: dict[str, Any] = {}
    failure = None
    try:
        with lock.kept(task.sweep_id, stop):
            try:
                if large.failure() is None:  # once a batch failed, the account is unreadable: read no more
                    previous = load_snapshot(runtime, account.id)
                    keys = read_users(iam_client(runtime, account, stop), account, names, stop, previous)
            except AwsCallError as exc:
                log.warning("sweep could not read a batch of an account's users",
                            extra={"account": account.id, "batch": task.batch, "detail": exc.detail})  # fmt: skip
                failure = (exc.outcome, exc.detail)
            complete = large.record(task.batch, keys, stats.calls, failure)
    except SweepStopped:
        return {"account": task.account_id, "batch": task.batch, "stopped": True}
    enqueue_next_batch(runtime.redis, task, large)
    if complete:
        settle_large_account(runtime, account, task.sweep_id, large, notices)
    return {"account": task.account_id, "batch": task.batch, "keys": len(keys), "failed": failure is not None}


def enqueue_next_batch(redis: Redis, task: SweepUserBatch, large: LargeAccount) -> None:
    """Enqueue the account's next batch, if any; also after a retry, or the chain would stop."""
    following = next_batch(task.batch, large.batches())
    if following is not None:
        JobQueue(redis).enqueue(SweepUserBatch(task.sweep_id, task.account_id, following,
                                                           task.account_name))  # fmt: skip


def settle_large_account(
    runtime: Runtime, account: Account, sweep_id: str, large: LargeAccount, notices: ChangeNotices
) -> None:
    """Every batch is in: the account's result, from what the batches found (safe to run twice)."""
    if large.settled():  # a late retry of the last batch: counted already
        return
    result = unreadable_large_account(account, large)
    if result is None:
        result = settle_account(runtime, account, large.keys(), sweep_id, large.aws_calls(), notices)
    account_done(runtime.redis, sweep_id, result)
    large.mark_settled()


def unreadable_large_account(account: Account, large: LargeAccount) -> AccountResult | None:
    """The account's result when one of its batches could not be read; None when all were."""
    failure = large.failure()
    if failure is None:
        return None
    return AccountResult(account, failure[0], aws_calls=large.aws_calls(), detail=failure[1])


def account_done(redis: Redis, sweep_id: str, result: AccountResult) -> None:
    """Count the account in the sweep; the one that completes the sweep enqueues its report."""
    if SweepProgress(redis).record(sweep_id, result):
        JobQueue(redis).enqueue(SweepFinish(sweep_id))


def account_failed(connection: Redis, task: SweepAccount, exc_info: tuple[Any, ...]) -> None:
    """An account job with no retry left: count its account unreadable, so the sweep still finishes."""
    chunk_failed(connection, SweepChunk(task.sweep_id, (task,)), exc_info)


def chunk_failed(connection: Redis, chunk: SweepChunk, exc_info: tuple[Any, ...]) -> None:
    """A chunk job with no retry left: count its accounts not yet done unreadable (done ones are
    counted already, once), so the sweep still finishes."""
    done = SweepProgress(connection).done_accounts(chunk.sweep_id)
    for task in chunk.accounts:
        if task.account_id in done or large_account_started(connection, task):
            continue
        log.error("sweep account failed for good", extra={"sweep": task.sweep_id, "account": task.account_id})
        account = Account(task.account_id, task.account_name)
        account_done(connection, task.sweep_id, AccountResult(account, AccountOutcome.ERROR, detail=_failed(exc_info)))


def large_account_started(connection: Redis, task: SweepAccount) -> bool:
    """True when the account was split into batch jobs: they count it, whatever became of its chunk."""
    return LargeAccount(connection, task.sweep_id, task.account_id).batches() > 0


def batch_failed(connection: Redis, task: SweepUserBatch, exc_info: tuple[Any, ...]) -> None:
    """A batch job with no retry left: its account is unreadable; the next batches still run (they
    count), so the sweep still finishes."""
    log.error("sweep batch job failed for good", extra={"sweep": task.sweep_id, "account": task.account_id})
    large = LargeAccount(connection, task.sweep_id, task.account_id)
    complete = large.record(task.batch, {}, 0, (AccountOutcome.ERROR, _failed(exc_info)))
    enqueue_next_batch(connection, task, large)
    result = unreadable_large_account(Account(task.account_id, task.account_name), large)
    if complete and result is not None:  # always, as this batch failed: nothing to compare, no runtime needed
        account_done(connection, task.sweep_id, result)


def _failed(exc_info: tuple[Any, ...]) -> str:
    error = exc_info[0].__name__ if exc_info and exc_info[0] else "unknown"
    return f"its sweep job failed ({error})"


def finalize(runtime: Runtime, sweep_id: str) -> SweepSummary | None:
    """Mark the sweep finished, tell the audit channel about unreadable accounts, store the summary,
    start what runs after a sweep and let go of the lock. Safe to run twice: the report goes out once."""
    progress = SweepProgress(runtime.redis)
    first = progress.claim_finish(sweep_id)
    try:
        report = progress.summary(sweep_id)
        if report is None:
            return None
        report_unreadable(runtime, report)
        if first:
            record_finished(runtime, report)
        return report
    finally:
        # Whatever failed above, the sweep is over: the next one must not wait out the lock's TTL.
        SweepLock(runtime.redis).release(sweep_id)


def record_finished(runtime: Runtime, report: SweepSummary) -> None:
    """Once per sweep: its summary stored and audited, and what runs after a sweep started."""
    summary = report.summary()
    # No earlier sweep on record (a first start, or Redis lost its data): what this one found
    # is the baseline the next one compares with, and it told nobody about keys it never knew.
    baseline = not runtime.redis.exists(redis_key(SWEEP_LAST))
    after_loss = take_baseline_after_loss(runtime.redis, report.sweep_id)
    runtime.redis.set(redis_key(SWEEP_LAST), json.dumps(summary), ex=SWEEP_LAST.seconds)
    audit(runtime.redis, "sweep_finished", **{k: v for k, v in report.to_dict().items() if k != "unreadable"},
          unreadable=len(report.unreadable), baseline=baseline or after_loss,
          after_data_loss=after_loss or None)  # fmt: skip
    log.info("sweep finished%s", " (a fresh baseline)" if baseline else "", extra=report.to_dict())
    on_sweep_finished(runtime, summary)


def on_sweep_finished(runtime: Runtime, summary: dict[str, Any]) -> None:
    """The one place that starts what runs after each finished sweep (the key-hygiene refresh)."""
    JobQueue(runtime.redis).enqueue(AfterSweep(str(summary["sweep_id"])))


def report_unreadable(runtime: Runtime, report: SweepSummary) -> None:
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
    deliver_once(
        runtime.poster, f"sweep-unreadable-{report.sweep_id}", destination, Message(text[:3000], [section(text)])
    )
