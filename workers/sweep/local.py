"""The same sweep, run in this process (`whose-key sweep --local`, benchmarks): the accounts are read
in threads instead of RQ jobs, with the same lock, progress in Redis and report.

Stopping is real: on an interrupt or a timeout, the stop flag is set (threads finish their
current AWS call and take no more) and accounts not yet started are cancelled.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from core.contract import new_sweep_id
from workers.constants import SWEEP_CONCURRENCY
from workers.runtime import Runtime
from workers.sweep.account import ChangeNotices, sweep_account
from workers.sweep.coordinator import finalize
from workers.sweep.lock import SweepLock
from workers.sweep.state import SweepProgress, SweepSummary


class SweepRunning(Exception):
    """Another sweep holds the lock."""

    def __init__(self, sweep_id: str | None) -> None:
        super().__init__(f"sweep {sweep_id} is running")
        self.sweep_id = sweep_id


def run_local(
    runtime: Runtime,
    notices: ChangeNotices,
    *,
    requested_by: str = "cli",
    on_progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
    concurrency: int = SWEEP_CONCURRENCY,
) -> SweepSummary:
    """One sweep of every account in this process; raises SweepRunning when one runs already."""
    sweep_id = new_sweep_id()
    lock = SweepLock(runtime.redis)
    if not lock.acquire(sweep_id):
        raise SweepRunning(lock.holder())
    stop = stop or threading.Event()
    progress = SweepProgress(runtime.redis)
    try:
        with lock.kept(sweep_id, stop):
            runtime.org.refresh()
            accounts = list(runtime.org.accounts().values())
            progress.start(sweep_id, len(accounts), requested_by)
            pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sweep")
            try:
                # Each task runs in a copy of this thread's context, taken here.
                tasks = [
                    pool.submit(contextvars.copy_context().run, sweep_account, runtime, a, sweep_id, notices, stop)
                    for a in accounts
                ]
                for done, task in enumerate(as_completed(tasks), start=1):
                    progress.record(sweep_id, task.result())
                    if on_progress:
                        on_progress(done, len(accounts))
            except BaseException:
                stop.set()
                raise
            finally:
                pool.shutdown(wait=not stop.is_set(), cancel_futures=True)
    except BaseException:
        lock.release(sweep_id)
        raise
    report = finalize(runtime, sweep_id)
    assert report is not None  # started above
    return report
