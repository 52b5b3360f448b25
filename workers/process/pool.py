"""The Procfile's `worker`: a small supervisor that runs a pool of RQ worker processes.

One process serves only the interactive queue (lookups and buttons), so a lookup never waits
behind background work however long a sweep runs; WHOSE_KEY_WORKERS more serve both queues,
interactive first, and share the sweep's account jobs with every other machine's workers. A
process that dies (even by SIGKILL) is started again; SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType

from core.settings import Settings

log = logging.getLogger(__name__)

# Restarting a process that keeps dying: wait this long first, doubled up to RESTART_MAX.
RESTART_FIRST = 1.0
RESTART_MAX = 30.0
# A process that lived this long was healthy: its next restart waits RESTART_FIRST again.
HEALTHY_AFTER = 60.0
# How long stopping processes get to finish their job before they are killed.
STOP_GRACE = 25.0


@dataclass
class Member:
    role: str  # "interactive" | "all"
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = RESTART_FIRST
    due: float = 0.0


def roles(settings: Settings) -> list[str]:
    """What each process of the pool serves: one interactive-only, then the background workers."""
    return ["interactive"] + ["all"] * settings.workers


def spawn(role: str) -> subprocess.Popen[bytes]:
    # A session of its own: a signal sent to the supervisor's process group reaches the members
    # once, passed on by the supervisor (a second SIGTERM would make RQ abandon the current job).
    return subprocess.Popen([sys.executable, "-m", "workers", "--serve", role], start_new_session=True)


def run_pool(settings: Settings) -> int:
    members = [Member(role) for role in roles(settings)]
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker pool stopping", extra={"signal": signum})
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("worker pool starting", extra={"processes": [m.role for m in members]})
    while not stopping.is_set():
        now = time.monotonic()
        for member in members:
            _tend(member, now)
        stopping.wait(0.5)
    return _stop_all(members)


def _tend(member: Member, now: float) -> None:
    """Start a member that is not running (once its restart delay has passed)."""
    process = member.process
    if process is not None and process.poll() is None:
        return
    if process is not None:  # it died: restart later, later still if it keeps dying
        lived = now - member.started
        member.backoff = RESTART_FIRST if lived > HEALTHY_AFTER else min(member.backoff * 2, RESTART_MAX)
        member.due = now + member.backoff
        log.warning("worker process exited; restarting", extra={"role": member.role, "code": process.returncode,
                                                               "pid": process.pid, "in": member.backoff})  # fmt: skip
        member.process = None
    if now >= member.due:
        member.process = spawn(member.role)
        member.started = now


def _stop_all(members: list[Member]) -> int:
    running = [m.process for m in members if m.process is not None and m.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)  # RQ's warm shutdown: finish the current job
    deadline = time.monotonic() + STOP_GRACE
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return 0


def exit_with_parent() -> None:
    """In a pool member: exit when the supervisor is gone (killed without passing on a signal)."""
    parent = threading.main_thread()
    first_parent = os.getppid()

    def watch() -> None:
        while parent.is_alive():
            if os.getppid() != first_parent:
                os._exit(0)
            time.sleep(2)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
